package plan

import (
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Back-off between restarts of a container that exited, the kubelet's
// defaults: the first restart is at once, the next after 10 s, doubling
// to five minutes; a run of more than ten minutes starts the count again.
const (
	InitialBackoff = 10 * time.Second
	MaxBackoff     = 300 * time.Second
	stableRun      = 10 * time.Minute
)

// Container is what the runtime reports of one instance (attempt) of a
// container.
type Container struct {
	ID         string
	Name       string
	Attempt    int
	Running    bool
	Exited     bool
	ExitCode   int
	Reason     string // OOMKilled, Error, Completed
	Message    string
	StartedAt  time.Time
	FinishedAt time.Time
	// Image is the image the instance was created from, as the pod spec
	// named it then; ImageID what it resolved to.
	Image   string
	ImageID string
	// BackoffFrom is the attempt whose exit last restarted the container
	// at once (its first, or one that ran more than ten minutes): the
	// back-off doubles with each attempt since. The kubelet keeps this in
	// memory; the agent keeps it on the instance (Action.BackoffFrom), so
	// that its own restart does not shorten a crash loop's back-off.
	BackoffFrom int
}

// Observed is everything known about a pod on this node.
type Observed struct {
	// Instances are the pod's containers, any attempt, in any order.
	Instances []Container
	// Ready maps a running container's name to its readiness (probes).
	Ready map[string]bool
	// Started maps a container's name to whether its startup probe passed
	// (containers without one count as started once running).
	Started map[string]bool
	// Waiting holds the last reason a container could not be created
	// (ErrImagePull, CreateContainerConfigError, ...) and its message.
	Waiting map[string]Waiting
	// Network: the pod's sandbox (network namespace, IP) is in place.
	Network bool
	// Released: a finished pod's sandbox, network and volumes have been
	// released (by this agent process; after a restart it releases again,
	// which finds nothing to do).
	Released bool
	PodIPs   []string
	HostIP   string
	// Rejected: the agent refused the pod (Admit); it never runs here.
	Rejected *Rejection
	// Replacing holds the IDs of instances the agent stopped because the
	// pod's spec gave their container another image (a Stop with
	// ReasonDefinitionChanged): their container starts again with the new
	// one whatever the restart policy, as the kubelet restarts it.
	Replacing map[string]bool
}

// Waiting is why a container is not running yet.
type Waiting struct {
	Reason, Message string
	// Retry is when it may be tried again (image pull back-off).
	Retry time.Time
}

// Kind is what an action does.
type Kind int

// Actions, in the order a pod's life needs them.
const (
	SetupPod    Kind = iota // network namespace, IP, volumes
	Start                   // create and start Container attempt Attempt
	Stop                    // stop instance ID within Grace
	Remove                  // remove a stopped instance ID
	TeardownPod             // remove network and volumes
	Gone                    // tell the server the pod has stopped on this node
	// ReleasePod frees what a finished pod no longer uses (its sandbox,
	// IP, network namespace and volumes, an emptyDir's tmpfs) while its
	// containers and logs stay for `kubectl logs` until it is deleted, as
	// the kubelet does.
	ReleasePod
	// BackOff is no step to carry out: Plan holds Container back until
	// its back-off ends, because it failed (Reason CrashLoopBackOff) or
	// because a retry of its start is pending (Reason is its Waiting
	// reason, ImagePullBackOff say). The caller tells the user, as the
	// kubelet does with its BackOff events.
	BackOff
)

// Action is one step for the caller to carry out.
type Action struct {
	Kind      Kind
	Container string
	Init      bool
	Attempt   int
	ID        string
	Grace     time.Duration
	Reason    string // why a BackOff holds the container
	// BackoffFrom, of a Start, is what the new instance records as its
	// Container.BackoffFrom.
	BackoffFrom int
}

// keepInstances is how many instances of a container stay: the current
// one and the previous (for lastState and `kubectl logs --previous`).
const keepInstances = 2

// Plan returns the next actions for pod and when to look again (zero:
// only on a change). deleting means the pod must stop: it is being
// deleted or is no longer the node's; gone is true once nothing of it is
// left to stop.
func Plan(pod *corev1.Pod, obs Observed, deleting bool, now time.Time) (acts []Action, wake time.Time) {
	byName := latest(obs.Instances)
	// Old instances: keep the newest two per container.
	for _, c := range obs.Instances {
		if l := byName[c.Name]; l != nil && l.Attempt-c.Attempt >= keepInstances && !c.Running {
			acts = append(acts, Action{Kind: Remove, Container: c.Name, ID: c.ID, Attempt: c.Attempt})
		}
	}
	if obs.Rejected != nil && len(obs.Instances) == 0 {
		// Nothing was set up for it: nothing to stop or tear down.
		if deleting {
			return append(acts, Action{Kind: Gone}), time.Time{}
		}
		return acts, time.Time{}
	}
	if deleting || terminal(pod, obs, now) {
		grace := gracePeriod(pod)
		running := false
		for _, c := range obs.Instances {
			if c.Running {
				running = true
				acts = append(acts, Action{Kind: Stop, Container: c.Name, ID: c.ID, Grace: grace})
			}
		}
		if !deleting {
			if !running && !obs.Released {
				acts = append(acts, Action{Kind: ReleasePod})
			}
			return acts, time.Time{}
		}
		if running {
			return acts, time.Time{}
		}
		for _, c := range obs.Instances {
			acts = append(acts, Action{Kind: Remove, Container: c.Name, ID: c.ID, Attempt: c.Attempt})
		}
		acts = append(acts, Action{Kind: TeardownPod}, Action{Kind: Gone})
		return acts, time.Time{}
	}
	if !obs.Network {
		return append(acts, Action{Kind: SetupPod}), time.Time{}
	}
	// Init containers, one at a time, in order.
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		sidecar := c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
		l := byName[c.Name]
		switch {
		case l == nil:
			return startOrWait(acts, wake, obs, c.Name, true, 0, 0, now)
		case l.Running:
			if sidecar && obs.Started[c.Name] {
				continue
			}
			return acts, wake
		case l.Exited && l.ExitCode == 0 && !sidecar:
			continue
		default: // failed (or a sidecar that exited)
			if !sidecar && pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
				return acts, wake // the pod has failed
			}
			at := l.FinishedAt.Add(Backoff(l))
			if now.Before(at) {
				return append(acts, Action{Kind: BackOff, Container: c.Name, Init: true, Attempt: l.Attempt + 1, Reason: ReasonCrashLoopBackOff}), at
			}
			return startOrWait(acts, wake, obs, c.Name, true, l.Attempt+1, nextBackoffFrom(l), now)
		}
	}
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		l := byName[c.Name]
		switch {
		case l == nil:
			var w time.Time
			acts, w = startOrWait(acts, wake, obs, c.Name, false, 0, 0, now)
			wake = earliest(wake, w)
		case l.Running && replaced(l, c):
			acts = append(acts, Action{Kind: Stop, Container: c.Name, ID: l.ID, Grace: gracePeriod(pod), Reason: ReasonDefinitionChanged})
		case l.Running:
		case replaced(l, c) && (obs.Replacing[l.ID] || restarts(pod.Spec.RestartPolicy, l.ExitCode)):
			// A new definition has a back-off of its own (the kubelet's
			// is keyed by the container's spec): it starts at once.
			var w time.Time
			acts, w = startOrWait(acts, wake, obs, c.Name, false, l.Attempt+1, l.Attempt+1, now)
			wake = earliest(wake, w)
		case restarts(pod.Spec.RestartPolicy, l.ExitCode):
			at := l.FinishedAt.Add(Backoff(l))
			if now.Before(at) {
				acts = append(acts, Action{Kind: BackOff, Container: c.Name, Attempt: l.Attempt + 1, Reason: ReasonCrashLoopBackOff})
				wake = earliest(wake, at)
				continue
			}
			var w time.Time
			acts, w = startOrWait(acts, wake, obs, c.Name, false, l.Attempt+1, nextBackoffFrom(l), now)
			wake = earliest(wake, w)
		}
	}
	return acts, wake
}

func startOrWait(acts []Action, wake time.Time, obs Observed, name string, init bool, attempt, from int, now time.Time) ([]Action, time.Time) {
	if w, ok := obs.Waiting[name]; ok && !w.Retry.IsZero() && now.Before(w.Retry) {
		return append(acts, Action{Kind: BackOff, Container: name, Init: init, Attempt: attempt, Reason: w.Reason}), earliest(wake, w.Retry)
	}
	return append(acts, Action{Kind: Start, Container: name, Init: init, Attempt: attempt, BackoffFrom: from}), wake
}

// ReasonCrashLoopBackOff is the Reason of a BackOff after a failure, and
// the waiting reason Status reports for the container meanwhile.
const ReasonCrashLoopBackOff = "CrashLoopBackOff"

// ReasonDefinitionChanged is the Reason of a Stop of a running instance
// whose image is no longer the one the pod's spec names (the image is the
// part of a container a pod update may change).
const ReasonDefinitionChanged = "DefinitionChanged"

// replaced: the pod's spec names another image than instance l of
// container c was created from. Instances created before the agent
// recorded the image (Image "") count as current.
func replaced(l *Container, c *corev1.Container) bool {
	return l.Image != "" && l.Image != c.Image
}

// Backoff is how long after the instance's exit the next may start: none
// after its first exit or a run of more than ten minutes (the kubelet has
// no back-off entry then, or lets it expire), else 10 s for the first
// attempt since then, doubling with each to MaxBackoff.
func Backoff(c *Container) time.Duration {
	if c.Attempt <= c.BackoffFrom || c.FinishedAt.Sub(c.StartedAt) > stableRun {
		return 0
	}
	d := InitialBackoff
	for i := c.BackoffFrom + 1; i < c.Attempt && d < MaxBackoff; i++ {
		d *= 2
	}
	return min(d, MaxBackoff)
}

// nextBackoffFrom is the BackoffFrom of the instance that follows c.
func nextBackoffFrom(c *Container) int {
	if Backoff(c) == 0 {
		return c.Attempt
	}
	return c.BackoffFrom
}

func restarts(p corev1.RestartPolicy, exit int) bool {
	switch p {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return exit != 0
	}
	return true
}

// terminal: every container has exited and none will restart.
func terminal(pod *corev1.Pod, obs Observed, now time.Time) bool {
	ph := Phase(pod, obs)
	return ph == corev1.PodSucceeded || ph == corev1.PodFailed
}

func gracePeriod(pod *corev1.Pod) time.Duration {
	g := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		g = *pod.Spec.TerminationGracePeriodSeconds
	}
	if pod.DeletionGracePeriodSeconds != nil && *pod.DeletionGracePeriodSeconds < g {
		g = *pod.DeletionGracePeriodSeconds
	}
	if pod.DeletionTimestamp != nil {
		// What is left of the grace period the deletion gave.
		return max(time.Duration(g)*time.Second, 0)
	}
	return time.Duration(g) * time.Second
}

func latest(in []Container) map[string]*Container {
	out := map[string]*Container{}
	for i := range in {
		c := &in[i]
		if l := out[c.Name]; l == nil || c.Attempt > l.Attempt {
			out[c.Name] = c
		}
	}
	return out
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}
