package garbagecollector

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// resource is one served resource the collector watches.
type resource struct {
	gvr        schema.GroupVersionResource
	kind       string
	namespaced bool
}

// node is one object in the ownership graph. An observed node holds the
// object's trimmed metadata (uid, name, namespace, resourceVersion, owner
// references, finalizers, deletionTimestamp: see trim). A virtual node
// stands for an owner that dependents name but that has not been observed
// (yet, or any more): it holds only its dependents and what lookups
// verified about it.
type node struct {
	uid types.UID
	res *resource
	// obj is never modified once stored (it is replaced), so a reader may
	// keep it after the graph's lock is released. nil: virtual.
	obj        *meta
	dependents map[*node]struct{}
	// verified lists coordinates a lookup found this (virtual) owner at.
	verified []verifiedOwner
}

// meta is the part of an object's metadata the graph keeps: at fleet
// scale there is a node for every pod, and a PartialObjectMetadata takes
// more than twice the heap.
type meta struct {
	Name, Namespace, ResourceVersion string
	OwnerReferences                  []metav1.OwnerReference
	Finalizers                       []string
	DeletionTimestamp                *metav1.Time
}

func toMeta(o *metav1.PartialObjectMetadata) *meta {
	return &meta{Name: o.Name, Namespace: o.Namespace, ResourceVersion: o.ResourceVersion,
		OwnerReferences: o.OwnerReferences, Finalizers: o.Finalizers, DeletionTimestamp: o.DeletionTimestamp}
}

// partial returns the metadata as the object of uid (a new value each
// call: callers may keep or modify it).
func (m *meta) partial(uid types.UID) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
		Name: m.Name, Namespace: m.Namespace, UID: uid, ResourceVersion: m.ResourceVersion,
		OwnerReferences: m.OwnerReferences, Finalizers: m.Finalizers, DeletionTimestamp: m.DeletionTimestamp,
	}}
}

// deletingDependents reports whether the object waits for its dependents
// (foreground deletion); false for nil.
func (m *meta) deletingDependents() bool {
	return m != nil && m.DeletionTimestamp != nil && hasString(m.Finalizers, metav1.FinalizerDeleteDependents)
}

type verifiedOwner struct {
	key                ownerKey
	deletingDependents bool
}

func (n *node) virtual() bool { return n.obj == nil }

// ownerKey is where an owner reference points: a uid at a group, kind,
// namespace ("" for cluster-scoped kinds) and name.
type ownerKey struct {
	uid       types.UID
	group     string
	kind      string
	namespace string
	name      string
}

func (n *node) key() ownerKey {
	return ownerKey{uid: n.uid, group: n.res.gvr.Group, kind: n.res.kind, namespace: n.obj.Namespace, name: n.obj.Name}
}

// graph is the collector's picture of every watched object's ownership,
// fed by watch events. It is safe for concurrent use.
type graph struct {
	mu    sync.Mutex
	kinds map[schema.GroupKind]*resource
	nodes map[types.UID]*node
	// absent remembers owner coordinates verified not to hold their uid.
	// A uid is never reused, so an entry never goes stale; the set is
	// bounded only to bound memory (an evicted owner is looked up again).
	absent *boundedSet
	// shared holds the namespaces and owner reference lists objects
	// repeat (the pods of one ReplicaSet name the same owner): decoded,
	// each object has its own copy, ~200 bytes a pod. Bounded as absent
	// is: when full it starts anew, and values handed out stay valid.
	shared *sharedMeta
}

func newGraph(resources []*resource) *graph {
	g := &graph{kinds: map[schema.GroupKind]*resource{}, nodes: map[types.UID]*node{}, absent: newBoundedSet(absentCacheSize), shared: &sharedMeta{}}
	for _, r := range resources {
		g.kinds[schema.GroupKind{Group: r.gvr.Group, Kind: r.kind}] = r
	}
	return g
}

// absentCacheSize bounds the absent-owner set (kube's is 500 entries; an
// entry here is ~100 bytes).
const absentCacheSize = 4096

// observe records an added or updated object and returns the uids whose
// decision may have changed.
func (g *graph) observe(res *resource, o *metav1.PartialObjectMetadata) []types.UID {
	obj := toMeta(o)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.shared.share(obj)
	var q []types.UID
	n := g.nodes[o.UID]
	if n == nil {
		n = &node{uid: o.UID}
		g.nodes[o.UID] = n
	}
	old := n.obj
	n.res, n.obj = res, obj
	if old == nil {
		// A virtual owner is observed at last: its dependents can stop
		// relying on a lookup.
		n.verified = nil
		q = appendDependents(q, n)
		g.link(n, nil, obj.OwnerReferences, &q)
		if len(obj.OwnerReferences) > 0 || obj.DeletionTimestamp != nil {
			q = append(q, n.uid)
		}
		return q
	}
	changed := false
	if !equalRefs(old.OwnerReferences, obj.OwnerReferences) {
		g.link(n, old.OwnerReferences, obj.OwnerReferences, &q)
		changed = true
	}
	if (old.DeletionTimestamp == nil) != (obj.DeletionTimestamp == nil) || !equalStrings(old.Finalizers, obj.Finalizers) {
		changed = true
	}
	if old.deletingDependents() != obj.deletingDependents() {
		// Dependents see this owner change between live and waiting.
		q = appendDependents(q, n)
	}
	if changed {
		q = append(q, n.uid)
	}
	return q
}

// forget records a deleted object and returns the uids whose decision may
// have changed: its dependents, and owners that were waiting for it.
func (g *graph) forget(obj *metav1.PartialObjectMetadata) []types.UID {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := g.nodes[obj.UID]
	if n == nil || n.virtual() {
		return nil
	}
	var q []types.UID
	g.link(n, n.obj.OwnerReferences, nil, &q)
	if len(n.dependents) == 0 {
		delete(g.nodes, n.uid)
		return q
	}
	// Its dependents still point at it: keep a virtual node for them and
	// remember that the owner is gone.
	g.absent.add(n.key())
	n.obj, n.res, n.verified = nil, nil, nil
	return appendDependents(q, n)
}

// observedExcept returns the metadata of every observed object whose uid
// is not in present (for a listing that replaces the graph's picture).
func (g *graph) observedExcept(present map[types.UID]bool) []*metav1.PartialObjectMetadata {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []*metav1.PartialObjectMetadata
	for uid, n := range g.nodes {
		if !n.virtual() && !present[uid] {
			out = append(out, n.obj.partial(uid))
		}
	}
	return out
}

// link moves dependent n from the owners in before to those in after.
// Owners it leaves that are being deleted are queued: they may have been
// waiting for n. Virtual owners left without dependents are dropped.
func (g *graph) link(n *node, before, after []metav1.OwnerReference, q *[]types.UID) {
	for _, ref := range before {
		if hasOwnerUID(after, ref.UID) {
			continue
		}
		o := g.nodes[ref.UID]
		if o == nil {
			continue
		}
		delete(o.dependents, n)
		switch {
		case o.virtual() && len(o.dependents) == 0:
			delete(g.nodes, o.uid)
		case !o.virtual() && o.obj.DeletionTimestamp != nil:
			*q = append(*q, o.uid)
		}
	}
	for _, ref := range after {
		o := g.nodes[ref.UID]
		if o == nil {
			o = &node{uid: ref.UID}
			g.nodes[ref.UID] = o
		}
		if o.dependents == nil {
			o.dependents = map[*node]struct{}{}
		}
		o.dependents[n] = struct{}{}
	}
	// A changed reference (blockOwnerDeletion set or cleared) to an owner
	// that waits for its dependents changes that owner's decision too.
	for _, ref := range after {
		if o := g.nodes[ref.UID]; o != nil && !o.virtual() && o.obj.deletingDependents() && hasOwnerUID(before, ref.UID) {
			*q = append(*q, o.uid)
		}
	}
}

// snapshot is an observed object and the decision input built from it.
type snapshot struct {
	res  *resource
	obj  *metav1.PartialObjectMetadata
	item Item
}

// item builds the decision input for uid; false when uid is not an
// observed object.
func (g *graph) item(uid types.UID) (snapshot, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := g.nodes[uid]
	if n == nil || n.virtual() {
		return snapshot{}, false
	}
	it := Item{UID: uid, Deleting: n.obj.DeletionTimestamp != nil, Finalizers: n.obj.Finalizers}
	for _, ref := range n.obj.OwnerReferences {
		it.Owners = append(it.Owners, g.classify(ref, n))
	}
	for d := range n.dependents {
		dep := Dependent{UID: d.uid, DeletingDependents: d.obj.deletingDependents()}
		for _, ref := range d.obj.OwnerReferences {
			if ref.UID == uid && ref.BlockOwnerDeletion != nil && *ref.BlockOwnerDeletion {
				dep.BlockOwnerDeletion = true
			}
		}
		it.Dependents = append(it.Dependents, dep)
	}
	sort.Slice(it.Dependents, func(i, j int) bool { return it.Dependents[i].UID < it.Dependents[j].UID })
	return snapshot{res: n.res, obj: n.obj.partial(uid), item: it}, true
}

// classify says what the graph knows about the owner ref of dependent n.
func (g *graph) classify(ref metav1.OwnerReference, n *node) Owner {
	o := Owner{Ref: ref}
	key, res, ok := g.resolve(ref, n.obj.Namespace)
	switch {
	case !ok:
		o.State = OwnerUnresolvable
		return o
	case res.namespaced && !n.res.namespaced:
		o.State = OwnerInvalid
		return o
	case g.absent.has(key):
		o.State = OwnerAbsent
		return o
	}
	owner := g.nodes[ref.UID]
	switch {
	case owner == nil:
		o.State = OwnerUnknown
	case !owner.virtual():
		if owner.key() == key {
			o.State, o.DeletingDependents = OwnerPresent, owner.obj.deletingDependents()
		} else {
			// The uid lives elsewhere, so whatever is at the referenced
			// coordinates is not this owner.
			o.State = OwnerAbsent
		}
	default:
		o.State = OwnerUnknown
		for _, v := range owner.verified {
			if v.key == key {
				o.State, o.DeletingDependents = OwnerPresent, v.deletingDependents
			}
		}
	}
	return o
}

// resolve maps an owner reference of an object in namespace ns to the
// coordinates it names; false when its kind is not served.
func (g *graph) resolve(ref metav1.OwnerReference, ns string) (ownerKey, *resource, bool) {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return ownerKey{}, nil, false
	}
	res := g.kinds[schema.GroupKind{Group: gv.Group, Kind: ref.Kind}]
	if res == nil {
		return ownerKey{}, nil, false
	}
	key := ownerKey{uid: ref.UID, group: gv.Group, kind: ref.Kind, name: ref.Name}
	if res.namespaced {
		key.namespace = ns
	}
	return key, res, true
}

// lookupTarget is where to GET the owner ref of an object in namespace ns.
func (g *graph) lookupTarget(ref metav1.OwnerReference, ns string) (ownerKey, *resource, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.resolve(ref, ns)
}

// recordLookup stores what a GET of key found. A verified absence is
// permanent; a presence is kept only while the owner is virtual and not
// already known to be gone (the GET may have raced with its deletion).
func (g *graph) recordLookup(key ownerKey, found, deletingDeps bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !found {
		g.absent.add(key)
		return
	}
	o := g.nodes[key.uid]
	if o == nil || !o.virtual() || g.absent.has(key) {
		return
	}
	for i, v := range o.verified {
		if v.key == key {
			o.verified[i].deletingDependents = deletingDeps
			return
		}
	}
	o.verified = append(o.verified, verifiedOwner{key: key, deletingDependents: deletingDeps})
}

// object returns an observed object's resource and metadata.
func (g *graph) object(uid types.UID) (*resource, *metav1.PartialObjectMetadata, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := g.nodes[uid]
	if n == nil || n.virtual() {
		return nil, nil, false
	}
	return n.res, n.obj.partial(uid), true
}

// size returns the number of observed and virtual nodes.
func (g *graph) size() (observed, virtual int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, n := range g.nodes {
		if n.virtual() {
			virtual++
		} else {
			observed++
		}
	}
	return observed, virtual
}

func appendDependents(q []types.UID, n *node) []types.UID {
	for d := range n.dependents {
		q = append(q, d.uid)
	}
	return q
}

func deletingDependents(obj *metav1.PartialObjectMetadata) bool {
	return obj != nil && obj.DeletionTimestamp != nil && hasString(obj.Finalizers, metav1.FinalizerDeleteDependents)
}

func hasOwnerUID(refs []metav1.OwnerReference, uid types.UID) bool {
	for _, r := range refs {
		if r.UID == uid {
			return true
		}
	}
	return false
}

func equalRefs(a, b []metav1.OwnerReference) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.UID != y.UID || x.APIVersion != y.APIVersion || x.Kind != y.Kind || x.Name != y.Name ||
			!equalBoolPtr(x.Controller, y.Controller) || !equalBoolPtr(x.BlockOwnerDeletion, y.BlockOwnerDeletion) {
			return false
		}
	}
	return true
}

func equalBoolPtr(a, b *bool) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// boundedSet is a set that forgets its oldest entries beyond a size.
type boundedSet struct {
	m    map[ownerKey]struct{}
	ring []ownerKey // insertion order, grown up to max
	max  int
	next int // oldest entry once the ring is full
}

func newBoundedSet(max int) *boundedSet {
	return &boundedSet{m: map[ownerKey]struct{}{}, max: max}
}

func (s *boundedSet) has(k ownerKey) bool { _, ok := s.m[k]; return ok }

func (s *boundedSet) add(k ownerKey) {
	if s.has(k) {
		return
	}
	if len(s.ring) < s.max {
		s.ring = append(s.ring, k)
	} else {
		delete(s.m, s.ring[s.next])
		s.ring[s.next] = k
		s.next = (s.next + 1) % len(s.ring)
	}
	s.m[k] = struct{}{}
}

// sharedMetaMax bounds the entries of a sharedMeta.
const sharedMetaMax = 4096

// sharedMeta hands out one copy of equal namespaces and owner reference
// lists. Shared lists are safe because a meta is never modified (it is
// replaced) and readers of the graph only read owner references.
type sharedMeta struct {
	strings map[string]string
	refs    map[string][]metav1.OwnerReference
}

// share replaces m's namespace and owner references by equal shared ones.
func (t *sharedMeta) share(m *meta) {
	if t.strings == nil || len(t.strings) >= sharedMetaMax || len(t.refs) >= sharedMetaMax {
		t.strings = make(map[string]string, 64)
		t.refs = make(map[string][]metav1.OwnerReference, 64)
	}
	if m.Namespace != "" {
		if s, ok := t.strings[m.Namespace]; ok {
			m.Namespace = s
		} else {
			t.strings[m.Namespace] = m.Namespace
		}
	}
	if len(m.OwnerReferences) == 0 {
		return
	}
	var b strings.Builder
	for _, r := range m.OwnerReferences {
		fmt.Fprintf(&b, "%s\x00%s\x00%s\x00%s\x00%s\x00%s\x00", r.APIVersion, r.Kind, r.Name, r.UID, boolKey(r.Controller), boolKey(r.BlockOwnerDeletion))
	}
	key := b.String()
	if refs, ok := t.refs[key]; ok {
		m.OwnerReferences = refs
		return
	}
	t.refs[key] = m.OwnerReferences
}

func boolKey(b *bool) string {
	switch {
	case b == nil:
		return "-"
	case *b:
		return "t"
	}
	return "f"
}
