package plan

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func pod(policy corev1.RestartPolicy, inits []string, ctrs ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u"}, Spec: corev1.PodSpec{RestartPolicy: policy}}
	for _, n := range inits {
		p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: n, Image: "img"})
	}
	for _, n := range ctrs {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: n, Image: "img"})
	}
	return p
}

func running(name string, attempt int) Container {
	return Container{ID: name + "-" + string(rune('0'+attempt)), Name: name, Attempt: attempt, Running: true, StartedAt: t0}
}

func exited(name string, attempt, code int, finished time.Time) Container {
	return Container{ID: name + "-" + string(rune('0'+attempt)), Name: name, Attempt: attempt, Exited: true, ExitCode: code,
		StartedAt: finished.Add(-time.Second), FinishedAt: finished}
}

// kinds renders actions as "Kind:container:attempt" for comparison.
func kinds(acts []Action) string {
	names := map[Kind]string{SetupPod: "Setup", Start: "Start", Stop: "Stop", Remove: "Remove", TeardownPod: "Teardown", Gone: "Gone", ReleasePod: "Release", BackOff: "BackOff"}
	var out []string
	for _, a := range acts {
		s := names[a.Kind]
		if a.Container != "" {
			s += ":" + a.Container
		}
		if a.Kind == Start {
			s += ":" + string(rune('0'+a.Attempt))
		}
		if a.Kind == BackOff {
			s += ":" + a.Reason
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

func TestPlan(t *testing.T) {
	tests := []struct {
		name     string
		pod      *corev1.Pod
		obs      Observed
		deleting bool
		now      time.Time
		want     string
		wantWake time.Duration // after now; 0 = none
	}{
		{name: "new pod sets up its sandbox first", pod: pod("", nil, "a"), now: t0, want: "Setup"},
		{name: "then starts its containers", pod: pod("", nil, "a", "b"), obs: Observed{Network: true}, now: t0, want: "Start:a:0 Start:b:0"},
		{name: "init containers run first, one at a time", pod: pod("", []string{"i1", "i2"}, "a"), obs: Observed{Network: true}, now: t0, want: "Start:i1:0"},
		{name: "a running init container is waited for", pod: pod("", []string{"i1", "i2"}, "a"),
			obs: Observed{Network: true, Instances: []Container{running("i1", 0)}}, now: t0, want: ""},
		{name: "after init containers succeed, the next", pod: pod("", []string{"i1", "i2"}, "a"),
			obs: Observed{Network: true, Instances: []Container{exited("i1", 0, 0, t0)}}, now: t0, want: "Start:i2:0"},
		{name: "running containers are left alone", pod: pod("", nil, "a"),
			obs: Observed{Network: true, Instances: []Container{running("a", 0)}}, now: t0, want: ""},
		{name: "a container's first exit restarts it at once", pod: pod(corev1.RestartPolicyOnFailure, nil, "a"),
			obs: Observed{Network: true, Instances: []Container{exited("a", 0, 3, t0)}}, now: t0, want: "Start:a:1"},
		{name: "after its second, it waits out the back-off", pod: pod(corev1.RestartPolicyOnFailure, nil, "a"),
			obs: Observed{Network: true, Instances: []Container{exited("a", 1, 3, t0)}}, now: t0.Add(time.Second), want: "BackOff:a:CrashLoopBackOff", wantWake: 9 * time.Second},
		{name: "and restarts after it", pod: pod(corev1.RestartPolicyOnFailure, nil, "a"),
			obs: Observed{Network: true, Instances: []Container{exited("a", 1, 3, t0)}}, now: t0.Add(10 * time.Second), want: "Start:a:2"},
		{name: "the back-off doubles per restart", pod: pod(corev1.RestartPolicyAlways, nil, "a"),
			obs: Observed{Network: true, Instances: []Container{exited("a", 3, 3, t0)}}, now: t0.Add(39 * time.Second), want: "BackOff:a:CrashLoopBackOff", wantWake: time.Second},
		{name: "one container's back-off holds no other", pod: pod(corev1.RestartPolicyAlways, nil, "a", "b"),
			obs: Observed{Network: true, Instances: []Container{exited("a", 1, 3, t0)}}, now: t0.Add(time.Second), want: "BackOff:a:CrashLoopBackOff Start:b:0", wantWake: 9 * time.Second},
		{name: "a failed init container's first exit restarts it at once", pod: pod(corev1.RestartPolicyAlways, []string{"i1"}, "a"),
			obs: Observed{Network: true, Instances: []Container{exited("i1", 0, 1, t0)}}, now: t0, want: "Start:i1:1"},
		{name: "a failed init container waits out its back-off, and the pod with it", pod: pod(corev1.RestartPolicyAlways, []string{"i1"}, "a"),
			obs: Observed{Network: true, Instances: []Container{exited("i1", 1, 1, t0)}}, now: t0.Add(time.Second), want: "BackOff:i1:CrashLoopBackOff", wantWake: 9 * time.Second},
		{name: "OnFailure does not restart a success, and frees the finished pod's sandbox", pod: pod(corev1.RestartPolicyOnFailure, nil, "a"),
			obs: Observed{Network: true, Instances: []Container{exited("a", 0, 0, t0)}}, now: t0.Add(time.Hour), want: "Release"},
		{name: "Never does not restart a failure", pod: pod(corev1.RestartPolicyNever, nil, "a"),
			obs: Observed{Network: true, Instances: []Container{exited("a", 0, 1, t0)}}, now: t0.Add(time.Hour), want: "Release"},
		{name: "a released finished pod has nothing left to do", pod: pod(corev1.RestartPolicyNever, nil, "a"),
			obs: Observed{Released: true, Instances: []Container{exited("a", 0, 1, t0)}}, now: t0.Add(time.Hour), want: ""},
		{name: "a pod with a container still running has not finished", pod: pod(corev1.RestartPolicyNever, nil, "a", "b"),
			obs: Observed{Network: true, Instances: []Container{exited("a", 0, 1, t0), running("b", 0)}}, now: t0.Add(time.Hour), want: ""},
		{name: "a failed image pull waits for its retry", pod: pod("", nil, "a"),
			obs: Observed{Network: true, Waiting: map[string]Waiting{"a": {Reason: "ErrImagePull", Retry: t0.Add(20 * time.Second)}}}, now: t0, want: "BackOff:a:ErrImagePull", wantWake: 20 * time.Second},
		{name: "and in image pull back-off says so", pod: pod("", nil, "a"),
			obs: Observed{Network: true, Waiting: map[string]Waiting{"a": {Reason: "ImagePullBackOff", Retry: t0.Add(20 * time.Second)}}}, now: t0.Add(2 * time.Second), want: "BackOff:a:ImagePullBackOff", wantWake: 18 * time.Second},
		{name: "and pulls again when its retry is due", pod: pod("", nil, "a"),
			obs: Observed{Network: true, Waiting: map[string]Waiting{"a": {Reason: "ImagePullBackOff", Retry: t0.Add(20 * time.Second)}}}, now: t0.Add(20 * time.Second), want: "Start:a:0"},
		{name: "old instances beyond the previous one are removed", pod: pod("", nil, "a"),
			obs: Observed{Network: true, Instances: []Container{exited("a", 0, 1, t0), exited("a", 1, 1, t0), running("a", 2)}}, now: t0, want: "Remove:a"},
		{name: "deleting stops what runs", pod: pod("", nil, "a", "b"), deleting: true,
			obs: Observed{Network: true, Instances: []Container{running("a", 0), exited("b", 0, 0, t0)}}, now: t0, want: "Stop:a"},
		{name: "then removes everything and reports the pod gone", pod: pod("", nil, "a"), deleting: true,
			obs: Observed{Network: true, Instances: []Container{exited("a", 0, 137, t0)}}, now: t0, want: "Remove:a Teardown Gone"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			acts, wake := Plan(tc.pod, tc.obs, tc.deleting, tc.now)
			if got := kinds(acts); got != tc.want {
				t.Fatalf("actions %q, want %q", got, tc.want)
			}
			var gotWake time.Duration
			if !wake.IsZero() {
				gotWake = wake.Sub(tc.now)
			}
			if gotWake != tc.wantWake {
				t.Fatalf("wake in %s, want %s", gotWake, tc.wantWake)
			}
		})
	}
}

func TestPhaseAndStatus(t *testing.T) {
	tests := []struct {
		name   string
		pod    *corev1.Pod
		obs    Observed
		phase  corev1.PodPhase
		reason string // first container's waiting reason
		ready  bool
	}{
		{"nothing started", pod("", nil, "a"), Observed{}, corev1.PodPending, "ContainerCreating", false},
		{"waiting on init", pod("", []string{"i"}, "a"), Observed{Network: true, Instances: []Container{running("i", 0)}}, corev1.PodPending, "PodInitializing", false},
		{"running and ready", pod("", nil, "a"), Observed{Network: true, Instances: []Container{running("a", 0)}, Ready: map[string]bool{"a": true}, Started: map[string]bool{"a": true}}, corev1.PodRunning, "", true},
		{"crash looping", pod(corev1.RestartPolicyAlways, nil, "a"), Observed{Network: true, Instances: []Container{exited("a", 1, 2, t0)}}, corev1.PodRunning, "CrashLoopBackOff", false},
		{"all succeeded", pod(corev1.RestartPolicyNever, nil, "a", "b"), Observed{Network: true, Instances: []Container{exited("a", 0, 0, t0), exited("b", 0, 0, t0)}}, corev1.PodSucceeded, "", false},
		{"one failed, no restarts", pod(corev1.RestartPolicyNever, nil, "a", "b"), Observed{Network: true, Instances: []Container{exited("a", 0, 0, t0), exited("b", 0, 1, t0)}}, corev1.PodFailed, "", false},
		{"init failed with Never", pod(corev1.RestartPolicyNever, []string{"i"}, "a"), Observed{Network: true, Instances: []Container{exited("i", 0, 1, t0)}}, corev1.PodFailed, "PodInitializing", false},
		{"image pull error shows", pod("", nil, "a"), Observed{Network: true, Waiting: map[string]Waiting{"a": {Reason: "ErrImagePull", Message: "not found"}}}, corev1.PodPending, "ErrImagePull", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := Status(tc.pod, tc.obs, t0.Add(time.Second))
			if st.Phase != tc.phase {
				t.Fatalf("phase %s, want %s", st.Phase, tc.phase)
			}
			var reason string
			if w := st.ContainerStatuses[0].State.Waiting; w != nil {
				reason = w.Reason
			}
			if reason != tc.reason {
				t.Fatalf("waiting reason %q, want %q", reason, tc.reason)
			}
			ready := false
			for _, c := range st.Conditions {
				if c.Type == corev1.PodReady {
					ready = c.Status == corev1.ConditionTrue
				}
			}
			if ready != tc.ready {
				t.Fatalf("Ready %v, want %v", ready, tc.ready)
			}
		})
	}
}

func TestStatusKeepsTransitionTimes(t *testing.T) {
	p := pod("", nil, "a")
	obs := Observed{Network: true, Instances: []Container{running("a", 0)}, Ready: map[string]bool{"a": true}, Started: map[string]bool{"a": true}}
	first := Status(p, obs, t0)
	p.Status = first
	second := Status(p, obs, t0.Add(time.Hour))
	for i := range first.Conditions {
		if !first.Conditions[i].LastTransitionTime.Equal(&second.Conditions[i].LastTransitionTime) {
			t.Fatalf("condition %s moved its transition time with no change", first.Conditions[i].Type)
		}
	}
	if !first.StartTime.Equal(second.StartTime) {
		t.Fatal("start time changed")
	}
}

// Readiness gates: with its containers ready, a pod is Ready only once
// each gate's condition (the server's) is True, and says why not in the
// kubelet's words.
func TestStatusReadinessGates(t *testing.T) {
	obs := Observed{Network: true, Instances: []Container{running("a", 0)}, Ready: map[string]bool{"a": true}, Started: map[string]bool{"a": true}}
	gate := func(status corev1.ConditionStatus, reported ...corev1.PodCondition) *corev1.Pod {
		p := pod("", nil, "a")
		p.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/lb"}, {ConditionType: "example.com/dns"}}
		p.Status.Conditions = append(p.Status.Conditions, reported...)
		if status != "" {
			p.Status.Conditions = append(p.Status.Conditions,
				corev1.PodCondition{Type: "example.com/lb", Status: status}, corev1.PodCondition{Type: "example.com/dns", Status: corev1.ConditionTrue})
		}
		return p
	}
	ready := func(p *corev1.Pod) string {
		for _, c := range Status(p, obs, t0).Conditions {
			if c.Type == corev1.PodReady {
				return string(c.Status) + "|" + c.Reason + "|" + c.Message
			}
		}
		return "none"
	}
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		want string
	}{
		{"no gate conditions yet", gate(""), `False|ReadinessGatesNotReady|corresponding condition of pod readiness gate "example.com/lb" does not exist., ` +
			`corresponding condition of pod readiness gate "example.com/dns" does not exist.`},
		{"one gate False", gate(corev1.ConditionFalse), `False|ReadinessGatesNotReady|the status of pod readiness gate "example.com/lb" is not "True", but False`},
		{"every gate True", gate(corev1.ConditionTrue), "True||"},
		{"no gates", pod("", nil, "a"), "True||"},
	} {
		if got := ready(tc.pod); got != tc.want {
			t.Errorf("%s: Ready %q, want %q", tc.name, got, tc.want)
		}
	}
	// Containers not ready: their reason, whatever the gates say.
	notReady := obs
	notReady.Ready = map[string]bool{}
	p := gate(corev1.ConditionTrue)
	for _, c := range Status(p, notReady, t0).Conditions {
		if c.Type == corev1.PodReady && (c.Status != corev1.ConditionFalse || c.Reason != "ContainersNotReady") {
			t.Errorf("containers not ready: Ready %s %s", c.Status, c.Reason)
		}
	}
}

func TestBackoff(t *testing.T) {
	ran := func(attempt, from int, run time.Duration) *Container {
		return &Container{Name: "a", Attempt: attempt, BackoffFrom: from, Exited: true, StartedAt: t0, FinishedAt: t0.Add(run)}
	}
	for _, tc := range []struct {
		name string
		c    *Container
		want time.Duration
	}{
		{"the first exit: at once", ran(0, 0, time.Second), 0},
		{"the second: 10 s", ran(1, 0, time.Second), 10 * time.Second},
		{"then doubling", ran(4, 0, time.Second), 80 * time.Second},
		{"to five minutes", ran(6, 0, time.Second), 300 * time.Second},
		{"and no more", ran(60, 0, time.Second), 300 * time.Second},
		{"a run of ten minutes keeps the back-off", ran(6, 0, 10*time.Minute), 300 * time.Second},
		{"a longer run forgets it", ran(6, 0, 10*time.Minute+time.Second), 0},
		{"and it counts again from there", ran(7, 6, time.Second), 10 * time.Second},
		{"doubling from there", ran(9, 6, time.Second), 40 * time.Second},
	} {
		if got := Backoff(tc.c); got != tc.want {
			t.Errorf("%s: Backoff = %s, want %s", tc.name, got, tc.want)
		}
	}
}

// TestCrashLoopSchedule drives Plan through a container that exits a
// second after each start, as the runtime would report it, and records
// how long each restart waited: the kubelet's schedule, started again
// after a run of more than ten minutes.
func TestCrashLoopSchedule(t *testing.T) {
	p := pod(corev1.RestartPolicyAlways, nil, "a")
	now := t0
	cur := Container{ID: "a-0", Name: "a", Attempt: 0, Running: true, StartedAt: now}
	var waits []string
	for len(waits) < 12 {
		run := time.Second
		if cur.Attempt == 8 {
			run = 11 * time.Minute // a stable run
		}
		now = cur.StartedAt.Add(run)
		cur.Running, cur.Exited, cur.ExitCode, cur.FinishedAt = false, true, 1, now
		exitAt := now
		for {
			acts, wake := Plan(p, Observed{Network: true, Instances: []Container{cur}}, false, now)
			if len(acts) == 1 && acts[0].Kind == Start {
				if acts[0].Attempt != cur.Attempt+1 {
					t.Fatalf("started attempt %d after %d", acts[0].Attempt, cur.Attempt)
				}
				waits = append(waits, now.Sub(exitAt).String())
				cur = Container{ID: "a", Name: "a", Attempt: acts[0].Attempt, BackoffFrom: acts[0].BackoffFrom, Running: true, StartedAt: now}
				break
			}
			if len(acts) != 1 || acts[0].Kind != BackOff || wake.IsZero() {
				t.Fatalf("after attempt %d: actions %q, wake %s", cur.Attempt, kinds(acts), wake)
			}
			now = wake
		}
	}
	want := "0s 10s 20s 40s 1m20s 2m40s 5m0s 5m0s 0s 10s 20s 40s"
	if got := strings.Join(waits, " "); got != want {
		t.Fatalf("restarts waited %s, want %s", got, want)
	}
}

// TestStatusOfExitedContainers: what the kubelet shows of a container
// that exited, until its next instance runs.
func TestStatusOfExitedContainers(t *testing.T) {
	state := func(cs corev1.ContainerStatus) string {
		s := fmt.Sprintf("restarts %d: ", cs.RestartCount)
		switch {
		case cs.State.Waiting != nil:
			s += "waiting " + cs.State.Waiting.Reason + " " + cs.State.Waiting.Message
		case cs.State.Terminated != nil:
			s += "terminated " + cs.State.Terminated.Reason
		case cs.State.Running != nil:
			s += "running"
		}
		if lt := cs.LastTerminationState.Terminated; lt != nil {
			s += fmt.Sprintf(", last %s %d", lt.Reason, lt.ExitCode)
		}
		return s
	}
	sidecar := pod(corev1.RestartPolicyAlways, []string{"s"}, "a")
	sidecar.Spec.InitContainers[0].RestartPolicy = ptr(corev1.ContainerRestartPolicyAlways)
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		obs  Observed
		now  time.Time
		init bool // the first init container's status, not the first container's
		want string
	}{
		{name: "its first exit shows as it ended (restarted at once)", pod: pod(corev1.RestartPolicyAlways, nil, "a"),
			obs: Observed{Network: true, Instances: []Container{exited("a", 0, 2, t0)}}, now: t0,
			want: "restarts 0: terminated Error"},
		{name: "and with the one before it, after a run of more than ten minutes", pod: pod(corev1.RestartPolicyAlways, nil, "a"),
			obs: Observed{Network: true, Instances: []Container{exited("a", 3, 2, t0), {Name: "a", ID: "a-4", Attempt: 4, Exited: true, ExitCode: 1,
				StartedAt: t0.Add(time.Minute), FinishedAt: t0.Add(12 * time.Minute)}}}, now: t0.Add(12 * time.Minute),
			want: "restarts 4: terminated Error, last Error 2"},
		{name: "later ones wait in CrashLoopBackOff", pod: pod(corev1.RestartPolicyAlways, nil, "a"),
			obs: Observed{Network: true, Instances: []Container{exited("a", 1, 2, t0)}}, now: t0.Add(time.Second),
			want: "restarts 1: waiting CrashLoopBackOff back-off 10s restarting failed container=a pod=p_ns(u), last Error 2"},
		{name: "until the next instance runs", pod: pod(corev1.RestartPolicyAlways, nil, "a"),
			obs: Observed{Network: true, Instances: []Container{exited("a", 2, 2, t0)}}, now: t0.Add(time.Minute),
			want: "restarts 2: waiting CrashLoopBackOff back-off 20s restarting failed container=a pod=p_ns(u), last Error 2"},
		{name: "a failed start says why", pod: pod(corev1.RestartPolicyAlways, nil, "a"),
			obs: Observed{Network: true, Instances: []Container{exited("a", 0, 2, t0)}, Waiting: map[string]Waiting{"a": {Reason: "ErrImagePull", Message: "refused"}}}, now: t0,
			want: "restarts 0: waiting ErrImagePull refused, last Error 2"},
		{name: "a container that will not restart has ended", pod: pod(corev1.RestartPolicyOnFailure, nil, "a"),
			obs: Observed{Network: true, Instances: []Container{exited("a", 1, 0, t0)}}, now: t0.Add(time.Second),
			want: "restarts 1: terminated Completed"},
		{name: "an init container that succeeded has ended, also after failures", pod: pod(corev1.RestartPolicyAlways, []string{"i"}, "a"),
			obs: Observed{Network: true, Instances: []Container{exited("i", 1, 0, t0), running("a", 0)}}, now: t0.Add(time.Second), init: true,
			want: "restarts 1: terminated Completed"},
		{name: "a failed init container is restarted", pod: pod(corev1.RestartPolicyAlways, []string{"i"}, "a"),
			obs: Observed{Network: true, Instances: []Container{exited("i", 1, 1, t0)}}, now: t0.Add(time.Second), init: true,
			want: "restarts 1: waiting CrashLoopBackOff back-off 10s restarting failed container=i pod=p_ns(u), last Error 1"},
		{name: "but not with restartPolicy Never", pod: pod(corev1.RestartPolicyNever, []string{"i"}, "a"),
			obs: Observed{Network: true, Instances: []Container{exited("i", 0, 1, t0)}}, now: t0.Add(time.Second), init: true,
			want: "restarts 0: terminated Error"},
		{name: "a sidecar is restarted whatever its exit", pod: sidecar,
			obs: Observed{Network: true, Instances: []Container{exited("s", 1, 0, t0), running("a", 0)}}, now: t0.Add(time.Second), init: true,
			want: "restarts 1: waiting CrashLoopBackOff back-off 10s restarting failed container=s pod=p_ns(u), last Completed 0"},
	} {
		st := Status(tc.pod, tc.obs, tc.now)
		cs := st.ContainerStatuses[0]
		if tc.init {
			cs = st.InitContainerStatuses[0]
		}
		if got := state(cs); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
	// The pod whose init container succeeded after a failure is
	// initialized.
	p := pod(corev1.RestartPolicyAlways, []string{"i"}, "a")
	st := Status(p, Observed{Network: true, Instances: []Container{exited("i", 1, 0, t0), running("a", 0)}}, t0.Add(time.Second))
	for _, c := range st.Conditions {
		if c.Type == corev1.PodInitialized && c.Status != corev1.ConditionTrue {
			t.Errorf("Initialized %s %s", c.Status, c.Message)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestPlanNewImage: a pod update that gives a container another image
// restarts it with that image, as the kubelet does when a container's
// definition changes: a running instance is stopped, and the new one
// starts at once, without the old definition's back-off and whatever the
// restart policy.
func TestPlanNewImage(t *testing.T) {
	old := func(c Container) Container { c.Image = "old"; return c }
	cur := func(c Container) Container { c.Image = "img"; return c }
	tests := []struct {
		name       string
		pod        *corev1.Pod
		obs        Observed
		want       string
		wantReason string // of the first action
		wantFrom   int    // BackoffFrom of a Start
		wantPhase  corev1.PodPhase
	}{
		{name: "a running instance of the old image is stopped", pod: pod(corev1.RestartPolicyAlways, nil, "a"),
			obs: Observed{Network: true, Instances: []Container{old(running("a", 0))}}, want: "Stop:a", wantReason: ReasonDefinitionChanged, wantPhase: corev1.PodRunning},
		{name: "an instance of the current image is left alone", pod: pod(corev1.RestartPolicyAlways, nil, "a"),
			obs: Observed{Network: true, Instances: []Container{cur(running("a", 0))}}, want: "", wantPhase: corev1.PodRunning},
		{name: "an instance from before images were recorded is left alone", pod: pod(corev1.RestartPolicyAlways, nil, "a"),
			obs: Observed{Network: true, Instances: []Container{running("a", 0)}}, want: "", wantPhase: corev1.PodRunning},
		{name: "a crash loop's back-off does not hold the new image", pod: pod(corev1.RestartPolicyAlways, nil, "a"),
			obs: Observed{Network: true, Instances: []Container{old(exited("a", 4, 1, t0))}}, want: "Start:a:5", wantFrom: 5, wantPhase: corev1.PodRunning},
		{name: "the stopped instance of a Never pod starts again with the new image", pod: pod(corev1.RestartPolicyNever, nil, "a"),
			obs: Observed{Network: true, Instances: []Container{old(exited("a", 0, 143, t0))}, Replacing: map[string]bool{"a-0": true}}, want: "Start:a:1", wantFrom: 1, wantPhase: corev1.PodRunning},
		{name: "a Never container that had finished by itself stays finished", pod: pod(corev1.RestartPolicyNever, nil, "a"),
			obs: Observed{Network: true, Instances: []Container{old(exited("a", 0, 0, t0))}}, want: "Release", wantPhase: corev1.PodSucceeded},
		{name: "an OnFailure container that succeeded stays finished", pod: pod(corev1.RestartPolicyOnFailure, nil, "a"),
			obs: Observed{Network: true, Instances: []Container{old(exited("a", 0, 0, t0))}}, want: "Release", wantPhase: corev1.PodSucceeded},
		{name: "init containers that ran are not run again", pod: pod(corev1.RestartPolicyAlways, []string{"i1"}, "a"),
			obs: Observed{Network: true, Instances: []Container{old(exited("i1", 0, 0, t0)), cur(running("a", 0))}}, want: "", wantPhase: corev1.PodRunning},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := t0.Add(time.Second)
			acts, _ := Plan(tc.pod, tc.obs, false, now)
			if got := kinds(acts); got != tc.want {
				t.Fatalf("actions %q, want %q", got, tc.want)
			}
			if len(acts) > 0 {
				if acts[0].Reason != tc.wantReason {
					t.Errorf("reason %q, want %q", acts[0].Reason, tc.wantReason)
				}
				if acts[0].Kind == Start && acts[0].BackoffFrom != tc.wantFrom {
					t.Errorf("BackoffFrom %d, want %d", acts[0].BackoffFrom, tc.wantFrom)
				}
				if acts[0].Kind == Stop && acts[0].Grace != 30*time.Second {
					t.Errorf("grace %s, want the pod's 30s", acts[0].Grace)
				}
			}
			if ph := Phase(tc.pod, tc.obs); ph != tc.wantPhase {
				t.Errorf("phase %s, want %s", ph, tc.wantPhase)
			}
		})
	}
}
