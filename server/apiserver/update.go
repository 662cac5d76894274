package apiserver

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/skiff-io/skiff/server/errdefs"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
)

// update serves PUT on an object or its status (or a namespace's
// finalize) subresource.
func (s *Server) update(w http.ResponseWriter, r *http.Request, res *resource, ri requestInfo) {
	gr := groupResource(res)
	out, err := negotiate(r)
	if err != nil {
		writeError(w, err, gr, ri.name)
		return
	}
	obj, o, warnings, err := s.readObject(r, res.gvk, res.newObj)
	if err != nil {
		writeError(w, err, gr, ri.name)
		return
	}
	addWarnings(w, warnings)
	var stored storedEncoding
	o.stored = &stored
	acc, _ := meta.Accessor(obj)
	if acc.GetName() != ri.name {
		writeError(w, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", acc.GetName(), ri.name)), gr, ri.name)
		return
	}
	if res.namespaced && acc.GetNamespace() != "" && acc.GetNamespace() != ri.namespace {
		writeError(w, apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request"), gr, ri.name)
		return
	}
	if res.namespaced {
		acc.SetNamespace(ri.namespace)
	}
	ctx := r.Context()
	cur, err := s.current(ctx, res.key(ri.namespace, ri.name), acc.GetResourceVersion(), false)
	if errors.Is(err, errdefs.ErrNotFound) && res.createOnUpdate && ri.subresource == "" {
		created, err := s.createObject(ctx, res, ri.namespace, obj, o)
		if err != nil {
			writeError(w, err, gr, ri.name)
			return
		}
		s.writeWritten(w, r, res, out, http.StatusCreated, created, stored)
		return
	}
	if err != nil {
		writeError(w, err, gr, ri.name)
		return
	}
	old, err := res.decodeStored(cur)
	if err != nil {
		writeError(w, err, gr, ri.name)
		return
	}
	sub := ri.subresource
	if sub == "finalize" {
		// finalize may change only spec.finalizers of a namespace.
		ns := old.DeepCopyObject().(*corev1.Namespace)
		ns.Spec.Finalizers = obj.(*corev1.Namespace).Spec.Finalizers
		ns.ResourceVersion = acc.GetResourceVersion()
		s.finalizeNamespace(w, r, res, out, ns, old, cur, o)
		return
	}
	updated, err := s.commitUpdate(ctx, res, sub, obj, old, cur, o, true)
	if err != nil {
		writeError(w, err, gr, ri.name)
		return
	}
	s.writeWritten(w, r, res, out, http.StatusOK, updated, stored)
}
