package openapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"testing"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	"google.golang.org/protobuf/proto"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	openapiproto "k8s.io/kube-openapi/pkg/util/proto"
	"k8s.io/kube-openapi/pkg/util/proto/validation"
	"sigs.k8s.io/yaml"
)

// reviewResources are the create-only review kinds, shaped as skiff's API
// server describes them: the one verb create, no list type.
func reviewResources() []Resource {
	create := []string{"create"}
	authn, authz := "authentication.k8s.io", "authorization.k8s.io"
	return []Resource{
		{Group: authn, Version: "v1", Kind: "TokenReview", Plural: "tokenreviews", Verbs: create,
			Type: reflect.TypeOf(authenticationv1.TokenReview{})},
		{Group: authn, Version: "v1", Kind: "SelfSubjectReview", Plural: "selfsubjectreviews", Verbs: create,
			Type: reflect.TypeOf(authenticationv1.SelfSubjectReview{})},
		{Group: authz, Version: "v1", Kind: "LocalSubjectAccessReview", Plural: "localsubjectaccessreviews", Namespaced: true, Verbs: create,
			Type: reflect.TypeOf(authorizationv1.LocalSubjectAccessReview{})},
		{Group: authz, Version: "v1", Kind: "SelfSubjectAccessReview", Plural: "selfsubjectaccessreviews", Verbs: create,
			Type: reflect.TypeOf(authorizationv1.SelfSubjectAccessReview{})},
		{Group: authz, Version: "v1", Kind: "SelfSubjectRulesReview", Plural: "selfsubjectrulesreviews", Verbs: create,
			Type: reflect.TypeOf(authorizationv1.SelfSubjectRulesReview{})},
		{Group: authz, Version: "v1", Kind: "SubjectAccessReview", Plural: "subjectaccessreviews", Verbs: create,
			Type: reflect.TypeOf(authorizationv1.SubjectAccessReview{})},
	}
}

func withReviews() []Resource { return append(testResources(), reviewResources()...) }

// TestReviewsCreateOnly: in v3 a review kind has exactly one operation,
// POST on its collection, which takes fieldValidation. kubectl's check for
// server-side field validation looks at PATCH operations only, so it never
// finds a review kind in v3; that is why the v2 document exists.
func TestReviewsCreateOnly(t *testing.T) {
	for _, key := range []string{"apis/authentication.k8s.io/v1", "apis/authorization.k8s.io/v1"} {
		var buf bytes.Buffer
		w := bufio.NewWriter(&buf)
		if err := writeDoc(w, key, withReviews()); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		var doc map[string]any
		if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		ops := map[string]string{} // kind -> "path method"
		for path, item := range doc["paths"].(map[string]any) {
			for method, op := range item.(map[string]any) {
				op, ok := op.(map[string]any)
				if !ok || method == "parameters" {
					continue
				}
				kind, _ := op["x-kubernetes-group-version-kind"].(map[string]any)
				if kind == nil {
					continue
				}
				k := kind["kind"].(string)
				if ops[k] != "" {
					t.Errorf("%s: %s has a second operation, %s %s", key, k, method, path)
				}
				ops[k] = path + " " + method
				if method != "post" || op["x-kubernetes-action"] != "post" {
					t.Errorf("%s: %s %s for %s; reviews are create-only", key, method, path, k)
				}
				params := append(paramNames(item.(map[string]any)["parameters"]), paramNames(op["parameters"])...)
				sort.Strings(params)
				if !strings.Contains(strings.Join(params, ","), "fieldValidation") {
					t.Errorf("%s %s takes no fieldValidation: %v", method, path, params)
				}
			}
		}
		for _, r := range reviewResources() {
			if gvKey(r.Group, r.Version) != key {
				continue
			}
			want := "/apis/" + r.Group + "/v1/" + r.Plural + " post"
			if r.Namespaced {
				want = "/apis/" + r.Group + "/v1/namespaces/{namespace}/" + r.Plural + " post"
			}
			if ops[r.Kind] != want {
				t.Errorf("%s: operation %q, want %q", r.Kind, ops[r.Kind], want)
			}
		}
	}
}

func TestV2MediaType(t *testing.T) {
	tests := []struct {
		accept        string
		asProto, isOK bool
	}{
		{"", false, true},
		{"application/json", false, true},
		{"*/*", false, true},
		{"application/json, */*", false, true},
		{v2ProtoAccept, true, true},
		{v2ProtoType, true, true},
		{v2ProtoAccept + ", application/json", false, true}, // a tie goes to JSON
		{v2ProtoAccept + ", application/json;q=0.9", true, true},
		{"application/json;q=0, " + v2ProtoAccept, true, true},
		{"text/plain", false, false},
		{"application/json;q=0", false, false},
	}
	for _, tt := range tests {
		asProto, ok := v2MediaType(tt.accept)
		if asProto != tt.asProto || ok != tt.isOK {
			t.Errorf("v2MediaType(%q) = %v, %v; want %v, %v", tt.accept, asProto, ok, tt.asProto, tt.isOK)
		}
	}
}

// v2Proto fetches the v2 document as client-go does, in protobuf.
func v2Proto(t *testing.T, d *Docs) *openapi_v2.Document {
	t.Helper()
	res, body := get(t, http.HandlerFunc(d.ServeV2), "/openapi/v2", map[string]string{"Accept": v2ProtoAccept, "Accept-Encoding": "gzip"})
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != v2ProtoType {
		t.Fatalf("GET /openapi/v2: %s, Content-Type %q\n%s", res.Status, res.Header.Get("Content-Type"), body)
	}
	doc := &openapi_v2.Document{}
	if err := proto.Unmarshal(body, doc); err != nil {
		t.Fatalf("v2 document is not protobuf: %v", err)
	}
	return doc
}

// TestV2Validates walks the v2 document the way kubectl's client-side
// validation does: every served kind is found by its GVK, an unknown field
// in a review's spec is rejected, and references, types and required
// fields are followed through the definitions.
func TestV2Validates(t *testing.T) {
	doc := v2Proto(t, New(withReviews()))
	if doc.GetSwagger() != "2.0" || len(doc.GetPaths().GetPath()) != 0 {
		t.Errorf("swagger %q with %d paths; want 2.0 with none", doc.GetSwagger(), len(doc.GetPaths().GetPath()))
	}
	models, err := openapiproto.NewOpenAPIData(doc)
	if err != nil {
		t.Fatalf("kubectl cannot read the v2 document: %v", err)
	}

	// kubectl finds a kind's schema by the x-kubernetes-group-version-kind
	// of a definition.
	byKind := map[string]openapiproto.Schema{}
	for _, name := range models.ListModels() {
		m := models.LookupModel(name)
		gvks, _ := m.GetExtensions()["x-kubernetes-group-version-kind"].([]any)
		for _, g := range gvks {
			g := g.(map[any]any)
			byKind[g["group"].(string)+"/"+g["version"].(string)+"/"+g["kind"].(string)] = m
		}
	}
	for _, r := range withReviews() {
		if byKind[r.Group+"/"+r.Version+"/"+r.Kind] == nil {
			t.Errorf("no definition carries the kind %s/%s/%s", r.Group, r.Version, r.Kind)
		}
	}

	tests := []struct {
		kind, object string
		want         []string // substrings of the errors; none for a valid object
	}{
		{"authorization.k8s.io/v1/SelfSubjectAccessReview",
			`{apiVersion: authorization.k8s.io/v1, kind: SelfSubjectAccessReview, spec: {resourceAttributes: {verb: get, resource: pods}}}`, nil},
		{"authorization.k8s.io/v1/SelfSubjectAccessReview",
			`{apiVersion: authorization.k8s.io/v1, kind: SelfSubjectAccessReview, spec: {resourceAttributes: {verb: get}, bogus: 1}}`,
			[]string{`unknown field "bogus"`, "io.k8s.api.authorization.v1.SelfSubjectAccessReviewSpec"}},
		{"authorization.k8s.io/v1/SelfSubjectAccessReview",
			`{apiVersion: authorization.k8s.io/v1, kind: SelfSubjectAccessReview, spec: {resourceAttributes: {verb: get, colour: red}}}`,
			[]string{`unknown field "colour"`, "io.k8s.api.authorization.v1.ResourceAttributes"}},
		{"authentication.k8s.io/v1/TokenReview",
			`{apiVersion: authentication.k8s.io/v1, kind: TokenReview, spec: {token: abc, audiences: [x]}}`, nil},
		{"authentication.k8s.io/v1/TokenReview",
			`{apiVersion: authentication.k8s.io/v1, kind: TokenReview, spec: {tokn: abc}}`, []string{`unknown field "tokn"`}},
		{"authentication.k8s.io/v1/SelfSubjectReview", `{apiVersion: authentication.k8s.io/v1, kind: SelfSubjectReview}`, nil},
		{"apps/v1/Deployment",
			`{apiVersion: apps/v1, kind: Deployment, metadata: {name: web}, spec: {replicas: three, selector: {}, template: {spec: {containers: [{image: a}]}}}}`,
			[]string{"replicas", `missing required field "name"`}},
		{"/v1/Pod",
			`{apiVersion: v1, kind: Pod, metadata: {name: p, labels: {a: b}}, spec: {containers: [{name: a, image: a, ports: [{containerPort: 80}], resources: {limits: {cpu: 1}}}]}}`, nil},
	}
	for _, tt := range tests {
		var obj any
		if err := yaml.Unmarshal([]byte(tt.object), &obj); err != nil {
			t.Fatal(err)
		}
		kind := tt.kind[strings.LastIndex(tt.kind, "/")+1:]
		errs := validation.ValidateModel(obj, byKind[tt.kind], kind)
		var msgs []string
		for _, e := range errs {
			msgs = append(msgs, e.Error())
		}
		got := strings.Join(msgs, "\n")
		if len(tt.want) == 0 && len(errs) > 0 {
			t.Errorf("%s: valid object rejected:\n%s", tt.kind, got)
		}
		if len(tt.want) > 0 && len(errs) == 0 {
			t.Errorf("%s: %s accepted; want errors %q", tt.kind, tt.object, tt.want)
		}
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: errors lack %q:\n%s", tt.kind, w, got)
			}
		}
	}
}

// TestV2JSON: the JSON form is the same document, readable by a v2 parser,
// spelled in v2 (definitions references, no allOf or oneOf).
func TestV2JSON(t *testing.T) {
	d := New(withReviews())
	res, body := get(t, http.HandlerFunc(d.ServeV2), "/openapi/v2", map[string]string{"Accept": "application/json"})
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /openapi/v2: %s, Content-Type %q", res.Status, res.Header.Get("Content-Type"))
	}
	parsed, err := openapi_v2.ParseDocument(body)
	if err != nil {
		t.Fatalf("JSON form is not a v2 document: %v", err)
	}
	names := func(doc *openapi_v2.Document) []string {
		var out []string
		for _, p := range doc.GetDefinitions().GetAdditionalProperties() {
			out = append(out, p.GetName())
		}
		return out
	}
	if got, want := names(parsed), names(v2Proto(t, d)); !reflect.DeepEqual(got, want) {
		t.Errorf("JSON and protobuf forms define different schemas:\n%v\n%v", got, want)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				switch {
				case k == "allOf" || k == "oneOf":
					t.Errorf("%s has %s, which v2 readers do not know", path, k)
				case k == "$ref" && !strings.HasPrefix(x.(string), definitionRefPrefix):
					t.Errorf("%s refers to %s", path, x)
				}
				walk(path+"."+k, x)
			}
		case []any:
			for _, x := range v {
				walk(path+"[]", x)
			}
		}
	}
	var generic any
	if err := json.Unmarshal(body, &generic); err != nil {
		t.Fatal(err)
	}
	walk("", generic)
}

func TestV2Refuses(t *testing.T) {
	d := New(testResources())
	res, _ := get(t, http.HandlerFunc(d.ServeV2), "/openapi/v2", map[string]string{"Accept": "text/plain"})
	if res.StatusCode != http.StatusNotAcceptable {
		t.Errorf("Accept text/plain: %s, want 406", res.Status)
	}
	rec := httptest.NewRecorder()
	d.ServeV2(rec, httptest.NewRequest(http.MethodPost, "/openapi/v2", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", rec.Code)
	}
	if d.v2 != nil {
		t.Error("refused requests rendered the document")
	}
}
