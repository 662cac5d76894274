package tests

import (
	"net/http"
	"strings"
	"testing"
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
