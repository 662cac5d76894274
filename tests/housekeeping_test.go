package tests

import (
	"context"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
	args := withArgs("--datastore-endpoint", e.endpoint,
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
	eventually(t, 15*time.Second, "a leader", func() bool { return holder(a) != "" })
	first := holder(a)
	leader, other := a, b
	if !strings.Contains(a.log.String(), "became leader") {
		leader, other = b, a
	}
	if strings.Contains(other.log.String(), "became leader") {
		t.Fatalf("both servers lead:\nA:\n%s\nB:\n%s", a.log.String(), b.log.String())
	}
	leader.kill()
	start := time.Now()
	eventually(t, 15*time.Second, "the other server to take over", func() bool {
		h := holder(other)
		return h != "" && h != first
	})
	t.Logf("takeover after %s", time.Since(start).Round(100*time.Millisecond))
	if !strings.Contains(other.log.String(), "became leader") {
		t.Fatalf("new leader did not start controllers:\n%s", other.log.String())
	}
	// The new leader's controllers act: the kubernetes Service is recreated.
	c := other.client()
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
	time.Sleep(2 * time.Second)
	_, err := s.client().CoordinationV1().Leases("kube-system").Get(context.Background(), "skiff-controllers", metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("a leader-election Lease exists on SQLite: %v", err)
	}
}
