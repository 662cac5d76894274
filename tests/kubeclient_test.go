package tests

import (
	"context"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/skiff-io/skiff/server/kubeclient"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/listers"
	"k8s.io/client-go/tools/cache"
)

// TestKubeClient: the controllers' narrow client against a real server —
// discovery agrees with client-go's, typed calls round-trip, an informer
// built on it sees changes, and errors keep their API status.
func TestKubeClient(t *testing.T) {
	needIntegration(t)
	s := startServer(t)
	cs, err := kubeclient.NewForConfig(s.restConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	ours, err := cs.PreferredResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := discovery.ServerPreferredResources(s.client().Discovery())
	if err != nil {
		t.Fatal(err)
	}
	if a, b := resourceNames(ours), resourceNames(theirs); !slices.Equal(a, b) {
		t.Fatalf("discovery differs from client-go's:\n ours   %v\n theirs %v", a, b)
	}

	cms := cs.ConfigMaps("default")
	inf := kubeclient.NewInformer(cms, &corev1.ConfigMap{}, nil, nil)
	go inf.RunWithContext(ctx)
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		t.Fatal("informer did not sync")
	}
	lister := listers.NewNamespaced(listers.New[*corev1.ConfigMap](inf.GetIndexer(), corev1.Resource("configmaps")), "default")

	cm, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kc"}, Data: map[string]string{"a": "1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["a"] = "2"
	if cm, err = cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil || cm.Data["a"] != "2" {
		t.Fatalf("update: %v %v", cm.Data, err)
	}
	if cm, err = cms.Patch(ctx, "kc", types.MergePatchType, []byte(`{"data":{"b":"3"}}`), metav1.PatchOptions{}); err != nil || cm.Data["b"] != "3" {
		t.Fatalf("patch: %v %v", cm.Data, err)
	}
	eventually(t, 10*time.Second, "informer sees the patch", func() bool {
		got, err := lister.Get("kc")
		return err == nil && got.Data["b"] == "3" && got.Data["a"] == "2"
	})
	stale := cm.DeepCopy()
	stale.ResourceVersion = "1"
	if _, err := cms.Update(ctx, stale, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("stale update: want 409 Conflict, got %v", err)
	}
	if err := cms.Delete(ctx, "kc", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Get(ctx, "kc", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("get after delete: want 404, got %v", err)
	}
	eventually(t, 10*time.Second, "informer sees the delete", func() bool {
		_, err := lister.Get("kc")
		return apierrors.IsNotFound(err)
	})

	// Cluster-scoped, and the finalize subresource.
	ns, err := cs.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kc-ns"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ns.Spec.Finalizers = nil
	if ns, err = cs.Namespaces().Finalize(ctx, ns, metav1.UpdateOptions{}); err != nil || len(ns.Spec.Finalizers) != 0 {
		t.Fatalf("finalize: %v %v", ns.Spec.Finalizers, err)
	}
}

func resourceNames(lists []*metav1.APIResourceList) []string {
	var out []string
	for _, l := range lists {
		for _, r := range l.APIResources {
			out = append(out, l.GroupVersion+"/"+r.Name)
		}
	}
	sort.Strings(out)
	return out
}
