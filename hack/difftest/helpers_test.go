package difftest

import (
	"github.com/skiff-io/skiff/server/defaults"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// The helpers skiff's validation tests use, with the meaning they have
// here: every object is a raw request body, defaulted later by each side.
// The expected errors are kept in the copied tables as documentation of
// what skiff's tests check; this test compares with upstream instead.

type want struct {
	typ    field.ErrorType
	field  string
	detail string
}

func required(f string, detail ...string) want {
	return want{field.ErrorTypeRequired, f, first(detail)}
}
func invalid(f string, detail ...string) want { return want{field.ErrorTypeInvalid, f, first(detail)} }
func forbidden(f string, detail ...string) want {
	return want{field.ErrorTypeForbidden, f, first(detail)}
}
func notSupported(f string, detail ...string) want {
	return want{field.ErrorTypeNotSupported, f, first(detail)}
}
func duplicate(f string) want { return want{field.ErrorTypeDuplicate, f, ""} }
func notFound(f string) want  { return want{field.ErrorTypeNotFound, f, ""} }
func tooLong(f string) want   { return want{field.ErrorTypeTooLong, f, ""} }

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// prepared is the identity here: defaulting is part of what is compared.
func prepared[T runtime.Object](obj T) T { return obj }

// mutate returns a copy of base with fn applied.
func mutate[T runtime.Object](base T, fn func(T)) runtime.Object {
	c := base.DeepCopyObject().(T)
	fn(c)
	return c
}

// raw applies fn to a copy of base that is already defaulted (and for a
// Job, given its generated selector), as a client sends back an object it
// read from the server.
func raw[T runtime.Object](base T, fn func(T)) runtime.Object {
	c := stamp(base, false).(T)
	defaults.Apply(c)
	if j, ok := any(c).(*batchv1.Job); ok {
		defaults.JobSelector(j)
	}
	fn(c)
	return c
}

// update pairs a stored object with a client's modified copy of it.
func update[T runtime.Object](old T, fn func(T)) (runtime.Object, runtime.Object) {
	o := raw(old, func(T) {}).(T)
	return mutate(o, fn), o
}

// allocated is a service whose cluster IP the server has allocated.
func allocated(s *corev1.Service, ip string) *corev1.Service {
	s.Spec.ClusterIP = ip
	s.Spec.ClusterIPs = []string{ip}
	return s
}

func validStorageClass() *storagev1.StorageClass {
	return &storagev1.StorageClass{
		ObjectMeta:  metav1.ObjectMeta{Name: "local-path", ResourceVersion: "1"},
		Provisioner: "rancher.io/local-path",
		Parameters:  map[string]string{"nodePath": "/data"},
	}
}

func validPriorityClass() *schedulingv1.PriorityClass {
	return &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "high", ResourceVersion: "1"}, Value: 1000,
		Description: "for the important ones"}
}

func validPDB() *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{ObjectMeta: objMeta("web"), Spec: policyv1.PodDisruptionBudgetSpec{
		MinAvailable: ptr.To(intstr.FromInt32(2)), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}
}

// policyAndStorageCases are skiff's policy_test.go and storage_test.go
// cases.
func policyAndStorageCases() []testCase {
	pc := func(name string, value int32, mod func(*schedulingv1.PriorityClass)) runtime.Object {
		p := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Value: value}
		if mod != nil {
			mod(p)
		}
		return p
	}
	pdb := func(mod func(*policyv1.PodDisruptionBudgetSpec)) runtime.Object {
		p := validPDB()
		mod(&p.Spec)
		return p
	}
	ios := func(s string) *intstr.IntOrString { v := intstr.Parse(s); return &v }
	sc := func(fn func(*storagev1.StorageClass)) runtime.Object {
		s := validStorageClass()
		fn(s)
		return s
	}
	cases := []testCase{
		{name: "user class", obj: pc("high", 1000000000, nil)},
		{name: "user class too high", obj: pc("high", 1000000001, nil)},
		{name: "system class as built in", obj: pc("system-node-critical", 2000001000, nil)},
		{name: "system class with another value", obj: pc("system-cluster-critical", 5, nil)},
		{name: "system class as default", obj: pc("system-node-critical", 2000001000, func(p *schedulingv1.PriorityClass) { p.GlobalDefault = true })},
		{name: "unknown system name", obj: pc("system-x", 1, nil)},
		{name: "bad preemption policy", obj: pc("p", 1, func(p *schedulingv1.PriorityClass) {
			p.PreemptionPolicy = ptr.To[corev1.PreemptionPolicy]("Sometimes")
		})},
		{name: "bad class name", obj: pc("Not_A_Name", 1, nil)},
		{name: "pdb minAvailable", obj: validPDB()},
		{name: "pdb maxUnavailable percent", obj: pdb(func(s *policyv1.PodDisruptionBudgetSpec) { s.MinAvailable, s.MaxUnavailable = nil, ios("25%") })},
		{name: "pdb with neither", obj: pdb(func(s *policyv1.PodDisruptionBudgetSpec) { s.MinAvailable = nil })},
		{name: "pdb with both", obj: pdb(func(s *policyv1.PodDisruptionBudgetSpec) { s.MaxUnavailable = ios("1") })},
		{name: "pdb negative", obj: pdb(func(s *policyv1.PodDisruptionBudgetSpec) { s.MinAvailable = ios("-1") })},
		{name: "pdb over 100%", obj: pdb(func(s *policyv1.PodDisruptionBudgetSpec) { s.MinAvailable = ios("150%") })},
		{name: "pdb bad selector", obj: pdb(func(s *policyv1.PodDisruptionBudgetSpec) {
			s.Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Near"}}}
		})},
		{name: "pdb bad unhealthy policy", obj: pdb(func(s *policyv1.PodDisruptionBudgetSpec) {
			s.UnhealthyPodEvictionPolicy = ptr.To[policyv1.UnhealthyPodEvictionPolicyType]("Sometimes")
		})},
		{name: "storageclass", obj: validStorageClass()},
		{name: "storageclass without provisioner", obj: sc(func(s *storagev1.StorageClass) { s.Provisioner = "" })},
		{name: "storageclass bad provisioner", obj: sc(func(s *storagev1.StorageClass) { s.Provisioner = "not a name" })},
		{name: "storageclass recycle", obj: sc(func(s *storagev1.StorageClass) { s.ReclaimPolicy = ptr.To(corev1.PersistentVolumeReclaimRecycle) })},
		{name: "storageclass binding mode", obj: sc(func(s *storagev1.StorageClass) { s.VolumeBindingMode = ptr.To(storagev1.VolumeBindingMode("Later")) })},
		{name: "storageclass empty topology", obj: sc(func(s *storagev1.StorageClass) { s.AllowedTopologies = []corev1.TopologySelectorTerm{{}} })},
	}
	never := corev1.PreemptNever
	oldPC := validPriorityClass()
	pcChange := oldPC.DeepCopy()
	pcChange.Value, pcChange.PreemptionPolicy = 11, &never
	pcDesc := oldPC.DeepCopy()
	pcDesc.Description = "fine"
	oldPDB := validPDB()
	newPDB := oldPDB.DeepCopy()
	newPDB.Spec.MinAvailable = ptr.To(intstr.FromInt32(3))
	oldSC := validStorageClass()
	scAnn, scProv, scParams, scMode := oldSC.DeepCopy(), oldSC.DeepCopy(), oldSC.DeepCopy(), oldSC.DeepCopy()
	scAnn.Annotations = map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}
	scProv.Provisioner = "example.com/other"
	scParams.Parameters = nil
	scMode.VolumeBindingMode = ptr.To(storagev1.VolumeBindingWaitForFirstConsumer)
	return append(cases,
		testCase{name: "priorityclass value and policy", obj: pcChange, old: oldPC},
		testCase{name: "priorityclass description", obj: pcDesc, old: oldPC},
		testCase{name: "pdb minAvailable change", obj: newPDB, old: oldPDB},
		testCase{name: "storageclass default annotation", obj: scAnn, old: oldSC},
		testCase{name: "storageclass provisioner", obj: scProv, old: oldSC},
		testCase{name: "storageclass parameters", obj: scParams, old: oldSC},
		testCase{name: "storageclass binding mode change", obj: scMode, old: oldSC},
	)
}
