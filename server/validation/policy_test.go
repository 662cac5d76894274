package validation

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestPolicyCreate(t *testing.T) {
	pc := func(name string, value int32, mod ...func(*schedulingv1.PriorityClass)) *schedulingv1.PriorityClass {
		p := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Value: value}
		for _, m := range mod {
			m(p)
		}
		return p
	}
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	pdb := func(mod func(*policyv1.PodDisruptionBudgetSpec)) *policyv1.PodDisruptionBudget {
		two := intstr.FromInt32(2)
		p := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
			Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: &two, Selector: sel}}
		if mod != nil {
			mod(&p.Spec)
		}
		return p
	}
	ios := func(s string) *intstr.IntOrString { v := intstr.Parse(s); return &v }
	tests := []struct {
		name string
		obj  runtime.Object
		want []string // substrings of the errors, in order; none: valid
	}{
		{"user class", pc("high", 1000000000), nil},
		{"user class too high", pc("high", 1000000001), []string{"value: Forbidden: maximum allowed value of a user defined priority is 1000000000"}},
		{"system class as built in", pc("system-node-critical", 2000001000), nil},
		{"system class with another value", pc("system-cluster-critical", 5),
			[]string{"metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: value of system-cluster-critical PriorityClass must be 2000000000"}},
		{"system class as default", pc("system-node-critical", 2000001000, func(p *schedulingv1.PriorityClass) { p.GlobalDefault = true }),
			[]string{"globalDefault of system-node-critical PriorityClass must be false"}},
		{"unknown system name", pc("system-x", 1), []string{"system-x is not a known system priority class"}},
		{"bad preemption policy", pc("p", 1, func(p *schedulingv1.PriorityClass) {
			x := corev1.PreemptionPolicy("Sometimes")
			p.PreemptionPolicy = &x
		}),
			[]string{`preemptionPolicy: Unsupported value: "Sometimes"`}},
		{"bad class name", pc("Not_A_Name", 1), []string{"metadata.name: Invalid value"}},

		{"pdb minAvailable", pdb(nil), nil},
		{"pdb maxUnavailable percent", pdb(func(s *policyv1.PodDisruptionBudgetSpec) { s.MinAvailable, s.MaxUnavailable = nil, ios("25%") }), nil},
		{"pdb with neither, as kube allows", pdb(func(s *policyv1.PodDisruptionBudgetSpec) { s.MinAvailable = nil }), nil},
		{"pdb with both", pdb(func(s *policyv1.PodDisruptionBudgetSpec) { s.MaxUnavailable = ios("1") }),
			[]string{"spec: Invalid value", "minAvailable and maxUnavailable cannot be both set"}},
		{"pdb negative", pdb(func(s *policyv1.PodDisruptionBudgetSpec) { s.MinAvailable = ios("-1") }),
			[]string{"spec.minAvailable: Invalid value: -1: must be greater than or equal to 0"}},
		{"pdb over 100%", pdb(func(s *policyv1.PodDisruptionBudgetSpec) { s.MinAvailable = ios("150%") }),
			[]string{"spec.minAvailable: Invalid value: \"150%\": must not be greater than 100%"}},
		{"pdb bad selector", pdb(func(s *policyv1.PodDisruptionBudgetSpec) {
			s.Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Near"}}}
		}), []string{"spec.selector.matchExpressions[0].operator: Invalid value: \"Near\""}},
		{"pdb bad unhealthy policy", pdb(func(s *policyv1.PodDisruptionBudgetSpec) {
			p := policyv1.UnhealthyPodEvictionPolicyType("Sometimes")
			s.UnhealthyPodEvictionPolicy = &p
		}), []string{`spec.unhealthyPodEvictionPolicy: Unsupported value: "Sometimes": supported values: "AlwaysAllow", "IfHealthyBudget"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := Create(tt.obj)
			if len(tt.want) == 0 {
				if len(errs) > 0 {
					t.Fatalf("unexpected errors: %v", errs)
				}
				return
			}
			msg := errs.ToAggregate()
			if msg == nil {
				t.Fatalf("no errors, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg.Error(), w) {
					t.Errorf("errors %q lack %q", msg.Error(), w)
				}
			}
		})
	}
}

func TestPolicyUpdate(t *testing.T) {
	never := corev1.PreemptNever
	old := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "high", ResourceVersion: "1"}, Value: 10}
	changed := old.DeepCopy()
	changed.Value, changed.PreemptionPolicy, changed.Description = 11, &never, "now described"
	errs := Update(changed, old).ToAggregate()
	if errs == nil || !strings.Contains(errs.Error(), "value: Forbidden: may not be changed in an update.") ||
		!strings.Contains(errs.Error(), "preemptionPolicy: Invalid value") || !strings.Contains(errs.Error(), "field is immutable") {
		t.Errorf("changing value and policy: %v", errs)
	}
	desc := old.DeepCopy()
	desc.Description = "fine"
	if errs := Update(desc, old); len(errs) > 0 {
		t.Errorf("changing the description: %v", errs)
	}

	one, two := intstr.FromInt32(1), intstr.FromInt32(2)
	oldPDB := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", ResourceVersion: "1"},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: &one}}
	newPDB := oldPDB.DeepCopy()
	newPDB.Spec.MinAvailable = &two
	if errs := Update(newPDB, oldPDB); len(errs) > 0 {
		t.Errorf("policy/v1 budgets may change: %v", errs)
	}
	newPDB.Status.DisruptionsAllowed = -1
	if errs := Update(newPDB, oldPDB).ToAggregate(); errs == nil || !strings.Contains(errs.Error(), "status.disruptionsAllowed") {
		t.Errorf("negative disruptionsAllowed: %v", errs)
	}
}
