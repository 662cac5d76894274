package tests

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestBooleanQueryParameters: booleans in the query read as kube-apiserver
// reads them, so clients that write watch=True (the official Python
// client) get a watch, and watch=false a list.
func TestBooleanQueryParameters(t *testing.T) {
	needIntegration(t)
	s := startServer(t)
	s.mustKubectl("create", "configmap", "seen", "-n", "default")
	c := s.adminHTTP(t)
	base := s.url() + "/api/v1/namespaces/default/configmaps"

	w := do(t, c, http.MethodGet, base+"?watch=True&timeoutSeconds=1", "", "application/json", nil)
	if w.code != http.StatusOK || !strings.Contains(w.body, `"type":"ADDED"`) || !strings.Contains(w.body, `"name":"seen"`) {
		t.Fatalf("watch=True did not watch: %d %s", w.code, tail(w.body, 400))
	}
	l := do(t, c, http.MethodGet, base+"?watch=False", "", "application/json", nil)
	if l.code != http.StatusOK || !strings.Contains(l.body, `"kind":"ConfigMapList"`) {
		t.Fatalf("watch=False did not list: %d %s", l.code, tail(l.body, 400))
	}
}

// TestDiscoveryRootsWithSlash: /api/ and /apis/ answer as /api and /apis,
// as kube-apiserver's do.
func TestDiscoveryRootsWithSlash(t *testing.T) {
	needIntegration(t)
	s := startServer(t)
	c := s.adminHTTP(t)
	for path, want := range map[string]string{"/api/": `"kind":"APIVersions"`, "/apis/": `"kind":"APIGroupList"`} {
		r := do(t, c, http.MethodGet, s.url()+path, "", "application/json", nil)
		if r.code != http.StatusOK || !strings.Contains(r.body, want) {
			t.Errorf("GET %s: %d %s", path, r.code, tail(r.body, 300))
		}
	}
}

// TestUnknownPathsNotFound: a group, version or path nothing is served at
// gets kube-apiserver's 404 Status, which discovery clients and kubectl
// print ("the server could not find the requested resource").
func TestUnknownPathsNotFound(t *testing.T) {
	needIntegration(t)
	s := startServer(t)
	c := s.adminHTTP(t)
	for _, path := range []string{"/apis/nosuch.k8s.io/v1", "/apis/nosuch.k8s.io", "/apis/apps/v9", "/apis/apps/v1/nosuch", "/nosuch"} {
		r := do(t, c, http.MethodGet, s.url()+path, "", "application/json", nil)
		if r.code != http.StatusNotFound || !strings.Contains(r.body, `"reason":"NotFound"`) ||
			!strings.Contains(r.body, `"message":"the server could not find the requested resource"`) {
			t.Errorf("GET %s: %d %s", path, r.code, tail(r.body, 300))
		}
	}
}

// TestPodTemplates: core/v1 PodTemplates are served (charts and the API
// chunking conformance test use them), with kubectl's columns.
func TestPodTemplates(t *testing.T) {
	needIntegration(t, "kubectl")
	s := startServer(t)
	s.mustKubectlStdin(`apiVersion: v1
kind: PodTemplate
metadata: {name: tpl}
template:
  metadata: {labels: {app: web}}
  spec:
    containers: [{name: web, image: nginx}]
`, "apply", "-f", "-")
	out := s.mustKubectl("get", "podtemplates")
	for _, want := range []string{"NAME", "CONTAINERS", "IMAGES", "POD LABELS", "tpl", "nginx", "app=web"} {
		if !strings.Contains(out, want) {
			t.Fatalf("kubectl get podtemplates lacks %q:\n%s", want, out)
		}
	}
	if out := s.mustKubectl("explain", "podtemplate.template"); !strings.Contains(out, "PodTemplateSpec") {
		t.Fatalf("kubectl explain podtemplate.template:\n%s", out)
	}
	if _, err := s.kubectlStdin("apiVersion: v1\nkind: PodTemplate\nmetadata: {name: bad}\ntemplate: {spec: {containers: []}}\n", "create", "-f", "-"); err == nil {
		t.Fatal("a PodTemplate without containers was accepted")
	}
}

// TestListChunks: a list with ?limit= says how many objects remain after
// each page (metadata.remainingItemCount) when no selector filters them,
// and nothing on the last page or under a selector, as kube-apiserver does
// (the API chunking conformance test checks it).
func TestListChunks(t *testing.T) {
	needIntegration(t)
	s := startServer(t)
	cms := s.client().CoreV1().ConfigMaps("default")
	ctx := context.Background()
	// The service-account controller writes kube-root-ca.crt into default
	// soon after start; count only once it is there, or the count can
	// change under the paged list.
	eventually(t, 10*time.Second, "kube-root-ca.crt in default", func() bool {
		_, err := cms.Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		return err == nil
	})
	const total = 23
	for i := 0; i < total; i++ {
		if _, err := cms.Create(ctx, cmWith(fmt.Sprintf("cm-%02d", i), "1"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := cms.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n := len(all.Items)
	opts := metav1.ListOptions{Limit: 5}
	seen := 0
	for {
		page, err := cms.List(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		seen += len(page.Items)
		switch {
		case page.Continue == "" && page.RemainingItemCount != nil:
			t.Fatalf("last page has remainingItemCount %d", *page.RemainingItemCount)
		case page.Continue != "" && (page.RemainingItemCount == nil || int(*page.RemainingItemCount) != n-seen):
			t.Fatalf("after %d of %d objects remainingItemCount is %v", seen, n, page.RemainingItemCount)
		}
		if page.Continue == "" {
			break
		}
		opts.Continue = page.Continue
	}
	if seen != n {
		t.Fatalf("pages held %d objects, want %d", seen, n)
	}
	sel, err := cms.List(ctx, metav1.ListOptions{Limit: 5, LabelSelector: "test=informer"})
	if err != nil {
		t.Fatal(err)
	}
	if sel.Continue == "" || sel.RemainingItemCount != nil {
		t.Fatalf("a selected page: continue %q, remainingItemCount %v (want a token and no count)", sel.Continue, sel.RemainingItemCount)
	}
}

// TestListContinueAfterCompaction: a continue token whose revision has
// been compacted away gets 410 Gone carrying a token for the rest of the
// list at the current revision, as kube-apiserver answers it.
func TestListContinueAfterCompaction(t *testing.T) {
	needIntegration(t, "etcd")
	e := startEtcd(t)
	s := startServer(t, withArgs("--datastore-endpoint", e.endpoint, "--datastore-insecure", "--token", clusterSecret))
	cms := s.client().CoreV1().ConfigMaps("default")
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		if _, err := cms.Create(ctx, cmWith(fmt.Sprintf("cm-%02d", i), "1"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	first, err := cms.List(ctx, metav1.ListOptions{Limit: 4})
	if err != nil || first.Continue == "" {
		t.Fatalf("first page: %v, continue %q", err, first.Continue)
	}
	last, err := cms.Create(ctx, cmWith("cm-99", "1"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rev, _ := strconv.ParseInt(last.ResourceVersion, 10, 64)
	if _, err := e.client(t).Compact(ctx, rev); err != nil {
		t.Fatal(err)
	}

	_, err = cms.List(ctx, metav1.ListOptions{Limit: 4, Continue: first.Continue})
	var se *apierrors.StatusError
	if !apierrors.IsResourceExpired(err) || !errors.As(err, &se) || se.ErrStatus.ListMeta.Continue == "" {
		t.Fatalf("continuing a compacted list: want 410 Expired with a continue token, got %v", err)
	}
	names := map[string]bool{}
	for _, it := range first.Items {
		names[it.Name] = true
	}
	opts := metav1.ListOptions{Limit: 4, Continue: se.ErrStatus.ListMeta.Continue}
	for {
		page, err := cms.List(ctx, opts)
		if err != nil {
			t.Fatalf("inconsistent continuation: %v", err)
		}
		if page.ResourceVersion == first.ResourceVersion {
			t.Fatalf("inconsistent continuation read at the compacted revision %s", page.ResourceVersion)
		}
		for _, it := range page.Items {
			names[it.Name] = true
		}
		if page.Continue == "" {
			break
		}
		opts.Continue = page.Continue
	}
	for _, want := range []string{"cm-00", "cm-09", "cm-99"} {
		if !names[want] {
			t.Fatalf("the pages lack %s: %v", want, names)
		}
	}
}
