package garbagecollector

import (
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func ref(uid string, block bool) metav1.OwnerReference {
	r := metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: "owner-" + uid, UID: types.UID(uid)}
	if block {
		r.BlockOwnerDeletion = &block
	}
	return r
}

func owner(uid string, state OwnerState) Owner { return Owner{Ref: ref(uid, false), State: state} }

func waitingOwner(uid string) Owner {
	return Owner{Ref: ref(uid, true), State: OwnerPresent, DeletingDependents: true}
}

const (
	fgFinalizer     = metav1.FinalizerDeleteDependents
	orphanFinalizer = metav1.FinalizerOrphanDependents
)

func TestDecide(t *testing.T) {
	bg, fg, orphan := metav1.DeletePropagationBackground, metav1.DeletePropagationForeground, metav1.DeletePropagationOrphan
	tests := []struct {
		name string
		item Item
		want Plan
	}{
		{"no owners: nothing", Item{UID: "x"}, Plan{}},
		{"live owner: nothing", Item{UID: "x", Owners: []Owner{owner("a", OwnerPresent)}}, Plan{}},
		{"owner gone: delete in background",
			Item{UID: "x", Owners: []Owner{owner("a", OwnerAbsent)}},
			Plan{Delete: true, Propagation: bg}},
		{"every owner gone: delete",
			Item{UID: "x", Owners: []Owner{owner("a", OwnerAbsent), owner("b", OwnerAbsent)}},
			Plan{Delete: true, Propagation: bg}},
		{"owner gone, item carries the orphan finalizer: delete with Orphan",
			Item{UID: "x", Finalizers: []string{orphanFinalizer}, Owners: []Owner{owner("a", OwnerAbsent)}},
			Plan{Delete: true, Propagation: orphan}},
		{"owner gone, item carries the foreground finalizer: delete in Foreground",
			Item{UID: "x", Finalizers: []string{"example.com/x", fgFinalizer}, Owners: []Owner{owner("a", OwnerAbsent)}},
			Plan{Delete: true, Propagation: fg}},
		{"owner never seen: look it up first",
			Item{UID: "x", Owners: []Owner{owner("a", OwnerUnknown)}},
			Plan{Lookup: []metav1.OwnerReference{ref("a", false)}}},
		{"only unknown owners are looked up, before anything else",
			Item{UID: "x", Owners: []Owner{owner("a", OwnerAbsent), owner("b", OwnerUnknown), owner("c", OwnerPresent)}},
			Plan{Lookup: []metav1.OwnerReference{ref("b", false)}}},
		{"live and gone owners: drop the dangling reference",
			Item{UID: "x", Owners: []Owner{owner("a", OwnerPresent), owner("b", OwnerAbsent)}},
			Plan{RemoveOwnerRefs: []types.UID{"b"}}},
		{"live owner and one waiting in foreground: drop the waiting reference",
			Item{UID: "x", Owners: []Owner{waitingOwner("w"), owner("a", OwnerPresent), owner("b", OwnerAbsent)}},
			Plan{RemoveOwnerRefs: []types.UID{"b", "w"}}},
		{"owner waits in foreground, item has no dependents: delete in background",
			Item{UID: "x", Owners: []Owner{waitingOwner("w")}},
			Plan{Delete: true, Propagation: bg}},
		{"owner waits in foreground, item has dependents: delete in foreground",
			Item{UID: "x", Owners: []Owner{waitingOwner("w"), owner("b", OwnerAbsent)},
				Dependents: []Dependent{{UID: "d", BlockOwnerDeletion: true}}},
			Plan{Delete: true, Propagation: fg}},
		{"foreground cycle: unblock own references, then delete in foreground",
			Item{UID: "x", Owners: []Owner{waitingOwner("w")},
				Dependents: []Dependent{{UID: "d", BlockOwnerDeletion: true, DeletingDependents: true}}},
			Plan{UnblockOwnerRefs: true, Delete: true, Propagation: fg}},
		{"cluster-scoped item naming a namespaced owner: left alone",
			Item{UID: "x", Owners: []Owner{owner("a", OwnerInvalid), owner("b", OwnerAbsent)}},
			Plan{}},
		{"owner kind not served: left alone",
			Item{UID: "x", Owners: []Owner{owner("a", OwnerUnresolvable), owner("b", OwnerAbsent)}},
			Plan{}},
		{"deleted with Orphan: dependents lose the reference, then the finalizer goes",
			Item{UID: "x", Deleting: true, Finalizers: []string{orphanFinalizer},
				Dependents: []Dependent{{UID: "d1"}, {UID: "d2", BlockOwnerDeletion: true}}},
			Plan{OrphanDependents: []types.UID{"d1", "d2"}, RemoveFinalizer: orphanFinalizer}},
		{"deleted with Orphan and no dependents: the finalizer goes",
			Item{UID: "x", Deleting: true, Finalizers: []string{"example.com/keep", orphanFinalizer}},
			Plan{RemoveFinalizer: orphanFinalizer}},
		{"deleted with Orphan wins over its own gone owner",
			Item{UID: "x", Deleting: true, Finalizers: []string{orphanFinalizer}, Owners: []Owner{owner("a", OwnerAbsent)}},
			Plan{RemoveFinalizer: orphanFinalizer}},
		{"deleted in Foreground with blocking dependents: waits, nudging those not yet deleting",
			Item{UID: "x", Deleting: true, Finalizers: []string{fgFinalizer},
				Dependents: []Dependent{{UID: "d1", BlockOwnerDeletion: true}, {UID: "d2", BlockOwnerDeletion: true, DeletingDependents: true}, {UID: "d3"}}},
			Plan{Enqueue: []types.UID{"d1"}}},
		{"deleted in Foreground, only non-blocking dependents: the finalizer goes",
			Item{UID: "x", Deleting: true, Finalizers: []string{fgFinalizer}, Dependents: []Dependent{{UID: "d3"}}},
			Plan{RemoveFinalizer: fgFinalizer}},
		{"deleted in Foreground, no dependents: the finalizer goes",
			Item{UID: "x", Deleting: true, Finalizers: []string{fgFinalizer}, Owners: []Owner{owner("a", OwnerAbsent)}},
			Plan{RemoveFinalizer: fgFinalizer}},
		{"being deleted otherwise: nothing until it is gone",
			Item{UID: "x", Deleting: true, Finalizers: []string{"example.com/x"}, Owners: []Owner{owner("a", OwnerAbsent)}},
			Plan{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Decide(tt.item)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Decide:\n got  %+v\n want %+v", got, tt.want)
			}
			if got.Empty() != reflect.DeepEqual(tt.want, Plan{}) {
				t.Fatalf("Empty() = %v for %+v", got.Empty(), got)
			}
		})
	}
}
