package apiserver

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestDecrementBudget(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	budget := func(allowed int32, mod ...func(*policyv1.PodDisruptionBudget)) *policyv1.PodDisruptionBudget {
		b := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "web", Generation: 2},
			Status: policyv1.PodDisruptionBudgetStatus{ObservedGeneration: 2, DisruptionsAllowed: allowed, CurrentHealthy: 3, DesiredHealthy: 2}}
		for _, m := range mod {
			m(b)
		}
		return b
	}
	tests := []struct {
		name    string
		pdb     *policyv1.PodDisruptionBudget
		code    int32
		cause   string
		allowed int32
	}{
		{name: "one allowed", pdb: budget(1), allowed: 0},
		{name: "two allowed", pdb: budget(2), allowed: 1},
		{name: "spent", pdb: budget(0), code: 429, cause: "The disruption budget web needs 2 healthy pods and has 3 currently"},
		{name: "not yet computed for this generation", pdb: budget(3, func(b *policyv1.PodDisruptionBudget) { b.Generation = 3 }),
			code: 429, cause: "The disruption budget web is still being processed by the server."},
		{name: "negative", pdb: budget(-1), code: 403},
		{name: "too many unconfirmed evictions", pdb: budget(5, func(b *policyv1.PodDisruptionBudget) {
			b.Status.DisruptedPods = map[string]metav1.Time{}
			for i := 0; i <= maxDisruptedPods; i++ {
				b.Status.DisruptedPods[string(rune('a'+i%26))+time.Duration(i).String()] = metav1.NewTime(now)
			}
		}), code: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.pdb.DeepCopy()
			out, err := decrementBudget(tt.pdb, "p", now)
			if tt.code != 0 {
				st, ok := err.(apierrors.APIStatus)
				if !ok || st.Status().Code != tt.code {
					t.Fatalf("err %v, want code %d", err, tt.code)
				}
				if tt.code == 429 {
					if st.Status().Message != violationMessage {
						t.Errorf("message %q", st.Status().Message)
					}
					if c := st.Status().Details.Causes; len(c) != 1 || c[0].Type != policyv1.DisruptionBudgetCause || c[0].Message != tt.cause {
						t.Errorf("causes %+v, want %q", c, tt.cause)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out.Status.DisruptionsAllowed != tt.allowed {
				t.Errorf("allowed %d, want %d", out.Status.DisruptionsAllowed, tt.allowed)
			}
			if at, ok := out.Status.DisruptedPods["p"]; !ok || !at.Time.Equal(now) {
				t.Errorf("disruptedPods %v", out.Status.DisruptedPods)
			}
			cond := (*metav1.Condition)(nil)
			for i := range out.Status.Conditions {
				cond = &out.Status.Conditions[i]
			}
			if (tt.allowed == 0) != (cond != nil && cond.Reason == policyv1.InsufficientPodsReason && cond.Status == metav1.ConditionFalse) {
				t.Errorf("conditions %+v with %d allowed", out.Status.Conditions, tt.allowed)
			}
			if before.Status.DisruptionsAllowed != tt.pdb.Status.DisruptionsAllowed || len(tt.pdb.Status.DisruptedPods) != len(before.Status.DisruptedPods) {
				t.Error("decrementBudget changed its input")
			}
		})
	}
}

func TestEvictionRules(t *testing.T) {
	ready := func(phase corev1.PodPhase, ready bool) *corev1.Pod {
		st := corev1.ConditionFalse
		if ready {
			st = corev1.ConditionTrue
		}
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
			Status: corev1.PodStatus{Phase: phase, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}}}
	}
	deleting := ready(corev1.PodRunning, true)
	deleting.DeletionTimestamp = &metav1.Time{}
	for _, tt := range []struct {
		pod            *corev1.Pod
		ignore, pinned bool
	}{
		{ready(corev1.PodPending, false), true, true},
		{ready(corev1.PodRunning, true), false, true},
		{ready(corev1.PodSucceeded, false), true, false},
		{ready(corev1.PodFailed, false), true, false},
		{deleting, true, false},
	} {
		if canIgnorePDB(tt.pod) != tt.ignore || enforceResourceVersion(tt.pod) != tt.pinned {
			t.Errorf("%s deleting=%v: ignore %v pinned %v", tt.pod.Status.Phase, tt.pod.DeletionTimestamp != nil, canIgnorePDB(tt.pod), enforceResourceVersion(tt.pod))
		}
	}

	always := policyv1.AlwaysAllow
	healthy := &policyv1.PodDisruptionBudget{Status: policyv1.PodDisruptionBudgetStatus{CurrentHealthy: 2, DesiredHealthy: 2}}
	short := &policyv1.PodDisruptionBudget{Status: policyv1.PodDisruptionBudgetStatus{CurrentHealthy: 1, DesiredHealthy: 2}}
	shortAlways := short.DeepCopy()
	shortAlways.Spec.UnhealthyPodEvictionPolicy = &always
	for _, tt := range []struct {
		name string
		pod  *corev1.Pod
		pdb  *policyv1.PodDisruptionBudget
		want bool
	}{
		{"ready pods take from the budget", ready(corev1.PodRunning, true), healthy, false},
		{"unready, budget met", ready(corev1.PodRunning, false), healthy, true},
		{"unready, budget short", ready(corev1.PodRunning, false), short, false},
		{"unready, budget short, AlwaysAllow", ready(corev1.PodRunning, false), shortAlways, true},
		{"unready, nothing desired", ready(corev1.PodRunning, false), &policyv1.PodDisruptionBudget{}, false},
	} {
		if got := unhealthyMayGo(tt.pod, tt.pdb); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}

	pod := ready(corev1.PodRunning, true)
	for _, tt := range []struct {
		sel  *metav1.LabelSelector
		want bool
	}{
		{&metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, true},
		{&metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}, false},
		{&metav1.LabelSelector{}, false},
		{nil, false},
	} {
		if got := pdbSelects(&policyv1.PodDisruptionBudget{Spec: policyv1.PodDisruptionBudgetSpec{Selector: tt.sel}}, pod); got != tt.want {
			t.Errorf("selector %v: %v, want %v", tt.sel, got, tt.want)
		}
	}
}

func TestEvictionDeleteOptions(t *testing.T) {
	grace := int64(-5)
	ev := &policyv1.Eviction{DeleteOptions: &metav1.DeleteOptions{GracePeriodSeconds: &grace}}
	opts, err := evictionDeleteOptions(ev, []string{"All"})
	if err != nil || len(opts.DryRun) != 1 || *opts.GracePeriodSeconds != 0 {
		t.Errorf("query dryRun: %+v %v", opts, err)
	}
	if *ev.DeleteOptions.GracePeriodSeconds != -5 {
		t.Error("the eviction's options were changed")
	}
	ev.DeleteOptions.DryRun = []string{"All"}
	if _, err := evictionDeleteOptions(ev, []string{"All", "All"}); !apierrors.IsBadRequest(err) {
		t.Errorf("non-matching dryRun: %v", err)
	}
	if _, err := evictionDeleteOptions(&policyv1.Eviction{DeleteOptions: &metav1.DeleteOptions{DryRun: []string{"Some"}}}, nil); !apierrors.IsBadRequest(err) {
		t.Errorf("bad dryRun: %v", err)
	}
}

func TestSetDisruptionTarget(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pod := &corev1.Pod{}
	if !setDisruptionTarget(pod, t0) || len(pod.Status.Conditions) != 1 {
		t.Fatalf("first: %+v", pod.Status.Conditions)
	}
	c := pod.Status.Conditions[0]
	if c.Type != corev1.DisruptionTarget || c.Status != corev1.ConditionTrue || c.Reason != "EvictionByEvictionAPI" || c.Message != "Eviction API: evicting" {
		t.Errorf("condition %+v", c)
	}
	if setDisruptionTarget(pod, t0.Add(time.Minute)) {
		t.Error("the same condition again is a change")
	}
	pod.Status.Conditions[0].Status = corev1.ConditionFalse
	if !setDisruptionTarget(pod, t0.Add(time.Minute)) || !pod.Status.Conditions[0].LastTransitionTime.Time.Equal(t0.Add(time.Minute)) {
		t.Errorf("a False condition turning True: %+v", pod.Status.Conditions)
	}
}
