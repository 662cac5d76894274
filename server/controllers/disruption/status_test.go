package disruption

import (
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

var now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// scales is a fixed Scales: controller UID -> (workload UID, replicas).
type scales map[types.UID]struct {
	uid types.UID
	n   int32
}

func (s scales) Scale(_ string, ref metav1.OwnerReference) (types.UID, int32, bool) {
	w, ok := s[ref.UID]
	return w.uid, w.n, ok
}

type podOpt func(*corev1.Pod)

func pod(name string, ready bool, opts ...podOpt) *corev1.Pod {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}}}
	for _, o := range opts {
		o(p)
	}
	return p
}

func ownedBy(uid types.UID) podOpt {
	return func(p *corev1.Pod) {
		yes := true
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", UID: uid, Controller: &yes}}
	}
}

func deleting(p *corev1.Pod) { t := metav1.NewTime(now); p.DeletionTimestamp = &t }

func pdb(min, maxU *intstr.IntOrString, mod ...func(*policyv1.PodDisruptionBudget)) *policyv1.PodDisruptionBudget {
	b := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "default", Generation: 3},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: min, MaxUnavailable: maxU}}
	for _, m := range mod {
		m(b)
	}
	return b
}

func ios(s string) *intstr.IntOrString { v := intstr.Parse(s); return &v }

func disrupted(names map[string]time.Duration) func(*policyv1.PodDisruptionBudget) {
	return func(b *policyv1.PodDisruptionBudget) {
		b.Status.DisruptedPods = map[string]metav1.Time{}
		for n, ago := range names {
			b.Status.DisruptedPods[n] = metav1.NewTime(now.Add(-ago))
		}
	}
}

func TestStatus(t *testing.T) {
	rsA, rsB := types.UID("rs-a"), types.UID("rs-b")
	deploy := scales{rsA: {uid: "deploy", n: 4}, rsB: {uid: "deploy", n: 4}}
	sts := scales{rsA: {uid: "a", n: 3}, rsB: {uid: "b", n: 2}}
	tests := []struct {
		name   string
		pdb    *policyv1.PodDisruptionBudget
		pods   []*corev1.Pod
		scales scales

		healthy, desired, expected, allowed int32
		reason                              string
		disrupted                           []string
		notDeleted                          []string
		unmanaged                           []string
		recheck                             time.Duration
		err                                 bool
	}{
		{name: "minAvailable 2 of 3 ready", pdb: pdb(ios("2"), nil),
			pods:    []*corev1.Pod{pod("a", true), pod("b", true), pod("c", true)},
			healthy: 3, desired: 2, expected: 3, allowed: 1, reason: policyv1.SufficientPodsReason},
		{name: "minAvailable 2, one unready", pdb: pdb(ios("2"), nil),
			pods:    []*corev1.Pod{pod("a", true), pod("b", false), pod("c", true)},
			healthy: 2, desired: 2, expected: 3, allowed: 0, reason: policyv1.InsufficientPodsReason},
		{name: "minAvailable 3, two ready: never negative", pdb: pdb(ios("3"), nil),
			pods:    []*corev1.Pod{pod("a", true), pod("b", true)},
			healthy: 2, desired: 3, expected: 2, allowed: 0, reason: policyv1.InsufficientPodsReason},
		{name: "no pods: nothing allowed", pdb: pdb(ios("0"), nil),
			healthy: 0, desired: 0, expected: 0, allowed: 0, reason: policyv1.InsufficientPodsReason},
		{name: "pods being deleted are not healthy", pdb: pdb(ios("1"), nil),
			pods:    []*corev1.Pod{pod("a", true, deleting), pod("b", true)},
			healthy: 1, desired: 1, expected: 2, allowed: 0, reason: policyv1.InsufficientPodsReason},
		{name: "minAvailable 50% of a deployment of 4, rounded up", pdb: pdb(ios("50%"), nil), scales: deploy,
			pods:    []*corev1.Pod{pod("a", true, ownedBy(rsA)), pod("b", true, ownedBy(rsA)), pod("c", true, ownedBy(rsB))},
			healthy: 3, desired: 2, expected: 4, allowed: 1, reason: policyv1.SufficientPodsReason},
		{name: "maxUnavailable 1 over two workloads of 3 and 2", pdb: pdb(nil, ios("1")), scales: sts,
			pods:    []*corev1.Pod{pod("a", true, ownedBy(rsA)), pod("b", true, ownedBy(rsA)), pod("c", true, ownedBy(rsB)), pod("d", true, ownedBy(rsB))},
			healthy: 4, desired: 4, expected: 5, allowed: 0, reason: policyv1.InsufficientPodsReason},
		{name: "maxUnavailable 40% of 5, rounded up to 2", pdb: pdb(nil, ios("40%")), scales: sts,
			pods:    []*corev1.Pod{pod("a", true, ownedBy(rsA)), pod("b", true, ownedBy(rsA)), pod("c", true, ownedBy(rsA)), pod("d", true, ownedBy(rsB)), pod("e", true, ownedBy(rsB))},
			healthy: 5, desired: 3, expected: 5, allowed: 2, reason: policyv1.SufficientPodsReason},
		{name: "maxUnavailable over unmanaged pods counts none", pdb: pdb(nil, ios("1")),
			pods:    []*corev1.Pod{pod("a", true), pod("b", true)},
			healthy: 2, desired: 0, expected: 0, allowed: 0, reason: policyv1.InsufficientPodsReason, unmanaged: []string{"a", "b"}},
		{name: "a controller that cannot be found fails the sync", pdb: pdb(ios("50%"), nil, func(b *policyv1.PodDisruptionBudget) {
			b.Status = policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: 2, CurrentHealthy: 3, ObservedGeneration: 2}
		}), scales: scales{},
			pods:    []*corev1.Pod{pod("a", true, ownedBy(rsA))},
			healthy: 3, allowed: 0, reason: policyv1.SyncFailedReason, err: true},
		{name: "a recently evicted pod is not counted and is rechecked when its time runs out",
			pdb:     pdb(ios("1"), nil, disrupted(map[string]time.Duration{"a": 30 * time.Second, "gone": time.Second})),
			pods:    []*corev1.Pod{pod("a", true), pod("b", true), pod("c", true)},
			healthy: 2, desired: 1, expected: 3, allowed: 1, reason: policyv1.SufficientPodsReason,
			disrupted: []string{"a"}, recheck: 90 * time.Second},
		{name: "an eviction that did not delete the pod expires after two minutes",
			pdb:     pdb(ios("1"), nil, disrupted(map[string]time.Duration{"a": 3 * time.Minute})),
			pods:    []*corev1.Pod{pod("a", true), pod("b", true)},
			healthy: 2, desired: 1, expected: 2, allowed: 1, reason: policyv1.SufficientPodsReason, notDeleted: []string{"a"}},
		{name: "an evicted pod being deleted leaves the map",
			pdb:     pdb(ios("1"), nil, disrupted(map[string]time.Duration{"a": 10 * time.Second})),
			pods:    []*corev1.Pod{pod("a", true, deleting), pod("b", true)},
			healthy: 1, desired: 1, expected: 2, allowed: 0, reason: policyv1.InsufficientPodsReason},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Status(tt.pdb, tt.pods, tt.scales, now)
			st := res.Status
			if (res.Err != nil) != tt.err {
				t.Fatalf("err %v, want error %v", res.Err, tt.err)
			}
			if st.CurrentHealthy != tt.healthy || st.DesiredHealthy != tt.desired || st.ExpectedPods != tt.expected || st.DisruptionsAllowed != tt.allowed {
				t.Errorf("healthy/desired/expected/allowed = %d/%d/%d/%d, want %d/%d/%d/%d", st.CurrentHealthy, st.DesiredHealthy, st.ExpectedPods, st.DisruptionsAllowed,
					tt.healthy, tt.desired, tt.expected, tt.allowed)
			}
			if !tt.err && st.ObservedGeneration != 3 {
				t.Errorf("observedGeneration %d, want 3", st.ObservedGeneration)
			}
			if len(st.Conditions) != 1 {
				t.Fatalf("conditions %+v, want one", st.Conditions)
			}
			c := st.Conditions[0]
			wantStatus := metav1.ConditionFalse
			if tt.reason == policyv1.SufficientPodsReason {
				wantStatus = metav1.ConditionTrue
			}
			if c.Type != policyv1.DisruptionAllowedCondition || c.Reason != tt.reason || c.Status != wantStatus || !c.LastTransitionTime.Time.Equal(now) {
				t.Errorf("condition %+v, want DisruptionAllowed %s %s at now", c, wantStatus, tt.reason)
			}
			if tt.err && c.Message == "" {
				t.Error("SyncFailed without a message")
			}
			var got []string
			for n := range st.DisruptedPods {
				got = append(got, n)
			}
			if !equalStrings(got, tt.disrupted) {
				t.Errorf("disruptedPods %v, want %v", got, tt.disrupted)
			}
			if !equalStrings(res.NotDeleted, tt.notDeleted) || !equalStrings(res.Unmanaged, tt.unmanaged) {
				t.Errorf("notDeleted %v unmanaged %v, want %v %v", res.NotDeleted, res.Unmanaged, tt.notDeleted, tt.unmanaged)
			}
			if res.RecheckAfter != tt.recheck {
				t.Errorf("recheck after %v, want %v", res.RecheckAfter, tt.recheck)
			}
		})
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	set := map[string]bool{}
	for _, x := range a {
		set[x] = true
	}
	for _, x := range b {
		if !set[x] {
			return false
		}
	}
	return true
}

// TestChanged: a status computed twice in a row is written once, and a
// condition keeps its transition time while its status holds.
func TestChanged(t *testing.T) {
	b := pdb(ios("1"), nil)
	pods := []*corev1.Pod{pod("a", true), pod("b", true)}
	first := Status(b, pods, nil, now)
	if !Changed(b, &first.Status) {
		t.Fatal("a new status is not a change")
	}
	b.Status = first.Status
	again := Status(b, pods, nil, now.Add(time.Minute))
	if Changed(b, &again.Status) {
		t.Errorf("the same status again is a change:\n%+v\n%+v", b.Status, again.Status)
	}
	pods[1] = pod("b", false)
	later := Status(b, pods, nil, now.Add(2*time.Minute))
	if !Changed(b, &later.Status) || !later.Status.Conditions[0].LastTransitionTime.Time.Equal(now.Add(2*time.Minute)) {
		t.Errorf("a pod turning unready: %+v", later.Status)
	}
}

func TestFailedKeepsTheRest(t *testing.T) {
	b := pdb(ios("1"), nil, func(b *policyv1.PodDisruptionBudget) {
		b.Status = policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: 1, CurrentHealthy: 2, DesiredHealthy: 1, ExpectedPods: 2, ObservedGeneration: 3}
	})
	res := Failed(b, errors.New("boom"), now)
	if res.Status.DisruptionsAllowed != 0 || res.Status.CurrentHealthy != 2 || res.Status.Conditions[0].Message != "boom" {
		t.Errorf("fail-safe status %+v", res.Status)
	}
	if b.Status.DisruptionsAllowed != 1 || len(b.Status.Conditions) != 0 {
		t.Error("Failed changed its input")
	}
}
