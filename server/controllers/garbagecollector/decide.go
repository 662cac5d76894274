package garbagecollector

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// This file is the collector's decision core: values in, a Plan out. It
// does no I/O and reads no clock; the graph supplies the Item and the
// controller carries out the Plan.

// OwnerState is what the graph knows about the object an owner reference
// names.
type OwnerState int

const (
	// OwnerUnknown: never observed and not yet looked up. Nothing may be
	// decided about the dependent until it has been.
	OwnerUnknown OwnerState = iota
	// OwnerPresent: an object with the referenced uid exists at the
	// referenced group, kind, namespace and name.
	OwnerPresent
	// OwnerAbsent: verified gone, or never existed with that uid at those
	// coordinates (a dangling reference).
	OwnerAbsent
	// OwnerUnresolvable: the referenced kind is not served, so its
	// existence cannot be checked; the reference is left alone.
	OwnerUnresolvable
	// OwnerInvalid: a cluster-scoped dependent names a namespaced owner,
	// which can never resolve; the dependent is left alone (as kube does).
	OwnerInvalid
)

func (s OwnerState) String() string {
	switch s {
	case OwnerUnknown:
		return "Unknown"
	case OwnerPresent:
		return "Present"
	case OwnerAbsent:
		return "Absent"
	case OwnerUnresolvable:
		return "Unresolvable"
	case OwnerInvalid:
		return "Invalid"
	}
	return "?"
}

// Owner is one owner reference of an item with what is known about its
// target.
type Owner struct {
	Ref   metav1.OwnerReference
	State OwnerState
	// DeletingDependents: the owner is present, has a deletionTimestamp and
	// the foregroundDeletion finalizer, i.e. it waits for its dependents.
	DeletingDependents bool
}

// Dependent is one object that names the item as an owner.
type Dependent struct {
	UID types.UID
	// BlockOwnerDeletion: the dependent's reference to the item has
	// blockOwnerDeletion=true, so a foreground deletion of the item waits
	// for it.
	BlockOwnerDeletion bool
	// DeletingDependents: the dependent is itself being deleted in
	// foreground.
	DeletingDependents bool
}

// Item is everything the decision needs about one observed object.
type Item struct {
	UID types.UID
	// Deleting: metadata.deletionTimestamp is set.
	Deleting   bool
	Finalizers []string
	// Owners are the item's ownerReferences, in order.
	Owners []Owner
	// Dependents are the observed objects that reference the item's uid.
	Dependents []Dependent
}

// Plan is what to do about an item. The steps run in this order: Lookup
// (after which the item is decided again), UnblockOwnerRefs,
// RemoveOwnerRefs, Delete, OrphanDependents, RemoveFinalizer, Enqueue.
type Plan struct {
	// Lookup names owners to read from the API before anything is
	// decided: owners referenced but not (yet) in the graph.
	Lookup []metav1.OwnerReference
	// UnblockOwnerRefs sets blockOwnerDeletion=false on the item's own
	// references, to break a foreground-deletion cycle.
	UnblockOwnerRefs bool
	// RemoveOwnerRefs drops the item's references to these owner uids.
	RemoveOwnerRefs []types.UID
	// Delete deletes the item (preconditioned on its uid and the
	// resourceVersion the graph saw) with Propagation.
	Delete      bool
	Propagation metav1.DeletionPropagation
	// OrphanDependents drops the item's uid from these dependents'
	// ownerReferences.
	OrphanDependents []types.UID
	// RemoveFinalizer removes this finalizer from the item.
	RemoveFinalizer string
	// Enqueue asks for these objects to be decided again.
	Enqueue []types.UID
}

// Empty reports whether the plan does nothing.
func (p Plan) Empty() bool {
	return len(p.Lookup) == 0 && !p.UnblockOwnerRefs && len(p.RemoveOwnerRefs) == 0 && !p.Delete &&
		len(p.OrphanDependents) == 0 && p.RemoveFinalizer == "" && len(p.Enqueue) == 0
}

// Decide is the collector's rule for one item. It follows kube's garbage
// collector: attemptToOrphanWorker for an owner deleted with Orphan,
// processDeletingDependentsItem for one deleted in Foreground, and
// attemptToDeleteItem for a dependent, with the owners' states taken from
// the graph instead of a GET per reference.
func Decide(it Item) Plan {
	if it.Deleting && hasString(it.Finalizers, metav1.FinalizerOrphanDependents) {
		// Orphan: every dependent loses its reference, then the owner
		// loses the finalizer (and, with no other finalizer, goes).
		p := Plan{RemoveFinalizer: metav1.FinalizerOrphanDependents}
		for _, d := range it.Dependents {
			p.OrphanDependents = append(p.OrphanDependents, d.UID)
		}
		return p
	}
	if it.Deleting && hasString(it.Finalizers, metav1.FinalizerDeleteDependents) {
		// Foreground: the owner stays until no dependent blocks it.
		var p Plan
		blocked := false
		for _, d := range it.Dependents {
			if !d.BlockOwnerDeletion {
				continue
			}
			blocked = true
			if !d.DeletingDependents {
				p.Enqueue = append(p.Enqueue, d.UID)
			}
		}
		if !blocked {
			p.RemoveFinalizer = metav1.FinalizerDeleteDependents
		}
		return p
	}
	if it.Deleting {
		// Being deleted: its dependents are handled once it is gone.
		return Plan{}
	}
	if len(it.Owners) == 0 {
		return Plan{}
	}

	var solid, dangling, waiting []types.UID
	var lookup []metav1.OwnerReference
	for _, o := range it.Owners {
		switch o.State {
		case OwnerInvalid, OwnerUnresolvable:
			// kube gives up on such an item (and retries an unknown kind
			// forever); either way nothing is deleted.
			return Plan{}
		case OwnerUnknown:
			lookup = append(lookup, o.Ref)
		case OwnerAbsent:
			dangling = append(dangling, o.Ref.UID)
		case OwnerPresent:
			if o.DeletingDependents {
				waiting = append(waiting, o.Ref.UID)
			} else {
				solid = append(solid, o.Ref.UID)
			}
		}
	}
	if len(lookup) > 0 {
		return Plan{Lookup: lookup}
	}

	switch {
	case len(solid) > 0:
		// A live owner keeps the item. References to gone owners, and to
		// owners waiting for their dependents, are dropped: the latter
		// would otherwise wait for an item that is not going away.
		if len(dangling) == 0 && len(waiting) == 0 {
			return Plan{}
		}
		return Plan{RemoveOwnerRefs: append(dangling, waiting...)}
	case len(waiting) > 0 && len(it.Dependents) > 0:
		// An owner waits for the item, and the item has dependents of its
		// own: delete it in foreground so that the wait covers them too.
		p := Plan{Delete: true, Propagation: metav1.DeletePropagationForeground}
		for _, d := range it.Dependents {
			if d.DeletingDependents {
				// A dependent already waits for the item: a cycle.
				// Unblocking the item's own references lets the owners
				// go (kube's false-positive-prone but safe rule).
				p.UnblockOwnerRefs = hasBlockingRef(it.Owners)
				break
			}
		}
		return p
	default:
		// No live owner: collect it, honouring a propagation policy a
		// finalizer already asks for.
		p := Plan{Delete: true, Propagation: metav1.DeletePropagationBackground}
		switch {
		case hasString(it.Finalizers, metav1.FinalizerOrphanDependents):
			p.Propagation = metav1.DeletePropagationOrphan
		case hasString(it.Finalizers, metav1.FinalizerDeleteDependents):
			p.Propagation = metav1.DeletePropagationForeground
		}
		return p
	}
}

func hasBlockingRef(owners []Owner) bool {
	for _, o := range owners {
		if o.Ref.BlockOwnerDeletion != nil && *o.Ref.BlockOwnerDeletion {
			return true
		}
	}
	return false
}

func hasString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
