package disruption

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// DeletionTimeout is how long a pod the eviction API recorded in
// disruptedPods is counted as gone before it is deleted; after that the
// controller assumes the deletion failed and counts it again.
const DeletionTimeout = 2 * time.Minute

// Scales finds the workload controlling a pod, for budgets that are
// relative to the workloads' size.
type Scales interface {
	// Scale follows ref, a pod's controller reference in namespace, to the
	// workload that sets how many such pods there should be (a ReplicaSet
	// owned by a Deployment leads to the Deployment) and returns its UID
	// and spec.replicas. found is false when there is no such workload.
	Scale(namespace string, ref metav1.OwnerReference) (uid types.UID, replicas int32, found bool)
}

// Result is a budget's computed status and what the controller should
// report or schedule besides writing it.
type Result struct {
	// Status is the status the budget should have.
	Status policyv1.PodDisruptionBudgetStatus
	// Err is why the status could not be computed; Status then allows no
	// disruption (condition reason SyncFailed).
	Err error
	// RecheckAfter, when positive, is when an entry of disruptedPods
	// expires and the budget must be computed again.
	RecheckAfter time.Duration
	// Unmanaged lists selected pods without a controller, which a budget
	// in percent or with maxUnavailable cannot count.
	Unmanaged []string
	// NotDeleted lists pods evicted longer than DeletionTimeout ago that
	// still exist.
	NotDeleted []string
}

// Status computes the status of pdb from the pods its selector matches,
// at now, as kube's disruption controller does.
func Status(pdb *policyv1.PodDisruptionBudget, pods []*corev1.Pod, scales Scales, now time.Time) Result {
	expected, desired, unmanaged, err := expectedPods(pdb, pods, scales)
	if err != nil {
		return Failed(pdb, err, now)
	}
	res := Result{Unmanaged: unmanaged}
	disrupted := map[string]metav1.Time{}
	var recheck time.Time
	for _, pod := range pods {
		if pod.DeletionTimestamp != nil {
			continue
		}
		at, ok := pdb.Status.DisruptedPods[pod.Name]
		if !ok {
			continue
		}
		if due := at.Add(DeletionTimeout); due.Before(now) {
			res.NotDeleted = append(res.NotDeleted, pod.Name)
		} else {
			disrupted[pod.Name] = at
			if recheck.IsZero() || due.Before(recheck) {
				recheck = due
			}
		}
	}
	if !recheck.IsZero() {
		res.RecheckAfter = recheck.Sub(now)
	}
	var healthy int32
	for _, pod := range pods {
		if pod.DeletionTimestamp != nil {
			continue
		}
		if _, going := disrupted[pod.Name]; going {
			continue
		}
		if podReady(pod) {
			healthy++
		}
	}
	allowed := healthy - desired
	// A budget that expects no pods allows nothing, so that pods appearing
	// before the next sync are safe.
	if expected <= 0 || allowed < 0 {
		allowed = 0
	}
	st := policyv1.PodDisruptionBudgetStatus{
		ObservedGeneration: pdb.Generation,
		DisruptedPods:      disrupted,
		DisruptionsAllowed: allowed,
		CurrentHealthy:     healthy,
		DesiredHealthy:     desired,
		ExpectedPods:       expected,
		Conditions:         append([]metav1.Condition(nil), pdb.Status.Conditions...),
	}
	cond := metav1.Condition{Type: policyv1.DisruptionAllowedCondition, Status: metav1.ConditionFalse,
		Reason: policyv1.InsufficientPodsReason, ObservedGeneration: st.ObservedGeneration, LastTransitionTime: metav1.NewTime(now)}
	if allowed > 0 {
		cond.Status, cond.Reason = metav1.ConditionTrue, policyv1.SufficientPodsReason
	}
	apimeta.SetStatusCondition(&st.Conditions, cond)
	res.Status = st
	return res
}

// Failed is the fail-safe status of a budget whose status could not be
// computed: the last one, allowing no disruption, with the error in a
// DisruptionAllowed condition of reason SyncFailed.
func Failed(pdb *policyv1.PodDisruptionBudget, err error, now time.Time) Result {
	st := *pdb.Status.DeepCopy()
	st.DisruptionsAllowed = 0
	apimeta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type: policyv1.DisruptionAllowedCondition, Status: metav1.ConditionFalse, Reason: policyv1.SyncFailedReason,
		Message: err.Error(), ObservedGeneration: st.ObservedGeneration, LastTransitionTime: metav1.NewTime(now),
	})
	return Result{Status: st, Err: err}
}

// Changed reports whether status differs from what pdb has, so that an
// unchanged budget is not written again.
func Changed(pdb *policyv1.PodDisruptionBudget, status *policyv1.PodDisruptionBudgetStatus) bool {
	return !apiequality.Semantic.DeepEqual(&pdb.Status, status)
}

// expectedPods returns how many pods the budget expects and how many of
// them must be healthy. An integer minAvailable counts the selected pods;
// a percentage, or maxUnavailable, counts the replicas of their workloads.
func expectedPods(pdb *policyv1.PodDisruptionBudget, pods []*corev1.Pod, scales Scales) (expected, desired int32, unmanaged []string, err error) {
	switch s := pdb.Spec; {
	case s.MaxUnavailable != nil:
		expected, unmanaged, err = workloadScale(pods, scales)
		if err != nil {
			return 0, 0, nil, err
		}
		maxUnavailable, err := intstr.GetScaledValueFromIntOrPercent(s.MaxUnavailable, int(expected), true)
		if err != nil {
			return 0, 0, nil, err
		}
		return expected, max(expected-int32(maxUnavailable), 0), unmanaged, nil
	case s.MinAvailable != nil && s.MinAvailable.Type == intstr.Int:
		return int32(len(pods)), s.MinAvailable.IntVal, nil, nil
	case s.MinAvailable != nil:
		expected, unmanaged, err = workloadScale(pods, scales)
		if err != nil {
			return 0, 0, nil, err
		}
		minAvailable, err := intstr.GetScaledValueFromIntOrPercent(s.MinAvailable, int(expected), true)
		if err != nil {
			return 0, 0, nil, err
		}
		return expected, int32(minAvailable), unmanaged, nil
	}
	return 0, 0, nil, nil
}

// workloadScale adds up the replicas of the workloads controlling pods,
// each workload once. Pods without a controller are listed apart; a pod
// whose controller cannot be found is an error.
func workloadScale(pods []*corev1.Pod, scales Scales) (int32, []string, error) {
	seen := map[types.UID]int32{}
	var unmanaged []string
	for _, pod := range pods {
		ref := metav1.GetControllerOf(pod)
		if ref == nil {
			unmanaged = append(unmanaged, pod.Name)
			continue
		}
		if _, ok := seen[ref.UID]; ok {
			continue
		}
		uid, n, found := scales.Scale(pod.Namespace, *ref)
		if !found {
			return 0, nil, fmt.Errorf("found no controllers for pod %q", pod.Name)
		}
		seen[uid] = n
	}
	var total int32
	for _, n := range seen {
		total += n
	}
	return total, unmanaged, nil
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
