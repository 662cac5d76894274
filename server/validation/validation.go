package validation

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/validate/content"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Create validates a new object (typed k8s.io/api struct pointer). Returns
// field errors with kube-apiserver-like paths and messages. Types the package
// does not know get only the metadata checks every kube resource gets.
func Create(obj runtime.Object) field.ErrorList {
	var errs field.ErrorList
	switch o := obj.(type) {
	case *corev1.Pod:
		errs = validatePodCreate(o)
	case *corev1.PodTemplate:
		errs = validatePodTemplate(o)
	case *corev1.ReplicationController:
		errs = validateReplicationController(o)
	case *corev1.Namespace:
		errs = validateNamespace(o)
	case *corev1.Service:
		errs = validateService(o)
	case *corev1.Endpoints:
		errs = validateEndpoints(o)
	case *corev1.ConfigMap:
		errs = validateConfigMap(o)
	case *corev1.Secret:
		errs = validateSecret(o)
	case *corev1.Node:
		errs = validateNode(o)
	case *corev1.Event:
		errs = validateCoreEvent(o)
	case *corev1.ServiceAccount:
		errs = objectMeta(&o.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, metaPath)
	case *corev1.PersistentVolumeClaim:
		errs = validatePVC(o)
	case *corev1.PersistentVolume:
		errs = validatePV(o)
	case *appsv1.Deployment:
		errs = validateDeployment(o)
	case *appsv1.ReplicaSet:
		errs = validateReplicaSet(o)
	case *appsv1.DaemonSet:
		errs = validateDaemonSet(o)
	case *appsv1.StatefulSet:
		errs = validateStatefulSet(o)
	case *batchv1.Job:
		errs = validateJob(o)
	case *batchv1.CronJob:
		errs = validateCronJobCreate(o)
	case *coordinationv1.Lease:
		errs = validateLease(o)
	case *discoveryv1.EndpointSlice:
		errs = validateEndpointSlice(o, nil)
	case *networkingv1.Ingress:
		errs = validateIngressCreate(o)
	case *eventsv1.Event:
		errs = validateEventsV1(o)
	case *schedulingv1.PriorityClass:
		errs = validatePriorityClass(o)
	case *policyv1.PodDisruptionBudget:
		errs = validatePDB(o, false)
	case *storagev1.StorageClass:
		errs = validateStorageClass(o)
	default:
		errs = genericMeta(obj)
	}
	if len(errs) == 0 {
		// kube's generic registry checks the metadata once more, only when
		// the kind's own rules found nothing: a PodDisruptionBudget, which
		// has no metadata rules of its own, is checked only here.
		errs = genericMeta(obj)
	}
	return dedupe(errs)
}

// Update validates obj replacing old (same type); includes immutable-field
// checks. A type mismatch is reported as an internal error rather than a
// panic, because it is a server bug, not bad input.
func Update(obj, old runtime.Object) field.ErrorList {
	var errs field.ErrorList
	switch o := obj.(type) {
	case *corev1.Pod:
		if p, ok := old.(*corev1.Pod); ok {
			errs = validatePodUpdate(o, p)
		}
	case *corev1.PodTemplate:
		if p, ok := old.(*corev1.PodTemplate); ok {
			errs = append(metaUpdate(&o.ObjectMeta, &p.ObjectMeta), validatePodTemplate(o)...)
		}
	case *corev1.ReplicationController:
		if p, ok := old.(*corev1.ReplicationController); ok {
			errs = append(metaUpdate(&o.ObjectMeta, &p.ObjectMeta), validateReplicationController(o)...)
		}
	case *corev1.Namespace:
		if p, ok := old.(*corev1.Namespace); ok {
			errs = append(metaUpdate(&o.ObjectMeta, &p.ObjectMeta), validateNamespace(o)...)
		}
	case *corev1.Service:
		if p, ok := old.(*corev1.Service); ok {
			errs = validateServiceUpdate(o, p)
		}
	case *corev1.Endpoints:
		if p, ok := old.(*corev1.Endpoints); ok {
			errs = append(metaUpdate(&o.ObjectMeta, &p.ObjectMeta), validateEndpoints(o)...)
		}
	case *corev1.ConfigMap:
		if p, ok := old.(*corev1.ConfigMap); ok {
			errs = validateConfigMapUpdate(o, p)
		}
	case *corev1.Secret:
		if p, ok := old.(*corev1.Secret); ok {
			errs = validateSecretUpdate(o, p)
		}
	case *corev1.Node:
		if p, ok := old.(*corev1.Node); ok {
			errs = validateNodeUpdate(o, p)
		}
	case *corev1.Event:
		if p, ok := old.(*corev1.Event); ok {
			errs = validateCoreEventUpdate(o, p)
		}
	case *corev1.ServiceAccount:
		if p, ok := old.(*corev1.ServiceAccount); ok {
			errs = append(metaUpdate(&o.ObjectMeta, &p.ObjectMeta),
				objectMeta(&o.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, metaPath)...)
		}
	case *corev1.PersistentVolumeClaim:
		if p, ok := old.(*corev1.PersistentVolumeClaim); ok {
			errs = validatePVCUpdate(o, p)
		}
	case *corev1.PersistentVolume:
		if p, ok := old.(*corev1.PersistentVolume); ok {
			errs = validatePVUpdate(o, p)
		}
	case *appsv1.Deployment:
		if p, ok := old.(*appsv1.Deployment); ok {
			errs = validateDeploymentUpdate(o, p)
		}
	case *appsv1.ReplicaSet:
		if p, ok := old.(*appsv1.ReplicaSet); ok {
			errs = validateReplicaSetUpdate(o, p)
		}
	case *appsv1.DaemonSet:
		if p, ok := old.(*appsv1.DaemonSet); ok {
			errs = validateDaemonSetUpdate(o, p)
		}
	case *appsv1.StatefulSet:
		if p, ok := old.(*appsv1.StatefulSet); ok {
			errs = validateStatefulSetUpdate(o, p)
		}
	case *batchv1.Job:
		if p, ok := old.(*batchv1.Job); ok {
			errs = validateJobUpdate(o, p)
		}
	case *batchv1.CronJob:
		if p, ok := old.(*batchv1.CronJob); ok {
			errs = validateCronJobUpdate(o, p)
		}
	case *coordinationv1.Lease:
		if p, ok := old.(*coordinationv1.Lease); ok {
			errs = append(apivalidation.ValidateObjectMetaUpdate(&o.ObjectMeta, &p.ObjectMeta, metaPath), leaseSpec(&o.Spec)...)
		}
	case *discoveryv1.EndpointSlice:
		if p, ok := old.(*discoveryv1.EndpointSlice); ok {
			errs = validateEndpointSliceUpdate(o, p)
		}
	case *networkingv1.Ingress:
		if p, ok := old.(*networkingv1.Ingress); ok {
			errs = validateIngressUpdate(o, p)
		}
	case *eventsv1.Event:
		if p, ok := old.(*eventsv1.Event); ok {
			errs = validateEventsV1Update(o, p)
		}
	case *schedulingv1.PriorityClass:
		if p, ok := old.(*schedulingv1.PriorityClass); ok {
			errs = validatePriorityClassUpdate(o, p)
		}
	case *policyv1.PodDisruptionBudget:
		if p, ok := old.(*policyv1.PodDisruptionBudget); ok {
			errs = validatePDBUpdate(o, p)
		}
	case *storagev1.StorageClass:
		if p, ok := old.(*storagev1.StorageClass); ok {
			errs = validateStorageClassUpdate(o, p)
		}
	default:
		return dedupe(genericMetaUpdate(obj, old))
	}
	if errs == nil && !sameType(obj, old) {
		return field.ErrorList{field.InternalError(field.NewPath(""),
			fmt.Errorf("cannot update %T with %T", old, obj))}
	}
	// kube's generic registry checks every update's metadata as on create
	// (names as URL path segments) before the kind's own update rules.
	return dedupe(append(genericMetaUpdate(obj, old), errs...))
}

func sameType(a, b runtime.Object) bool {
	return fmt.Sprintf("%T", a) == fmt.Sprintf("%T", b)
}

// genericMeta is what kube's generic registry checks for every resource:
// metadata with names that are safe as a URL path segment.
func genericMeta(obj runtime.Object) field.ErrorList {
	acc, ok := obj.(metav1.Object)
	if !ok {
		return nil
	}
	return apivalidation.ValidateObjectMetaAccessor(acc, !clusterScoped(obj), pathSegmentName, metaPath)
}

// clusterScoped reports whether obj is of a kind that has no namespace.
func clusterScoped(obj runtime.Object) bool {
	switch obj.(type) {
	case *corev1.Namespace, *corev1.Node, *corev1.PersistentVolume, *schedulingv1.PriorityClass,
		*storagev1.StorageClass, *storagev1.CSIDriver, *storagev1.CSINode, *storagev1.VolumeAttachment,
		*networkingv1.IngressClass:
		return true
	}
	return false
}

func genericMetaUpdate(obj, old runtime.Object) field.ErrorList {
	acc, ok := obj.(metav1.Object)
	oldAcc, ok2 := old.(metav1.Object)
	if !ok || !ok2 {
		return nil
	}
	errs := apivalidation.ValidateObjectMetaAccessorUpdate(acc, oldAcc, metaPath)
	return append(errs, genericMeta(obj)...)
}

// dedupe drops exact repeats. kube's aggregate error message does the same;
// repeats happen when two checks (e.g. metadata update and spec validation)
// look at the same field.
func dedupe(errs field.ErrorList) field.ErrorList {
	if len(errs) < 2 {
		return errs
	}
	seen := make(map[string]bool, len(errs))
	out := errs[:0:0]
	for _, e := range errs {
		k := e.Error()
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, e)
	}
	return out
}

var (
	metaPath = field.NewPath("metadata")
	specPath = field.NewPath("spec")
)

// standardFinalizers are the unqualified finalizer names kube accepts.
var standardFinalizers = map[string]bool{
	string(corev1.FinalizerKubernetes): true,
	metav1.FinalizerOrphanDependents:   true,
	metav1.FinalizerDeleteDependents:   true,
}

// objectMeta is kube's core ValidateObjectMeta: the apimachinery checks plus
// the rule that unqualified finalizer names must be kube's own.
func objectMeta(m *metav1.ObjectMeta, namespaced bool, nameFn apivalidation.ValidateNameFunc, fldPath *field.Path) field.ErrorList {
	errs := apivalidation.ValidateObjectMeta(m, namespaced, nameFn, fldPath)
	for i, f := range m.Finalizers {
		errs = append(errs, kubeFinalizerName(f, fldPath.Child("finalizers").Index(i))...)
	}
	return errs
}

// metaUpdate is kube's core ValidateObjectMetaUpdate.
func metaUpdate(m, old *metav1.ObjectMeta) field.ErrorList {
	errs := apivalidation.ValidateObjectMetaUpdate(m, old, metaPath)
	for i, f := range m.Finalizers {
		errs = append(errs, kubeFinalizerName(f, metaPath.Child("finalizers").Index(i))...)
	}
	return errs
}

func kubeFinalizerName(name string, fldPath *field.Path) field.ErrorList {
	if !strings.Contains(name, "/") && !standardFinalizers[name] {
		return field.ErrorList{field.Invalid(fldPath, name, "name is neither a standard finalizer name nor is it fully qualified")}
	}
	return nil
}

// pathSegmentName is the name rule kube's generic registry applies to every
// resource: the name must be usable as one URL path segment.
func pathSegmentName(name string, prefix bool) []string {
	if prefix {
		return content.IsPathSegmentPrefix(name)
	}
	return content.IsPathSegmentName(name)
}

func dns1123Label(value string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range utilvalidation.IsDNS1123Label(value) {
		errs = append(errs, field.Invalid(fldPath, value, msg))
	}
	return errs
}

func dns1123Subdomain(value string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range utilvalidation.IsDNS1123Subdomain(value) {
		errs = append(errs, field.Invalid(fldPath, value, msg))
	}
	return errs
}

func qualifiedName(value string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range content.IsQualifiedName(value) {
		errs = append(errs, field.Invalid(fldPath, value, msg))
	}
	return errs
}

// nameErrs turns a name validator's messages into Invalid errors.
func nameErrs(fn apivalidation.ValidateNameFunc, name string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range fn(name, false) {
		errs = append(errs, field.Invalid(fldPath, name, msg))
	}
	return errs
}

func nonNegative(v int64, fldPath *field.Path) field.ErrorList {
	return apivalidation.ValidateNonnegativeField(v, fldPath)
}

func immutable(newVal, oldVal interface{}, fldPath *field.Path) field.ErrorList {
	return apivalidation.ValidateImmutableField(newVal, oldVal, fldPath)
}

func semanticEqual(a, b interface{}) bool {
	return apiequality.Semantic.DeepEqual(a, b)
}

func labelSelector(s *metav1.LabelSelector, fldPath *field.Path) field.ErrorList {
	return metavalidation.ValidateLabelSelector(s, metavalidation.LabelSelectorValidationOptions{}, fldPath)
}

// union checks one of kube's unions (volume sources, probe handlers) in
// kube's order: the first member set is validated, each later one is
// "may not specify more than 1 <kind>", and none at all is "must specify a
// <kind>".
type union struct {
	fldPath *field.Path
	kind    string
	set     int
	errs    field.ErrorList
}

// member records one member; check (optional) validates it at its path.
func (u *union) member(set bool, name string, check func(p *field.Path) field.ErrorList) {
	if !set {
		return
	}
	if u.set > 0 {
		u.errs = append(u.errs, field.Forbidden(u.fldPath.Child(name), "may not specify more than 1 "+u.kind))
		return
	}
	u.set++
	if check != nil {
		u.errs = append(u.errs, check(u.fldPath.Child(name))...)
	}
}

// done returns the errors, with "must specify a <kind>" when no member was set.
func (u *union) done() field.ErrorList {
	if u.set == 0 {
		u.errs = append(u.errs, field.Required(u.fldPath, "must specify a "+u.kind))
	}
	return u.errs
}

// requiredOneOf checks a required enumerated field as kube does: "Required
// value" when empty, "Unsupported value" naming the allowed ones otherwise.
func requiredOneOf[T ~string](v T, fldPath *field.Path, allowed ...T) field.ErrorList {
	if v == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	if slices.Contains(allowed, v) {
		return nil
	}
	return field.ErrorList{field.NotSupported(fldPath, v, allowed)}
}

func labels(l map[string]string, fldPath *field.Path) field.ErrorList {
	return metavalidation.ValidateLabels(l, fldPath)
}

// isNotPositiveErrorMsg and isNotIntegerErrorMsg are kube's wording.
const (
	isNotPositiveErrorMsg = `must be greater than zero`
	isNotIntegerErrorMsg  = `must be an integer`
)

// cmpDiff renders the difference kube appends to "is immutable" errors, so
// the user can see which field they changed: the two values as indented
// JSON, with removed lines marked "-" and added lines "+". (A reflection
// based differ would keep every method of every type in the binary: it
// looks methods up by name, which disables the linker's dead-method
// elimination.)
func cmpDiff(oldVal, newVal interface{}) string {
	a, errA := json.MarshalIndent(oldVal, "", "  ")
	b, errB := json.MarshalIndent(newVal, "", "  ")
	if errA != nil || errB != nil {
		return ""
	}
	return lineDiff(strings.Split(string(a), "\n"), strings.Split(string(b), "\n"))
}

// lineDiff is a longest-common-subsequence diff of two short line lists,
// printing only changed lines and one line of context around them.
func lineDiff(a, b []string) string {
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type line struct {
		op   byte
		text string
	}
	var lines []line
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			lines = append(lines, line{' ', a[i]})
			i, j = i+1, j+1
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			lines = append(lines, line{'-', a[i]})
			i++
		default:
			lines = append(lines, line{'+', b[j]})
			j++
		}
	}
	changed := func(k int) bool { return k >= 0 && k < len(lines) && lines[k].op != ' ' }
	var sb strings.Builder
	for k, l := range lines {
		if l.op == ' ' && !changed(k-1) && !changed(k+1) {
			continue
		}
		sb.WriteByte(l.op)
		sb.WriteByte(' ')
		sb.WriteString(l.text)
		sb.WriteByte('\n')
	}
	return sb.String()
}

func contentLabelValue(v string) []string {
	return content.IsLabelValue(v)
}
