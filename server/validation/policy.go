package validation

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// --- PriorityClass ----------------------------------------------------------

// HighestUserDefinablePriority is the largest value a PriorityClass not
// reserved for the system may have.
const HighestUserDefinablePriority = int32(1000000000)

// SystemPriorityClassPrefix starts the names reserved for the built-in
// classes.
const SystemPriorityClassPrefix = "system-"

// SystemPriorityClasses are the built-in classes every cluster has (the
// server creates them at start); only they may use the "system-" prefix.
func SystemPriorityClasses() []*schedulingv1.PriorityClass {
	return []*schedulingv1.PriorityClass{
		{ObjectMeta: metav1.ObjectMeta{Name: "system-node-critical"}, Value: 2000001000,
			Description: "Used for system critical pods that must not be moved from their current node."},
		{ObjectMeta: metav1.ObjectMeta{Name: "system-cluster-critical"}, Value: 2000000000,
			Description: "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."},
	}
}

func validatePriorityClass(pc *schedulingv1.PriorityClass) field.ErrorList {
	errs := objectMeta(&pc.ObjectMeta, false, apivalidation.NameIsDNSSubdomain, metaPath)
	if strings.HasPrefix(pc.Name, SystemPriorityClassPrefix) {
		if err := knownSystemClass(pc); err != nil {
			errs = append(errs, field.Forbidden(metaPath.Child("name"),
				"priority class names with '"+SystemPriorityClassPrefix+"' prefix are reserved for system use only. error: "+err.Error()))
		}
	} else if pc.Value > HighestUserDefinablePriority {
		errs = append(errs, field.Forbidden(field.NewPath("value"),
			fmt.Sprintf("maximum allowed value of a user defined priority is %v", HighestUserDefinablePriority)))
	}
	if p := pc.PreemptionPolicy; p != nil {
		errs = append(errs, requiredOneOf(*p, field.NewPath("preemptionPolicy"), corev1.PreemptLowerPriority, corev1.PreemptNever)...)
	}
	return errs
}

func knownSystemClass(pc *schedulingv1.PriorityClass) error {
	var sys *schedulingv1.PriorityClass
	for _, c := range SystemPriorityClasses() {
		if c.Name == pc.Name {
			sys = c
		}
	}
	switch {
	case sys == nil:
		return fmt.Errorf("%v is not a known system priority class", pc.Name)
	case sys.Value != pc.Value:
		return fmt.Errorf("value of %v PriorityClass must be %v", pc.Name, sys.Value)
	case pc.GlobalDefault:
		return fmt.Errorf("globalDefault of %v PriorityClass must be false", pc.Name)
	}
	return nil
}

func validatePriorityClassUpdate(pc, old *schedulingv1.PriorityClass) field.ErrorList {
	errs := metaUpdate(&pc.ObjectMeta, &old.ObjectMeta)
	if pc.Value != old.Value {
		errs = append(errs, field.Forbidden(field.NewPath("value"), "may not be changed in an update."))
	}
	errs = append(errs, immutable(pc.PreemptionPolicy, old.PreemptionPolicy, field.NewPath("preemptionPolicy"))...)
	return errs
}

// --- PodDisruptionBudget ----------------------------------------------------

// validatePDB checks the spec and status only: kube has no metadata rules
// for budgets beyond the generic ones Create and Update add.
func validatePDB(pdb *policyv1.PodDisruptionBudget, allowInvalidLabelValue bool) field.ErrorList {
	var errs field.ErrorList
	s := &pdb.Spec
	if s.MinAvailable != nil && s.MaxUnavailable != nil {
		errs = append(errs, field.Invalid(specPath, s, "minAvailable and maxUnavailable cannot be both set"))
	}
	if v := s.MinAvailable; v != nil {
		errs = append(errs, positiveIntOrPercent(*v, specPath.Child("minAvailable"))...)
		errs = append(errs, notMoreThan100Percent(*v, specPath.Child("minAvailable"))...)
	}
	if v := s.MaxUnavailable; v != nil {
		errs = append(errs, positiveIntOrPercent(*v, specPath.Child("maxUnavailable"))...)
		errs = append(errs, notMoreThan100Percent(*v, specPath.Child("maxUnavailable"))...)
	}
	errs = append(errs, metavalidation.ValidateLabelSelector(s.Selector,
		metavalidation.LabelSelectorValidationOptions{AllowInvalidLabelValueInSelector: allowInvalidLabelValue}, specPath.Child("selector"))...)
	if p := s.UnhealthyPodEvictionPolicy; p != nil {
		switch *p {
		case policyv1.IfHealthyBudget, policyv1.AlwaysAllow:
		default:
			errs = append(errs, field.NotSupported(specPath.Child("unhealthyPodEvictionPolicy"), *p,
				[]policyv1.UnhealthyPodEvictionPolicyType{policyv1.AlwaysAllow, policyv1.IfHealthyBudget}))
		}
	}
	return append(errs, pdbStatus(&pdb.Status)...)
}

func pdbStatus(st *policyv1.PodDisruptionBudgetStatus) field.ErrorList {
	p := field.NewPath("status")
	errs := nonNegative(int64(st.DisruptionsAllowed), p.Child("disruptionsAllowed"))
	errs = append(errs, nonNegative(int64(st.CurrentHealthy), p.Child("currentHealthy"))...)
	errs = append(errs, nonNegative(int64(st.DesiredHealthy), p.Child("desiredHealthy"))...)
	errs = append(errs, nonNegative(int64(st.ExpectedPods), p.Child("expectedPods"))...)
	return append(errs, metavalidation.ValidateConditions(st.Conditions, p.Child("conditions"))...)
}

func validatePDBUpdate(pdb, old *policyv1.PodDisruptionBudget) field.ErrorList {
	// A selector an older server accepted stays acceptable.
	allowInvalid := len(metavalidation.ValidateLabelSelector(old.Spec.Selector, metavalidation.LabelSelectorValidationOptions{}, specPath.Child("selector"))) > 0
	return validatePDB(pdb, allowInvalid)
}
