package nodelifecycle

import (
	"fmt"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
)

// Labels, annotations and condition texts of this controller.
const (
	// EdgeLabel marks nodes that joined with `skiff agent --edge`.
	EdgeLabel = "node.skiff.io/edge"
	// EvictionTimeoutAnnotation on a Node is how long after it became
	// unreachable or not ready its pods are evicted: a Go duration
	// ("10m") or "never".
	EvictionTimeoutAnnotation = "node.skiff.io/eviction-timeout"
	// StashAnnotation holds the node's conditions as they were before
	// they were set Unknown, to put back when the node's Lease is renewed
	// (the agent only sends a status that changed, so it will not resend
	// the one it sent last).
	StashAnnotation = "node.skiff.io/conditions-before-unknown"

	ReasonUnknown      = "NodeStatusUnknown"
	MessageUnknown     = "Kubelet stopped posting node status."
	ReasonNeverUpdated = "NodeStatusNeverUpdated"
	MessageNeverUpdate = "Kubelet never posted node status."
	// PodReasonNodeUnknown is the reason of the Ready=False condition
	// this controller gives pods on an Unknown node.
	PodReasonNodeUnknown = "NodeStatusUnknown"
)

// DefaultGracePeriod is how long a node without a Lease may go without a
// status heartbeat: the leaseDurationSeconds skiff's sync hub gives node
// Leases.
const DefaultGracePeriod = 180 * time.Second

// ReadyCondition returns the node's Ready condition, nil if it has none.
func ReadyCondition(st *corev1.NodeStatus) *corev1.NodeCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == corev1.NodeReady {
			return &st.Conditions[i]
		}
	}
	return nil
}

// Health reports whether node has gone silent: its last sign of life —
// the Lease's renewTime, the Ready condition's heartbeat, its creation,
// or start (when this controller began watching, so that a restarted
// server gives every node a full grace period) — is older than the grace
// period: the Lease's leaseDurationSeconds, else defaultGrace. When it is
// not stale, after is how long until it would be.
func Health(node *corev1.Node, lease *coordinationv1.Lease, start, now time.Time, defaultGrace time.Duration) (stale bool, after time.Duration) {
	probe := node.CreationTimestamp.Time
	later := func(t time.Time) {
		if t.After(probe) {
			probe = t
		}
	}
	later(start)
	if c := ReadyCondition(&node.Status); c != nil {
		later(c.LastHeartbeatTime.Time)
	}
	grace := defaultGrace
	if lease != nil {
		if lease.Spec.RenewTime != nil {
			later(lease.Spec.RenewTime.Time)
		}
		if d := lease.Spec.LeaseDurationSeconds; d != nil && *d > 0 {
			grace = time.Duration(*d) * time.Second
		}
	}
	deadline := probe.Add(grace)
	if now.After(deadline) {
		return true, 0
	}
	return false, deadline.Sub(now)
}

// MarkUnknown sets the node's conditions Unknown, as a node that stopped
// reporting has them; it reports false when they already are. A missing
// Ready condition is added.
func MarkUnknown(st *corev1.NodeStatus, created, now time.Time) bool {
	changed := false
	if ReadyCondition(st) == nil {
		st.Conditions = append(st.Conditions, corev1.NodeCondition{
			Type: corev1.NodeReady, Status: corev1.ConditionUnknown,
			Reason: ReasonNeverUpdated, Message: MessageNeverUpdate,
			LastHeartbeatTime: metav1.NewTime(created), LastTransitionTime: metav1.NewTime(now),
		})
		changed = true
	}
	for i := range st.Conditions {
		c := &st.Conditions[i]
		if c.Status == corev1.ConditionUnknown {
			continue
		}
		c.Status, c.Reason, c.Message = corev1.ConditionUnknown, ReasonUnknown, MessageUnknown
		c.LastTransitionTime = metav1.NewTime(now)
		changed = true
	}
	return changed
}

// Restore puts back the conditions stashed before MarkUnknown, now that
// the node's Lease shows it is in contact again; it reports false when
// the node's Ready condition is not this controller's Unknown (the agent
// reported since).
func Restore(st *corev1.NodeStatus, stash []corev1.NodeCondition, now time.Time) bool {
	r := ReadyCondition(st)
	if r == nil || r.Status != corev1.ConditionUnknown || r.Reason != ReasonUnknown || len(stash) == 0 {
		return false
	}
	out := make([]corev1.NodeCondition, len(stash))
	for i, c := range stash {
		c.LastHeartbeatTime = metav1.NewTime(now)
		c.LastTransitionTime = metav1.NewTime(now)
		out[i] = c
	}
	st.Conditions = out
	return true
}

// The taints this controller owns.
var (
	TaintUnreachableNoSchedule = corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule}
	TaintUnreachableNoExecute  = corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute}
	TaintNotReadyNoSchedule    = corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}
	TaintNotReadyNoExecute     = corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute}
)

// conditionTaints are the NoSchedule taints a node's conditions other than
// Ready put on it while they are True (Kubernetes' TaintNodesByCondition):
// the scheduler keeps new pods off a node under pressure unless they
// tolerate it, as DaemonSet pods do.
var conditionTaints = map[corev1.NodeConditionType]string{
	corev1.NodeMemoryPressure:     corev1.TaintNodeMemoryPressure,
	corev1.NodeDiskPressure:       corev1.TaintNodeDiskPressure,
	corev1.NodePIDPressure:        corev1.TaintNodePIDPressure,
	corev1.NodeNetworkUnavailable: corev1.TaintNodeNetworkUnavailable,
}

func lifecycleTaint(key string) bool {
	switch key {
	case corev1.TaintNodeUnreachable, corev1.TaintNodeNotReady, corev1.TaintNodeUnschedulable,
		corev1.TaintNodeMemoryPressure, corev1.TaintNodeDiskPressure, corev1.TaintNodePIDPressure,
		corev1.TaintNodeNetworkUnavailable:
		return true
	}
	return false
}

// Taints returns the node's taints as its conditions want them:
// unreachable for Ready Unknown, not-ready for Ready False, a NoSchedule
// taint for each pressure (and NetworkUnavailable) condition that is True,
// and unschedulable for a cordoned node. Other taints are kept, and so is
// the timeAdded of a taint already there (eviction deadlines count from
// it). changed is false when taints is already right.
func Taints(node *corev1.Node, now time.Time) (taints []corev1.Taint, changed bool) {
	var want []corev1.Taint
	if r := ReadyCondition(&node.Status); r != nil {
		switch r.Status {
		case corev1.ConditionUnknown:
			want = []corev1.Taint{TaintUnreachableNoSchedule, TaintUnreachableNoExecute}
		case corev1.ConditionFalse:
			want = []corev1.Taint{TaintNotReadyNoSchedule, TaintNotReadyNoExecute}
		}
	}
	for _, c := range node.Status.Conditions {
		if key, ok := conditionTaints[c.Type]; ok && c.Status == corev1.ConditionTrue {
			want = append(want, corev1.Taint{Key: key, Effect: corev1.TaintEffectNoSchedule})
		}
	}
	if node.Spec.Unschedulable {
		want = append(want, corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule})
	}
	has := func(t corev1.Taint) bool {
		for _, w := range want {
			if w.Key == t.Key && w.Effect == t.Effect {
				return true
			}
		}
		return false
	}
	for _, t := range node.Spec.Taints {
		if lifecycleTaint(t.Key) && !has(t) {
			changed = true
			continue
		}
		taints = append(taints, t)
	}
	for _, w := range want {
		found := false
		for _, t := range node.Spec.Taints {
			if t.Key == w.Key && t.Effect == w.Effect {
				found = true
			}
		}
		if !found {
			if w.Effect == corev1.TaintEffectNoExecute {
				w.TimeAdded = &metav1.Time{Time: now}
			}
			taints = append(taints, w)
			changed = true
		}
	}
	return taints, changed
}

// Policy is how a node's pods are evicted for the node being unreachable
// or not ready.
type Policy struct {
	// Never: they are not.
	Never bool
	// Timeout, when set, replaces the pods' own tolerationSeconds: pods
	// go this long after the taint appeared, unless they tolerate it
	// without limit.
	Timeout time.Duration
}

// NodePolicy reads the node's eviction policy: its
// EvictionTimeoutAnnotation if set, else never for edge nodes, else the
// pods' tolerations (Kubernetes' behaviour).
func NodePolicy(node *corev1.Node) (Policy, error) {
	if v, ok := node.Annotations[EvictionTimeoutAnnotation]; ok {
		v = strings.TrimSpace(v)
		if v == "never" {
			return Policy{Never: true}, nil
		}
		d, err := time.ParseDuration(v)
		if err == nil && d >= 0 {
			return Policy{Timeout: d}, nil
		}
		if node.Labels[EdgeLabel] == "true" {
			return Policy{Never: true}, fmt.Errorf("node %s: %s=%q is neither a duration nor \"never\"", node.Name, EvictionTimeoutAnnotation, v)
		}
		return Policy{}, fmt.Errorf("node %s: %s=%q is neither a duration nor \"never\"", node.Name, EvictionTimeoutAnnotation, v)
	}
	if node.Labels[EdgeLabel] == "true" {
		return Policy{Never: true}, nil
	}
	return Policy{}, nil
}

// forever stands for a toleration without tolerationSeconds.
const forever = time.Duration(1<<63 - 1)

// EvictAt returns when pod must leave node for its NoExecute taints
// under policy, and false if never.
func EvictAt(node *corev1.Node, pod *corev1.Pod, policy Policy) (time.Time, bool) {
	var at time.Time
	due := false
	earliest := func(t time.Time) {
		if !due || t.Before(at) {
			at, due = t, true
		}
	}
	for i := range node.Spec.Taints {
		taint := &node.Spec.Taints[i]
		if taint.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		var added time.Time
		if taint.TimeAdded != nil {
			added = taint.TimeAdded.Time
		}
		tolerated, limit := toleration(pod, taint)
		if lifecycleTaint(taint.Key) && (policy.Never || policy.Timeout > 0) {
			if policy.Never || (tolerated && limit == forever) {
				continue
			}
			earliest(added.Add(policy.Timeout))
			continue
		}
		switch {
		case !tolerated:
			earliest(added)
		case limit != forever:
			earliest(added.Add(limit))
		}
	}
	return at, due
}

// toleration reports whether pod tolerates taint and for how long (the
// shortest tolerationSeconds of its matching tolerations).
func toleration(pod *corev1.Pod, taint *corev1.Taint) (bool, time.Duration) {
	tolerated, limit := false, forever
	for i := range pod.Spec.Tolerations {
		t := &pod.Spec.Tolerations[i]
		if !t.ToleratesTaint(klog.Background(), taint, false) {
			continue
		}
		tolerated = true
		if t.TolerationSeconds != nil {
			d := time.Duration(max(*t.TolerationSeconds, 0)) * time.Second
			if d < limit {
				limit = d
			}
		}
	}
	return tolerated, limit
}

// Evictions lists node's pods due for eviction at now, and how long until
// the next one falls due (0 if none will).
func Evictions(node *corev1.Node, pods []*corev1.Pod, policy Policy, now time.Time) (due []*corev1.Pod, next time.Duration) {
	for _, p := range pods {
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		at, ok := EvictAt(node, p, policy)
		if !ok {
			continue
		}
		if !at.After(now) {
			due = append(due, p)
		} else if d := at.Sub(now); next == 0 || d < next {
			next = d
		}
	}
	return due, next
}

// podReady returns the pod's Ready condition, nil if it has none.
func podReady(pod *corev1.Pod) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == corev1.PodReady {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

// PodReadiness is the pod Ready condition to write, if any: False on a
// node that is Unknown, and on a node back in contact the True its agent
// last reported, for pods this controller marked.
func PodReadiness(nodeUnknown bool, pod *corev1.Pod, now time.Time) (corev1.PodCondition, bool) {
	c := podReady(pod)
	if c == nil || pod.DeletionTimestamp != nil && !nodeUnknown {
		return corev1.PodCondition{}, false
	}
	switch {
	case nodeUnknown && c.Status == corev1.ConditionTrue:
		return corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: PodReasonNodeUnknown,
			Message: "The pod's node stopped reporting.", LastTransitionTime: metav1.NewTime(now)}, true
	case !nodeUnknown && c.Status == corev1.ConditionFalse && c.Reason == PodReasonNodeUnknown:
		return corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now)}, true
	}
	return corev1.PodCondition{}, false
}
