package plan

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Phase is the pod's phase by the kubelet's rules: Pending until every
// init container has succeeded and every container has started once;
// Succeeded or Failed when all have exited and none will restart;
// Running otherwise.
func Phase(pod *corev1.Pod, obs Observed) corev1.PodPhase {
	if obs.Rejected != nil && len(obs.Instances) == 0 {
		if obs.Rejected.Finished {
			return pod.Status.Phase
		}
		return corev1.PodFailed
	}
	byName := latest(obs.Instances)
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			continue // a sidecar: it runs beside the containers
		}
		l := byName[c.Name]
		if l == nil || l.Running {
			return corev1.PodPending
		}
		if l.ExitCode != 0 {
			if pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
				return corev1.PodFailed
			}
			return corev1.PodPending
		}
	}
	running, failed, succeeded := 0, 0, 0
	for i := range pod.Spec.Containers {
		l := byName[pod.Spec.Containers[i].Name]
		switch {
		case l == nil:
			return corev1.PodPending
		case l.Running, restarts(pod.Spec.RestartPolicy, l.ExitCode), obs.Replacing[l.ID]:
			running++
		case l.ExitCode == 0:
			succeeded++
		default:
			failed++
		}
	}
	switch {
	case running > 0:
		return corev1.PodRunning
	case failed > 0:
		return corev1.PodFailed
	case succeeded > 0:
		return corev1.PodSucceeded
	}
	return corev1.PodPending
}

// Status is the pod's status as the agent reports it. prev is the status
// the server has, whose transition times and start time are kept when
// nothing changed.
func Status(pod *corev1.Pod, obs Observed, now time.Time) corev1.PodStatus {
	prev := pod.Status
	if obs.Rejected != nil && obs.Rejected.Finished && len(obs.Instances) == 0 {
		// Finished before this agent had containers of it: the server's
		// record of how it ended stays as it is.
		return *prev.DeepCopy()
	}
	if obs.Rejected != nil && len(obs.Instances) == 0 {
		// What the kubelet writes of a pod its admission refused.
		st := corev1.PodStatus{Phase: corev1.PodFailed, Reason: obs.Rejected.Reason, Message: obs.Rejected.Message,
			QOSClass: prev.QOSClass, StartTime: prev.StartTime}
		if st.StartTime == nil {
			t := metav1.NewTime(now)
			st.StartTime = &t
		}
		return st
	}
	st := corev1.PodStatus{
		Phase:     Phase(pod, obs),
		HostIP:    obs.HostIP,
		StartTime: prev.StartTime,
		QOSClass:  prev.QOSClass,
	}
	if obs.HostIP != "" {
		st.HostIPs = []corev1.HostIP{{IP: obs.HostIP}}
	}
	for i, ip := range obs.PodIPs {
		if i == 0 {
			st.PodIP = ip
		}
		st.PodIPs = append(st.PodIPs, corev1.PodIP{IP: ip})
	}
	if st.StartTime == nil {
		t := metav1.NewTime(now)
		st.StartTime = &t
	}
	byName := latest(obs.Instances)
	initDone := true
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		cs := containerStatus(pod, c, obs, byName, true)
		st.InitContainerStatuses = append(st.InitContainerStatuses, cs)
		sidecar := c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
		if sidecar {
			if !(cs.State.Running != nil && cs.Started != nil && *cs.Started) {
				initDone = false
			}
		} else if cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 0 {
			initDone = false
		}
	}
	allReady := len(pod.Spec.Containers) > 0
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		cs := containerStatus(pod, c, obs, byName, !initDone)
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
		if !cs.Ready {
			allReady = false
		}
	}
	notReady := func(kind string) (string, string) {
		var names []string
		for _, cs := range st.ContainerStatuses {
			if !cs.Ready {
				names = append(names, cs.Name)
			}
		}
		return kind, fmt.Sprintf("containers with unready status: %v", names)
	}
	cond := func(t corev1.PodConditionType, ok bool, reason, msg string) {
		s := corev1.ConditionFalse
		if ok {
			s, reason, msg = corev1.ConditionTrue, "", ""
		}
		c := corev1.PodCondition{Type: t, Status: s, Reason: reason, Message: msg, LastTransitionTime: metav1.NewTime(now)}
		for _, p := range prev.Conditions {
			if p.Type == t && p.Status == s {
				c.LastTransitionTime = p.LastTransitionTime
			}
		}
		st.Conditions = append(st.Conditions, c)
	}
	done := st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed
	cond(corev1.PodReadyToStartContainers, obs.Network && !done, "", "")
	if initDone || st.Phase == corev1.PodSucceeded {
		cond(corev1.PodInitialized, true, "", "")
	} else {
		var names []string
		for _, cs := range st.InitContainerStatuses {
			if cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 0 {
				names = append(names, cs.Name)
			}
		}
		cond(corev1.PodInitialized, false, "ContainersNotInitialized", fmt.Sprintf("containers with incomplete status: %v", names))
	}
	reason, msg := "", ""
	if !allReady {
		reason, msg = notReady("ContainersNotReady")
	}
	if done {
		reason, msg = "PodCompleted", ""
		allReady = false
	}
	cond(corev1.ContainersReady, allReady, reason, msg)
	ready := allReady
	if ready {
		// Containers ready: the readiness gates' conditions (the server's,
		// set by whoever owns each gate) decide, in the kubelet's words.
		var unready []string
		for _, g := range pod.Spec.ReadinessGates {
			var found *corev1.PodCondition
			for i := range prev.Conditions {
				if prev.Conditions[i].Type == g.ConditionType {
					found = &prev.Conditions[i]
				}
			}
			switch {
			case found == nil:
				unready = append(unready, fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", g.ConditionType))
			case found.Status != corev1.ConditionTrue:
				unready = append(unready, fmt.Sprintf("the status of pod readiness gate %q is not \"True\", but %v", g.ConditionType, found.Status))
			}
		}
		if len(unready) > 0 {
			ready, reason, msg = false, "ReadinessGatesNotReady", strings.Join(unready, ", ")
		}
	}
	cond(corev1.PodReady, ready, reason, msg)
	return st
}

func containerStatus(pod *corev1.Pod, c *corev1.Container, obs Observed, byName map[string]*Container, initializing bool) corev1.ContainerStatus {
	cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image, Started: new(bool)}
	l := byName[c.Name]
	if l == nil {
		w := corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
		if initializing {
			w.Reason = "PodInitializing"
		}
		if ow, ok := obs.Waiting[c.Name]; ok {
			w.Reason, w.Message = ow.Reason, ow.Message
		}
		cs.State.Waiting = &w
		return cs
	}
	cs.ContainerID = "containerd://" + l.ID
	cs.ImageID = l.ImageID
	cs.RestartCount = int32(l.Attempt)
	switch {
	case l.Running:
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(l.StartedAt)}
		cs.Ready = obs.Ready[c.Name]
		started := obs.Started[c.Name]
		cs.Started = &started
	case l.Exited:
		term := terminated(l)
		if willRestart(pod, c, l) {
			// The kubelet shows why the next instance has not started, or
			// else (a restart at once) the instance that exited.
			var w *corev1.ContainerStateWaiting
			if d := Backoff(l); d > 0 {
				// Also once the back-off has ended, until the restart
				// succeeds: the kubelet's reason stays until then.
				w = &corev1.ContainerStateWaiting{Reason: ReasonCrashLoopBackOff,
					Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", d.Round(time.Second), c.Name, pod.Name, pod.Namespace, pod.UID)}
			}
			if ow, ok := obs.Waiting[c.Name]; ok {
				w = &corev1.ContainerStateWaiting{Reason: ow.Reason, Message: ow.Message}
			}
			if w != nil {
				cs.State.Waiting = w
				cs.LastTerminationState.Terminated = term
				return cs
			}
		}
		cs.State.Terminated = term
	}
	// lastState: the instance before this one.
	var prev *Container
	for i := range obs.Instances {
		o := &obs.Instances[i]
		if o.Name == c.Name && o.Attempt < l.Attempt && o.Exited && (prev == nil || o.Attempt > prev.Attempt) {
			prev = o
		}
	}
	if prev != nil {
		cs.LastTerminationState.Terminated = terminated(prev)
	}
	return cs
}

// willRestart: the exited instance l of c is followed by another. An init
// container that succeeded is not (a sidecar is, as are the pod's
// containers by its restart policy); nothing is once the pod is being
// deleted.
func willRestart(pod *corev1.Pod, c *corev1.Container, l *Container) bool {
	if pod.DeletionTimestamp != nil {
		return false
	}
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name != c.Name {
			continue
		}
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			return true
		}
		return l.ExitCode != 0 && pod.Spec.RestartPolicy != corev1.RestartPolicyNever
	}
	return restarts(pod.Spec.RestartPolicy, l.ExitCode)
}

func terminated(c *Container) *corev1.ContainerStateTerminated {
	reason := c.Reason
	if reason == "" {
		reason = "Completed"
		if c.ExitCode != 0 {
			reason = "Error"
		}
	}
	return &corev1.ContainerStateTerminated{
		ExitCode: int32(c.ExitCode), Reason: reason, Message: c.Message,
		StartedAt: metav1.NewTime(c.StartedAt), FinishedAt: metav1.NewTime(c.FinishedAt),
		ContainerID: "containerd://" + c.ID,
	}
}
