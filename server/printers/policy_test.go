package printers

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func policyKindCases() []kindCase {
	never := corev1.PreemptNever
	two := intstr.FromInt32(2)
	return []kindCase{
		{
			gk:   schema.GroupKind{Group: "scheduling.k8s.io", Kind: "PriorityClass"},
			zero: &schedulingv1.PriorityClass{},
			full: &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "high", CreationTimestamp: ago(5 * time.Minute)},
				Value: 1000, GlobalDefault: true, PreemptionPolicy: &never},
			want: []interface{}{"high", int64(1000), "true", "5m", "Never"},
		},
		{
			gk:   schema.GroupKind{Group: "policy", Kind: "PodDisruptionBudget"},
			zero: &policyv1.PodDisruptionBudget{},
			full: &policyv1.PodDisruptionBudget{ObjectMeta: om("web"), Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: &two},
				Status: policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: 1}},
			want: []interface{}{"web", "2", "N/A", int64(1), "5m"},
		},
	}
}

func TestPolicyColumnsAndZeroRows(t *testing.T) {
	tests := []struct {
		gk      schema.GroupKind
		columns []string
		zero    []interface{}
	}{
		{schema.GroupKind{Group: "scheduling.k8s.io", Kind: "PriorityClass"},
			[]string{"Name", "Value", "Global-Default", "Age", "PreemptionPolicy"},
			[]interface{}{"", int64(0), "false", "<unknown>", "<unset>"}},
		{schema.GroupKind{Group: "policy", Kind: "PodDisruptionBudget"},
			[]string{"Name", "Min Available", "Max Unavailable", "Allowed Disruptions", "Age"},
			[]interface{}{"", "N/A", "N/A", int64(0), "<unknown>"}},
	}
	for _, tt := range tests {
		p, ok := For(tt.gk)
		if !ok {
			t.Fatalf("no printer for %v", tt.gk)
		}
		var got []string
		for _, c := range p.Columns {
			got = append(got, c.Name)
		}
		if diff := cmp.Diff(tt.columns, got); diff != "" {
			t.Errorf("%v columns (-want +got):\n%s", tt.gk, diff)
		}
		if diff := cmp.Diff(tt.zero, p.Row(nil, now)); diff != "" {
			t.Errorf("%v zero row (-want +got):\n%s", tt.gk, diff)
		}
	}
}
