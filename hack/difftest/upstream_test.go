package difftest

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/kubernetes/pkg/api/legacyscheme"

	// The scheme's defaulters and conversions for every group compared.
	_ "k8s.io/kubernetes/pkg/apis/apps/install"
	_ "k8s.io/kubernetes/pkg/apis/batch/install"
	_ "k8s.io/kubernetes/pkg/apis/coordination/install"
	_ "k8s.io/kubernetes/pkg/apis/core/install"
	_ "k8s.io/kubernetes/pkg/apis/discovery/install"
	_ "k8s.io/kubernetes/pkg/apis/events/install"
	_ "k8s.io/kubernetes/pkg/apis/networking/install"
	_ "k8s.io/kubernetes/pkg/apis/policy/install"
	_ "k8s.io/kubernetes/pkg/apis/scheduling/install"
	_ "k8s.io/kubernetes/pkg/apis/storage/install"
)

// strategy is what kube-apiserver's generic registry calls around a write:
// PrepareForCreate/PrepareForUpdate, then Validate/ValidateUpdate (through
// rest.ValidateCreate/ValidateUpdate, which add the declarative rules and
// the generic metadata checks).
type strategy interface {
	rest.RESTCreateStrategy
	rest.RESTUpdateStrategy
}

// upstreamDefault runs kube's defaulters on a copy of the versioned object,
// as kube-apiserver does when it decodes a request body.
func upstreamDefault(obj runtime.Object) runtime.Object {
	out := obj.DeepCopyObject()
	legacyscheme.Scheme.Default(out)
	return out
}

// toInternal converts a versioned object to kube's internal type.
func toInternal(obj runtime.Object, gv schema.GroupVersion) (runtime.Object, error) {
	return legacyscheme.Scheme.ConvertToVersion(obj.DeepCopyObject(), schema.GroupVersion{Group: gv.Group, Version: runtime.APIVersionInternal})
}

// upstreamStored is what kube-apiserver stores and returns for a create
// body: defaulted, then converted to the internal type and back, which
// performs the normalisations conversion does (Secret stringData, the
// deprecated serviceAccount field).
func upstreamStored(obj runtime.Object, gv schema.GroupVersion) (runtime.Object, error) {
	in, err := toInternal(upstreamDefault(obj), gv)
	if err != nil {
		return nil, err
	}
	return legacyscheme.Scheme.ConvertToVersion(in, gv)
}

func requestContext(k *kind, verb, namespace, name string) context.Context {
	ctx := genericapirequest.WithNamespace(context.Background(), namespace)
	return genericapirequest.WithRequestInfo(ctx, &genericapirequest.RequestInfo{
		IsResourceRequest: true,
		Verb:              verb,
		APIGroup:          k.gvk.Group,
		APIVersion:        k.gvk.Version,
		Namespace:         namespace,
		Resource:          k.resource,
		Name:              name,
	})
}

// upstreamCreate validates a new object the way kube-apiserver's generic
// registry does after decoding and defaulting it.
func upstreamCreate(k *kind, obj runtime.Object) (errs field.ErrorList, err error) {
	in, err := toInternal(obj, k.gvk.GroupVersion())
	if err != nil {
		return nil, err
	}
	m := metaOf(obj)
	ctx := requestContext(k, "create", m.GetNamespace(), m.GetName())
	defer recoverAs(&err, "upstream")
	k.upstream.PrepareForCreate(ctx, in)
	return rest.ValidateCreate(ctx, in, k.upstream), nil
}

// upstreamUpdate validates obj replacing old.
func upstreamUpdate(k *kind, obj, old runtime.Object) (errs field.ErrorList, err error) {
	in, err := toInternal(obj, k.gvk.GroupVersion())
	if err != nil {
		return nil, err
	}
	oldIn, err := toInternal(old, k.gvk.GroupVersion())
	if err != nil {
		return nil, err
	}
	m := metaOf(obj)
	ctx := requestContext(k, "update", m.GetNamespace(), m.GetName())
	defer recoverAs(&err, "upstream")
	k.upstream.PrepareForUpdate(ctx, in, oldIn)
	return rest.ValidateUpdate(ctx, in, oldIn, k.upstream), nil
}

// recoverAs turns a panic into an error naming who panicked: a panic on
// either side is a finding, not a crash of the whole comparison.
func recoverAs(err *error, who string) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%s panicked: %v", who, r)
	}
}
