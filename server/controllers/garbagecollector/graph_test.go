package garbagecollector

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"testing"
	"unsafe"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

var (
	configMaps = &resource{gvr: schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, kind: "ConfigMap", namespaced: true}
	volumes    = &resource{gvr: schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumes"}, kind: "PersistentVolume"}
	deploys    = &resource{gvr: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, kind: "Deployment", namespaced: true}
)

func testGraph() *graph { return newGraph([]*resource{configMaps, volumes, deploys}) }

func obj(ns, name, uid string, owners ...metav1.OwnerReference) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
		Namespace: ns, Name: name, UID: types.UID(uid), ResourceVersion: "1", OwnerReferences: owners,
	}}
}

func ownerRef(res *resource, name, uid string, block bool) metav1.OwnerReference {
	r := metav1.OwnerReference{APIVersion: res.gvr.GroupVersion().String(), Kind: res.kind, Name: name, UID: types.UID(uid)}
	if block {
		r.BlockOwnerDeletion = &block
	}
	return r
}

func deleting(o *metav1.PartialObjectMetadata, finalizers ...string) *metav1.PartialObjectMetadata {
	c := o.DeepCopy()
	now := metav1.Now()
	c.DeletionTimestamp = &now
	c.Finalizers = finalizers
	return c
}

func sorted(uids []types.UID) []types.UID {
	out := append([]types.UID{}, uids...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	// Queue adds are idempotent: compare as sets.
	var dedup []types.UID
	for i, u := range out {
		if i == 0 || u != out[i-1] {
			dedup = append(dedup, u)
		}
	}
	return dedup
}

func states(t *testing.T, g *graph, uid string) []OwnerState {
	t.Helper()
	s, ok := g.item(types.UID(uid))
	if !ok {
		t.Fatalf("%s is not an observed node", uid)
	}
	var out []OwnerState
	for _, o := range s.item.Owners {
		out = append(out, o.State)
	}
	return out
}

func expectQueue(t *testing.T, what string, got []types.UID, want ...types.UID) {
	t.Helper()
	if !reflect.DeepEqual(sorted(got), sorted(want)) {
		t.Fatalf("%s queued %v, want %v", what, sorted(got), sorted(want))
	}
}

func expectStates(t *testing.T, g *graph, uid string, want ...OwnerState) {
	t.Helper()
	if got := states(t, g, uid); !reflect.DeepEqual(got, want) {
		t.Fatalf("owners of %s: %v, want %v", uid, got, want)
	}
}

// A chain c -> b (ConfigMaps) -> a (a cluster-scoped PersistentVolume),
// observed in any order, then torn down from the top.
func TestGraphChainFromWatchEvents(t *testing.T) {
	g := testGraph()
	a := obj("", "a", "ua")
	b := obj("ns", "b", "ub", ownerRef(volumes, "a", "ua", true))
	c := obj("ns", "c", "uc", ownerRef(configMaps, "b", "ub", true))

	// The dependent arrives first: its owners are virtual, hence unknown.
	expectQueue(t, "add c", g.observe(configMaps, c), "uc")
	expectStates(t, g, "uc", OwnerUnknown)
	// b is observed: c is queued again and now sees b.
	expectQueue(t, "add b", g.observe(configMaps, b), "uc", "ub")
	expectStates(t, g, "uc", OwnerPresent)
	expectStates(t, g, "ub", OwnerUnknown)
	// A cluster-scoped owner of a namespaced dependent matches with no
	// namespace.
	expectQueue(t, "add a", g.observe(volumes, a), "ub")
	expectStates(t, g, "ub", OwnerPresent)
	if s, _ := g.item("ua"); len(s.item.Dependents) != 1 || s.item.Dependents[0] != (Dependent{UID: "ub", BlockOwnerDeletion: true}) {
		t.Fatalf("dependents of a: %+v", s.item.Dependents)
	}

	// An update that changes nothing the collector uses queues nothing.
	b2 := b.DeepCopy()
	b2.ResourceVersion = "2"
	expectQueue(t, "status-like update of b", g.observe(configMaps, b2))

	// a is deleted: b is queued and sees a gone; c still sees b.
	expectQueue(t, "delete a", g.forget(a), "ub")
	expectStates(t, g, "ub", OwnerAbsent)
	expectStates(t, g, "uc", OwnerPresent)
	// b is deleted: c sees b gone, and the virtual a (no dependents left)
	// is dropped.
	expectQueue(t, "delete b", g.forget(b2), "uc")
	expectStates(t, g, "uc", OwnerAbsent)
	if _, ok := g.nodes["ua"]; ok {
		t.Fatal("virtual node for a kept after its last dependent went")
	}
	expectQueue(t, "delete c", g.forget(c))
	if obs, virt := g.size(); obs != 0 || virt != 0 {
		t.Fatalf("graph not empty: %d observed, %d virtual", obs, virt)
	}
}

func TestGraphForegroundTransitions(t *testing.T) {
	g := testGraph()
	a := obj("", "a", "ua")
	b := obj("ns", "b", "ub", ownerRef(volumes, "a", "ua", true))
	d := obj("ns", "d", "ud", ownerRef(volumes, "a", "ua", false))
	g.observe(volumes, a)
	g.observe(configMaps, b)
	g.observe(configMaps, d)

	// Foreground deletion of a: a and every dependent are queued, and the
	// dependents see a waiting.
	aFg := deleting(a, fgFinalizer)
	expectQueue(t, "a deleted in foreground", g.observe(volumes, aFg), "ua", "ub", "ud")
	s, _ := g.item("ub")
	if o := s.item.Owners[0]; o.State != OwnerPresent || !o.DeletingDependents {
		t.Fatalf("b sees a as %+v", o)
	}
	s, _ = g.item("ua")
	want := []Dependent{{UID: "ub", BlockOwnerDeletion: true}, {UID: "ud"}}
	if !reflect.DeepEqual(s.item.Dependents, want) {
		t.Fatalf("dependents of a: %+v, want %+v", s.item.Dependents, want)
	}
	// b is marked deleted: nothing changes for a yet.
	bDel := deleting(b)
	expectQueue(t, "b marked deleted", g.observe(configMaps, bDel), "ub")
	// b goes: a, which waits, is queued.
	expectQueue(t, "b gone", g.forget(bDel), "ua")
	// d drops its reference: a is queued, d is queued.
	d2 := d.DeepCopy()
	d2.OwnerReferences = nil
	expectQueue(t, "d orphaned", g.observe(configMaps, d2), "ua", "ud")
	s, _ = g.item("ua")
	if len(s.item.Dependents) != 0 {
		t.Fatalf("a still has dependents %+v", s.item.Dependents)
	}
}

func TestGraphBlockOwnerDeletionChangeQueuesWaitingOwner(t *testing.T) {
	g := testGraph()
	a := deleting(obj("", "a", "ua"), fgFinalizer)
	b := obj("ns", "b", "ub", ownerRef(volumes, "a", "ua", true))
	g.observe(volumes, a)
	g.observe(configMaps, b)
	b2 := b.DeepCopy()
	b2.OwnerReferences[0].BlockOwnerDeletion = nil
	expectQueue(t, "b unblocks a", g.observe(configMaps, b2), "ua", "ub")
}

func TestGraphOwnerCoordinates(t *testing.T) {
	g := testGraph()
	g.observe(configMaps, obj("ns", "owner", "uo"))
	g.observe(volumes, obj("", "pv", "upv"))
	cases := []struct {
		name string
		ns   string
		res  *resource
		ref  metav1.OwnerReference
		want OwnerState
	}{
		{"right coordinates", "ns", configMaps, ownerRef(configMaps, "owner", "uo", false), OwnerPresent},
		{"right uid, wrong name", "ns", configMaps, ownerRef(configMaps, "other", "uo", false), OwnerAbsent},
		{"right uid, other namespace", "ns2", configMaps, ownerRef(configMaps, "owner", "uo", false), OwnerAbsent},
		{"right uid, wrong kind", "ns", configMaps, ownerRef(deploys, "owner", "uo", false), OwnerAbsent},
		{"other API version of the same group and kind", "ns", configMaps,
			metav1.OwnerReference{APIVersion: "v1beta1", Kind: "ConfigMap", Name: "owner", UID: "uo"}, OwnerPresent},
		{"cluster-scoped owner from any namespace", "ns9", configMaps, ownerRef(volumes, "pv", "upv", false), OwnerPresent},
		{"unknown uid", "ns", configMaps, ownerRef(configMaps, "owner", "nope", false), OwnerUnknown},
		{"kind not served", "ns", configMaps, metav1.OwnerReference{APIVersion: "example.com/v1", Kind: "Widget", Name: "w", UID: "uw"}, OwnerUnresolvable},
		{"namespaced owner of a cluster-scoped object", "", volumes, ownerRef(configMaps, "owner", "uo", false), OwnerInvalid},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			uid := "dep" + string(rune('a'+i))
			g.observe(tc.res, obj(tc.ns, uid, uid, tc.ref))
			expectStates(t, g, uid, tc.want)
		})
	}
}

func TestGraphLookups(t *testing.T) {
	g := testGraph()
	b := obj("ns", "b", "ub", ownerRef(volumes, "a", "ua", true))
	g.observe(configMaps, b)
	expectStates(t, g, "ub", OwnerUnknown)
	key, res, ok := g.lookupTarget(b.OwnerReferences[0], "ns")
	if !ok || res != volumes || key.namespace != "" || key.name != "a" {
		t.Fatalf("lookup target %+v %v %v", key, res, ok)
	}

	// Found: present until observed.
	g.recordLookup(key, true, false)
	expectStates(t, g, "ub", OwnerPresent)
	// Found waiting for its dependents.
	g.recordLookup(key, true, true)
	if s, _ := g.item("ub"); !s.item.Owners[0].DeletingDependents {
		t.Fatal("lookup of an owner deleted in foreground not recorded")
	}
	// The owner is observed, then deleted: its dependent sees it gone, and
	// a late lookup that still found it does not bring it back.
	a := obj("", "a", "ua")
	g.observe(volumes, a)
	g.forget(a)
	g.recordLookup(key, true, false)
	expectStates(t, g, "ub", OwnerAbsent)

	// Not found: absent for good.
	c := obj("ns", "c", "uc", ownerRef(configMaps, "x", "ux", false))
	g.observe(configMaps, c)
	key, _, _ = g.lookupTarget(c.OwnerReferences[0], "ns")
	g.recordLookup(key, false, false)
	expectStates(t, g, "uc", OwnerAbsent)
}

func TestBoundedSetForgetsOldest(t *testing.T) {
	s := newBoundedSet(2)
	k := func(u string) ownerKey { return ownerKey{uid: types.UID(u)} }
	s.add(k("1"))
	s.add(k("2"))
	s.add(k("2"))
	s.add(k("3"))
	if s.has(k("1")) || !s.has(k("2")) || !s.has(k("3")) || len(s.m) != 2 {
		t.Fatalf("set holds %v", s.m)
	}
}

func TestGraphKeepsOnlyWhatItUses(t *testing.T) {
	now := metav1.Now()
	in := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
		Name: "n", Namespace: "ns", UID: "u", ResourceVersion: "7", Generation: 3,
		Labels: map[string]string{"a": "b"}, Annotations: map[string]string{"big": "x"},
		OwnerReferences: []metav1.OwnerReference{ownerRef(volumes, "a", "ua", true)},
		Finalizers:      []string{fgFinalizer}, DeletionTimestamp: &now,
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "m"}},
	}}
	out := toMeta(in).partial(in.UID)
	want := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
		Name: "n", Namespace: "ns", UID: "u", ResourceVersion: "7",
		OwnerReferences: in.OwnerReferences, Finalizers: in.Finalizers, DeletionTimestamp: &now,
	}}
	if !reflect.DeepEqual(out, want) {
		t.Fatalf("kept: %+v", out)
	}
}

// The patches remove exactly what they name and fail (a JSON-patch test)
// against an object that changed underneath.
func TestPatches(t *testing.T) {
	m := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
		Name: "x", UID: "ux",
		OwnerReferences: []metav1.OwnerReference{ownerRef(volumes, "a", "ua", true), ownerRef(configMaps, "b", "ub", false), ownerRef(volumes, "c", "uc", true)},
		Finalizers:      []string{"example.com/keep", fgFinalizer},
	}}
	apply := func(t *testing.T, doc *metav1.PartialObjectMetadata, patch []byte) (*metav1.PartialObjectMetadata, error) {
		t.Helper()
		raw, _ := json.Marshal(doc)
		p, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			t.Fatalf("patch %s: %v", patch, err)
		}
		out, err := p.Apply(raw)
		if err != nil {
			return nil, err
		}
		res := &metav1.PartialObjectMetadata{}
		if err := json.Unmarshal(out, res); err != nil {
			t.Fatal(err)
		}
		return res, nil
	}

	t.Run("remove owner references", func(t *testing.T) {
		p := removeOwnerRefsPatch(m, func(r metav1.OwnerReference) bool { return r.UID == "ua" || r.UID == "uc" })
		out, err := apply(t, m, p)
		if err != nil {
			t.Fatal(err)
		}
		if len(out.OwnerReferences) != 1 || out.OwnerReferences[0].UID != "ub" {
			t.Fatalf("left %+v", out.OwnerReferences)
		}
		// The same patch against an object whose references moved fails.
		moved := m.DeepCopy()
		moved.OwnerReferences = moved.OwnerReferences[1:]
		if _, err := apply(t, moved, p); err == nil {
			t.Fatal("patch applied to a changed object")
		}
		// Or that is another object with the same name.
		other := m.DeepCopy()
		other.UID = "new"
		if _, err := apply(t, other, p); err == nil {
			t.Fatal("patch applied to another object")
		}
		if removeOwnerRefsPatch(m, func(metav1.OwnerReference) bool { return false }) != nil {
			t.Fatal("empty patch not nil")
		}
	})
	t.Run("remove finalizer", func(t *testing.T) {
		out, err := apply(t, m, removeFinalizerPatch(m, fgFinalizer))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(out.Finalizers, []string{"example.com/keep"}) {
			t.Fatalf("finalizers %v", out.Finalizers)
		}
		if removeFinalizerPatch(m, orphanFinalizer) != nil {
			t.Fatal("patch for an absent finalizer")
		}
	})
	t.Run("unblock", func(t *testing.T) {
		out, err := apply(t, m, unblockPatch(m))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range out.OwnerReferences {
			if r.BlockOwnerDeletion != nil && *r.BlockOwnerDeletion {
				t.Fatalf("still blocking: %+v", r)
			}
		}
		if len(out.OwnerReferences) != 3 {
			t.Fatalf("references lost: %+v", out.OwnerReferences)
		}
	})
}

// Objects with equal namespaces and owner references share one copy of
// each in the graph; an object whose references differ in any field
// keeps its own, and the table stays bounded.
func TestGraphSharesMeta(t *testing.T) {
	g := newGraph([]*resource{configMaps, volumes})
	decoded := func(o *metav1.PartialObjectMetadata) *metav1.PartialObjectMetadata {
		raw, _ := json.Marshal(o)
		out := &metav1.PartialObjectMetadata{}
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	ref := ownerRef(configMaps, "owner", "uo", true)
	g.observe(configMaps, decoded(obj("ns", "a", "ua", ref)))
	g.observe(configMaps, decoded(obj("ns", "b", "ub", ref)))
	notBlocking := ownerRef(configMaps, "owner", "uo", false)
	g.observe(configMaps, decoded(obj("ns", "c", "uc", notBlocking)))
	two := ownerRef(volumes, "pv", "upv", true)
	g.observe(configMaps, decoded(obj("ns", "d", "ud", ref, two)))
	a, b, c, d := g.nodes["ua"].obj, g.nodes["ub"].obj, g.nodes["uc"].obj, g.nodes["ud"].obj
	if &a.OwnerReferences[0] != &b.OwnerReferences[0] || unsafe.StringData(a.Namespace) != unsafe.StringData(b.Namespace) {
		t.Error("equal owner references or namespaces are not shared")
	}
	if &c.OwnerReferences[0] == &a.OwnerReferences[0] || !reflect.DeepEqual(c.OwnerReferences, []metav1.OwnerReference{notBlocking}) {
		t.Errorf("references that differ in blockOwnerDeletion: %+v", c.OwnerReferences)
	}
	if &d.OwnerReferences[0] == &a.OwnerReferences[0] || !reflect.DeepEqual(d.OwnerReferences, []metav1.OwnerReference{ref, two}) {
		t.Errorf("two references: %+v", d.OwnerReferences)
	}
	if deps := g.nodes["uo"].dependents; len(deps) != 4 {
		t.Errorf("owner has %d dependents, want 4", len(deps))
	}
	for i := 0; i < 3*sharedMetaMax; i++ {
		g.observe(configMaps, obj(fmt.Sprint("ns-", i), "x", fmt.Sprint("u-", i), ref))
	}
	if n := len(g.shared.strings); n > sharedMetaMax {
		t.Errorf("table grew to %d", n)
	}
}
