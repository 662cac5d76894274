package validation

import (
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	klabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const selectorMismatch = "`selector` does not match template `labels`"

// workloadSelector checks a required, non-empty selector and returns the
// parsed form (nil when it cannot be parsed) for matching the template. A
// missing selector matches nothing, so kube also reports the template.
func workloadSelector(sel *metav1.LabelSelector, kind string, fldPath *field.Path) (klabels.Selector, field.ErrorList) {
	p := fldPath.Child("selector")
	if sel == nil {
		return klabels.Nothing(), field.ErrorList{field.Required(p, "")}
	}
	errs := labelSelector(sel, p)
	if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
		errs = append(errs, field.Invalid(p, sel, "empty selector is invalid for "+kind))
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return nil, append(errs, field.Invalid(p, sel, "invalid label selector"))
	}
	return s, errs
}

// templateForController is kube's ValidatePodTemplateSpecForReplicaSet: the
// selector must match the template and pods must always restart.
//
// A selector that does not parse (sel is nil) is reported on its own, and
// like kube the template is then not checked at all, except for a
// StatefulSet's restart policy and deadline.
func templateForController(t *corev1.PodTemplateSpec, sel klabels.Selector, kind string, fldPath *field.Path, opts podOpts) field.ErrorList {
	var errs field.ErrorList
	if sel == nil && kind != "StatefulSet" {
		return nil
	}
	if sel != nil {
		if !sel.Empty() && !sel.Matches(klabels.Set(t.Labels)) {
			errs = append(errs, field.Invalid(fldPath.Child("metadata", "labels"), t.Labels, selectorMismatch))
		}
		errs = append(errs, podTemplateSpec(t, fldPath, opts)...)
	}
	if t.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(fldPath.Child("spec", "restartPolicy"), t.Spec.RestartPolicy, []corev1.RestartPolicy{corev1.RestartPolicyAlways}))
	}
	if t.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(fldPath.Child("spec", "activeDeadlineSeconds"), fmt.Sprintf("activeDeadlineSeconds in %s is not Supported", kind)))
	}
	return errs
}

func replicas(r *int32, fldPath *field.Path) field.ErrorList {
	if r == nil {
		return nil
	}
	return nonNegative(int64(*r), fldPath)
}

func revisionHistoryLimit(r *int32, fldPath *field.Path) field.ErrorList {
	if r == nil {
		return nil
	}
	return nonNegative(int64(*r), fldPath)
}

// --- Deployment ------------------------------------------------------------

func validateDeployment(d *appsv1.Deployment) field.ErrorList {
	errs := objectMeta(&d.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, metaPath)
	spec := &d.Spec
	errs = append(errs, replicas(spec.Replicas, specPath.Child("replicas"))...)
	sel, serrs := workloadSelector(spec.Selector, "deployment", specPath)
	errs = append(errs, serrs...)
	errs = append(errs, templateForController(&spec.Template, sel, "ReplicaSet", specPath.Child("template"), podOpts{})...)
	errs = append(errs, deploymentStrategy(&spec.Strategy, specPath.Child("strategy"))...)
	errs = append(errs, nonNegative(int64(spec.MinReadySeconds), specPath.Child("minReadySeconds"))...)
	errs = append(errs, revisionHistoryLimit(spec.RevisionHistoryLimit, specPath.Child("revisionHistoryLimit"))...)
	if pds := spec.ProgressDeadlineSeconds; pds != nil {
		pp := specPath.Child("progressDeadlineSeconds")
		if *pds <= 0 {
			errs = append(errs, field.Invalid(pp, int64(*pds), isNotPositiveErrorMsg))
		}
		if *pds <= spec.MinReadySeconds {
			errs = append(errs, field.Invalid(pp, pds, "must be greater than minReadySeconds"))
		}
	}
	return errs
}

func deploymentStrategy(s *appsv1.DeploymentStrategy, fldPath *field.Path) field.ErrorList {
	switch s.Type {
	case appsv1.RecreateDeploymentStrategyType:
		if s.RollingUpdate != nil {
			return field.ErrorList{field.Forbidden(fldPath.Child("rollingUpdate"),
				fmt.Sprintf("may not be specified when strategy `type` is '%s'", appsv1.RecreateDeploymentStrategyType))}
		}
	case appsv1.RollingUpdateDeploymentStrategyType:
		ru := s.RollingUpdate
		if ru == nil {
			return field.ErrorList{field.Required(fldPath.Child("rollingUpdate"), "this should be defaulted and never be nil")}
		}
		rp := fldPath.Child("rollingUpdate")
		mu, ms := intOrZero(ru.MaxUnavailable), intOrZero(ru.MaxSurge)
		errs := positiveIntOrPercent(mu, rp.Child("maxUnavailable"))
		errs = append(errs, positiveIntOrPercent(ms, rp.Child("maxSurge"))...)
		if intOrPercentValue(mu) == 0 && intOrPercentValue(ms) == 0 {
			errs = append(errs, field.Invalid(rp.Child("maxUnavailable"), mu, "may not be 0 when `maxSurge` is 0"))
		}
		return append(errs, notMoreThan100Percent(mu, rp.Child("maxUnavailable"))...)
	default:
		return field.ErrorList{field.NotSupported(fldPath, s, []appsv1.DeploymentStrategyType{
			appsv1.RecreateDeploymentStrategyType, appsv1.RollingUpdateDeploymentStrategyType})}
	}
	return nil
}

// intOrZero reads an optional IntOrString the way kube's internal types see
// it after conversion: absent is integer zero.
func intOrZero(v *intstr.IntOrString) intstr.IntOrString {
	if v == nil {
		return intstr.FromInt32(0)
	}
	return *v
}

func positiveIntOrPercent(v intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	switch v.Type {
	case intstr.String:
		var errs field.ErrorList
		for _, msg := range utilvalidation.IsValidPercent(v.StrVal) {
			errs = append(errs, field.Invalid(fldPath, v, msg))
		}
		return errs
	case intstr.Int:
		return nonNegative(int64(v.IntValue()), fldPath)
	default:
		return field.ErrorList{field.Invalid(fldPath, v, "must be an integer or percentage (e.g '5%')")}
	}
}

// intOrPercentValue returns the number in 3 or "3%", as kube reads it.
func intOrPercentValue(v intstr.IntOrString) int {
	if v.Type == intstr.String && len(utilvalidation.IsValidPercent(v.StrVal)) == 0 {
		n, _ := strconv.Atoi(strings.TrimSuffix(v.StrVal, "%"))
		return n
	}
	// Like kube: a string that is no percentage counts as its integer
	// value, 0 when it has none (its format is reported separately).
	return v.IntValue()
}

func notMoreThan100Percent(v intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	if v.Type != intstr.String || len(utilvalidation.IsValidPercent(v.StrVal)) != 0 {
		return nil
	}
	if intOrPercentValue(v) > 100 {
		return field.ErrorList{field.Invalid(fldPath, v, "must not be greater than 100%")}
	}
	return nil
}

func validateDeploymentUpdate(d, old *appsv1.Deployment) field.ErrorList {
	errs := metaUpdate(&d.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validateDeployment(d)...)
	// apps/v1 selectors are immutable: changing one would orphan pods.
	return append(errs, immutable(d.Spec.Selector, old.Spec.Selector, specPath.Child("selector"))...)
}

// --- ReplicaSet ------------------------------------------------------------

func validateReplicaSet(rs *appsv1.ReplicaSet) field.ErrorList {
	errs := objectMeta(&rs.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, metaPath)
	spec := &rs.Spec
	errs = append(errs, replicas(spec.Replicas, specPath.Child("replicas"))...)
	errs = append(errs, nonNegative(int64(spec.MinReadySeconds), specPath.Child("minReadySeconds"))...)
	// "deployment" is kube's wording here too.
	sel, serrs := workloadSelector(spec.Selector, "deployment", specPath)
	errs = append(errs, serrs...)
	return append(errs, templateForController(&spec.Template, sel, "ReplicaSet", specPath.Child("template"), podOpts{})...)
}

func validateReplicaSetUpdate(rs, old *appsv1.ReplicaSet) field.ErrorList {
	errs := metaUpdate(&rs.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validateReplicaSet(rs)...)
	return append(errs, immutable(rs.Spec.Selector, old.Spec.Selector, specPath.Child("selector"))...)
}

// --- DaemonSet -------------------------------------------------------------

func validateDaemonSet(ds *appsv1.DaemonSet) field.ErrorList {
	errs := objectMeta(&ds.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, metaPath)
	spec := &ds.Spec
	// kube does not ask a DaemonSet for its selector: a missing one matches
	// nothing, which the template check reports.
	sel := klabels.Nothing()
	if spec.Selector != nil {
		var serrs field.ErrorList
		sel, serrs = workloadSelector(spec.Selector, "daemonset", specPath)
		errs = append(errs, serrs...)
	}
	tp := specPath.Child("template")
	if sel != nil && !sel.Matches(klabels.Set(spec.Template.Labels)) {
		errs = append(errs, field.Invalid(tp.Child("metadata", "labels"), spec.Template.Labels, selectorMismatch))
	}
	errs = append(errs, podTemplateSpec(&spec.Template, tp, podOpts{})...)
	if spec.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(tp.Child("spec", "restartPolicy"), spec.Template.Spec.RestartPolicy, []corev1.RestartPolicy{corev1.RestartPolicyAlways}))
	}
	if spec.Template.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(tp.Child("spec", "activeDeadlineSeconds"), "activeDeadlineSeconds in DaemonSet is not Supported"))
	}
	errs = append(errs, nonNegative(int64(spec.MinReadySeconds), specPath.Child("minReadySeconds"))...)
	errs = append(errs, daemonSetUpdateStrategy(&spec.UpdateStrategy, specPath.Child("updateStrategy"))...)
	return append(errs, revisionHistoryLimit(spec.RevisionHistoryLimit, specPath.Child("revisionHistoryLimit"))...)
}

func daemonSetUpdateStrategy(s *appsv1.DaemonSetUpdateStrategy, fldPath *field.Path) field.ErrorList {
	switch s.Type {
	case appsv1.OnDeleteDaemonSetStrategyType:
		return nil
	case appsv1.RollingUpdateDaemonSetStrategyType:
		ru := s.RollingUpdate
		if ru == nil {
			return field.ErrorList{field.Required(fldPath.Child("rollingUpdate"), "")}
		}
		rp := fldPath.Child("rollingUpdate")
		mu, ms := intOrZero(ru.MaxUnavailable), intOrZero(ru.MaxSurge)
		errs := positiveIntOrPercent(mu, rp.Child("maxUnavailable"))
		errs = append(errs, positiveIntOrPercent(ms, rp.Child("maxSurge"))...)
		errs = append(errs, notMoreThan100Percent(mu, rp.Child("maxUnavailable"))...)
		errs = append(errs, notMoreThan100Percent(ms, rp.Child("maxSurge"))...)
		hasUnavailable, hasSurge := intOrPercentValue(mu) != 0, intOrPercentValue(ms) != 0
		switch {
		case hasUnavailable && hasSurge:
			errs = append(errs, field.Invalid(rp.Child("maxSurge"), ms, "may not be set when maxUnavailable is non-zero"))
		case !hasUnavailable && !hasSurge:
			errs = append(errs, field.Required(rp.Child("maxUnavailable"), "cannot be 0 when maxSurge is 0"))
		}
		return errs
	default:
		return field.ErrorList{field.NotSupported(fldPath, s, []string{
			string(appsv1.RollingUpdateDaemonSetStrategyType), string(appsv1.OnDeleteDaemonSetStrategyType)})}
	}
}

func validateDaemonSetUpdate(ds, old *appsv1.DaemonSet) field.ErrorList {
	errs := metaUpdate(&ds.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validateDaemonSet(ds)...)
	return append(errs, immutable(ds.Spec.Selector, old.Spec.Selector, specPath.Child("selector"))...)
}

// --- StatefulSet -----------------------------------------------------------

func validateStatefulSet(ss *appsv1.StatefulSet) field.ErrorList {
	errs := objectMeta(&ss.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, metaPath)
	return append(errs, statefulSetSpec(ss, true)...)
}

// statefulSetSpec checks the spec; claim templates only on create, as they
// cannot change afterwards.
func statefulSetSpec(ss *appsv1.StatefulSet, claimTemplates bool) field.ErrorList {
	var errs field.ErrorList
	spec := &ss.Spec
	switch spec.PodManagementPolicy {
	case "":
		errs = append(errs, field.Required(specPath.Child("podManagementPolicy"), ""))
	case appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement:
	default:
		errs = append(errs, field.Invalid(specPath.Child("podManagementPolicy"), spec.PodManagementPolicy,
			fmt.Sprintf("must be '%s' or '%s'", appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement)))
	}
	up := specPath.Child("updateStrategy")
	switch spec.UpdateStrategy.Type {
	case "":
		errs = append(errs, field.Required(up, ""))
	case appsv1.OnDeleteStatefulSetStrategyType:
		if spec.UpdateStrategy.RollingUpdate != nil {
			errs = append(errs, field.Invalid(up.Child("rollingUpdate"), spec.UpdateStrategy.RollingUpdate,
				fmt.Sprintf("only allowed for updateStrategy '%s'", appsv1.RollingUpdateStatefulSetStrategyType)))
		}
	case appsv1.RollingUpdateStatefulSetStrategyType:
		if ru := spec.UpdateStrategy.RollingUpdate; ru != nil {
			rp := up.Child("rollingUpdate")
			if ru.Partition != nil {
				errs = append(errs, nonNegative(int64(*ru.Partition), rp.Child("partition"))...)
			}
			if ru.MaxUnavailable != nil {
				mu := *ru.MaxUnavailable
				errs = append(errs, positiveIntOrPercent(mu, rp.Child("maxUnavailable"))...)
				if intOrPercentValue(mu) == 0 {
					errs = append(errs, field.Invalid(rp.Child("maxUnavailable"), mu, "cannot be 0"))
				} else {
					errs = append(errs, notMoreThan100Percent(mu, rp.Child("maxUnavailable"))...)
				}
			}
		}
	default:
		errs = append(errs, field.Invalid(up, spec.UpdateStrategy, fmt.Sprintf("must be '%s' or '%s'",
			appsv1.RollingUpdateStatefulSetStrategyType, appsv1.OnDeleteStatefulSetStrategyType)))
	}
	errs = append(errs, revisionHistoryLimit(spec.RevisionHistoryLimit, specPath.Child("revisionHistoryLimit"))...)
	if p := spec.PersistentVolumeClaimRetentionPolicy; p != nil {
		pp := specPath.Child("persistentVolumeClaimRetentionPolicy")
		errs = append(errs, retentionPolicyType(p.WhenDeleted, pp.Child("whenDeleted"))...)
		errs = append(errs, retentionPolicyType(p.WhenScaled, pp.Child("whenScaled"))...)
	}
	errs = append(errs, replicas(spec.Replicas, specPath.Child("replicas"))...)
	errs = append(errs, nonNegative(int64(spec.MinReadySeconds), specPath.Child("minReadySeconds"))...)
	if spec.Ordinals != nil {
		errs = append(errs, nonNegative(int64(spec.Ordinals.Start), specPath.Child("ordinals", "start"))...)
	}
	sel, serrs := workloadSelector(spec.Selector, "statefulset", specPath)
	errs = append(errs, serrs...)
	if spec.ServiceName != "" {
		errs = append(errs, dns1123Label(spec.ServiceName, specPath.Child("serviceName"))...)
	}

	// kube validates only the template's metadata here (volume mounts may
	// name claim templates); skiff checks the pod spec as well, treating
	// claim templates as volumes, so a broken template fails at create
	// rather than when the controller makes pods.
	var claims []string
	for i := range spec.VolumeClaimTemplates {
		ct := &spec.VolumeClaimTemplates[i]
		claims = append(claims, ct.Name)
		if !claimTemplates {
			continue
		}
		cp := specPath.Child("volumeClaimTemplates").Index(i)
		errs = append(errs, labels(ct.Labels, cp.Child("metadata", "labels"))...)
		errs = append(errs, pvcSpec(&ct.Spec, cp.Child("spec"))...)
	}
	// The controller sets each pod's hostname and subdomain, so kube does
	// not check the template's.
	t := &spec.Template
	if t.Spec.Hostname != "" || t.Spec.Subdomain != "" {
		t = t.DeepCopy()
		t.Spec.Hostname, t.Spec.Subdomain = "", ""
	}
	errs = append(errs, templateForController(t, sel, "StatefulSet", specPath.Child("template"), podOpts{claimVolumes: claims})...)
	return errs
}

func retentionPolicyType(t appsv1.PersistentVolumeClaimRetentionPolicyType, fldPath *field.Path) field.ErrorList {
	switch t {
	case appsv1.RetainPersistentVolumeClaimRetentionPolicyType, appsv1.DeletePersistentVolumeClaimRetentionPolicyType:
		return nil
	default:
		return field.ErrorList{field.NotSupported(fldPath, t, []appsv1.PersistentVolumeClaimRetentionPolicyType{
			appsv1.RetainPersistentVolumeClaimRetentionPolicyType, appsv1.DeletePersistentVolumeClaimRetentionPolicyType})}
	}
}

func validateStatefulSetUpdate(ss, old *appsv1.StatefulSet) field.ErrorList {
	// The name is not checked again: kube once allowed names that are now
	// invalid, and such a set must still take a finalizer's removal.
	errs := metaUpdate(&ss.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, statefulSetSpec(ss, false)...)
	errs = append(errs, immutable(ss.Spec.Selector, old.Spec.Selector, specPath.Child("selector"))...)
	errs = append(errs, immutable(ss.Spec.VolumeClaimTemplates, old.Spec.VolumeClaimTemplates, specPath.Child("volumeClaimTemplates"))...)
	errs = append(errs, immutable(ss.Spec.ServiceName, old.Spec.ServiceName, specPath.Child("serviceName"))...)
	return append(errs, immutable(ss.Spec.PodManagementPolicy, old.Spec.PodManagementPolicy, specPath.Child("podManagementPolicy"))...)
}
