package tests

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestKubernetesService: the default/kubernetes Service points at the API
// server and comes back when deleted.
func TestKubernetesService(t *testing.T) {
	needIntegration(t, "kubectl")
	s := startServer(t)
	c := s.client()
	ctx := context.Background()
	eventually(t, 10*time.Second, "kubernetes Service", func() bool {
		_, err := c.CoreV1().Endpoints("default").Get(ctx, "kubernetes", metav1.GetOptions{})
		return err == nil
	})
	svc, err := c.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.ClusterIP != "10.43.0.1" || len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 443 || svc.Spec.Ports[0].TargetPort.IntValue() != s.port {
		t.Fatalf("kubernetes Service: %+v", svc.Spec)
	}
	ep, _ := c.CoreV1().Endpoints("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if len(ep.Subsets) != 1 || ep.Subsets[0].Ports[0].Port != int32(s.port) {
		t.Fatalf("kubernetes Endpoints: %+v", ep.Subsets)
	}
	if _, err := c.DiscoveryV1().EndpointSlices("default").Get(ctx, "kubernetes", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	s.mustKubectl("delete", "service", "kubernetes")
	eventually(t, 10*time.Second, "kubernetes Service to be recreated", func() bool {
		svc, err := c.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
		return err == nil && svc.Spec.ClusterIP == "10.43.0.1"
	})
}

// TestLeaderElection: two servers on one etcd; only the Lease holder runs
// the controllers, and when it dies the other takes over within the lease
// duration.
func TestLeaderElection(t *testing.T) {
	needIntegration(t, "etcd", "kubectl")
	e := startEtcd(t)
	args := withArgs("--datastore-endpoint", e.endpoint, "--datastore-insecure", "--token", clusterSecret,
		"--leader-elect-lease-duration", "4s", "--leader-elect-renew-deadline", "3s", "--leader-elect-retry-period", "500ms")
	a := startServer(t, args)
	b := startServer(t, args)
	ctx := context.Background()
	holder := func(s *server) string {
		l, err := s.client().CoordinationV1().Leases("kube-system").Get(ctx, "skiff-controllers", metav1.GetOptions{})
		if err != nil || l.Spec.HolderIdentity == nil {
			return ""
		}
		return *l.Spec.HolderIdentity
	}
	// The Lease is written before the winner logs that it leads: wait for
	// both.
	eventually(t, 15*time.Second, "a leader", func() bool {
		return holder(a) != "" && (strings.Contains(a.log.String(), "became leader") || strings.Contains(b.log.String(), "became leader"))
	})
	first := holder(a)
	leader, other := a, b
	if !strings.Contains(a.log.String(), "became leader") {
		leader, other = b, a
	}
	if strings.Contains(other.log.String(), "became leader") {
		t.Fatalf("both servers lead:\nA:\n%s\nB:\n%s", a.log.String(), b.log.String())
	}
	// A namespace deletion started under the first leader, held by a
	// finalizer so that it cannot finish before the leader dies.
	lc := leader.client()
	if _, err := lc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "handover"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	held := cmWith("held", "1")
	held.Finalizers = []string{"example.com/hold"}
	if _, err := lc.CoreV1().ConfigMaps("handover").Create(ctx, held, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := lc.CoreV1().ConfigMaps("handover").Create(ctx, cmWith("free", "1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := lc.CoreV1().Namespaces().Delete(ctx, "handover", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the first leader to start emptying the namespace", func() bool {
		_, err := lc.CoreV1().ConfigMaps("handover").Get(ctx, "free", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})

	leader.kill()
	start := time.Now()
	eventually(t, 15*time.Second, "the other server to take over", func() bool {
		h := holder(other)
		return h != "" && h != first
	})
	t.Logf("takeover after %s", time.Since(start).Round(100*time.Millisecond))
	eventually(t, 5*time.Second, "the new leader to start its controllers", func() bool {
		return strings.Contains(other.log.String(), "became leader")
	})
	// The new leader's controllers act: the namespace deletion finishes once
	// the finalizer is removed, and the kubernetes Service is recreated.
	c := other.client()
	if _, err := c.CoreV1().ConfigMaps("handover").Patch(ctx, "held", types.JSONPatchType, []byte(`[{"op":"remove","path":"/metadata/finalizers"}]`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the namespace deletion to complete under the new leader", func() bool {
		_, err := c.CoreV1().Namespaces().Get(ctx, "handover", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	if err := c.CoreV1().Services("default").Delete(ctx, "kubernetes", metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "controllers of the new leader to act", func() bool {
		_, err := c.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
		return err == nil
	})
}

// TestNoLeaseWritesOnSQLite: with the embedded store there is one server
// and no election traffic.
func TestNoLeaseWritesOnSQLite(t *testing.T) {
	needIntegration(t)
	s := startServer(t)
	// Controllers run only after an election when there is one, so once
	// they have acted (the default namespace's service account exists) a
	// Lease would exist too.
	eventually(t, 30*time.Second, "the controllers to create the default service account", func() bool {
		_, err := s.client().CoreV1().ServiceAccounts("default").Get(context.Background(), "default", metav1.GetOptions{})
		return err == nil
	})
	_, err := s.client().CoordinationV1().Leases("kube-system").Get(context.Background(), "skiff-controllers", metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("a leader-election Lease exists on SQLite: %v", err)
	}
}
