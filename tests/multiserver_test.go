package tests

import (
	"context"
	"crypto/tls"
	"net/http"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestTwoServersOneEtcd: writes made through one server are never hidden
// by what another server remembers of the object.
func TestTwoServersOneEtcd(t *testing.T) {
	needIntegration(t, "etcd")
	e := startEtcd(t)
	a := startServer(t, withArgs("--datastore-endpoint", e.endpoint, "--datastore-insecure", "--token", clusterSecret))
	b := startServer(t, withArgs("--datastore-endpoint", e.endpoint, "--datastore-insecure", "--token", clusterSecret))
	ctx := context.Background()
	ca, cb := a.client().CoreV1().ConfigMaps("default"), b.client().CoreV1().ConfigMaps("default")

	first, err := ca.Create(ctx, cmWith("shared", "a"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	viaB, err := cb.Get(ctx, "shared", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	viaB.Data["v"] = "b"
	if _, err := cb.Update(ctx, viaB, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A patch through A applies to B's version, not to A's memory of it.
	patched, err := ca.Patch(ctx, "shared", types.MergePatchType, []byte(`{"data":{"w":"1"}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if patched.Data["v"] != "b" || patched.Data["w"] != "1" {
		t.Fatalf("patch through A lost B's write: %v", patched.Data)
	}
	// An update through A naming the first revision is a conflict.
	first.Data["v"] = "stale"
	if _, err := ca.Update(ctx, first, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("update from a stale revision: %v, want 409 Conflict", err)
	}
	// B writes again, so A's memory of the object is stale; an
	// unconditional update through A still succeeds on the current version.
	if _, err := cb.Patch(ctx, "shared", types.MergePatchType, []byte(`{"data":{"x":"from-b"}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	patched.ResourceVersion = ""
	patched.Data["v"] = "c"
	if _, err := ca.Update(ctx, patched, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("unconditional update: %v", err)
	}
	got, _ := cb.Get(ctx, "shared", metav1.GetOptions{})
	if got.Data["v"] != "c" || got.Data["w"] != "1" {
		t.Fatalf("final state seen through B: %v", got.Data)
	}
}

// TestTokensAcrossServers: a service account token issued by one server is
// accepted by another server on the same datastore.
func TestTokensAcrossServers(t *testing.T) {
	needIntegration(t, "etcd", "kubectl")
	e := startEtcd(t)
	a := startServer(t, withArgs("--datastore-endpoint", e.endpoint, "--datastore-insecure", "--token", clusterSecret))
	b := startServer(t, withArgs("--datastore-endpoint", e.endpoint, "--datastore-insecure", "--token", clusterSecret))
	a.mustKubectl("create", "namespace", "tok")
	var token string
	eventually(t, 10*time.Second, "a token from server A", func() bool {
		out, err := a.kubectl("create", "token", "default", "-n", "tok")
		token = strings.TrimSpace(out)
		return err == nil
	})
	for _, s := range []*server{a, b} {
		req, _ := http.NewRequest("GET", s.url()+"/api/v1/namespaces/tok/pods", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		// Authenticated (no RBAC yet, so refused): 403, not 401.
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("server %s: token from A got %d, want 403", s.url(), resp.StatusCode)
		}
	}
}
