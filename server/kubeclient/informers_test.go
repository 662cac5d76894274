package kubeclient_test

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/skiff-io/skiff/server/kubeclient"
	"github.com/skiff-io/skiff/server/kubeclient/kubeclienttest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

// TestInformersShareOneCache: two readers of pods get one informer, one
// cache without managedFields, the indexes both asked for, and the informer
// runs once however many times it is started.
func TestInformersShareOneCache(t *testing.T) {
	// The fake clientset cannot stream a watch-list; plain list and watch.
	t.Setenv("KUBE_FEATURE_WatchListClient", "false")
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u1",
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs",
				UID: "rs-uid", Controller: func() *bool { b := true; return &b }()}}},
		Spec: corev1.PodSpec{NodeName: "n1"},
	}
	client := kubeclienttest.New(pod)
	f := kubeclient.NewInformers(client)
	a, b := f.Pods(), f.Pods()
	if a != b {
		t.Fatal("two informers of pods")
	}
	kubeclient.AddIndexers(a, cache.Indexers{kubeclient.IndexController: kubeclient.ControllerIndexFunc})
	kubeclient.AddIndexers(b, cache.Indexers{kubeclient.IndexController: kubeclient.ControllerIndexFunc,
		kubeclient.IndexNodeName: kubeclient.NodeNameIndexFunc})

	// Indexes belong to one informer: pods' do not leak to services'.
	if _, ok := f.Services().GetIndexer().GetIndexers()[kubeclient.IndexNodeName]; ok {
		t.Fatal("an index added to pods shows up on services")
	}

	var adds [2]int
	var mu sync.Mutex
	for i, inf := range []cache.SharedIndexInformer{a, b} {
		_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: func(any) {
			mu.Lock()
			adds[i]++
			mu.Unlock()
		}})
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	if !f.Start(ctx, &wg, a) || !f.Start(ctx, &wg, b, f.Nodes()) {
		t.Fatal("caches did not sync")
	}
	for _, idx := range []struct{ name, value string }{{cache.NamespaceIndex, "ns"}, {kubeclient.IndexController, "rs-uid"}, {kubeclient.IndexNodeName, "n1"}} {
		objs, err := a.GetIndexer().ByIndex(idx.name, idx.value)
		if err != nil || len(objs) != 1 {
			t.Fatalf("index %s=%s: %d objects, %v", idx.name, idx.value, len(objs), err)
		}
		if p := objs[0].(*corev1.Pod); p.ManagedFields != nil {
			t.Fatalf("cached pod keeps managedFields: %+v", p.ManagedFields)
		}
	}
	cancel()
	wg.Wait() // every informer started returns once ctx ends
	mu.Lock()
	defer mu.Unlock()
	if adds != [2]int{1, 1} {
		t.Fatalf("handlers saw %v adds, want one each", adds)
	}
}

// TestPodInformerTyped: the pod informer keeps cachedPods, and its
// readers (indexer, index functions, event handlers, tombstones) see
// *corev1.Pod only.
func TestPodInformerTyped(t *testing.T) {
	t.Setenv("KUBE_FEATURE_WatchListClient", "false")
	p := testPod(1)
	p.Namespace, p.UID = "ns", "u1"
	client := kubeclienttest.New(p)
	f := kubeclient.NewInformers(client)
	inf := f.Pods()
	seen := make(chan string, 16)
	note := func(what string, obj any) {
		if _, ok := obj.(*corev1.Pod); !ok {
			t.Errorf("%s handed %T", what, obj)
		}
		seen <- what
	}
	kubeclient.AddIndexers(inf, cache.Indexers{
		kubeclient.IndexController: kubeclient.ControllerIndexFunc, kubeclient.IndexNodeName: kubeclient.NodeNameIndexFunc,
		"image": func(obj any) ([]string, error) {
			p, ok := obj.(*corev1.Pod)
			if !ok {
				t.Errorf("index function handed %T", obj)
				return nil, nil
			}
			return []string{p.Spec.Containers[0].Image}, nil
		}})
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { note("add", obj) },
		UpdateFunc: func(old, obj any) { note("update old", old); note("update", obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			note("delete", obj)
		},
	})
	ctx := startInformers(t, f, inf)
	inner := kubeclient.CachedPodStore(inf).List()
	if len(inner) != 1 {
		t.Fatalf("cache holds %d objects", len(inner))
	}
	if _, ok := inner[0].(*corev1.Pod); ok {
		t.Fatalf("cache holds %T", inner[0])
	}
	idx := inf.GetIndexer()
	check := func(what string, objs []any, err error) {
		t.Helper()
		if err != nil || len(objs) != 1 {
			t.Fatalf("%s: %d objects, %v", what, len(objs), err)
		}
		if got, ok := objs[0].(*corev1.Pod); !ok || got.Name != p.Name || got.Spec.NodeName != "node-1" {
			t.Fatalf("%s: %T %+v", what, objs[0], objs[0])
		}
	}
	for _, ix := range []struct{ name, value string }{{cache.NamespaceIndex, "ns"}, {kubeclient.IndexController, "rs"},
		{kubeclient.IndexNodeName, "node-1"}, {"image", "registry.example/web:v1"}} {
		objs, err := idx.ByIndex(ix.name, ix.value)
		check(ix.name, objs, err)
	}
	check("list", idx.List(), nil)
	check("store list", inf.GetStore().List(), nil)
	objs, err := idx.Index("image", p)
	check("index", objs, err)
	obj, ok, err := idx.GetByKey("ns/" + p.Name)
	check("get by key", []any{obj}, err)
	obj2, _, _ := idx.Get(p)
	if !ok || obj2 != obj {
		t.Error("two reads of one pod gave two pods")
	}

	// An indexer write keeps the cache's form and leaves the pod given.
	q := testPod(2)
	q.Namespace = "ns"
	if err := idx.Add(q); err != nil {
		t.Fatal(err)
	}
	if q.Spec.Containers[0].Env == nil {
		t.Error("Add stripped the caller's pod")
	}
	if got, _, _ := idx.GetByKey("ns/" + q.Name); got.(*corev1.Pod).Spec.Containers[0].Env == nil {
		t.Error("Add lost a field")
	}
	_ = idx.Delete(q)

	up := p.DeepCopy()
	up.Spec.NodeName = "node-2"
	if _, err := client.Pods("ns").Update(ctx, up, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := client.Pods("ns").Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// A tombstone's object is handed over typed too.
	kubeclient.PodHandler(cache.ResourceEventHandlerFuncs{DeleteFunc: func(obj any) { note("delete", obj.(cache.DeletedFinalStateUnknown).Obj) }}).
		OnDelete(cache.DeletedFinalStateUnknown{Key: "ns/x", Obj: inner[0]})
	var got []string
	for len(got) < 5 {
		select {
		case what := <-seen:
			got = append(got, what)
		case <-time.After(10 * time.Second):
			t.Fatalf("handlers saw only %v", got)
		}
	}
	if objs, _ := idx.ByIndex(kubeclient.IndexNodeName, "node-1"); len(objs) != 0 {
		t.Errorf("node index keeps a deleted pod: %d", len(objs))
	}
}

// testPod is a pod with fields StripPod drops and fields it keeps.
func testPod(i int) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("web-%d", i), Namespace: "shop",
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web", UID: "rs", Controller: ptr.To(true)}}},
		Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "web", Image: "registry.example/web:v1",
			Env: []corev1.EnvVar{{Name: "A", Value: "b"}}}}},
	}
}

// TestPodsWhere: PodsWhere hands out typed pods, only those its filter
// accepts, and builds no other.
func TestPodsWhere(t *testing.T) {
	t.Setenv("KUBE_FEATURE_WatchListClient", "false")
	var pods []kruntime.Object
	for i := range 3 {
		p := testPod(i)
		p.UID = types.UID(fmt.Sprint("u", i))
		p.Labels = map[string]string{"app": "web"}
		if i == 2 {
			p.Labels["app"] = "db"
		}
		pods = append(pods, p)
	}
	other := testPod(9)
	other.Namespace, other.Labels = "elsewhere", map[string]string{"app": "web"}
	client := kubeclienttest.New(append(pods, other)...)
	f := kubeclient.NewInformers(client)
	inf := f.Pods()
	startInformers(t, f, inf)
	web := func(m metav1.Object) bool { return m.GetLabels()["app"] == "web" }
	got := kubeclient.PodsWhere(inf, cache.NamespaceIndex, "shop", web)
	var names []string
	for _, p := range got {
		names = append(names, p.Name)
	}
	sort.Strings(names)
	if fmt.Sprint(names) != "[web-0 web-1]" {
		t.Fatalf("PodsWhere gave %v, want [web-0 web-1]", names)
	}
	if !kubeclient.PodBuilt(inf, "shop/web-0") {
		t.Fatal("the pod handed out is not the cached pod's built one")
	}
	if kubeclient.PodBuilt(inf, "shop/web-2") {
		t.Fatal("a pod the filter rejected was built")
	}
	runtime.KeepAlive(got)
}

// startInformers starts infs through f until the test ends and waits for
// their caches. The context it returns ends with the test.
func startInformers(t *testing.T, f *kubeclient.Informers, infs ...cache.SharedIndexInformer) context.Context {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	if !f.Start(ctx, &wg, infs...) {
		t.Fatal("cache did not sync")
	}
	return ctx
}
