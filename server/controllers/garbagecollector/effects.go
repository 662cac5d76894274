package garbagecollector

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/metadata"
	"k8s.io/klog/v2"
)

// This file carries plans out against the API. Every write names the uid
// it means (a precondition or a JSON-patch test), so that an object
// deleted and recreated under the same name is never touched.

func (c *Collector) client(res *resource, ns string) metadata.ResourceInterface {
	if res.namespaced {
		return c.meta.Resource(res.gvr).Namespace(ns)
	}
	return c.meta.Resource(res.gvr)
}

// lookup reads the owner ref names (from a dependent in namespace ns) and
// records in the graph whether it exists with the referenced uid.
func (c *Collector) lookup(ctx context.Context, ref metav1.OwnerReference, ns string) error {
	key, res, ok := c.graph.lookupTarget(ref, ns)
	if !ok {
		return nil
	}
	owner, err := c.client(res, key.namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		c.graph.recordLookup(key, false, false)
	case err != nil:
		return fmt.Errorf("looking up owner %s %s: %w", ref.Kind, ref.Name, err)
	case owner.UID != ref.UID:
		c.graph.recordLookup(key, false, false)
	default:
		c.graph.recordLookup(key, true, deletingDependents(owner))
	}
	return nil
}

// execute carries out a plan for the object in snap.
func (c *Collector) execute(ctx context.Context, snap snapshot, p Plan) error {
	obj := snap.obj
	if p.UnblockOwnerRefs {
		out, err := c.patch(ctx, snap.res, obj, unblockPatch)
		if err != nil || out == nil {
			return err
		}
		obj = out
	}
	if len(p.RemoveOwnerRefs) > 0 {
		drop := map[types.UID]bool{}
		for _, uid := range p.RemoveOwnerRefs {
			drop[uid] = true
		}
		if _, err := c.patch(ctx, snap.res, obj, func(m *metav1.PartialObjectMetadata) []byte {
			return removeOwnerRefsPatch(m, func(r metav1.OwnerReference) bool { return drop[r.UID] })
		}); err != nil {
			return err
		}
	}
	if p.Delete {
		logAction(snap, "deleting", "propagation", p.Propagation)
		if err := c.delete(ctx, snap.res, obj, p.Propagation); err != nil {
			return err
		}
	}
	for _, uid := range p.OrphanDependents {
		res, dep, ok := c.graph.object(uid)
		if !ok {
			continue
		}
		owner := snap.item.UID
		if _, err := c.patch(ctx, res, dep, func(m *metav1.PartialObjectMetadata) []byte {
			return removeOwnerRefsPatch(m, func(r metav1.OwnerReference) bool { return r.UID == owner })
		}); err != nil {
			return err
		}
	}
	if p.RemoveFinalizer != "" {
		logAction(snap, "removing finalizer", "finalizer", p.RemoveFinalizer)
		name := p.RemoveFinalizer
		if _, err := c.patch(ctx, snap.res, obj, func(m *metav1.PartialObjectMetadata) []byte {
			return removeFinalizerPatch(m, name)
		}); err != nil {
			return err
		}
	}
	c.enqueue(p.Enqueue)
	return nil
}

// delete deletes obj if it is still the object the graph saw. A conflict
// on the resourceVersion alone (say, a status update the graph has not
// seen yet) does not stop it when the owner references are unchanged, as
// in kube's collector.
func (c *Collector) delete(ctx context.Context, res *resource, obj *metav1.PartialObjectMetadata, policy metav1.DeletionPropagation) error {
	cl := c.client(res, obj.Namespace)
	uid, rv := obj.UID, obj.ResourceVersion
	err := cl.Delete(ctx, obj.Name, metav1.DeleteOptions{
		Preconditions:     &metav1.Preconditions{UID: &uid, ResourceVersion: &rv},
		PropagationPolicy: &policy,
	})
	if err == nil || apierrors.IsNotFound(err) {
		return nil
	}
	if !apierrors.IsConflict(err) {
		return fmt.Errorf("deleting %s %s: %w", res.gvr.Resource, name(obj), err)
	}
	latest, gerr := cl.Get(ctx, obj.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(gerr):
		return nil
	case gerr != nil:
		return fmt.Errorf("deleting %s %s: %w", res.gvr.Resource, name(obj), gerr)
	case latest.UID != uid:
		return nil
	case !equalRefs(latest.OwnerReferences, obj.OwnerReferences):
		// Its owners changed: decide again once the graph has the change.
		return fmt.Errorf("deleting %s %s: %w", res.gvr.Resource, name(obj), err)
	}
	err = cl.Delete(ctx, obj.Name, metav1.DeleteOptions{
		Preconditions:     &metav1.Preconditions{UID: &uid, ResourceVersion: &latest.ResourceVersion},
		PropagationPolicy: &policy,
	})
	if err == nil || apierrors.IsNotFound(err) {
		return nil
	}
	return fmt.Errorf("deleting %s %s: %w", res.gvr.Resource, name(obj), err)
}

// patch applies the JSON patch build makes from obj. The patch tests what
// it changes, so a graph that lags fails it; then it is rebuilt once from
// a fresh read. A nil patch means nothing is left to change. The result
// is nil when the object is gone.
func (c *Collector) patch(ctx context.Context, res *resource, obj *metav1.PartialObjectMetadata, build func(*metav1.PartialObjectMetadata) []byte) (*metav1.PartialObjectMetadata, error) {
	cl := c.client(res, obj.Namespace)
	cur := obj
	for attempt := 0; ; attempt++ {
		p := build(cur)
		if p == nil {
			return cur, nil
		}
		out, err := cl.Patch(ctx, cur.Name, types.JSONPatchType, p, metav1.PatchOptions{})
		switch {
		case err == nil:
			return out, nil
		case apierrors.IsNotFound(err):
			return nil, nil
		case attempt == 0 && (apierrors.IsInvalid(err) || apierrors.IsConflict(err)):
			latest, gerr := cl.Get(ctx, cur.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(gerr) {
				return nil, nil
			}
			if gerr != nil {
				return nil, fmt.Errorf("patching %s %s: %w", res.gvr.Resource, name(obj), gerr)
			}
			if latest.UID != obj.UID {
				return nil, nil
			}
			cur = latest
		default:
			return nil, fmt.Errorf("patching %s %s: %w", res.gvr.Resource, name(obj), err)
		}
	}
}

type patchOp struct {
	Op    string      `json:"op"`
	Path  string      `json:"path"`
	Value interface{} `json:"value,omitempty"`
}

// removeOwnerRefsPatch removes the references drop selects; nil when none
// does.
func removeOwnerRefsPatch(m *metav1.PartialObjectMetadata, drop func(metav1.OwnerReference) bool) []byte {
	ops := []patchOp{{Op: "test", Path: "/metadata/uid", Value: m.UID}}
	// From the end, so that earlier indexes stay valid.
	for i := len(m.OwnerReferences) - 1; i >= 0; i-- {
		if r := m.OwnerReferences[i]; drop(r) {
			p := "/metadata/ownerReferences/" + strconv.Itoa(i)
			ops = append(ops, patchOp{Op: "test", Path: p + "/uid", Value: r.UID}, patchOp{Op: "remove", Path: p})
		}
	}
	return encodeOps(ops)
}

// unblockPatch sets blockOwnerDeletion=false on every reference that has
// it; nil when none does.
func unblockPatch(m *metav1.PartialObjectMetadata) []byte {
	ops := []patchOp{{Op: "test", Path: "/metadata/uid", Value: m.UID}}
	for i, r := range m.OwnerReferences {
		if r.BlockOwnerDeletion != nil && *r.BlockOwnerDeletion {
			p := "/metadata/ownerReferences/" + strconv.Itoa(i)
			ops = append(ops, patchOp{Op: "test", Path: p + "/uid", Value: r.UID},
				patchOp{Op: "replace", Path: p + "/blockOwnerDeletion", Value: false})
		}
	}
	return encodeOps(ops)
}

// removeFinalizerPatch removes finalizer f; nil when it is not there.
func removeFinalizerPatch(m *metav1.PartialObjectMetadata, f string) []byte {
	ops := []patchOp{{Op: "test", Path: "/metadata/uid", Value: m.UID}}
	for i := len(m.Finalizers) - 1; i >= 0; i-- {
		if m.Finalizers[i] == f {
			p := "/metadata/finalizers/" + strconv.Itoa(i)
			ops = append(ops, patchOp{Op: "test", Path: p, Value: f}, patchOp{Op: "remove", Path: p})
		}
	}
	return encodeOps(ops)
}

// encodeOps encodes ops, or returns nil when they only test the uid.
func encodeOps(ops []patchOp) []byte {
	if len(ops) == 1 {
		return nil
	}
	b, _ := json.Marshal(ops)
	return b
}

func name(m *metav1.PartialObjectMetadata) string {
	if m.Namespace == "" {
		return m.Name
	}
	return m.Namespace + "/" + m.Name
}

func logAction(snap snapshot, action string, kv ...interface{}) {
	klog.V(2).InfoS("garbage collector: "+action, append([]interface{}{"resource", snap.res.gvr.Resource, "object", name(snap.obj), "uid", snap.obj.UID}, kv...)...)
}
