package replicaset

import (
	"math"
	"sort"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// BurstReplicas bounds how many pods one sync creates or deletes, as
// kube-controller-manager's replicaset controller does.
const BurstReplicas = 500

// PodDeletionCostAnnotation lets users say which pods to delete first on
// scale down (lower cost first).
const PodDeletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"

// Input is what one sync of a ReplicaSet looks at.
type Input struct {
	RS *appsv1.ReplicaSet
	// Pods are the pods of the ReplicaSet's namespace (the informer's).
	Pods []*corev1.Pod
	// Siblings are the UIDs of the ReplicaSets with the same controller
	// owner (the other ReplicaSets of its Deployment): their pods count
	// when ranking pods for deletion (pods doubled up on a node go first).
	Siblings map[types.UID]bool
	// Manage is false while earlier creations or deletions have not been
	// observed yet: then only status is computed.
	Manage bool
	Now    time.Time
}

// Plan is what a sync does, in order: adopt and release, then create or
// delete.
type Plan struct {
	// Adopt are orphan pods the selector matches: they get the
	// ReplicaSet's controller ownerReference.
	Adopt []*corev1.Pod
	// Release are owned pods the selector no longer matches: their
	// ownerReference to the ReplicaSet is removed.
	Release []*corev1.Pod
	// Owned are the active pods the ReplicaSet controls once Adopt and
	// Release are done; its status is computed from them.
	Owned []*corev1.Pod
	// Create is how many pods to create from the template.
	Create int
	// Delete are the pods to delete, first to delete first.
	Delete []*corev1.Pod
}

// Decide computes one sync of in.RS.
func Decide(in Input) Plan {
	rs := in.RS
	var p Plan
	sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil || sel.Empty() {
		// An invalid or empty selector manages nothing (validation
		// refuses both; this is a guard).
		return p
	}
	var related []*corev1.Pod
	for _, pod := range in.Pods {
		if !IsActive(pod) {
			continue
		}
		matches := sel.Matches(labels.Set(pod.Labels))
		ref := metav1.GetControllerOfNoCopy(pod)
		switch {
		case ref != nil && ref.UID == rs.UID:
			switch {
			case matches:
				p.Owned = append(p.Owned, pod)
			case rs.DeletionTimestamp == nil:
				// A ReplicaSet being deleted keeps its pods for the
				// garbage collector to handle.
				p.Release = append(p.Release, pod)
			}
		case ref != nil:
			if in.Siblings[ref.UID] {
				related = append(related, pod)
			}
		case matches && rs.DeletionTimestamp == nil && pod.DeletionTimestamp == nil:
			p.Adopt = append(p.Adopt, pod)
			p.Owned = append(p.Owned, pod)
		}
	}
	if !in.Manage || rs.DeletionTimestamp != nil {
		return p
	}
	want := int32(1)
	if rs.Spec.Replicas != nil {
		want = *rs.Spec.Replicas
	}
	diff := len(p.Owned) - int(want)
	switch {
	case diff < 0:
		p.Create = min(-diff, BurstReplicas)
	case diff > 0:
		p.Delete = PodsToDelete(p.Owned, append(related, p.Owned...), min(diff, BurstReplicas), in.Now)
	}
	return p
}

// PodsToDelete picks n of pods to delete, in the order Kubernetes deletes
// them: ranking each by how many related pods share its node.
func PodsToDelete(pods, related []*corev1.Pod, n int, now time.Time) []*corev1.Pod {
	if n >= len(pods) {
		return pods
	}
	perNode := map[string]int{}
	for _, p := range related {
		if p.Spec.NodeName != "" && IsActive(p) {
			perNode[p.Spec.NodeName]++
		}
	}
	ranked := make([]rankedPod, len(pods))
	for i, p := range pods {
		r := 0
		if p.Spec.NodeName != "" {
			r = perNode[p.Spec.NodeName]
		}
		ranked[i] = rankedPod{pod: p, rank: r}
	}
	sort.SliceStable(ranked, func(i, j int) bool { return deleteFirst(ranked[i], ranked[j], now) })
	out := make([]*corev1.Pod, n)
	for i := range out {
		out[i] = ranked[i].pod
	}
	return out
}

type rankedPod struct {
	pod *corev1.Pod
	// rank is how many related pods run on the pod's node.
	rank int
}

var phaseOrder = map[corev1.PodPhase]int{corev1.PodPending: 0, corev1.PodUnknown: 1, corev1.PodRunning: 2}

// deleteFirst reports whether a goes before b when scaling down:
// unassigned before assigned, Pending before Unknown before Running, not
// ready before ready, lower deletion cost first, pods doubled up on a node
// first, ready more recently first, more restarts first, newer first.
func deleteFirst(a, b rankedPod, now time.Time) bool {
	pa, pb := a.pod, b.pod
	if (pa.Spec.NodeName == "") != (pb.Spec.NodeName == "") {
		return pa.Spec.NodeName == ""
	}
	if oa, ob := phaseOrder[pa.Status.Phase], phaseOrder[pb.Status.Phase]; oa != ob {
		return oa < ob
	}
	if ra, rb := IsReady(pa), IsReady(pb); ra != rb {
		return !ra
	}
	if ca, cb := deletionCost(pa), deletionCost(pb); ca != cb {
		return ca < cb
	}
	if a.rank != b.rank {
		return a.rank > b.rank
	}
	if IsReady(pa) && IsReady(pb) {
		if ta, tb := readySince(pa), readySince(pb); !ta.Equal(tb) {
			return youngerFirst(ta, tb, pa.UID, pb.UID, now)
		}
	}
	if ra, rb := maxRestarts(pa), maxRestarts(pb); ra != rb {
		return ra > rb
	}
	if ca, cb := pa.CreationTimestamp.Time, pb.CreationTimestamp.Time; !ca.Equal(cb) {
		return youngerFirst(ca, cb, pa.UID, pb.UID, now)
	}
	return pa.UID < pb.UID
}

// youngerFirst orders by age on a log2 scale, so that pods of about the
// same age rank alike and the choice among them is spread by UID
// (Kubernetes' LogarithmicScaleDown); a zero time goes first.
func youngerFirst(ta, tb time.Time, ua, ub types.UID, now time.Time) bool {
	if ta.IsZero() || tb.IsZero() || now.IsZero() {
		if ta.IsZero() != tb.IsZero() {
			return ta.IsZero()
		}
		return ta.After(tb)
	}
	if la, lb := logBucket(now, ta), logBucket(now, tb); la != lb {
		return la < lb
	}
	return ua < ub
}

// logBucket is floor(log2(age in nanoseconds)), -1 for no age.
func logBucket(now, t time.Time) int64 {
	d := now.Sub(t)
	if d <= 0 {
		return -1
	}
	return int64(math.Floor(math.Log2(float64(d))))
}

func deletionCost(p *corev1.Pod) int64 {
	v, ok := p.Annotations[PodDeletionCostAnnotation]
	if !ok {
		return 0
	}
	c, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0
	}
	return c
}

func maxRestarts(p *corev1.Pod) int32 {
	var m int32
	for _, c := range p.Status.ContainerStatuses {
		m = max(m, c.RestartCount)
	}
	return m
}

func readySince(p *corev1.Pod) time.Time {
	if c := readyCondition(p); c != nil {
		return c.LastTransitionTime.Time
	}
	return time.Time{}
}

// IsActive reports whether pod counts towards replicas: not finished and
// not being deleted.
func IsActive(p *corev1.Pod) bool {
	return p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed && p.DeletionTimestamp == nil
}

func readyCondition(p *corev1.Pod) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodReady {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// IsReady reports whether pod's Ready condition is True.
func IsReady(p *corev1.Pod) bool {
	c := readyCondition(p)
	return c != nil && c.Status == corev1.ConditionTrue
}

// IsAvailable reports whether pod has been ready for minReadySeconds at
// now.
func IsAvailable(p *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	if !IsReady(p) {
		return false
	}
	if minReadySeconds == 0 {
		return true
	}
	c := readyCondition(p)
	return !c.LastTransitionTime.IsZero() && c.LastTransitionTime.Add(time.Duration(minReadySeconds)*time.Second).Before(now)
}

// Condition reasons of the ReplicaFailure condition.
const (
	ReasonFailedCreate = "FailedCreate"
	ReasonFailedDelete = "FailedDelete"
)

// Status computes rs's status from the active pods it owns; manageErr is
// the error of creating or deleting pods in this sync (nil when none).
// recheck > 0 says when pods ready but not yet available for
// minReadySeconds become available.
func Status(rs *appsv1.ReplicaSet, owned []*corev1.Pod, manageErr error, now time.Time) (st appsv1.ReplicaSetStatus, recheck time.Duration) {
	st = *rs.Status.DeepCopy()
	tmpl := labels.SelectorFromSet(rs.Spec.Template.Labels)
	var full, ready, avail int32
	for _, p := range owned {
		if tmpl.Matches(labels.Set(p.Labels)) {
			full++
		}
		if IsReady(p) {
			ready++
			if IsAvailable(p, rs.Spec.MinReadySeconds, now) {
				avail++
			} else if rs.Spec.MinReadySeconds > 0 {
				at := readySince(p).Add(time.Duration(rs.Spec.MinReadySeconds)*time.Second + time.Second).Sub(now)
				if at <= 0 {
					at = time.Second
				}
				if recheck == 0 || at < recheck {
					recheck = at
				}
			}
		}
	}
	failure := conditionIndex(st.Conditions, appsv1.ReplicaSetReplicaFailure)
	switch {
	case manageErr != nil && failure < 0:
		want := int32(1)
		if rs.Spec.Replicas != nil {
			want = *rs.Spec.Replicas
		}
		reason := ReasonFailedCreate
		if int32(len(owned)) > want {
			reason = ReasonFailedDelete
		}
		st.Conditions = append(st.Conditions, appsv1.ReplicaSetCondition{
			Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(now), Reason: reason, Message: manageErr.Error(),
		})
	case manageErr == nil && failure >= 0:
		st.Conditions = append(st.Conditions[:failure:failure], st.Conditions[failure+1:]...)
		if len(st.Conditions) == 0 {
			st.Conditions = nil
		}
	}
	st.Replicas = int32(len(owned))
	st.FullyLabeledReplicas = full
	st.ReadyReplicas = ready
	st.AvailableReplicas = avail
	st.ObservedGeneration = rs.Generation
	return st, recheck
}

func conditionIndex(cs []appsv1.ReplicaSetCondition, t appsv1.ReplicaSetConditionType) int {
	for i := range cs {
		if cs[i].Type == t {
			return i
		}
	}
	return -1
}

// PodFromTemplate builds a pod of rs from its template, owned by rs.
func PodFromTemplate(rs *appsv1.ReplicaSet) *corev1.Pod {
	t := rs.Spec.Template.DeepCopy()
	yes := true
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: rs.Name + "-",
			Namespace:    rs.Namespace,
			Labels:       t.Labels,
			Annotations:  t.Annotations,
			Finalizers:   t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: appsv1.SchemeGroupVersion.String(), Kind: "ReplicaSet",
				Name: rs.Name, UID: rs.UID, Controller: &yes, BlockOwnerDeletion: &yes,
			}},
		},
		Spec: t.Spec,
	}
}
