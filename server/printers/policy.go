package printers

import (
	"strconv"
	"time"

	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The policy printers register themselves here rather than in the
// registry literal, so that resources added side by side do not all edit
// one map.
func init() {
	registry[schema.GroupKind{Group: "scheduling.k8s.io", Kind: "PriorityClass"}] = priorityClassPrinter
	registry[schema.GroupKind{Group: "policy", Kind: "PodDisruptionBudget"}] = podDisruptionBudgetPrinter
}

var priorityClassDoc = schedulingv1.PriorityClass{}.SwaggerDoc()

var priorityClassPrinter = Printer{
	Columns: []metav1.TableColumnDefinition{
		nameColumn,
		{Name: "Value", Type: "integer", Description: priorityClassDoc["value"]},
		{Name: "Global-Default", Type: "boolean", Description: priorityClassDoc["globalDefault"]},
		ageColumn,
		{Name: "PreemptionPolicy", Type: "string", Description: priorityClassDoc["preemptionPolicy"]},
	},
	Row: rowOf(func(pc *schedulingv1.PriorityClass, now time.Time) []interface{} {
		policy := "<unset>"
		if pc.PreemptionPolicy != nil {
			policy = string(*pc.PreemptionPolicy)
		}
		// kube sends a JSON boolean; kubectl prints it as this string.
		return []interface{}{pc.Name, int64(pc.Value), strconv.FormatBool(pc.GlobalDefault), age(pc.CreationTimestamp, now), policy}
	}),
}

var podDisruptionBudgetPrinter = Printer{
	Columns: []metav1.TableColumnDefinition{
		nameColumn,
		{Name: "Min Available", Type: "string", Description: "The minimum number of pods that must be available."},
		{Name: "Max Unavailable", Type: "string", Description: "The maximum number of pods that may be unavailable."},
		{Name: "Allowed Disruptions", Type: "integer", Description: "Calculated number of pods that may be disrupted at this time."},
		ageColumn,
	},
	Row: rowOf(func(pdb *policyv1.PodDisruptionBudget, now time.Time) []interface{} {
		minAvailable, maxUnavailable := "N/A", "N/A"
		if v := pdb.Spec.MinAvailable; v != nil {
			minAvailable = v.String()
		}
		if v := pdb.Spec.MaxUnavailable; v != nil {
			maxUnavailable = v.String()
		}
		return []interface{}{pdb.Name, minAvailable, maxUnavailable, int64(pdb.Status.DisruptionsAllowed), age(pdb.CreationTimestamp, now)}
	}),
}
