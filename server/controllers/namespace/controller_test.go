package namespace

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/skiff-io/skiff/server/kubeclient/kubeclienttest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
	clienttesting "k8s.io/client-go/testing"
)

var allVerbs = metav1.Verbs{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

// served is what discovery reports: two namespaced resources, a
// subresource, a cluster-scoped one and one that cannot be listed.
var served = []*metav1.APIResourceList{
	{GroupVersion: "v1", APIResources: []metav1.APIResource{
		{Name: "configmaps", Namespaced: true, Kind: "ConfigMap", Verbs: allVerbs},
		{Name: "pods", Namespaced: true, Kind: "Pod", Verbs: allVerbs},
		{Name: "pods/status", Namespaced: true, Kind: "Pod", Verbs: metav1.Verbs{"get", "patch", "update"}},
		{Name: "bindings", Namespaced: true, Kind: "Binding", Verbs: metav1.Verbs{"create"}},
		{Name: "nodes", Namespaced: false, Kind: "Node", Verbs: allVerbs},
	}},
	{GroupVersion: "apps/v1", APIResources: []metav1.APIResource{
		{Name: "deployments", Namespaced: true, Kind: "Deployment", Verbs: allVerbs},
	}},
}

func object(apiVersion, kind, ns, name string, finalizers ...string) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: apiVersion, Kind: kind},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Finalizers: finalizers},
	}
}

type fixture struct {
	c         *Controller
	client    *fake.Clientset
	md        *metadatafake.FakeMetadataClient
	now       time.Time
	finalized []*corev1.Namespace
	collected []string // "group/resource ns" of every deletecollection
}

// newFixture builds the controller on fake clients. The fake metadata
// client's deletecollection behaves like the API: objects without
// finalizers go, the rest only get a deletionTimestamp.
func newFixture(t *testing.T, ns *corev1.Namespace, content ...runtime.Object) *fixture {
	t.Helper()
	scheme := metadatafake.NewTestScheme()
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	f := &fixture{client: fake.NewClientset(ns), md: metadatafake.NewSimpleMetadataClient(scheme, content...),
		now: deletedAt.Add(time.Minute)}
	f.md.PrependReactor("delete-collection", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		gvr, ns := a.GetResource(), a.GetNamespace()
		f.collected = append(f.collected, gvr.GroupResource().String()+" "+ns)
		// The fake registers its list kind under this group (see metadata/fake).
		obj, err := f.md.Tracker().List(gvr, schema.GroupVersionKind{Group: "fake-metadata-client-group", Version: "v1"}, ns)
		if err != nil {
			return true, nil, err
		}
		for _, it := range obj.(*metav1.List).Items {
			pm := it.Object.(*metav1.PartialObjectMetadata)
			if len(pm.Finalizers) == 0 {
				err = f.md.Tracker().Delete(gvr, ns, pm.Name)
			} else if pm.DeletionTimestamp == nil {
				ts := metav1.NewTime(f.now)
				pm.DeletionTimestamp = &ts
				err = f.md.Tracker().Update(gvr, pm, ns)
			}
			if err != nil {
				return true, nil, err
			}
		}
		return true, nil, nil
	})
	f.client.PrependReactor("create", "namespaces", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "finalize" {
			return false, nil, nil
		}
		ns := a.(clienttesting.CreateAction).GetObject().(*corev1.Namespace)
		f.finalized = append(f.finalized, ns.DeepCopy())
		return true, ns, nil
	})
	f.c = New(kubeclienttest.Fake{Clientset: f.client}, f.md)
	f.c.now = func() time.Time { return f.now }
	f.c.discover = func(context.Context) ([]*metav1.APIResourceList, error) { return served, nil }
	return f
}

// deletedAt is when the test namespaces were deleted; the fixture's
// clock starts a minute later.
var deletedAt = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func deleting(name string, finalizers ...corev1.FinalizerName) *corev1.Namespace {
	ts := metav1.NewTime(deletedAt)
	return &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: name, DeletionTimestamp: &ts},
		Spec:       corev1.NamespaceSpec{Finalizers: append([]corev1.FinalizerName{corev1.FinalizerKubernetes}, finalizers...)},
		Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating},
	}
}

func (f *fixture) status(t *testing.T, name string) corev1.NamespaceStatus {
	t.Helper()
	ns, err := f.client.CoreV1().Namespaces().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ns.Status
}

func condition(st corev1.NamespaceStatus, typ corev1.NamespaceConditionType) corev1.NamespaceCondition {
	if c := findCondition(st.Conditions, typ); c != nil {
		return *c
	}
	return corev1.NamespaceCondition{}
}

func TestReconcileEmptiesAndFinalizes(t *testing.T) {
	f := newFixture(t, deleting("x", "example.com/keep"),
		object("v1", "ConfigMap", "x", "a"),
		object("v1", "ConfigMap", "x", "b"),
		object("apps/v1", "Deployment", "x", "web"),
		object("v1", "ConfigMap", "other", "stays"),
	)
	res, err := f.c.Reconcile(context.Background(), "x")
	if err != nil || res != (Result{}) {
		t.Fatalf("Reconcile = %+v, %v; want done", res, err)
	}
	want := []string{"configmaps x", "deployments.apps x", "pods x"}
	if got := sortedCopy(f.collected); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("deletecollection on %v, want %v (namespaced, listable resources only)", got, want)
	}
	if len(f.finalized) != 1 {
		t.Fatalf("finalize called %d times, want once", len(f.finalized))
	}
	if fs := f.finalized[0].Spec.Finalizers; len(fs) != 1 || fs[0] != "example.com/keep" {
		t.Errorf("finalize sent spec.finalizers %v, want only the other finalizer kept", fs)
	}
	st := f.status(t, "x")
	if c := condition(st, corev1.NamespaceContentRemaining); c.Status != corev1.ConditionFalse || c.Reason != "ContentRemoved" {
		t.Errorf("ContentRemaining = %+v", c)
	}
	if _, err := f.md.Resource(configmaps).Namespace("other").Get(context.Background(), "stays", metav1.GetOptions{}); err != nil {
		t.Errorf("an object of another namespace was deleted: %v", err)
	}
}

func TestReconcileWaitsForFinalizers(t *testing.T) {
	f := newFixture(t, deleting("x"),
		object("v1", "ConfigMap", "x", "held", "example.com/x"),
		object("v1", "ConfigMap", "x", "plain"),
	)
	ctx := context.Background()
	res, err := f.c.Reconcile(ctx, "x")
	if err != nil || !res.Remaining {
		t.Fatalf("Reconcile = %+v, %v; want content remaining", res, err)
	}
	if len(f.finalized) != 0 {
		t.Fatalf("namespace finalized while an object holds a finalizer")
	}
	st := f.status(t, "x")
	if c := condition(st, corev1.NamespaceContentRemaining); c.Status != corev1.ConditionTrue ||
		c.Message != "Some resources are remaining: configmaps. has 1 resource instances" {
		t.Errorf("ContentRemaining = %+v", c)
	}
	if c := condition(st, corev1.NamespaceFinalizersRemaining); c.Status != corev1.ConditionTrue ||
		c.Message != "Some content in the namespace has finalizers remaining: example.com/x in 1 resource instances" {
		t.Errorf("FinalizersRemaining = %+v", c)
	}
	if c := condition(st, corev1.NamespaceDeletionContentFailure); c.Status != corev1.ConditionFalse {
		t.Errorf("ContentFailure = %+v; an object held by a finalizer is not a failure", c)
	}

	// The finalizer's owner lets go: the next pass finalizes.
	held, _ := f.md.Tracker().Get(configmaps, "x", "held")
	pm := held.(*metav1.PartialObjectMetadata)
	if err := f.md.Tracker().Delete(configmaps, "x", pm.Name); err != nil {
		t.Fatal(err)
	}
	if res, err := f.c.Reconcile(ctx, "x"); err != nil || res != (Result{}) {
		t.Fatalf("second Reconcile = %+v, %v; want done", res, err)
	}
	if len(f.finalized) != 1 {
		t.Fatalf("namespace not finalized once its content was gone")
	}
	if c := condition(f.status(t, "x"), corev1.NamespaceFinalizersRemaining); c.Status != corev1.ConditionFalse {
		t.Errorf("FinalizersRemaining after release = %+v", c)
	}
}

func TestReconcileHoldsFinalizeUntilSettled(t *testing.T) {
	f := newFixture(t, deleting("x"))
	f.now = deletedAt.Add(500 * time.Millisecond)
	res, err := f.c.Reconcile(context.Background(), "x")
	if err != nil || res.Remaining || res.After != time.Second {
		t.Fatalf("Reconcile = %+v, %v; want a retry after 1s", res, err)
	}
	if len(f.finalized) != 0 || len(f.collected) == 0 {
		t.Errorf("finalized=%d collected=%d: want content deleted but no finalize yet", len(f.finalized), len(f.collected))
	}
}

func TestReconcileUnexpectedContentIsAFailure(t *testing.T) {
	f := newFixture(t, deleting("x"), object("v1", "ConfigMap", "x", "stubborn"))
	// A deletecollection that deletes nothing (an object created behind it).
	f.md.PrependReactor("delete-collection", "*", func(clienttesting.Action) (bool, runtime.Object, error) { return true, nil, nil })
	_, err := f.c.Reconcile(context.Background(), "x")
	if err == nil || !strings.Contains(err.Error(), "unexpected items still remain in namespace: x for gvr: /v1, Resource=configmaps") {
		t.Fatalf("Reconcile error = %v", err)
	}
	if len(f.finalized) != 0 {
		t.Fatalf("finalized with content left")
	}
	if c := condition(f.status(t, "x"), corev1.NamespaceDeletionContentFailure); c.Status != corev1.ConditionTrue || c.Reason != "ContentDeletionFailed" {
		t.Errorf("ContentFailure = %+v", c)
	}
}

func TestReconcileDiscoveryFailure(t *testing.T) {
	f := newFixture(t, deleting("x"))
	f.c.discover = func(context.Context) ([]*metav1.APIResourceList, error) { return nil, errors.New("discovery down") }
	if _, err := f.c.Reconcile(context.Background(), "x"); err == nil {
		t.Fatalf("Reconcile succeeded without discovery")
	}
	if len(f.finalized) != 0 {
		t.Fatalf("finalized without knowing what the namespace holds")
	}
	if c := condition(f.status(t, "x"), corev1.NamespaceDeletionDiscoveryFailure); c.Status != corev1.ConditionTrue || c.Message != "discovery down" {
		t.Errorf("DiscoveryFailure = %+v", c)
	}
}

func TestReconcileIgnoresLiveAndFinalizedNamespaces(t *testing.T) {
	live := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "live"}, Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}}}
	done := deleting("done")
	done.Spec.Finalizers = []corev1.FinalizerName{"example.com/other"}
	for _, ns := range []*corev1.Namespace{live, done} {
		assertUntouched(t, newFixture(t, ns), ns.Name)
	}
	f := newFixture(t, deleting("x"))
	if res, err := f.c.Reconcile(context.Background(), "gone"); err != nil || res != (Result{}) {
		t.Errorf("missing namespace: %+v, %v", res, err)
	}
}

func assertUntouched(t *testing.T, f *fixture, name string) {
	t.Helper()
	res, err := f.c.Reconcile(context.Background(), name)
	if err != nil || res != (Result{}) || len(f.collected) != 0 || len(f.finalized) != 0 {
		t.Errorf("%s: Reconcile = %+v, %v, collected %v, finalized %d; want nothing done", name, res, err, f.collected, len(f.finalized))
	}
}

func sortedCopy(in []string) []string {
	out := append([]string(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}
