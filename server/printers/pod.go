package printers

import (
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
)

var (
	podSpecDoc   = corev1.PodSpec{}.SwaggerDoc()
	podStatusDoc = corev1.PodStatus{}.SwaggerDoc()
)

var podPrinter = Printer{
	Columns: []metav1.TableColumnDefinition{
		nameColumn,
		{Name: "Ready", Type: "string", Description: "The aggregate readiness state of this pod for accepting traffic."},
		{Name: "Status", Type: "string", Description: "The aggregate status of the containers in this pod."},
		{Name: "Restarts", Type: "string", Description: "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."},
		ageColumn,
		{Name: "IP", Type: "string", Priority: 1, Description: podStatusDoc["podIP"]},
		{Name: "Node", Type: "string", Priority: 1, Description: podSpecDoc["nodeName"]},
		{Name: "Nominated Node", Type: "string", Priority: 1, Description: podStatusDoc["nominatedNodeName"]},
		{Name: "Readiness Gates", Type: "string", Priority: 1, Description: podSpecDoc["readinessGates"]},
	},
	Row: rowOf(func(pod *corev1.Pod, now time.Time) []interface{} {
		s := summarizePod(pod)
		restarts := strconv.Itoa(s.restarts)
		if s.restarts != 0 && !s.lastRestart.IsZero() {
			restarts = fmt.Sprintf("%d (%s ago)", s.restarts, duration.HumanDuration(now.Sub(s.lastRestart)))
		}
		ip := pod.Status.PodIP // kube fills podIPs from podIP before printing
		if len(pod.Status.PodIPs) > 0 {
			ip = pod.Status.PodIPs[0].IP
		}
		return []interface{}{
			pod.Name, fmt.Sprintf("%d/%d", s.ready, s.total), s.status, restarts, age(pod.CreationTimestamp, now),
			orDefault(ip, "<none>"), orDefault(pod.Spec.NodeName, "<none>"),
			orDefault(pod.Status.NominatedNodeName, "<none>"), readinessGates(pod),
		}
	}),
}

// podSummary is what the READY, STATUS and RESTARTS columns show.
type podSummary struct {
	ready, total int
	status       string
	restarts     int
	lastRestart  time.Time
}

// nodeLostReason is the pod status reason the node lifecycle controller sets
// on pods of an unreachable node.
const nodeLostReason = "NodeLost"

// summarizePod computes READY, STATUS and RESTARTS the way kubectl users
// know them. STATUS starts as the phase (or status.reason), is replaced by
// Init:… while an init container blocks, then by the reason of the
// first container that is waiting or terminated (CrashLoopBackOff,
// ErrImagePull, Completed, Error, OOMKilled…), and finally by Terminating
// or Unknown once the pod is being deleted.
func summarizePod(pod *corev1.Pod) podSummary {
	s := podSummary{total: len(pod.Spec.Containers)}
	// kube sets the phase to Pending when the pod is created.
	s.status = orDefault(pod.Status.Phase, corev1.PodPending)
	if pod.Status.Reason != "" {
		s.status = pod.Status.Reason
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonSchedulingGated {
			s.status = corev1.PodReasonSchedulingGated
		}
	}

	// Sidecars (restartable init containers) run alongside the main
	// containers, so they count towards READY and RESTARTS like them.
	sidecars := map[string]bool{}
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars[c.Name] = true
			s.total++
		}
	}

	var (
		sidecarRestarts int
		sidecarLast     time.Time
		initializing    bool
	)
	for i, c := range pod.Status.InitContainerStatuses {
		s.restarts += int(c.RestartCount)
		s.lastRestart = later(s.lastRestart, c)
		if sidecars[c.Name] {
			sidecarRestarts += int(c.RestartCount)
			sidecarLast = later(sidecarLast, c)
		}
		if t := c.State.Terminated; t != nil && t.ExitCode == 0 {
			continue // finished
		}
		if sidecars[c.Name] && c.Started != nil && *c.Started {
			if c.Ready {
				s.ready++
			}
			continue // a running sidecar does not block the ones after it
		}
		// This init container is the one the pod is waiting for.
		initializing = true
		switch t, w := c.State.Terminated, c.State.Waiting; {
		case t != nil && t.Reason != "":
			s.status = "Init:" + t.Reason
		case t != nil && t.Signal != 0:
			s.status = fmt.Sprintf("Init:Signal:%d", t.Signal)
		case t != nil:
			s.status = fmt.Sprintf("Init:ExitCode:%d", t.ExitCode)
		case w != nil && w.Reason != "" && w.Reason != "PodInitializing":
			s.status = "Init:" + w.Reason
		default:
			s.status = fmt.Sprintf("Init:%d/%d", i, len(pod.Spec.InitContainers))
		}
		break
	}

	if !initializing || podCondition(pod, corev1.PodInitialized) {
		// Once initialised, only sidecar restarts are still of interest.
		s.restarts, s.lastRestart = sidecarRestarts, sidecarLast
		hasRunning := false
		// Backwards, so that the first container's reason is the one shown.
		for i := len(pod.Status.ContainerStatuses) - 1; i >= 0; i-- {
			c := pod.Status.ContainerStatuses[i]
			s.restarts += int(c.RestartCount)
			s.lastRestart = later(s.lastRestart, c)
			switch t, w := c.State.Terminated, c.State.Waiting; {
			case w != nil && w.Reason != "":
				s.status = w.Reason
			case t != nil && t.Reason != "":
				s.status = t.Reason
			case t != nil && t.Signal != 0:
				s.status = fmt.Sprintf("Signal:%d", t.Signal)
			case t != nil:
				s.status = fmt.Sprintf("ExitCode:%d", t.ExitCode)
			case c.Ready && c.State.Running != nil:
				hasRunning = true
				s.ready++
			}
		}
		// A container that completed while another still runs does not make
		// the whole pod Completed.
		if s.status == "Completed" && hasRunning {
			s.status = "NotReady"
			if podCondition(pod, corev1.PodReady) {
				s.status = "Running"
			}
		}
	}

	if pod.DeletionTimestamp != nil {
		switch {
		case pod.Status.Reason == nodeLostReason:
			s.status = "Unknown"
		case pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed:
			s.status = "Terminating"
		}
	}
	return s
}

// later returns the later of t and the time c last terminated.
func later(t time.Time, c corev1.ContainerStatus) time.Time {
	if term := c.LastTerminationState.Terminated; term != nil && term.FinishedAt.After(t) {
		return term.FinishedAt.Time
	}
	return t
}

// podCondition reports whether the pod's condition of type t is True.
func podCondition(pod *corev1.Pod, t corev1.PodConditionType) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// readinessGates is "true/total" over the pod's readiness gates, or
// "<none>".
func readinessGates(pod *corev1.Pod) string {
	if len(pod.Spec.ReadinessGates) == 0 {
		return "<none>"
	}
	n := 0
	for _, g := range pod.Spec.ReadinessGates {
		if podCondition(pod, g.ConditionType) {
			n++
		}
	}
	return fmt.Sprintf("%d/%d", n, len(pod.Spec.ReadinessGates))
}
