package apiserver

import (
	"reflect"

	"github.com/skiff-io/skiff/server/defaults"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/uuid"
)

// applyDefaults sets the defaults kube-apiserver sets for the type.
func applyDefaults(obj runtime.Object) { defaults.Apply(obj) }

// prepareCreate sets the server-owned metadata and status of a new object.
func prepareCreate(res *resource, obj runtime.Object) {
	acc, _ := meta.Accessor(obj)
	acc.SetUID(uuid.NewUUID())
	acc.SetCreationTimestamp(metav1.Now())
	acc.SetResourceVersion("")
	acc.SetDeletionTimestamp(nil)
	acc.SetDeletionGracePeriodSeconds(nil)
	acc.SetSelfLink("")
	if res.generation {
		acc.SetGeneration(1)
	} else {
		acc.SetGeneration(0)
	}
	if res.resetStatus {
		if st := structField(obj, "Status"); st.IsValid() && st.CanSet() {
			st.Set(reflect.Zero(st.Type()))
		}
	}
	switch o := obj.(type) {
	case *corev1.Pod:
		o.Status = corev1.PodStatus{Phase: corev1.PodPending, QOSClass: podQOS(&o.Spec)}
	case *corev1.Namespace:
		o.Status.Phase = corev1.NamespaceActive
		if !hasFinalizer(o.Spec.Finalizers, corev1.FinalizerKubernetes) {
			o.Spec.Finalizers = append(o.Spec.Finalizers, corev1.FinalizerKubernetes)
		}
	}
}

// prepareNamed runs the create-time steps that need the final name (a
// generated one, for generateName).
func prepareNamed(obj runtime.Object) {
	if job, ok := obj.(*batchv1.Job); ok {
		defaults.JobSelector(job)
	}
	applyDefaults(obj)
}

// prepareUpdate carries over what a client may not change with this
// request: server-owned metadata, and status or spec depending on whether
// the status subresource is being written. It returns the object to store.
// statusResetsLabels are the kinds whose status writes keep the stored
// labels, as their kube-apiserver status strategies do (Deployments only).
var statusResetsLabels = map[schema.GroupKind]bool{
	{Group: "apps", Kind: "Deployment"}: true,
}

func prepareUpdate(res *resource, obj, old runtime.Object, sub string) runtime.Object {
	if sub == "status" {
		// Only status changes: start from the stored object.
		merged := old.DeepCopyObject()
		if st := structField(obj, "Status"); st.IsValid() {
			structField(merged, "Status").Set(st)
		}
		nacc, _ := meta.Accessor(obj)
		macc, _ := meta.Accessor(merged)
		macc.SetResourceVersion(nacc.GetResourceVersion())
		macc.SetManagedFields(nacc.GetManagedFields())
		// kube-apiserver's status strategies reset the spec (and, for
		// Deployments, the labels) but keep the label and annotation
		// changes a status write carries.
		macc.SetAnnotations(nacc.GetAnnotations())
		if !statusResetsLabels[res.gvk.GroupKind()] {
			macc.SetLabels(nacc.GetLabels())
		}
		return merged
	}
	acc, _ := meta.Accessor(obj)
	oacc, _ := meta.Accessor(old)
	if acc.GetUID() == "" {
		acc.SetUID(oacc.GetUID())
	}
	acc.SetCreationTimestamp(oacc.GetCreationTimestamp())
	acc.SetDeletionTimestamp(oacc.GetDeletionTimestamp())
	acc.SetDeletionGracePeriodSeconds(oacc.GetDeletionGracePeriodSeconds())
	acc.SetGeneration(oacc.GetGeneration())
	acc.SetSelfLink("")
	if res.hasStatus {
		if st := structField(obj, "Status"); st.IsValid() {
			st.Set(structField(old, "Status"))
		}
	}
	if res.generation {
		if !equality.Semantic.DeepEqual(structField(obj, "Spec").Interface(), structField(old, "Spec").Interface()) {
			acc.SetGeneration(oacc.GetGeneration() + 1)
		}
	}
	if ns, ok := obj.(*corev1.Namespace); ok {
		// spec.finalizers changes only through /finalize.
		ns.Spec.Finalizers = old.(*corev1.Namespace).Spec.Finalizers
	}
	return obj
}

func structField(obj runtime.Object, name string) reflect.Value {
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return reflect.Value{}
	}
	return v.Elem().FieldByName(name)
}

func hasFinalizer(list []corev1.FinalizerName, f corev1.FinalizerName) bool {
	for _, x := range list {
		if x == f {
			return true
		}
	}
	return false
}

// podQOS computes status.qosClass from the containers' requests and limits.
func podQOS(spec *corev1.PodSpec) corev1.PodQOSClass {
	any, guaranteed := false, true
	check := func(cs []corev1.Container) {
		for _, c := range cs {
			if len(c.Resources.Requests) > 0 || len(c.Resources.Limits) > 0 {
				any = true
			}
			for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				l, hasL := c.Resources.Limits[name]
				r, hasR := c.Resources.Requests[name]
				if !hasL || (hasR && r.Cmp(l) != 0) {
					guaranteed = false
				}
			}
		}
	}
	check(spec.Containers)
	check(spec.InitContainers)
	switch {
	case !any:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

// normalize applies the write-time conversions kube-apiserver performs
// between the wire form and the stored form.
func normalize(obj runtime.Object) {
	if sec, ok := obj.(*corev1.Secret); ok && len(sec.StringData) > 0 {
		// stringData is write-only: it is merged into data and never stored.
		if sec.Data == nil {
			sec.Data = map[string][]byte{}
		}
		for k, v := range sec.StringData {
			sec.Data[k] = []byte(v)
		}
		sec.StringData = nil
	}
}
