package daemonset

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skiff-io/skiff/server/kubeclient/kubeclienttest"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"
)

// TestControllerLoop runs the controller on a fake clientset: it makes a
// revision, a pod per node, and writes the status.
func TestControllerLoop(t *testing.T) {
	// The fake clientset's watch does not stream initial events.
	t.Setenv("KUBE_FEATURE_WatchListClient", "false")
	ds := daemonSet()
	ds.Status = appsv1.DaemonSetStatus{}
	fake := kubeclienttest.New(ds, node("a", nil), node("b", nil))
	// The fake does not generate names.
	var n atomic.Int64
	fake.PrependReactor("create", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if p := a.(clienttesting.CreateAction).GetObject().(*corev1.Pod); p.Name == "" {
			p.Name = fmt.Sprintf("%s%d", p.GenerateName, n.Add(1))
		}
		return false, nil, nil
	})
	c := New(fake, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = c.Run(ctx) }()
	defer func() { cancel(); wg.Wait() }()

	deadline := time.Now().Add(10 * time.Second)
	for {
		pods, _ := fake.CoreV1().Pods("ns").List(ctx, metav1.ListOptions{})
		revs, _ := fake.AppsV1().ControllerRevisions("ns").List(ctx, metav1.ListOptions{})
		got, _ := fake.AppsV1().DaemonSets("ns").Get(ctx, "ds", metav1.GetOptions{})
		if len(pods.Items) == 2 && len(revs.Items) == 1 && got.Status.DesiredNumberScheduled == 2 {
			nodes := map[string]bool{}
			for i := range pods.Items {
				nodes[TargetNode(&pods.Items[i])] = true
				if pods.Items[i].Labels["controller-revision-hash"] != revs.Items[0].Labels["controller-revision-hash"] {
					t.Fatalf("pod hash %v, revision %v", pods.Items[i].Labels, revs.Items[0].Labels)
				}
			}
			if !nodes["a"] || !nodes["b"] {
				t.Fatalf("pods on %v", nodes)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pods %d, revisions %d, status %+v", len(pods.Items), len(revs.Items), got.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
