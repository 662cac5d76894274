package nodelifecycle

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skiff-io/skiff/server/kubeclient/kubeclienttest"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestControllerSilentNode drives the loop on a fake API with a fake
// clock: a node whose Lease expired turns Unknown and tainted, its
// untolerating pod is evicted, its tolerating pod marked not ready, and
// renewing the Lease puts everything back.
func TestControllerSilentNode(t *testing.T) {
	// The fake clientset's watch sends no initial-events bookmark.
	t.Setenv("KUBE_FEATURE_WatchListClient", "false")
	base := time.Now().Truncate(time.Second)
	var offset atomic.Int64
	now := func() time.Time { return base.Add(time.Duration(offset.Load())) }
	old := metav1.NewTime(base.Add(-time.Hour))
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "n1", CreationTimestamp: old},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue,
			Reason: "KubeletReady", LastHeartbeatTime: old}}},
	}
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "n1", Namespace: corev1.NamespaceNodeLease},
		Spec: coordinationv1.LeaseSpec{RenewTime: &metav1.MicroTime{Time: old.Time}, LeaseDurationSeconds: ptr.To[int32](40)}}
	ready := []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	doomed := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "doomed", Namespace: "default", UID: "u1"},
		Spec: corev1.PodSpec{NodeName: "n1"}, Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: ready}}
	patient := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "patient", Namespace: "default", UID: "u2"},
		Spec:   corev1.PodSpec{NodeName: "n1", Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: ready}}
	client := kubeclienttest.New(node, lease, doomed, patient)
	c := New(client, Options{Now: now})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()

	// Within the grace period after the controller started, nothing
	// happens even though the Lease is an hour old.
	eventually(t, "informers to fill", func() bool {
		_, ok, _ := c.nodes.GetIndexer().GetByKey("n1")
		return ok && c.pods.HasSynced() && c.leases.HasSynced()
	})
	if _, err := c.Sync(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if n, _ := client.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{}); ReadyCondition(&n.Status).Status != corev1.ConditionTrue {
		t.Fatal("node judged before a full grace period passed since start")
	}

	offset.Store(int64(time.Minute))
	eventually(t, "node Unknown, tainted, doomed evicted, patient not ready", func() bool {
		if _, err := c.Sync(ctx, "n1"); err != nil {
			t.Log(err)
		}
		n, err := client.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
		if err != nil {
			return false
		}
		_, changed := Taints(n, now())
		_, errDoomed := client.CoreV1().Pods("default").Get(ctx, "doomed", metav1.GetOptions{})
		p, _ := client.CoreV1().Pods("default").Get(ctx, "patient", metav1.GetOptions{})
		return ReadyCondition(&n.Status).Status == corev1.ConditionUnknown && len(n.Spec.Taints) == 2 && !changed &&
			apierrors.IsNotFound(errDoomed) && p != nil && podReady(p).Status == corev1.ConditionFalse
	})

	// The node is back: conditions, taints and the pod's readiness return.
	l, _ := client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, "n1", metav1.GetOptions{})
	offset.Store(int64(2 * time.Minute))
	l.Spec.RenewTime = &metav1.MicroTime{Time: now()}
	if _, err := client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Update(ctx, l, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "node Ready again, untainted, patient ready", func() bool {
		if _, err := c.Sync(ctx, "n1"); err != nil {
			t.Log(err)
		}
		n, _ := client.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
		p, _ := client.CoreV1().Pods("default").Get(ctx, "patient", metav1.GetOptions{})
		r := ReadyCondition(&n.Status)
		return r.Status == corev1.ConditionTrue && r.Reason == "KubeletReady" && len(n.Spec.Taints) == 0 &&
			n.Annotations[StashAnnotation] == "" && podReady(p).Status == corev1.ConditionTrue
	})
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}
