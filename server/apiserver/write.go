package apiserver

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/skiff-io/skiff/server/defaults"
	"github.com/skiff-io/skiff/server/errdefs"
	"github.com/skiff-io/skiff/server/storage"
	"github.com/skiff-io/skiff/server/validation"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// writeOptions are the query parameters every write shares.
type writeOptions struct {
	dryRun  bool
	manager string
	fv      fieldValidation
	// stored, when set, receives what the write stored (see writeWritten).
	stored *storedEncoding
}

func parseWriteOptions(r *http.Request, applyPatch bool) (writeOptions, error) {
	q := r.URL.Query()
	var o writeOptions
	for _, d := range q["dryRun"] {
		if d != "All" {
			return o, apierrors.NewBadRequest(`dryRun: Unsupported value: "` + d + `": supported values: "All"`)
		}
		o.dryRun = true
	}
	var err error
	if o.manager, err = managerName(r, applyPatch); err != nil {
		return o, err
	}
	o.fv, err = parseFieldValidation(q.Get("fieldValidation"))
	return o, err
}

// readObject parses a write's options and decodes its body into a new
// object of gvk, with unknown-field warnings for ?fieldValidation=Warn.
func (s *Server) readObject(r *http.Request, gvk schema.GroupVersionKind, newObj func() runtime.Object) (runtime.Object, writeOptions, []string, error) {
	o, err := parseWriteOptions(r, false)
	if err != nil {
		return nil, o, nil, err
	}
	body, _, err := readBody(r)
	if err != nil {
		return nil, o, nil, err
	}
	obj, warnings, err := s.dec.decode(body, gvk, newObj, o.fv)
	return obj, o, warnings, err
}

// commitUpdate finishes an update of cur (decoded as old) to obj: it keeps
// what the request may not change, defaults, validates, records managed
// fields and stores the result with a compare-and-swap on cur's revision.
// An object whose deletion was waiting only for finalizers is deleted.
func (s *Server) commitUpdate(ctx context.Context, res *resource, sub string, obj, old runtime.Object, cur storage.KV, o writeOptions, track bool) (runtime.Object, error) {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	if rv := acc.GetResourceVersion(); rv != "" && rv != strconv.FormatInt(cur.ModRevision, 10) {
		return nil, apierrors.NewConflict(groupResource(res), acc.GetName(), errors.New(conflictMessage))
	}
	obj = prepareUpdate(res, obj, old, sub)
	if svc, ok := obj.(*corev1.Service); ok {
		// A client that omits allocated values keeps them (kubectl replace).
		defaults.KeepServiceAllocations(svc, old.(*corev1.Service))
	}
	normalize(obj)
	applyDefaults(obj)
	if err := s.admitPriority(ctx, obj, old); err != nil {
		return nil, err
	}
	acc, _ = meta.Accessor(obj)
	if acc.GetResourceVersion() == "" {
		// An unconditional update applies to the current object.
		acc.SetResourceVersion(strconv.FormatInt(cur.ModRevision, 10))
	}
	if errs := validation.Update(obj, old); len(errs) > 0 {
		return nil, apierrors.NewInvalid(res.gvk.GroupKind(), acc.GetName(), errs)
	}
	if err := s.admitUpdate(res, obj, old); err != nil {
		return nil, err
	}
	var enc []byte // obj's stored encoding, when tracking gave it
	if track {
		// The field manager reads the live object without changing it
		// (kube-apiserver hands it objects shared with its watch cache).
		var liveJSON []byte
		if s.recent.encoded(cur) {
			liveJSON = cur.Value
		}
		obj, enc = s.managers.track(res.gvk, sub, old, liveJSON, obj, o.manager, res.storage == nil)
	}
	acc, _ = meta.Accessor(obj)
	key := res.key(acc.GetNamespace(), acc.GetName())
	if acc.GetDeletionTimestamp() != nil && len(acc.GetFinalizers()) == 0 && gracePending(acc) == 0 && !namespaceHeld(obj) {
		if o.dryRun {
			return obj, nil
		}
		if _, _, err := s.store.Delete(ctx, key, cur.ModRevision); err != nil {
			s.recent.forget(key)
			return nil, err
		}
		s.recent.forget(key)
		s.afterDelete(res, obj)
		return obj, nil
	}
	b := enc
	if b == nil {
		if b, err = res.encodeStored(obj); err != nil {
			return nil, err
		}
	}
	if bytes.Equal(b, cur.Value) {
		// Nothing changed: no write, no new revision, no watch event.
		setRV(obj, cur.ModRevision)
		if !o.dryRun {
			o.keepStored(b, cur.ModRevision)
		}
		return obj, nil
	}
	if o.dryRun {
		setRV(obj, cur.ModRevision)
		return obj, nil
	}
	rev, now, err := s.store.Update(ctx, key, b, cur.ModRevision, res.ttl)
	if err != nil {
		if now.ModRevision != 0 {
			s.recent.put(now)
		} else {
			s.recent.forget(key)
		}
		return nil, err
	}
	s.recent.putStored(res, storage.KV{Key: key, Value: b, ModRevision: rev})
	setRV(obj, rev)
	o.keepStored(b, rev)
	return obj, nil
}

// namespaceHeld reports a namespace whose spec.finalizers still hold it:
// only /finalize may release it, never an update of its labels or status.
func namespaceHeld(obj runtime.Object) bool {
	ns, ok := obj.(*corev1.Namespace)
	return ok && len(ns.Spec.Finalizers) > 0
}

// gracePending is the remaining grace period of a pod being deleted
// gracefully (its node still has to stop it).
func gracePending(acc metav1Object) int64 {
	if g := acc.GetDeletionGracePeriodSeconds(); g != nil {
		return *g
	}
	return 0
}

type metav1Object interface {
	GetDeletionGracePeriodSeconds() *int64
}

// admitUpdate holds type-specific update rules that need the old object.
func (s *Server) admitUpdate(res *resource, obj, old runtime.Object) error {
	return nil
}

// afterDelete releases what a deleted object held.
func (s *Server) afterDelete(res *resource, obj runtime.Object) {
	if svc, ok := obj.(*corev1.Service); ok {
		s.alloc.releaseService(svc)
	}
}

func isGone(err error) bool { return errors.Is(err, errdefs.ErrGone) }

var errConflictClass = errdefs.ErrConflict

func isConflictClass(err error) bool { return errors.Is(err, errdefs.ErrConflict) }
