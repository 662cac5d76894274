package garbagecollector

import (
	"context"
	"github.com/skiff-io/skiff/server/metafeed"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"reflect"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/metadata/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/util/workqueue"
)

// These are control-loop tests: a graph fed by hand, a fake API, and
// sync called directly; what the collector asked of the API is checked.

func newTestCollector(t *testing.T, objs ...runtime.Object) (*Collector, *fake.FakeMetadataClient) {
	t.Helper()
	scheme := fake.NewTestScheme()
	for _, r := range []*resource{configMaps, volumes, deploys} {
		gv := r.gvr.GroupVersion()
		scheme.AddKnownTypeWithName(gv.WithKind(r.kind), &metav1.PartialObjectMetadata{})
		scheme.AddKnownTypeWithName(gv.WithKind(r.kind+"List"), &metav1.PartialObjectMetadataList{})
	}
	mc := fake.NewSimpleMetadataClient(scheme, objs...)
	// skiff's API answers a JSON patch whose test fails with 422 Invalid;
	// the fake answers with a plain error.
	react := clienttesting.ObjectReaction(mc.Tracker())
	mc.PrependReactor("patch", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		_, obj, err := react(a)
		if err != nil && !apierrors.IsNotFound(err) {
			err = &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: 422, Reason: metav1.StatusReasonInvalid, Message: err.Error()}}
		}
		return true, obj, err
	})
	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[types.UID]())
	t.Cleanup(q.ShutDown)
	return &Collector{meta: mc, workers: 1, queue: q, graph: testGraph()}, mc
}

// stored is an object as the fake API holds it.
func stored(res *resource, o *metav1.PartialObjectMetadata) *metav1.PartialObjectMetadata {
	c := o.DeepCopy()
	c.APIVersion, c.Kind = res.gvr.GroupVersion().String(), res.kind
	return c
}

// requests lists the API calls made, as "verb resource name".
func requests(mc *fake.FakeMetadataClient) []string {
	var out []string
	for _, a := range mc.Actions() {
		name := ""
		// Get, delete and patch actions all name their object.
		if a, ok := a.(interface{ GetName() string }); ok {
			name = a.GetName()
		}
		out = append(out, a.GetVerb()+" "+a.GetResource().Resource+" "+name)
	}
	return out
}

func expectRequests(t *testing.T, mc *fake.FakeMetadataClient, want ...string) {
	t.Helper()
	if got := requests(mc); !reflect.DeepEqual(got, want) {
		t.Fatalf("requests:\n got  %q\n want %q", got, want)
	}
}

func syncOK(t *testing.T, c *Collector, uid types.UID) {
	t.Helper()
	if err := c.sync(context.Background(), uid); err != nil {
		t.Fatalf("sync %s: %v", uid, err)
	}
}

func TestSyncLooksUpAnUnseenOwnerOnce(t *testing.T) {
	a := obj("", "a", "ua")
	b := obj("ns", "b", "ub", ownerRef(volumes, "a", "ua", false))
	b2 := obj("ns", "b2", "ub2", ownerRef(volumes, "a", "ua", false))
	// a exists, but the collector has not seen it yet.
	c, mc := newTestCollector(t, stored(volumes, a), stored(configMaps, b), stored(configMaps, b2))
	c.graph.observe(configMaps, b)
	c.graph.observe(configMaps, b2)

	syncOK(t, c, "ub")
	syncOK(t, c, "ub2")
	syncOK(t, c, "ub")
	expectRequests(t, mc, "get persistentvolumes a")
}

func TestSyncDeletesDependentsOfAMissingOwner(t *testing.T) {
	b := obj("ns", "b", "ub", ownerRef(volumes, "a", "ua", false))
	b2 := obj("ns", "b2", "ub2", ownerRef(volumes, "a", "ua", false))
	b.ResourceVersion = "42"
	c, mc := newTestCollector(t, stored(configMaps, b), stored(configMaps, b2))
	c.graph.observe(configMaps, b)
	c.graph.observe(configMaps, b2)

	syncOK(t, c, "ub")
	syncOK(t, c, "ub2")
	// One lookup for both dependents.
	expectRequests(t, mc, "get persistentvolumes a", "delete configmaps b", "delete configmaps b2")
	del := mc.Actions()[1].(clienttesting.DeleteAction).GetDeleteOptions()
	if p := del.Preconditions; p == nil || p.UID == nil || *p.UID != "ub" || p.ResourceVersion == nil || *p.ResourceVersion != "42" {
		t.Fatalf("delete without the uid and resourceVersion preconditions: %+v", del.Preconditions)
	}
	if del.PropagationPolicy == nil || *del.PropagationPolicy != metav1.DeletePropagationBackground {
		t.Fatalf("propagation %v", del.PropagationPolicy)
	}
}

func TestSyncDeletesDependentsOfADeletedOwner(t *testing.T) {
	a := obj("", "a", "ua")
	b := obj("ns", "b", "ub", ownerRef(volumes, "a", "ua", true))
	c, mc := newTestCollector(t, stored(configMaps, b))
	c.graph.observe(volumes, a)
	c.graph.observe(configMaps, b)
	syncOK(t, c, "ub")
	expectRequests(t, mc) // a is live: nothing to do

	c.graph.forget(a)
	syncOK(t, c, "ub")
	// Seen deleted through the watch: no lookup.
	expectRequests(t, mc, "delete configmaps b")
}

func TestSyncOrphansDependentsThenDropsTheFinalizer(t *testing.T) {
	a := deleting(obj("", "a", "ua"), "example.com/keep", orphanFinalizer)
	b := obj("ns", "b", "ub", ownerRef(configMaps, "other", "uother", false), ownerRef(volumes, "a", "ua", true))
	d := obj("ns2", "d", "ud", ownerRef(volumes, "a", "ua", false))
	c, mc := newTestCollector(t, stored(volumes, a), stored(configMaps, b), stored(configMaps, d))
	for _, o := range []*metav1.PartialObjectMetadata{b, d} {
		c.graph.observe(configMaps, o)
	}
	c.graph.observe(volumes, a)

	syncOK(t, c, "ua")
	expectRequests(t, mc, "patch configmaps b", "patch configmaps d", "patch persistentvolumes a")
	get := func(res *resource, ns, name string) *metav1.PartialObjectMetadata {
		t.Helper()
		o, err := c.client(res, ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	if refs := get(configMaps, "ns", "b").OwnerReferences; len(refs) != 1 || refs[0].UID != "uother" {
		t.Fatalf("b's references after orphaning: %+v", refs)
	}
	if refs := get(configMaps, "ns2", "d").OwnerReferences; len(refs) != 0 {
		t.Fatalf("d's references after orphaning: %+v", refs)
	}
	if f := get(volumes, "", "a").Finalizers; !reflect.DeepEqual(f, []string{"example.com/keep"}) {
		t.Fatalf("a's finalizers: %v", f)
	}
}

func TestSyncForegroundOwnerWaitsForBlockingDependents(t *testing.T) {
	a := deleting(obj("", "a", "ua"), fgFinalizer)
	b := obj("ns", "b", "ub", ownerRef(volumes, "a", "ua", true))
	c, mc := newTestCollector(t, stored(volumes, a), stored(configMaps, b))
	c.graph.observe(volumes, a)
	c.graph.observe(configMaps, b)

	syncOK(t, c, "ua")
	expectRequests(t, mc) // b blocks it
	syncOK(t, c, "ub")
	expectRequests(t, mc, "delete configmaps b")
	if p := mc.Actions()[0].(clienttesting.DeleteAction).GetDeleteOptions().PropagationPolicy; *p != metav1.DeletePropagationBackground {
		t.Fatalf("b, with no dependents, deleted with %s", *p)
	}

	c.graph.forget(b)
	syncOK(t, c, "ua")
	expectRequests(t, mc, "delete configmaps b", "patch persistentvolumes a")
}

func TestSyncLeavesObjectsThatChangedUnderneath(t *testing.T) {
	// The graph lags: b lost its reference to a already. The patch that
	// would drop the dangling reference fails its test, b is read again,
	// and nothing is left to do.
	live := obj("ns", "live", "ulive")
	b := obj("ns", "b", "ub", ownerRef(configMaps, "live", "ulive", false), ownerRef(volumes, "a", "ua", false))
	now := stored(configMaps, b)
	now.OwnerReferences = now.OwnerReferences[:1]
	c, mc := newTestCollector(t, now)
	c.graph.observe(configMaps, live)
	c.graph.observe(configMaps, b)
	c.graph.recordLookup(ownerKey{uid: "ua", kind: "PersistentVolume", name: "a"}, false, false)

	syncOK(t, c, "ub")
	expectRequests(t, mc, "patch configmaps b", "get configmaps b")
}

// A listing replaces the graph's picture: what it no longer holds is
// forgotten and the dependents of a vanished owner are queued; objects of
// ignored resources are left out; the first listing marks the collector
// synced.
func TestFeedReplace(t *testing.T) {
	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[types.UID]())
	t.Cleanup(q.ShutDown)
	c := &Collector{queue: q, graph: testGraph()}
	h := &feedHandler{c: c, byGVR: map[schema.GroupVersionResource]*resource{}, synced: make(chan struct{})}
	for _, r := range []*resource{configMaps, volumes, deploys} {
		h.byGVR[r.gvr] = r
	}
	owner := obj("", "pv", "u-owner")
	dep := obj("ns", "cm", "u-dep", ownerRef(volumes, "pv", "u-owner", false))
	events := schema.GroupVersionResource{Version: "v1", Resource: "events"}
	h.Replace([]metafeed.Object{
		{Resource: volumes.gvr, Meta: owner},
		{Resource: configMaps.gvr, Meta: dep},
		{Resource: events, Meta: obj("ns", "e", "u-event")},
	})
	select {
	case <-h.synced:
	default:
		t.Fatal("first listing did not mark the collector synced")
	}
	if _, ok := c.graph.item("u-event"); ok {
		t.Fatal("an object of an unwatched resource entered the graph")
	}
	for q.Len() > 0 {
		uid, _ := q.Get()
		q.Done(uid)
		q.Forget(uid)
	}
	// The owner vanished while the feed was away.
	h.Replace([]metafeed.Object{{Resource: configMaps.gvr, Meta: dep}})
	if _, ok := c.graph.item("u-owner"); ok {
		t.Fatal("owner missing from the listing is still in the graph")
	}
	queued := map[types.UID]bool{}
	for q.Len() > 0 {
		uid, _ := q.Get()
		queued[uid] = true
		q.Done(uid)
	}
	if !queued["u-dep"] {
		t.Fatalf("dependent of the vanished owner not queued: %v", queued)
	}
	// Upsert and Delete go to the graph too.
	h.Upsert(metafeed.Object{Resource: volumes.gvr, Meta: owner})
	if _, ok := c.graph.item("u-owner"); !ok {
		t.Fatal("upsert not observed")
	}
	h.Delete(metafeed.Object{Resource: volumes.gvr, Meta: owner})
	if _, ok := c.graph.item("u-owner"); ok {
		t.Fatal("delete not forgotten")
	}
}
