package kubeclient_test

import (
	"context"
	"sync"
	"testing"

	"github.com/skiff-io/skiff/server/kubeclient"
	"github.com/skiff-io/skiff/server/kubeclient/kubeclienttest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
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
