package apiserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/skiff-io/skiff/server/errdefs"
	"github.com/skiff-io/skiff/server/storage"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Finalizers the server adds for a propagation policy; the garbage
// collector removes them.
const (
	finalizerOrphan     = metav1.FinalizerOrphanDependents
	finalizerForeground = metav1.FinalizerDeleteDependents
)

// systemNamespaces cannot be deleted.
var systemNamespaces = map[string]bool{"default": true, "kube-system": true, "kube-public": true, "kube-node-lease": true}

// parseDeleteOptions reads DeleteOptions from the body or the query.
func parseDeleteOptions(r *http.Request) (*metav1.DeleteOptions, error) {
	opts := &metav1.DeleteOptions{}
	body, _, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if bytes.HasPrefix(body, protobufMagic) {
		// client-go's typed clients send DeleteOptions as protobuf.
		unk := &runtime.Unknown{}
		if err := unk.Unmarshal(body[len(protobufMagic):]); err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid DeleteOptions: %v", err))
		}
		if err := opts.Unmarshal(unk.Raw); err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid DeleteOptions: %v", err))
		}
	} else if len(strings.TrimSpace(string(body))) > 0 {
		if err := json.Unmarshal(body, opts); err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid DeleteOptions: %v", err))
		}
	}
	q := r.URL.Query()
	if v := q.Get("gracePeriodSeconds"); v != "" {
		g, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, apierrors.NewBadRequest("invalid gracePeriodSeconds " + v)
		}
		opts.GracePeriodSeconds = &g
	}
	if v := q.Get("propagationPolicy"); v != "" {
		p := metav1.DeletionPropagation(v)
		opts.PropagationPolicy = &p
	}
	if b, ok := queryBool(q, "orphanDependents"); ok {
		opts.OrphanDependents = &b
	}
	if len(q["dryRun"]) > 0 {
		opts.DryRun = q["dryRun"]
	}
	for _, d := range opts.DryRun {
		if d != "All" {
			return nil, apierrors.NewBadRequest(`dryRun: Unsupported value: "` + d + `": supported values: "All"`)
		}
	}
	if p := opts.PropagationPolicy; p != nil {
		switch *p {
		case metav1.DeletePropagationBackground, metav1.DeletePropagationForeground, metav1.DeletePropagationOrphan:
		default:
			return nil, apierrors.NewBadRequest(fmt.Sprintf("propagationPolicy: Unsupported value: %q: supported values: \"Foreground\", \"Background\", \"Orphan\"", *p))
		}
		if opts.OrphanDependents != nil {
			return nil, apierrors.NewBadRequest("orphanDependents and propagationPolicy cannot both be set")
		}
	}
	if opts.GracePeriodSeconds != nil && *opts.GracePeriodSeconds < 0 {
		z := int64(0)
		opts.GracePeriodSeconds = &z
	}
	return opts, nil
}

// del serves DELETE on one object.
func (s *Server) del(w http.ResponseWriter, r *http.Request, res *resource, ri requestInfo) {
	gr := groupResource(res)
	out, err := negotiate(r)
	if err != nil {
		writeError(w, err, gr, ri.name)
		return
	}
	opts, err := parseDeleteOptions(r)
	if err != nil {
		writeError(w, err, gr, ri.name)
		return
	}
	obj, deleted, err := s.deleteObject(r.Context(), res, ri.namespace, ri.name, opts)
	if err != nil {
		writeError(w, err, gr, ri.name)
		return
	}
	code := http.StatusOK
	if !deleted {
		code = http.StatusAccepted
	}
	s.writeObject(w, r, res, out, code, obj)
}

// deleteObject deletes now, or marks the object for deletion when
// finalizers or a grace period must run first. deleted reports which.
func (s *Server) deleteObject(ctx context.Context, res *resource, ns, name string, opts *metav1.DeleteOptions) (runtime.Object, bool, error) {
	if res.gvk.Kind == "Namespace" && systemNamespaces[name] {
		return nil, false, apierrors.NewForbidden(groupResource(res), name, errors.New("this namespace may not be deleted"))
	}
	dryRun := len(opts.DryRun) > 0
	key := res.key(ns, name)
	for attempt := 0; ; attempt++ {
		cur, _, err := s.store.Get(ctx, key)
		if err != nil {
			return nil, false, err
		}
		obj, err := res.decodeStored(cur)
		if err != nil {
			return nil, false, err
		}
		acc, _ := meta.Accessor(obj)
		if p := opts.Preconditions; p != nil {
			if p.UID != nil && *p.UID != acc.GetUID() {
				return nil, false, apierrors.NewConflict(groupResource(res), name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", *p.UID, acc.GetUID()))
			}
			if p.ResourceVersion != nil && *p.ResourceVersion != acc.GetResourceVersion() {
				return nil, false, apierrors.NewConflict(groupResource(res), name, fmt.Errorf("Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *p.ResourceVersion, acc.GetResourceVersion()))
			}
		}
		out, deleted, err := s.deleteOnce(ctx, res, obj, cur, opts, dryRun)
		if errors.Is(err, errdefs.ErrConflict) && attempt < maxPatchRetries {
			continue
		}
		return out, deleted, err
	}
}

func (s *Server) deleteOnce(ctx context.Context, res *resource, obj runtime.Object, cur storage.KV, opts *metav1.DeleteOptions, dryRun bool) (runtime.Object, bool, error) {
	acc, _ := meta.Accessor(obj)
	key := cur.Key
	finalizers := acc.GetFinalizers()
	policy := metav1.DeletePropagationBackground
	if opts.PropagationPolicy != nil {
		policy = *opts.PropagationPolicy
	} else if opts.OrphanDependents != nil && *opts.OrphanDependents {
		policy = metav1.DeletePropagationOrphan
	}
	switch policy {
	case metav1.DeletePropagationForeground:
		finalizers = withFinalizer(without(finalizers, finalizerOrphan), finalizerForeground)
	case metav1.DeletePropagationOrphan:
		finalizers = withFinalizer(without(finalizers, finalizerForeground), finalizerOrphan)
	}
	grace := s.gracePeriod(obj, opts)
	ns, isNamespace := obj.(*corev1.Namespace)
	pending := len(finalizers) > 0 || grace > 0 || (isNamespace && len(ns.Spec.Finalizers) > 0)
	if !pending {
		if dryRun {
			return obj, true, nil
		}
		_, _, err := s.store.Delete(ctx, key, cur.ModRevision)
		s.recent.forget(key)
		if err != nil {
			return nil, false, err
		}
		s.afterDelete(res, obj)
		return obj, true, nil
	}
	// Mark for deletion and let finalizers or the node finish it.
	before := obj.DeepCopyObject()
	if acc.GetDeletionTimestamp() == nil {
		now := metav1.NewTime(time.Now().Add(time.Duration(grace) * time.Second))
		acc.SetDeletionTimestamp(&now)
		acc.SetDeletionGracePeriodSeconds(&grace)
		if acc.GetGeneration() > 0 {
			acc.SetGeneration(acc.GetGeneration() + 1)
		}
	} else if cg := acc.GetDeletionGracePeriodSeconds(); cg != nil && grace < *cg {
		// A shorter grace period may replace a longer one.
		now := metav1.NewTime(time.Now().Add(time.Duration(grace) * time.Second))
		acc.SetDeletionTimestamp(&now)
		acc.SetDeletionGracePeriodSeconds(&grace)
	}
	acc.SetFinalizers(finalizers)
	if isNamespace {
		ns.Status.Phase = corev1.NamespaceTerminating
	}
	if equalJSON(before, obj) {
		return obj, false, nil
	}
	if dryRun {
		return obj, false, nil
	}
	b, err := res.encodeStored(obj)
	if err != nil {
		return nil, false, err
	}
	rev, _, err := s.store.Update(ctx, key, b, cur.ModRevision, res.ttl)
	if err != nil {
		s.recent.forget(key)
		return nil, false, err
	}
	s.recent.put(storage.KV{Key: key, Value: b, ModRevision: rev})
	setRV(obj, rev)
	return obj, false, nil
}

// gracePeriod is how long a pod on a node gets to stop. Everything else,
// and pods no node has taken or that have finished, go at once.
func (s *Server) gracePeriod(obj runtime.Object, opts *metav1.DeleteOptions) int64 {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return 0
	}
	if opts.GracePeriodSeconds != nil {
		return *opts.GracePeriodSeconds
	}
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		return *pod.Spec.TerminationGracePeriodSeconds
	}
	return 30
}

func withFinalizer(list []string, f string) []string {
	for _, x := range list {
		if x == f {
			return list
		}
	}
	return append(list, f)
}

func without(list []string, f string) []string {
	out := list[:0:0]
	for _, x := range list {
		if x != f {
			out = append(out, x)
		}
	}
	return out
}

func equalJSON(a, b runtime.Object) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// deleteCollection serves DELETE on a collection: every object matching
// the selectors is deleted as a single DELETE would.
func (s *Server) deleteCollection(w http.ResponseWriter, r *http.Request, res *resource, ri requestInfo) {
	gr := groupResource(res)
	lo, err := parseListOptions(r, res)
	if err != nil {
		writeError(w, err, gr, "")
		return
	}
	opts, err := parseDeleteOptions(r)
	if err != nil {
		writeError(w, err, gr, "")
		return
	}
	lo.limit, lo.continueTok = 0, ""
	page, err := s.listObjects(r, res, ri.namespace, lo)
	if err != nil {
		writeError(w, err, gr, "")
		return
	}
	var out []runtime.Object
	for _, it := range page.items {
		acc, _ := meta.Accessor(it)
		if res.gvk.Kind == "Namespace" && systemNamespaces[acc.GetName()] {
			continue
		}
		obj, _, err := s.deleteObject(r.Context(), res, acc.GetNamespace(), acc.GetName(), opts)
		if errors.Is(err, errdefs.ErrNotFound) || apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			writeError(w, err, gr, acc.GetName())
			return
		}
		out = append(out, obj)
	}
	list := res.newList()
	_ = meta.SetList(list, out)
	lm, _ := meta.ListAccessor(list)
	lm.SetResourceVersion(strconv.FormatInt(page.rev, 10))
	b, err := encodeObject(list, res.gvk.GroupVersion().WithKind(res.gvk.Kind+"List"))
	if err != nil {
		writeError(w, err, gr, "")
		return
	}
	writeJSON(w, http.StatusOK, b)
}
