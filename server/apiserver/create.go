package apiserver

import (
	"context"
	"errors"
	"net/http"

	"github.com/skiff-io/skiff/server/errdefs"
	"github.com/skiff-io/skiff/server/storage"
	"github.com/skiff-io/skiff/server/validation"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
)

// create serves POST on a collection.
func (s *Server) create(w http.ResponseWriter, r *http.Request, res *resource, ri requestInfo) {
	gr := groupResource(res)
	out, err := negotiate(r)
	if err != nil {
		writeError(w, err, gr, "")
		return
	}
	obj, o, warnings, err := s.readObject(r, res.gvk, res.newObj)
	if err != nil {
		writeError(w, err, gr, "")
		return
	}
	addWarnings(w, warnings)
	var stored storedEncoding
	o.stored = &stored
	created, err := s.createObject(r.Context(), res, ri.namespace, obj, o)
	if err != nil {
		acc, _ := meta.Accessor(obj)
		writeError(w, err, gr, acc.GetName())
		return
	}
	s.writeWritten(w, r, res, out, http.StatusCreated, created, stored)
}

// createObject runs the create path for a decoded object: the same path
// serves POST, PUT on a missing object where allowed, and server-side
// apply of a new object.
func (s *Server) createObject(ctx context.Context, res *resource, ns string, obj runtime.Object, o writeOptions) (runtime.Object, error) {
	return s.create1(ctx, res, ns, obj, o, true)
}

// createApplied creates the result of a first server-side apply, whose
// managed fields are already set.
func (s *Server) createApplied(ctx context.Context, res *resource, ns string, obj runtime.Object, o writeOptions) (runtime.Object, error) {
	return s.create1(ctx, res, ns, obj, o, false)
}

func (s *Server) create1(ctx context.Context, res *resource, ns string, obj runtime.Object, o writeOptions, track bool) (runtime.Object, error) {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	if res.namespaced {
		if acc.GetNamespace() == "" {
			acc.SetNamespace(ns)
		} else if acc.GetNamespace() != ns {
			return nil, apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
		}
	} else {
		acc.SetNamespace("")
	}
	if acc.GetName() == "" && acc.GetGenerateName() == "" {
		return nil, apierrors.NewInvalid(res.gvk.GroupKind(), "", requiredName())
	}
	if res.namespaced {
		if err := s.nsCache.admit(ctx, ns, groupResource(res), acc.GetName()); err != nil {
			return nil, err
		}
	}
	prepareCreate(res, obj)
	normalize(obj)
	applyDefaults(obj)
	if pod, ok := obj.(*corev1.Pod); ok {
		if err := s.admitPodServiceAccount(ctx, pod); err != nil {
			return nil, err
		}
		admitPodDefaultTolerations(pod)
	}
	if err := s.admitPriority(ctx, obj, nil); err != nil {
		return nil, err
	}
	if pvc, ok := obj.(*corev1.PersistentVolumeClaim); ok {
		if err := s.admitPVCStorageClass(ctx, pvc); err != nil {
			return nil, err
		}
	}

	generated := acc.GetName() == ""
	for attempt := 0; ; attempt++ {
		if generated {
			acc.SetName(acc.GetGenerateName() + utilrand.String(5))
		}
		prepareNamed(obj)
		if errs := validation.Create(obj); len(errs) > 0 {
			return nil, apierrors.NewInvalid(res.gvk.GroupKind(), acc.GetName(), errs)
		}
		candidate := obj
		if generated {
			// storeNew fills in the object; a retry under another name
			// starts again from the request's.
			candidate = obj.DeepCopyObject()
		}
		out, err := s.storeNew(ctx, res, candidate, o, track)
		if generated && errors.Is(err, errdefs.ErrAlreadyExists) && attempt < 8 {
			continue
		}
		if errors.Is(err, errdefs.ErrAlreadyExists) {
			return nil, apierrors.NewAlreadyExists(groupResource(res), acc.GetName())
		}
		return out, err
	}
}

// storeNew allocates what the object needs, records managed fields and
// writes it if absent. It fills in obj.
func (s *Server) storeNew(ctx context.Context, res *resource, obj runtime.Object, o writeOptions, track bool) (runtime.Object, error) {
	acc, _ := meta.Accessor(obj)
	release := func() {}
	if svc, ok := obj.(*corev1.Service); ok {
		var err error
		if release, err = s.alloc.allocateService(ctx, svc, svc.Namespace+"/"+svc.Name, o.dryRun); err != nil {
			return nil, err
		}
	}
	var b []byte // obj's stored encoding, when tracking gave it
	if track {
		obj, b = s.managers.trackCreate(res.gvk, res.newObj(), obj, o.manager, res.storage == nil)
	}
	if o.dryRun {
		return obj, nil
	}
	if b == nil {
		var err error
		if b, err = res.encodeStored(obj); err != nil {
			release()
			return nil, err
		}
	}
	key := res.key(acc.GetNamespace(), acc.GetName())
	rev, err := s.store.Create(ctx, key, b, res.ttl)
	if err != nil {
		release()
		return nil, err
	}
	s.recent.putStored(res, storage.KV{Key: key, Value: b, ModRevision: rev})
	setRV(obj, rev)
	o.keepStored(b, rev)
	return obj, nil
}

func requiredName() fieldErrorList {
	return fieldErrorList{fieldRequired("metadata.name", "name or generateName is required")}
}
