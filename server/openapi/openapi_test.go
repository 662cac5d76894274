package openapi

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	k8sschema "k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/openapi3"
	"k8s.io/client-go/rest"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// get performs one request against d and returns the response with its
// body decoded from any Content-Encoding.
func get(t *testing.T, d http.Handler, target string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	d.ServeHTTP(rec, req)
	res := rec.Result()
	var body io.Reader = res.Body
	if res.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}

type indexJSON struct {
	Paths map[string]struct {
		ServerRelativeURL string `json:"serverRelativeURL"`
	} `json:"paths"`
}

func readIndex(t *testing.T, d http.Handler) indexJSON {
	t.Helper()
	res, body := get(t, d, "/openapi/v3", nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("index: %s", res.Status)
	}
	var idx indexJSON
	if err := json.Unmarshal(body, &idx); err != nil {
		t.Fatalf("index is not JSON: %v\n%s", err, body)
	}
	return idx
}

func TestNewRendersNothing(t *testing.T) {
	d := New(testResources())
	if d.docs != nil || d.index != nil {
		t.Fatal("New rendered documents eagerly")
	}
	get(t, d, "/openapi/v3/apis/apps/v1", nil)
	if len(d.docs) != 1 || d.index != nil {
		t.Fatalf("one document request rendered %d documents (index %v)", len(d.docs), d.index != nil)
	}
}

func TestIndex(t *testing.T) {
	d := New(testResources())
	idx := readIndex(t, d)
	want := []string{"api/v1", "apis/apps/v1", "apis/batch/v1", "apis/rbac.authorization.k8s.io/v1"}
	if len(idx.Paths) != len(want) {
		t.Errorf("index has %d paths, want %d: %v", len(idx.Paths), len(want), idx.Paths)
	}
	for _, k := range want {
		u, err := url.Parse(idx.Paths[k].ServerRelativeURL)
		if err != nil || u.Path != "/openapi/v3/"+k {
			t.Errorf("%s: serverRelativeURL %q", k, idx.Paths[k].ServerRelativeURL)
			continue
		}
		hash := u.Query().Get("hash")
		if len(hash) != 128 || strings.ToUpper(hash) != hash {
			t.Errorf("%s: hash %q is not upper-case hex SHA-512", k, hash)
		}
		res, _ := get(t, d, u.String(), nil)
		if res.Header.Get("Etag") != `"`+hash+`"` {
			t.Errorf("%s: ETag %q does not match index hash %s", k, res.Header.Get("Etag"), hash)
		}
	}
	// A second index is byte-identical: rendering is deterministic.
	again := New(testResources())
	if a, b := readIndex(t, again), idx; !jsonEqual(a, b) {
		t.Error("two renderings of the same table produced different hashes")
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestServeDocument(t *testing.T) {
	d := New(testResources())
	idx := readIndex(t, d)
	current := idx.Paths["apis/apps/v1"].ServerRelativeURL
	hash := current[strings.Index(current, "hash=")+len("hash="):]

	tests := []struct {
		name         string
		target       string
		header       map[string]string
		status       int
		cacheControl string
		encoding     string
	}{
		{"hash matches", current, nil, 200, "public, immutable", ""},
		{"no hash", "/openapi/v3/apis/apps/v1", nil, 200, "no-cache", ""},
		{"stale hash", "/openapi/v3/apis/apps/v1?hash=ABC", nil, 200, "no-cache", ""},
		{"trailing slash", "/openapi/v3/apis/apps/v1/", nil, 200, "no-cache", ""},
		{"gzip accepted", current, map[string]string{"Accept-Encoding": "gzip, deflate"}, 200, "public, immutable", "gzip"},
		{"gzip refused", current, map[string]string{"Accept-Encoding": "gzip;q=0"}, 200, "public, immutable", ""},
		{"protobuf preferred", current, map[string]string{"Accept": "application/com.github.proto-openapi.spec.v3@v1.0+protobuf, application/json"}, 200, "public, immutable", ""},
		{"protobuf only", current, map[string]string{"Accept": "application/com.github.proto-openapi.spec.v3@v1.0+protobuf"}, 200, "public, immutable", ""},
		{"if-none-match", current, map[string]string{"If-None-Match": `"` + hash + `"`}, 304, "public, immutable", ""},
		{"unknown group", "/openapi/v3/apis/nope/v1", nil, 404, "", ""},
		{"unknown version", "/openapi/v3/api/v2", nil, 404, "", ""},
		{"outside prefix", "/openapi/v2", nil, 404, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := get(t, d, tt.target, tt.header)
			if res.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d", res.StatusCode, tt.status)
			}
			if tt.status != 200 && tt.status != 304 {
				return
			}
			if got := res.Header.Get("Cache-Control"); got != tt.cacheControl {
				t.Errorf("Cache-Control = %q, want %q", got, tt.cacheControl)
			}
			if got := res.Header.Get("Content-Encoding"); got != tt.encoding {
				t.Errorf("Content-Encoding = %q, want %q", got, tt.encoding)
			}
			if tt.status == 304 {
				return
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			var doc spec3.OpenAPI
			if err := json.Unmarshal(body, &doc); err != nil {
				t.Fatalf("body is not an OpenAPI document: %v", err)
			}
			if doc.Version != "3.0.0" {
				t.Errorf("openapi = %q", doc.Version)
			}
		})
	}

	req := httptest.NewRequest(http.MethodPost, current, nil)
	rec := httptest.NewRecorder()
	d.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: status %d, want 405", rec.Code)
	}
}

func TestConcurrentFirstRequests(t *testing.T) {
	d := New(testResources())
	var wg sync.WaitGroup
	hashes := make([]string, 8)
	for i := range hashes {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			rec := httptest.NewRecorder()
			target := "/openapi/v3/api/v1"
			if i%2 == 0 {
				target = "/openapi/v3"
			}
			d.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
			if i%2 == 1 {
				hashes[i] = rec.Header().Get("Etag")
			}
		}(i)
	}
	wg.Wait()
	for i := 3; i < len(hashes); i += 2 {
		if hashes[i] != hashes[1] {
			t.Errorf("ETag %d = %s, want %s", i, hashes[i], hashes[1])
		}
	}
}

// resolve follows a $ref, or the single allOf around one, to its schema.
func resolve(t *testing.T, doc *spec3.OpenAPI, s *spec.Schema) *spec.Schema {
	t.Helper()
	if len(s.AllOf) == 1 {
		s = &s.AllOf[0]
	}
	if ref := s.Ref.String(); ref != "" {
		name := strings.TrimPrefix(ref, schemaRefPrefix)
		target, ok := doc.Components.Schemas[name]
		if !ok {
			t.Fatalf("dangling reference %s", ref)
		}
		return target
	}
	return s
}

func TestDeploymentSchemaWalk(t *testing.T) {
	_, body := get(t, New(testResources()), "/openapi/v3/apis/apps/v1", nil)
	var doc spec3.OpenAPI
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	s := doc.Components.Schemas["io.k8s.api.apps.v1.Deployment"]
	if s == nil {
		t.Fatal("no Deployment schema")
	}
	var gvks []map[string]string
	if err := s.Extensions.GetObject("x-kubernetes-group-version-kind", &gvks); err != nil ||
		len(gvks) != 1 || gvks[0]["group"] != "apps" || gvks[0]["version"] != "v1" || gvks[0]["kind"] != "Deployment" {
		t.Errorf("Deployment x-kubernetes-group-version-kind = %v (%v)", gvks, err)
	}
	var containers spec.Schema
	for _, field := range []string{"spec", "template", "spec", "containers"} {
		prop, ok := s.Properties[field]
		if !ok {
			t.Fatalf("no property %q", field)
		}
		containers = prop
		s = resolve(t, &doc, &prop)
	}
	if key, _ := containers.Extensions.GetString("x-kubernetes-patch-merge-key"); key != "name" {
		t.Errorf("containers x-kubernetes-patch-merge-key = %q, want name", key)
	}
	if strategy, _ := containers.Extensions.GetString("x-kubernetes-patch-strategy"); strategy != "merge" {
		t.Errorf("containers x-kubernetes-patch-strategy = %q, want merge", strategy)
	}
	if containers.Items == nil || containers.Items.Schema == nil {
		t.Fatal("containers has no items")
	}
	item := resolve(t, &doc, containers.Items.Schema)
	if _, ok := item.Properties["image"]; !ok || item.Description == "" {
		t.Errorf("containers items resolved to %v, want the Container schema", item.Description)
	}

	// Every reference in the document resolves.
	raw := string(body)
	for _, part := range strings.Split(raw, `"$ref":"`)[1:] {
		ref := part[:strings.IndexByte(part, '"')]
		if _, ok := doc.Components.Schemas[strings.TrimPrefix(ref, schemaRefPrefix)]; !ok {
			t.Errorf("dangling reference %s", ref)
		}
	}
}

// TestClientGoOpenAPIV3 reads the documents the way kubectl does: through
// discovery's OpenAPIV3 client and an openapi3 root.
func TestClientGoOpenAPIV3(t *testing.T) {
	srv := httptest.NewServer(New(testResources()))
	defer srv.Close()
	dc, err := discovery.NewDiscoveryClientForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	root := openapi3.NewRoot(dc.OpenAPIV3())
	gvs, err := root.GroupVersions()
	if err != nil {
		t.Fatal(err)
	}
	if len(gvs) != 4 {
		t.Errorf("GroupVersions = %v", gvs)
	}
	tests := []struct {
		gvk    k8sschema.GroupVersionKind
		schema string
	}{
		{k8sschema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, "io.k8s.api.apps.v1.Deployment"},
		{k8sschema.GroupVersionKind{Version: "v1", Kind: "Pod"}, "io.k8s.api.core.v1.Pod"},
		{k8sschema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, "io.k8s.api.core.v1.Namespace"},
		{k8sschema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"}, "io.k8s.api.rbac.v1.ClusterRole"},
	}
	for _, tt := range tests {
		doc, err := root.GVSpec(tt.gvk.GroupVersion())
		if err != nil {
			t.Fatalf("GVSpec(%v): %v", tt.gvk.GroupVersion(), err)
		}
		// Look the kind up as kubectl's apply patcher does.
		var found string
		for name, s := range doc.Components.Schemas {
			var gvks []map[string]string
			if s.Extensions.GetObject("x-kubernetes-group-version-kind", &gvks) != nil {
				continue
			}
			for _, g := range gvks {
				if g["group"] == tt.gvk.Group && g["version"] == tt.gvk.Version && g["kind"] == tt.gvk.Kind {
					found = name
				}
			}
		}
		if found != tt.schema {
			t.Errorf("%v: schema %q, want %q", tt.gvk, found, tt.schema)
		}
		// And as cli-runtime's fieldValidation verifier does.
		supported := false
		for _, p := range doc.Paths.Paths {
			if p.Patch == nil {
				continue
			}
			var g map[string]string
			if p.Patch.Extensions.GetObject("x-kubernetes-group-version-kind", &g) != nil ||
				g["group"] != tt.gvk.Group || g["version"] != tt.gvk.Version || g["kind"] != tt.gvk.Kind {
				continue
			}
			for _, param := range p.Patch.Parameters {
				if param.Name == "fieldValidation" && param.In == "query" {
					supported = true
				}
			}
			break
		}
		if !supported {
			t.Errorf("%v: fieldValidation not detected", tt.gvk)
		}
	}
	if _, err := root.GVSpec(k8sschema.GroupVersion{Group: "nope", Version: "v1"}); err == nil {
		t.Error("GVSpec of an unserved group succeeded")
	}
}

// TestStrategicMergeFromV3 computes a client-side apply patch from the
// served schema, the way kubectl apply does with OpenAPI v3: containers
// must merge by name instead of being replaced.
func TestStrategicMergeFromV3(t *testing.T) {
	_, body := get(t, New(testResources()), "/openapi/v3/apis/apps/v1", nil)
	var doc spec3.OpenAPI
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	meta := strategicpatch.PatchMetaFromOpenAPIV3{
		Schema:     doc.Components.Schemas["io.k8s.api.apps.v1.Deployment"],
		SchemaList: doc.Components.Schemas,
	}
	original := []byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"template":{"spec":{"containers":[{"name":"a","image":"a:1"},{"name":"b","image":"b:1"}]}}}}`)
	modified := []byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"template":{"spec":{"containers":[{"name":"a","image":"a:2"},{"name":"b","image":"b:1"}]}}}}`)
	current := []byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":3,"template":{"spec":{"containers":[{"name":"a","image":"a:1","imagePullPolicy":"Always"},{"name":"b","image":"b:1"}]}}}}`)
	patch, err := strategicpatch.CreateThreeWayMergePatch(original, modified, current, meta, false)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(patch, &got); err != nil {
		t.Fatal(err)
	}
	podSpec := got["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
	if _, ok := podSpec["$setElementOrder/containers"]; !ok {
		t.Errorf("patch %s does not merge containers by key", patch)
	}
	list := podSpec["containers"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["name"] != "a" || list[0].(map[string]any)["image"] != "a:2" {
		t.Errorf("patch containers = %v, want only a's new image", list)
	}
}

// BenchmarkRender measures rendering the biggest document of the test
// table; -benchmem shows the transient garbage one first request costs.
func BenchmarkRender(b *testing.B) {
	resources := testResources()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		doc, err := render("api/v1", resources)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(doc.gz)), "gz-bytes")
		b.ReportMetric(float64(doc.size), "json-bytes")
	}
}
