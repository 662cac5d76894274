package replicaset

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skiff-io/skiff/server/kubeclient/kubeclienttest"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	k8stesting "k8s.io/client-go/testing"
)

// newTestController is a Controller on a fake clientset whose informer
// caches the test fills by hand (they lag the fake as a real one lags
// the API).
func newTestController(t *testing.T, objs ...runtime.Object) (*Controller, kubeclienttest.Fake) {
	f := kubeclienttest.New(objs...)
	var n atomic.Int32
	f.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		if p.Name == "" {
			p.Name = fmt.Sprintf("%s%d", p.GenerateName, n.Add(1))
			p.UID = types.UID("uid-" + p.Name)
		}
		return false, nil, nil
	})
	c := New(f, Options{Now: func() time.Time { return t0 }})
	for _, o := range objs {
		if rs, ok := o.(*appsv1.ReplicaSet); ok {
			_ = c.rsInformer.GetIndexer().Add(rs)
		}
	}
	return c, f
}

func listPods(t *testing.T, f kubeclienttest.Fake) []corev1.Pod {
	t.Helper()
	l, err := f.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}

// TestSyncExpectations: a sync creates the missing pods once; while the
// pod informer has not shown them, another sync creates nothing more.
func TestSyncExpectations(t *testing.T) {
	ctx := context.Background()
	rs := testRS(3)
	c, f := newTestController(t, rs)
	if _, err := c.Sync(ctx, "default/web"); err != nil {
		t.Fatal(err)
	}
	pods := listPods(t, f)
	if len(pods) != 3 {
		t.Fatalf("%d pods created, want 3", len(pods))
	}
	for _, p := range pods {
		ref := metav1.GetControllerOf(&p)
		if ref == nil || ref.UID != rs.UID || ref.Kind != "ReplicaSet" || ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion ||
			p.Labels["tier"] != "fe" {
			t.Fatalf("pod %s: owners %+v labels %v", p.Name, p.OwnerReferences, p.Labels)
		}
	}
	// The informer still shows no pods.
	if _, err := c.Sync(ctx, "default/web"); err != nil {
		t.Fatal(err)
	}
	if n := len(listPods(t, f)); n != 3 {
		t.Fatalf("a lagging informer made %d pods, want 3", n)
	}
	// The informer catches up with two of them: still waiting.
	for i := range pods[:2] {
		_ = c.podInformer.GetIndexer().Add(&pods[i])
		c.podChanged(nil, &pods[i])
	}
	if _, err := c.Sync(ctx, "default/web"); err != nil {
		t.Fatal(err)
	}
	if n := len(listPods(t, f)); n != 3 {
		t.Fatalf("%d pods, want 3", n)
	}
	_ = c.podInformer.GetIndexer().Add(&pods[2])
	c.podChanged(nil, &pods[2])
	if _, err := c.Sync(ctx, "default/web"); err != nil {
		t.Fatal(err)
	}
	got, err := f.AppsV1().ReplicaSets("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.Replicas != 3 || got.Status.FullyLabeledReplicas != 3 || got.Status.ObservedGeneration != 3 {
		t.Fatalf("status %+v", got.Status)
	}

	// Scaled down to 1: two pods go, and no more until they are seen gone.
	one := int32(1)
	got.Spec.Replicas = &one
	_ = c.rsInformer.GetIndexer().Update(got)
	if _, err := c.Sync(ctx, "default/web"); err != nil {
		t.Fatal(err)
	}
	if n := len(listPods(t, f)); n != 1 {
		t.Fatalf("%d pods after scaling to 1", n)
	}
	if c.expectations.Satisfied("default/web", t0) {
		t.Fatal("deletions not yet seen: expectations must hold")
	}
}
