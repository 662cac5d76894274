package podworker

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/skiff-io/skiff/agent/runtime"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

var t0 = time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)

func onePod(name, image string, policy corev1.RestartPolicy) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Spec: corev1.PodSpec{RestartPolicy: policy, Containers: []corev1.Container{
			{Name: "c", Image: image, ImagePullPolicy: corev1.PullIfNotPresent}}},
	}
}

func checkEvent(t *testing.T, out *fakeOutbox, typ, reason, msg string, count int32) {
	t.Helper()
	ev := out.event(reason, msg)
	switch {
	case ev == nil:
		t.Fatalf("no %s event %q", reason, msg)
	case ev.Type != typ || ev.Count != count || ev.InvolvedObject.FieldPath != "spec.containers{c}":
		t.Fatalf("%s event %q: type %s, count %d, fieldPath %q; want %s, %d, spec.containers{c}",
			reason, msg, ev.Type, ev.Count, ev.InvolvedObject.FieldPath, typ, count)
	}
}

// TestCrashLoopBackOffEvent: each sync that finds a container still in
// its crash loop back-off counts the kubelet's BackOff event, but a pod
// poked ten times a second counts it once per backOffEventGap.
func TestCrashLoopBackOffEvent(t *testing.T) {
	spec := onePod("crash", "img", corev1.RestartPolicyAlways)
	// The sixth attempt exited at t0: the first restart was at once,
	// the fifth waits 160 s.
	rt := &fakeRuntime{ctrs: map[string]runtime.ContainerStatus{"c5": {ID: "c5", PodUID: string(spec.UID), Name: "c", Attempt: 5,
		State: runtime.StateExited, ExitCode: 3, StartedAt: t0.Add(-time.Second), FinishedAt: t0}}}
	out := newFakeOutbox()
	clk := &fakeClock{t: t0.Add(time.Second)}
	p := syncedPod(spec, rt, out, clk)
	ctx := context.Background()

	wake := p.sync(ctx)
	if want := t0.Add(160 * time.Second); !wake.Equal(want) {
		t.Fatalf("wake %s, want the back-off's end %s", wake, want)
	}
	msg := "Back-off restarting failed container c in pod crash_default(uid-crash)"
	checkEvent(t, out, corev1.EventTypeWarning, "BackOff", msg, 1)
	if w := p.status.ContainerStatuses[0].State.Waiting; w == nil || w.Reason != "CrashLoopBackOff" {
		t.Fatalf("container state %+v, want waiting in CrashLoopBackOff", p.status.ContainerStatuses[0].State)
	}
	// A minute of syncs, ten a second (a node whose ConfigMaps change
	// that often pokes every pod as often): one count per 10 s.
	for i := 1; i <= 600; i++ {
		clk.set(t0.Add(time.Second + time.Duration(i)*100*time.Millisecond))
		p.sync(ctx)
	}
	checkEvent(t, out, corev1.EventTypeWarning, "BackOff", msg, 7)
	if n := out.eventWrites(); n != 7 {
		t.Fatalf("%d event writes to the outbox, want 7", n)
	}
}

// TestCrashLoopBackOffFrom: the back-off counts from the attempt the
// runtime recorded with the instance (plan.Container.BackoffFrom), so a
// crash loop after a long run starts again at 10 s.
func TestCrashLoopBackOffFrom(t *testing.T) {
	for _, tc := range []struct {
		attempt, from int
		want          time.Duration
	}{
		{5, 0, 160 * time.Second},
		{7, 6, 10 * time.Second},
		{9, 6, 40 * time.Second},
	} {
		spec := onePod("crash", "img", corev1.RestartPolicyAlways)
		rt := &fakeRuntime{ctrs: map[string]runtime.ContainerStatus{"c": {ID: "c", PodUID: string(spec.UID), Name: "c",
			Attempt: tc.attempt, BackoffFrom: tc.from, State: runtime.StateExited, ExitCode: 3, StartedAt: t0.Add(-time.Second), FinishedAt: t0}}}
		p := syncedPod(spec, rt, newFakeOutbox(), &fakeClock{t: t0.Add(time.Second)})
		if wake := p.sync(context.Background()); !wake.Equal(t0.Add(tc.want)) {
			t.Errorf("attempt %d from %d: wake %s after the exit, want %s", tc.attempt, tc.from, wake.Sub(t0), tc.want)
		}
		want := fmt.Sprintf("back-off %s restarting failed container=c pod=crash_default(uid-crash)", tc.want)
		if w := p.status.ContainerStatuses[0].State.Waiting; w == nil || w.Message != want {
			t.Errorf("attempt %d from %d: container state %+v, want waiting: %s", tc.attempt, tc.from, p.status.ContainerStatuses[0].State, want)
		}
	}
}

// TestImagePullBackOffEvents: a failed pull is followed by the kubelet's
// "Error: ErrImagePull"; each sync that finds the container in pull
// back-off counts BackOff "Back-off pulling image" and "Error:
// ImagePullBackOff", at most once per backOffEventGap.
func TestImagePullBackOffEvents(t *testing.T) {
	image := "127.0.0.1:1/no/such:image"
	spec := onePod("nosuch", image, corev1.RestartPolicyAlways)
	rt := &fakeRuntime{pullErr: fmt.Errorf("%w: connection refused", runtime.ErrImagePull)}
	out := newFakeOutbox()
	clk := &fakeClock{t: t0}
	p := syncedPod(spec, rt, out, clk)
	ctx := context.Background()
	at := func(d time.Duration) {
		clk.set(t0.Add(d))
		p.sync(ctx)
	}

	pulling := `Pulling image "` + image + `"`
	failed := `Failed to pull image "` + image + `": ErrImagePull: connection refused`
	backOff := `Back-off pulling image "` + image + `"`
	at(0)
	checkEvent(t, out, corev1.EventTypeWarning, "Failed", failed, 1)
	checkEvent(t, out, corev1.EventTypeWarning, "Failed", "Error: ErrImagePull", 1)
	// Within the failure's first second the status says ErrImagePull,
	// and no back-off is told yet.
	at(500 * time.Millisecond)
	if ev := out.event("BackOff", backOff); ev != nil {
		t.Fatalf("BackOff while the status says ErrImagePull: %+v", ev)
	}
	at(2 * time.Second)
	if w := p.status.ContainerStatuses[0].State.Waiting; w == nil || w.Reason != "ImagePullBackOff" {
		t.Fatalf("container state %+v, want waiting in ImagePullBackOff", p.status.ContainerStatuses[0].State)
	}
	// The kubelet's message names the pull's error and its reason.
	if msg, want := p.status.ContainerStatuses[0].State.Waiting.Message, backOff+": ErrImagePull: connection refused"; msg != want {
		t.Fatalf("waiting message %q, want %q", msg, want)
	}
	checkEvent(t, out, corev1.EventTypeNormal, "BackOff", backOff, 1)
	checkEvent(t, out, corev1.EventTypeWarning, "Failed", "Error: ImagePullBackOff", 1)
	var got []string
	out.mu.Lock()
	for _, ev := range out.events {
		got = append(got, ev.Reason+": "+ev.Message)
	}
	out.mu.Unlock()
	want := []string{"Pulling: " + pulling, "Failed: " + failed, "Failed: Error: ErrImagePull", "BackOff: " + backOff, "Failed: Error: ImagePullBackOff"}
	if len(got) != len(want) {
		t.Fatalf("events %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("events %q, want %q", got, want)
		}
	}
	// Pokes during the back-off count nothing more before the gap.
	for d := 2100 * time.Millisecond; d < 10*time.Second; d += 100 * time.Millisecond {
		at(d)
	}
	checkEvent(t, out, corev1.EventTypeNormal, "BackOff", backOff, 1)
	// The retry is due at 10 s, and fails: the pull's events count
	// again, then (20 s of back-off now) the back-off's.
	at(10 * time.Second)
	checkEvent(t, out, corev1.EventTypeNormal, "Pulling", pulling, 2)
	checkEvent(t, out, corev1.EventTypeWarning, "Failed", "Error: ErrImagePull", 2)
	for d := 10100 * time.Millisecond; d < 30*time.Second; d += 100 * time.Millisecond {
		at(d)
	}
	// At 12 s (the first sync a second after the failure, 10 s after
	// the last count) and at 22 s.
	checkEvent(t, out, corev1.EventTypeNormal, "BackOff", backOff, 3)
	checkEvent(t, out, corev1.EventTypeWarning, "Failed", "Error: ImagePullBackOff", 3)
}

// TestImageNeverPull: a container whose image is not on the node under
// imagePullPolicy Never waits in ErrImageNeverPull with the kubelet's
// message and events, and is looked at again every 10 s (no pull, so no
// pull back-off), each look counting the events once more.
func TestImageNeverPull(t *testing.T) {
	image := "example.com/absent:1"
	spec := onePod("never", image, corev1.RestartPolicyAlways)
	spec.Spec.Containers[0].ImagePullPolicy = corev1.PullNever
	out := newFakeOutbox()
	clk := &fakeClock{t: t0}
	p := syncedPod(spec, &fakeRuntime{noImages: true}, out, clk)
	msg := `Container image "example.com/absent:1" is not present with pull policy of Never`
	for _, step := range []struct {
		at    time.Duration
		count int32 // of each of the two events
	}{
		{0, 1},
		{time.Second, 1},
		{9 * time.Second, 1},
		{10 * time.Second, 2},
		{19 * time.Second, 2},
		{20 * time.Second, 3},
		{29 * time.Second, 3},
		{30 * time.Second, 4},
	} {
		clk.set(t0.Add(step.at))
		p.sync(context.Background())
		checkEvent(t, out, corev1.EventTypeWarning, "ErrImageNeverPull", msg, step.count)
		checkEvent(t, out, corev1.EventTypeWarning, "Failed", "Error: ErrImageNeverPull", step.count)
		if step.at == 0 {
			continue // the sync that failed reported the pod before it tried
		}
		w := p.status.ContainerStatuses[0].State.Waiting
		if w == nil || w.Reason != "ErrImageNeverPull" || w.Message != msg {
			t.Fatalf("at %s: container state %+v, want waiting in ErrImageNeverPull: %s", step.at, p.status.ContainerStatuses[0].State, msg)
		}
	}
	// Those two events and no other: nothing was pulled, and nothing is
	// in back-off.
	var got []string
	out.mu.Lock()
	for _, it := range out.items {
		if it.Event != nil {
			got = append(got, it.Event.Reason+": "+it.Event.Message)
		}
	}
	out.mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("events %q, want ErrImageNeverPull and Failed alone", got)
	}
}

// TestEventsFromProbes: probes queue events from their own goroutines
// while the pod's worker queues its own; every one is counted (and the
// race detector sees no unguarded map).
func TestEventsFromProbes(t *testing.T) {
	spec := onePod("probed", "img", corev1.RestartPolicyAlways)
	out := newFakeOutbox()
	p := syncedPod(spec, &fakeRuntime{}, out, &fakeClock{t: t0})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				p.event(spec, "c", corev1.EventTypeWarning, "Unhealthy", "Readiness probe failed: refused")
			}
		}()
	}
	wg.Wait()
	checkEvent(t, out, corev1.EventTypeWarning, "Unhealthy", "Readiness probe failed: refused", 400)
	if last := out.events[len(out.events)-1]; last.Count != 400 {
		t.Fatalf("the last count queued is %d, want 400", last.Count)
	}
}

// TestEventNamesDiffer: events first queued at the same instant have
// names of their own, or the server would take the second for a repeat
// of the first.
func TestEventNamesDiffer(t *testing.T) {
	spec := onePod("named", "img", corev1.RestartPolicyAlways)
	out := newFakeOutbox()
	p := syncedPod(spec, &fakeRuntime{}, out, &fakeClock{t: t0})
	p.event(spec, "c", corev1.EventTypeWarning, "Failed", "Failed to pull image \"img\": refused")
	p.event(spec, "c", corev1.EventTypeWarning, "Failed", "Error: ErrImagePull")
	p.event(spec, "c", corev1.EventTypeWarning, "Failed", "Error: ErrImagePull")
	if a, b := out.events[0].Name, out.events[1].Name; a == b {
		t.Fatalf("two events share the name %s", a)
	}
	if a, b := out.events[1].Name, out.events[2].Name; a != b {
		t.Fatalf("a repeat was named %s, its first %s", b, a)
	}
}
