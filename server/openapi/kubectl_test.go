package openapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// fakeAPIServer is just enough of an API server for kubectl: legacy
// discovery for the test table, the OpenAPI v3 documents, and a single
// Deployment that create, get and patch act on. It records the writes.
type fakeAPIServer struct {
	docs      *Docs
	resources []Resource
	noV2      bool // answer /openapi/v2 with 404, as skiff once did

	mu         sync.Mutex
	deployment []byte // current object, nil before create
	writes     []*http.Request
	bodies     [][]byte
}

func (f *fakeAPIServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case strings.HasPrefix(path, "/openapi/v3"):
		f.docs.ServeHTTP(w, r)
	case path == "/openapi/v2":
		f.mu.Lock()
		noV2 := f.noV2
		f.mu.Unlock()
		if noV2 {
			http.NotFound(w, r)
			return
		}
		f.docs.ServeV2(w, r)
	case path == "/api":
		writeJSON(w, &metav1.APIVersions{TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"}})
	case path == "/apis":
		list := &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
		seen := map[string]bool{}
		for _, r := range f.resources {
			if r.Group == "" || seen[r.Group] {
				continue
			}
			seen[r.Group] = true
			gv := metav1.GroupVersionForDiscovery{GroupVersion: r.Group + "/" + r.Version, Version: r.Version}
			list.Groups = append(list.Groups, metav1.APIGroup{Name: r.Group, Versions: []metav1.GroupVersionForDiscovery{gv}, PreferredVersion: gv})
		}
		writeJSON(w, list)
	case path == "/api/v1" || (strings.HasPrefix(path, "/apis/") && strings.Count(path, "/") == 3):
		gv := strings.TrimPrefix(strings.TrimPrefix(path, "/api/"), "/apis/")
		list := &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv}
		for _, r := range f.resources {
			if strings.TrimPrefix(r.Group+"/"+r.Version, "/") != gv {
				continue
			}
			list.APIResources = append(list.APIResources, metav1.APIResource{
				Name: r.Plural, Namespaced: r.Namespaced, Kind: r.Kind, Verbs: r.Verbs,
			})
		}
		writeJSON(w, list)
	case strings.HasPrefix(path, "/apis/apps/v1/namespaces/default/deployments"):
		f.deployments(w, r)
	case path == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews":
		f.review(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeAPIServer) deployments(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	if r.Method != http.MethodGet {
		f.writes = append(f.writes, r)
		f.bodies = append(f.bodies, body)
	}
	notFound := func() {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		writeJSON(w, &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: "Failure",
			Reason: metav1.StatusReasonNotFound, Code: http.StatusNotFound,
			Details: &metav1.StatusDetails{Name: "web", Group: "apps", Kind: "deployments"}})
	}
	switch r.Method {
	case http.MethodGet:
		if f.deployment == nil {
			notFound()
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(f.deployment)
	case http.MethodPost:
		f.deployment = body
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		w.Write(body)
	case http.MethodPatch:
		if f.deployment == nil {
			notFound()
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(f.deployment)
	default:
		http.Error(w, "unsupported", http.StatusMethodNotAllowed)
	}
}

// review answers a SelfSubjectAccessReview with allowed: true.
func (f *fakeAPIServer) review(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method != http.MethodPost {
		http.Error(w, "create only", http.StatusMethodNotAllowed)
		return
	}
	var obj map[string]any
	if err := json.NewDecoder(r.Body).Decode(&obj); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.writes = append(f.writes, r)
	obj["status"] = map[string]any{"allowed": true}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(obj)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// TestKubectl drives the real kubectl binary against the documents: explain
// must find kinds and fields, create must detect server-side field
// validation, and apply must build a strategic merge patch from v3.
// kubectlAgainst serves resources' documents from a fakeAPIServer for
// the test and returns it with a runner of the real kubectl against it
// (its own home, cache and empty kubeconfig; stdin as its input). It
// skips the test under -short or without kubectl.
func kubectlAgainst(t *testing.T, resources []Resource) (*fakeAPIServer, func(stdin string, args ...string) (string, error)) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the kubectl binary")
	}
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not installed")
	}
	fake := &fakeAPIServer{docs: New(resources), resources: resources}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	home := t.TempDir()
	kubeconfig := filepath.Join(home, "config")
	if err := os.WriteFile(kubeconfig, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return fake, func(stdin string, args ...string) (string, error) {
		args = append([]string{"--kubeconfig", kubeconfig, "--server", srv.URL, "--cache-dir", filepath.Join(home, "cache")}, args...)
		cmd := exec.Command(kubectl, args...)
		cmd.Env = append(os.Environ(), "HOME="+home, "KUBECONFIG="+kubeconfig)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
}

func TestKubectl(t *testing.T) {
	fake, kubectl := kubectlAgainst(t, testResources())
	run := func(stdin string, args ...string) string {
		t.Helper()
		out, err := kubectl(stdin, args...)
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if os.Getenv("KUBECTL_TEST_LOG") != "" {
			t.Logf("kubectl %s:\n%s", strings.Join(args, " "), out)
		}
		return out
	}

	explainTests := []struct {
		args []string
		want []string
	}{
		{[]string{"explain", "deployment.spec.template"}, []string{
			"GROUP:      apps", "KIND:       Deployment", "VERSION:    v1",
			"FIELD: template <PodTemplateSpec>", "metadata\t<ObjectMeta>", "spec\t<PodSpec>",
		}},
		{[]string{"explain", "deployment.spec.template.spec.containers.resources.limits"}, []string{
			"FIELD: limits <map[string]Quantity>",
		}},
		{[]string{"explain", "deployment.spec.strategy.rollingUpdate.maxSurge"}, []string{
			"FIELD: maxSurge <IntOrString>",
		}},
		{[]string{"explain", "pods", "--recursive"}, []string{
			"KIND:       Pod", "containers\t<[]Container> -required-", "image\t<string>",
			"creationTimestamp\t<string>", "ports\t<[]ContainerPort>",
		}},
		{[]string{"explain", "clusterroles.rules"}, []string{"GROUP:      rbac.authorization.k8s.io", "FIELD: rules <[]PolicyRule>"}},
	}
	for _, tt := range explainTests {
		out := run("", tt.args...)
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("kubectl %s: output lacks %q\n%s", strings.Join(tt.args, " "), w, head(out, 40))
			}
		}
	}

	manifest := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: a
        image: a:1
      - name: b
        image: b:1
`
	run(manifest, "apply", "-f", "-")
	run(strings.Replace(manifest, "a:1", "a:2", 1), "apply", "-f", "-")

	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.writes) != 2 {
		t.Fatalf("server saw %d writes, want create then patch", len(fake.writes))
	}
	create, patch := fake.writes[0], fake.writes[1]
	if create.Method != http.MethodPost || create.URL.Query().Get("fieldValidation") != "Strict" {
		t.Errorf("create: %s %s; kubectl did not detect server-side field validation", create.Method, create.URL)
	}
	if patch.Method != http.MethodPatch || patch.URL.Query().Get("fieldValidation") != "Strict" {
		t.Errorf("patch: %s %s; kubectl did not detect server-side field validation", patch.Method, patch.URL)
	}
	if ct := patch.Header.Get("Content-Type"); ct != "application/strategic-merge-patch+json" {
		t.Errorf("patch Content-Type = %q, want strategic merge", ct)
	}
	if body := string(fake.bodies[1]); !strings.Contains(body, "$setElementOrder/containers") || !strings.Contains(body, `"image":"a:2"`) {
		t.Errorf("patch body does not merge containers by name: %s", body)
	}
}

func head(s string, lines int) string {
	parts := strings.SplitN(s, "\n", lines+1)
	if len(parts) > lines {
		parts = parts[:lines]
	}
	return strings.Join(parts, "\n")
}

// TestKubectlCreateReview: kubectl create -f of a create-only kind with the
// default --validate=strict. Not finding the kind's PATCH operation in v3,
// kubectl validates the object itself against the v2 definitions, so an
// unknown field never reaches the server; without a v2 document it cannot
// create the review at all.
func TestKubectlCreateReview(t *testing.T) {
	fake, kubectl := kubectlAgainst(t, withReviews())
	create := func(manifest string, args ...string) (string, error) {
		return kubectl(manifest, append([]string{"create", "-f", "-"}, args...)...)
	}
	review := `apiVersion: authorization.k8s.io/v1
kind: SelfSubjectAccessReview
spec:
  resourceAttributes: {verb: get, resource: pods}
`
	out, err := create(review, "-o", "jsonpath={.status.allowed}")
	if err != nil || out != "true" {
		t.Fatalf("kubectl create -f review: %v\n%s", err, out)
	}
	out, err = create(review + "  bogus: 1\n")
	if err == nil || !strings.Contains(out, `unknown field "bogus" in io.k8s.api.authorization.v1.SelfSubjectAccessReviewSpec`) {
		t.Errorf("kubectl create -f review with an unknown field: %v\n%s", err, out)
	}
	fake.mu.Lock()
	if len(fake.writes) != 1 || fake.writes[0].URL.Query().Get("fieldValidation") != "Strict" {
		t.Errorf("server saw %d reviews, want the valid one, sent with fieldValidation=Strict", len(fake.writes))
	}
	fake.noV2 = true
	fake.mu.Unlock()
	if out, err := create(review); err == nil || !strings.Contains(out, "failed to download openapi") {
		t.Errorf("without /openapi/v2 kubectl was expected to fail as it did: %v\n%s", err, out)
	}
}
