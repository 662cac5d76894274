package difftest

import (
	"github.com/skiff-io/skiff/server/defaults"
	"github.com/skiff-io/skiff/server/validation"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// skiffDefault is server/defaults on a copy of the object.
func skiffDefault(obj runtime.Object) (out runtime.Object, err error) {
	defer recoverAs(&err, "skiff")
	out = obj.DeepCopyObject()
	defaults.Apply(out)
	return out, nil
}

// skiffCreate validates a new object as skiff's API server does once it
// has been defaulted and named (prepareNamed: the Job selector, then
// defaults).
func skiffCreate(obj runtime.Object) (errs field.ErrorList, err error) {
	defer recoverAs(&err, "skiff")
	obj = obj.DeepCopyObject()
	if j, ok := obj.(*batchv1.Job); ok {
		defaults.JobSelector(j)
	}
	defaults.Apply(obj)
	return validation.Create(obj), nil
}

func skiffUpdate(obj, old runtime.Object) (errs field.ErrorList, err error) {
	defer recoverAs(&err, "skiff")
	return validation.Update(obj, old), nil
}

// commonInput is the object both validators see: the request body after
// kube's defaulters and then skiff's. skiff's defaults never overwrite a
// value, so this adds only what kube-apiserver sets outside its defaulters
// and skiff sets in server/defaults (the service allocator's IP family
// fields, for one). Feeding both sides the same object keeps defaulting
// differences, which are compared on their own, out of the validation
// comparison.
func commonInput(obj runtime.Object) (runtime.Object, error) {
	return skiffDefault(upstreamDefault(obj))
}

// stored is old as it sits in storage: defaulted, and for Jobs with the
// selector the server generated on create.
func stored(old runtime.Object) (runtime.Object, error) {
	o, err := commonInput(old)
	if err != nil {
		return nil, err
	}
	if j, ok := o.(*batchv1.Job); ok {
		defaults.JobSelector(j)
	}
	return o, nil
}

// updateInput is the body of an update of old after defaulting, with the
// allocations the client left out carried over as both servers do.
func updateInput(obj, old runtime.Object) (runtime.Object, error) {
	o := upstreamDefault(obj)
	switch x := o.(type) {
	case *corev1.Service:
		defaults.KeepServiceAllocations(x, old.(*corev1.Service))
	case *corev1.Namespace:
		// Both servers change spec.finalizers only through /finalize.
		x.Spec.Finalizers = old.(*corev1.Namespace).Spec.Finalizers
	}
	return skiffDefault(o)
}

func metaOf(obj runtime.Object) metav1.Object {
	m, err := meta.Accessor(obj)
	if err != nil {
		panic(err)
	}
	return m
}
