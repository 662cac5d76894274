package apiserver

import (
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// policyResources are the resources that decide which pods go first and
// which may be disrupted: scheduling.k8s.io PriorityClasses and policy
// PodDisruptionBudgets (whose budgets the pods/eviction subresource
// honours, eviction.go).
func policyResources() []*resource {
	return []*resource{
		{gvk: schedulingv1.SchemeGroupVersion.WithKind("PriorityClass"), plural: "priorityclasses", shortNames: []string{"pc"},
			newObj: func() runtime.Object { return &schedulingv1.PriorityClass{} }, newList: func() runtime.Object { return &schedulingv1.PriorityClassList{} }},
		{gvk: policyv1.SchemeGroupVersion.WithKind("PodDisruptionBudget"), plural: "poddisruptionbudgets", namespaced: true, shortNames: []string{"pdb"},
			subresources: []string{"status"}, hasStatus: true, generation: true, resetStatus: true,
			newObj: func() runtime.Object { return &policyv1.PodDisruptionBudget{} }, newList: func() runtime.Object { return &policyv1.PodDisruptionBudgetList{} }},
	}
}
