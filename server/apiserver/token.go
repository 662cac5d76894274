package apiserver

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// TokenIssuer signs service account tokens for the TokenRequest API
// (POST serviceaccounts/<name>/token).
type TokenIssuer interface {
	// Issue signs a token for the ServiceAccount valid for audiences (the
	// API's own when empty) for expiration; bound, when set, has its UID
	// filled in.
	Issue(ns, saName string, saUID types.UID, audiences []string, expiration time.Duration, bound *authenticationv1.BoundObjectReference) (token string, exp time.Time, err error)
	// Audiences are the API's own audiences.
	Audiences() []string
}

// Limits and default of spec.expirationSeconds, as kube-apiserver's.
const (
	minTokenSeconds     = 10 * 60
	maxTokenSeconds     = 1 << 32
	defaultTokenSeconds = 60 * 60
)

var tokenRequestGVK = authenticationv1.SchemeGroupVersion.WithKind("TokenRequest")

// serveToken issues a token for a ServiceAccount (kubectl create token).
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, res *resource, ri requestInfo) {
	gr := groupResource(res)
	if r.Method != http.MethodPost {
		writeError(w, apierrors.NewMethodNotSupported(gr, r.Method), gr, ri.name)
		return
	}
	if s.cfg.TokenIssuer == nil {
		writeError(w, apierrors.NewServiceUnavailable("service account token issuing is not enabled on this server"), gr, ri.name)
		return
	}
	dec, o, warnings, err := s.readObject(r, tokenRequestGVK, func() runtime.Object { return &authenticationv1.TokenRequest{} })
	if err != nil {
		writeError(w, err, gr, ri.name)
		return
	}
	addWarnings(w, warnings)
	tr := dec.(*authenticationv1.TokenRequest)
	if tr.Spec.ExpirationSeconds == nil {
		d := int64(defaultTokenSeconds)
		tr.Spec.ExpirationSeconds = &d
	}
	var errs field.ErrorList
	if tr.Name != "" && tr.Name != ri.name {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), tr.Name, "must match the service account name if specified"))
	}
	if tr.Namespace != "" && tr.Namespace != ri.namespace {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "namespace"), tr.Namespace, "must match the service account namespace if specified"))
	}
	if e := *tr.Spec.ExpirationSeconds; e < minTokenSeconds {
		errs = append(errs, field.Invalid(field.NewPath("spec", "expirationSeconds"), e, "may not specify a duration less than 10 minutes"))
	} else if e > maxTokenSeconds {
		errs = append(errs, field.Invalid(field.NewPath("spec", "expirationSeconds"), e, "may not specify a duration larger than 2^32 seconds"))
	}
	if len(errs) > 0 {
		writeError(w, apierrors.NewInvalid(tokenRequestGVK.GroupKind(), ri.name, errs), gr, ri.name)
		return
	}

	ctx := r.Context()
	kv, _, err := s.store.Get(ctx, res.key(ri.namespace, ri.name))
	if err != nil {
		writeError(w, err, gr, ri.name)
		return
	}
	sa, err := res.decodeStored(kv)
	if err != nil {
		writeError(w, err, gr, ri.name)
		return
	}
	saUID := sa.(*corev1.ServiceAccount).UID
	node, isNode := nodeName(userFrom(ctx))
	if isNode && (tr.Spec.BoundObjectRef == nil || tr.Spec.BoundObjectRef.Kind != "Pod") {
		// NodeRestriction: a node asks for tokens only for its own pods.
		writeError(w, apierrors.NewForbidden(gr, ri.name, fmt.Errorf("node requested token not bound to a pod")), gr, ri.name)
		return
	}
	if ref := tr.Spec.BoundObjectRef; ref != nil {
		obj, err := s.resolveBoundObject(r, ri, ref)
		if err != nil {
			writeError(w, err, gr, ri.name)
			return
		}
		if pod, ok := obj.(*corev1.Pod); ok && isNode {
			if pod.Spec.NodeName != node {
				writeError(w, apierrors.NewForbidden(gr, ri.name, fmt.Errorf("node requested token bound to a pod scheduled on a different node")), gr, ri.name)
				return
			}
			if sa := pod.Spec.ServiceAccountName; sa != "" && sa != ri.name {
				writeError(w, apierrors.NewForbidden(gr, ri.name, fmt.Errorf("node requested token for service account %q, but the pod runs as %q", ri.name, sa)), gr, ri.name)
				return
			}
		}
	}
	if len(tr.Spec.Audiences) == 0 {
		tr.Spec.Audiences = s.cfg.TokenIssuer.Audiences()
	}
	tr.Name, tr.Namespace = ri.name, ri.namespace
	tr.CreationTimestamp = metav1.Now()
	if !o.dryRun {
		tok, exp, err := s.cfg.TokenIssuer.Issue(ri.namespace, ri.name, saUID, tr.Spec.Audiences,
			time.Duration(*tr.Spec.ExpirationSeconds)*time.Second, tr.Spec.BoundObjectRef)
		if err != nil {
			writeError(w, err, gr, ri.name)
			return
		}
		tr.Status = authenticationv1.TokenRequestStatus{Token: tok, ExpirationTimestamp: metav1.NewTime(exp)}
	}
	b, err := encodeObject(tr, tokenRequestGVK)
	if err != nil {
		writeError(w, err, gr, ri.name)
		return
	}
	writeJSON(w, http.StatusCreated, b)
}

// resolveBoundObject checks that the object a token is to be bound to
// exists (with the UID given, if any), fills in its UID and returns it.
func (s *Server) resolveBoundObject(r *http.Request, ri requestInfo, ref *authenticationv1.BoundObjectReference) (runtime.Object, error) {
	gvk := schema.FromAPIVersionAndKind(ref.APIVersion, ref.Kind)
	var target *resource
	ns := ri.namespace
	switch {
	case gvk.Group == "" && gvk.Kind == "Pod":
		target = s.byGVR[corev1.SchemeGroupVersion.WithResource("pods")]
	case gvk.Group == "" && gvk.Kind == "Secret":
		target = s.byGVR[corev1.SchemeGroupVersion.WithResource("secrets")]
	case gvk.Group == "" && gvk.Kind == "Node":
		target, ns = s.byGVR[corev1.SchemeGroupVersion.WithResource("nodes")], ""
	default:
		return nil, apierrors.NewBadRequest(fmt.Sprintf("cannot bind token for serviceaccount %q to object of type %s", ri.name, gvk.String()))
	}
	kv, _, err := s.store.Get(r.Context(), target.key(ns, ref.Name))
	if err != nil {
		return nil, toStatusError(err, groupResource(target), ref.Name)
	}
	obj, err := target.decodeStored(kv)
	if err != nil {
		return nil, err
	}
	acc, _ := meta.Accessor(obj)
	if ref.UID != "" && ref.UID != acc.GetUID() {
		return nil, apierrors.NewConflict(schema.GroupResource{Group: tokenRequestGVK.Group, Resource: "tokenrequests"}, ri.name,
			fmt.Errorf("the UID in the bound object reference (%s) does not match the UID in record. The object might have been deleted and then recreated", ref.UID))
	}
	ref.UID = acc.GetUID()
	return obj, nil
}

// toStatusError classifies err as it would be answered for gr/name.
func toStatusError(err error, gr schema.GroupResource, name string) error {
	return &apierrors.StatusError{ErrStatus: *toStatus(err, gr, name)}
}

// nodeName names the node of a node credential (system:node:<name> in
// system:nodes).
func nodeName(u *User) (string, bool) {
	if u == nil || !strings.HasPrefix(u.Name, "system:node:") {
		return "", false
	}
	for _, g := range u.Groups {
		if g == "system:nodes" {
			return strings.TrimPrefix(u.Name, "system:node:"), true
		}
	}
	return "", false
}
