package apiserver

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// reviewServer is a server on kine whose requests run as the user the
// caller puts in their context (as). Its Authorizer and Tokens are the
// test's to set.
func reviewServer(t *testing.T) (s *Server, as func(u *User) context.Context) {
	s, _, admin := kineServer(t, false)
	return s, func(u *User) context.Context { return context.WithValue(admin, userKey{}, u) }
}

var (
	reviewAdmin = &User{Name: "admin", Groups: []string{MastersGroup, "system:authenticated"}}
	reviewNode  = &User{Name: "system:node:n1", Groups: []string{"system:nodes", "system:authenticated"}}
	reviewBob   = &User{Name: "bob", Groups: []string{"devs", "system:authenticated"}}
)

// call serves one request and returns its code and body.
func call(s *Server, ctx context.Context, method, path, body string) (int, string) {
	r := httptest.NewRequest(method, path, strings.NewReader(body)).WithContext(ctx)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	s.mux.ServeHTTP(w, r)
	return w.Code, w.Body.String()
}

// review posts body to the review collection path and decodes the 201
// answer into out.
func review(t *testing.T, s *Server, ctx context.Context, path, body string, out any) {
	t.Helper()
	code, got := call(s, ctx, http.MethodPost, path, body)
	if code != http.StatusCreated {
		t.Fatalf("POST %s %s: %d %s", path, body, code, got)
	}
	if err := json.Unmarshal([]byte(got), out); err != nil {
		t.Fatalf("POST %s: %v\n%s", path, err, got)
	}
}

const (
	ssrPath  = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
	trPath   = "/apis/authentication.k8s.io/v1/tokenreviews"
	ssarPath = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
	sarPath  = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
	ssrrPath = "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews"
)

// TestSelfSubjectReview: the caller learns its name and groups as the
// server authenticated it, whoever it is.
func TestSelfSubjectReview(t *testing.T) {
	s, as := reviewServer(t)
	s.cfg.Authorizer = &recordAuthorizer{} // denies: the review needs no permission
	for _, u := range []*User{reviewAdmin, reviewNode, reviewBob} {
		var got authenticationv1.SelfSubjectReview
		review(t, s, as(u), ssrPath, `{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview","metadata":{"creationTimestamp":null},"status":{"userInfo":{}}}`, &got)
		if got.Kind != "SelfSubjectReview" || got.APIVersion != "authentication.k8s.io/v1" {
			t.Errorf("%s: answered a %s %s", u.Name, got.APIVersion, got.Kind)
		}
		if got.Status.UserInfo.Username != u.Name || !slices.Equal(got.Status.UserInfo.Groups, u.Groups) {
			t.Errorf("%s: userInfo = %+v, want %s in %v", u.Name, got.Status.UserInfo, u.Name, u.Groups)
		}
	}
	if asked := s.cfg.Authorizer.(*recordAuthorizer).asked; len(asked) != 0 {
		t.Errorf("the Authorizer was asked about a self review: %+v", asked)
	}
}

// TestSelfSubjectAccessReview: the answer is the one authorize gives the
// caller's real request, with the attributes that request would carry.
func TestSelfSubjectAccessReview(t *testing.T) {
	s, as := reviewServer(t)
	rec := &recordAuthorizer{}
	s.cfg.Authorizer = rec
	ask := func(u *User, spec string) authorizationv1.SubjectAccessReviewStatus {
		t.Helper()
		var got authorizationv1.SelfSubjectAccessReview
		review(t, s, as(u), ssarPath, `{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":`+spec+`}`, &got)
		return got.Status
	}

	// system:masters may do anything; the Authorizer is not asked.
	for _, spec := range []string{
		`{"resourceAttributes":{"verb":"create","resource":"pods","namespace":"default"}}`,
		`{"resourceAttributes":{"verb":"*","group":"*","resource":"*"}}`,
		`{"nonResourceAttributes":{"verb":"get","path":"/debug/pprof/"}}`,
	} {
		if st := ask(reviewAdmin, spec); !st.Allowed || st.Denied {
			t.Errorf("admin %s: %+v, want allowed", spec, st)
		}
	}
	if len(rec.asked) != 0 {
		t.Fatalf("the Authorizer was asked about system:masters: %+v", rec.asked)
	}

	// Anyone else: what the Authorizer says, with its reason.
	st := ask(reviewBob, `{"resourceAttributes":{"verb":"list","resource":"pods","namespace":"default","fieldSelector":{"rawSelector":"spec.nodeName=n1"},"labelSelector":{"rawSelector":"app=web"}}}`)
	if st.Allowed || st.Denied || st.Reason != "because" {
		t.Errorf("bob list pods: %+v, want not allowed because", st)
	}
	rec.allow = true
	if st := ask(reviewBob, `{"resourceAttributes":{"verb":"create","group":"coordination.k8s.io","resource":"leases","namespace":"kube-node-lease","name":"n1"}}`); !st.Allowed {
		t.Errorf("bob create lease with an allowing Authorizer: %+v", st)
	}
	ask(reviewBob, `{"resourceAttributes":{"verb":"create","resource":"serviceaccounts","subresource":"token","namespace":"default","name":"sa"}}`)
	ask(reviewBob, `{"resourceAttributes":{"verb":"list","resource":"configmaps","namespace":"default","fieldSelector":{"requirements":[{"key":"metadata.name","operator":"In","values":["cm"]}]}}}`)
	if len(rec.asked) != 4 {
		t.Fatalf("the Authorizer was asked %d times, want 4: %+v", len(rec.asked), rec.asked)
	}
	list, create, token, req := rec.asked[0], rec.asked[1], rec.asked[2], rec.asked[3]
	if list.User.Name != "bob" || list.Verb != "list" || list.Resource != (schema.GroupResource{Resource: "pods"}) || list.Namespace != "default" ||
		list.FieldSelector.String() != "spec.nodeName=n1" || list.LabelSelector != "app=web" {
		t.Errorf("list attributes: %+v", list)
	}
	// A create names its object in the body, not the URL.
	if create.Name != "" || create.NewName != "n1" || create.Resource != (schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}) {
		t.Errorf("create attributes: %+v", create)
	}
	if token.Name != "sa" || token.NewName != "" || token.Subresource != "token" {
		t.Errorf("subresource create attributes: %+v", token)
	}
	if v, ok := req.FieldSelector.RequiresExactMatch("metadata.name"); !ok || v != "cm" {
		t.Errorf("requirements as a field selector: %q", req.FieldSelector)
	}

	// Non-resource paths: discovery, OpenAPI, version and health for all;
	// nothing else.
	for path, want := range map[string]bool{
		"/api": true, "/apis/apps/v1": true, "/openapi/v3/apis/apps/v1": true, "/openapi/v2": true, "/version": true, "/readyz/etcd": true,
		"/debug/pprof/": false, "/metrics": false, "/apiz": false,
	} {
		if st := ask(reviewBob, `{"nonResourceAttributes":{"verb":"get","path":"`+path+`"}}`); st.Allowed != want {
			t.Errorf("bob get %s: %+v, want allowed=%v", path, st, want)
		}
	}
	if st := ask(reviewBob, `{"nonResourceAttributes":{"verb":"post","path":"/version"}}`); st.Allowed {
		t.Errorf("bob post /version: allowed")
	}
	if len(rec.asked) != 4 {
		t.Errorf("the Authorizer was asked about non-resource paths: %+v", rec.asked[4:])
	}

	// Without an Authorizer nobody but system:masters may do anything,
	// but everyone may still ask about themselves.
	s.cfg.Authorizer = nil
	if st := ask(reviewBob, `{"resourceAttributes":{"verb":"get","resource":"pods","namespace":"default"}}`); st.Allowed {
		t.Errorf("bob without an Authorizer: %+v", st)
	}
	if st := ask(reviewBob, `{"resourceAttributes":{"verb":"create","group":"authorization.k8s.io","resource":"selfsubjectaccessreviews"}}`); !st.Allowed {
		t.Errorf("bob may not create the review he just created: %+v", st)
	}
}

// TestSubjectAccessReview: only callers allowed to create
// subjectaccessreviews ask about others, who are decided with exactly the
// groups the review names.
func TestSubjectAccessReview(t *testing.T) {
	s, as := reviewServer(t)
	rec := &recordAuthorizer{}
	s.cfg.Authorizer = rec
	sar := func(spec string) string {
		return `{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":` + spec + `}`
	}
	ask := func(spec string) authorizationv1.SubjectAccessReviewStatus {
		t.Helper()
		var got authorizationv1.SubjectAccessReview
		review(t, s, as(reviewAdmin), sarPath, sar(spec), &got)
		return got.Status
	}
	if st := ask(`{"user":"root","groups":["system:masters"],"resourceAttributes":{"verb":"delete","resource":"nodes","name":"n1"}}`); !st.Allowed {
		t.Errorf("a member of system:masters: %+v", st)
	}
	if len(rec.asked) != 0 {
		t.Errorf("the Authorizer was asked about a member of system:masters: %+v", rec.asked)
	}
	if st := ask(`{"user":"bob","groups":["devs"],"resourceAttributes":{"verb":"get","resource":"secrets","namespace":"default","name":"x"}}`); st.Allowed || st.Reason != "because" {
		t.Errorf("bob: %+v", st)
	}
	if len(rec.asked) != 1 || rec.asked[0].User.Name != "bob" || !slices.Equal(rec.asked[0].User.Groups, []string{"devs"}) || rec.asked[0].Name != "x" {
		t.Errorf("the Authorizer was asked %+v", rec.asked)
	}

	// A caller the Authorizer does not allow to create them is refused,
	// and so is one it does.
	code, body := call(s, as(reviewBob), http.MethodPost, sarPath, sar(`{"user":"x","resourceAttributes":{"verb":"get","resource":"pods"}}`))
	if code != http.StatusForbidden || !strings.Contains(body, `User \"bob\" cannot create resource \"subjectaccessreviews\" in API group \"authorization.k8s.io\" at the cluster scope`) {
		t.Errorf("bob's review: %d %s", code, body)
	}
	rec.allow = true
	if code, body := call(s, as(reviewBob), http.MethodPost, sarPath, sar(`{"user":"x","resourceAttributes":{"verb":"get","resource":"pods"}}`)); code != http.StatusCreated {
		t.Errorf("bob's review, allowed by the Authorizer: %d %s", code, body)
	}

	// Local reviews: within the request's namespace.
	var local authorizationv1.LocalSubjectAccessReview
	review(t, s, as(reviewAdmin), "/apis/authorization.k8s.io/v1/namespaces/ns1/localsubjectaccessreviews",
		`{"apiVersion":"authorization.k8s.io/v1","kind":"LocalSubjectAccessReview","spec":{"user":"bob","resourceAttributes":{"verb":"get","resource":"pods","namespace":"ns1"}}}`, &local)
	if !local.Status.Allowed || local.Namespace != "ns1" {
		t.Errorf("local review: %+v", local)
	}
	code, body = call(s, as(reviewAdmin), http.MethodPost, "/apis/authorization.k8s.io/v1/namespaces/ns1/localsubjectaccessreviews",
		`{"apiVersion":"authorization.k8s.io/v1","kind":"LocalSubjectAccessReview","spec":{"user":"bob","resourceAttributes":{"verb":"get","resource":"pods","namespace":"ns2"}}}`)
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "spec.resourceAttributes.namespace: Invalid value: \\\"ns2\\\": must match metadata.namespace") {
		t.Errorf("local review of another namespace: %d %s", code, body)
	}
}

// fakeTokens knows one token.
type fakeTokens struct{}

func (fakeTokens) AuthenticateToken(_ context.Context, token string) (*User, bool, error) {
	if token != "good" {
		return nil, false, nil
	}
	return &User{Name: "system:serviceaccount:default:sa", Groups: []string{"system:serviceaccounts", "system:serviceaccounts:default"}}, true, nil
}

// fakeIssuer stands for the TokenIssuer, for its audiences.
type fakeIssuer struct{}

func (fakeIssuer) Issue(string, string, types.UID, []string, time.Duration, *authenticationv1.BoundObjectReference) (string, time.Time, error) {
	return "", time.Time{}, nil
}
func (fakeIssuer) Audiences() []string { return []string{"https://skiff"} }

// TestTokenReview: a token is checked with the server's own
// authenticator, for its own audiences, by callers allowed to ask.
func TestTokenReview(t *testing.T) {
	s, as := reviewServer(t)
	s.cfg.Tokens, s.cfg.TokenIssuer, s.cfg.Authorizer = fakeTokens{}, fakeIssuer{}, &recordAuthorizer{}
	tr := func(spec string) string {
		return `{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":` + spec + `}`
	}
	ask := func(spec string) authenticationv1.TokenReviewStatus {
		t.Helper()
		var got authenticationv1.TokenReview
		review(t, s, as(reviewAdmin), trPath, tr(spec), &got)
		return got.Status
	}
	st := ask(`{"token":"good"}`)
	if !st.Authenticated || st.User.Username != "system:serviceaccount:default:sa" ||
		!slices.Equal(st.User.Groups, []string{"system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"}) ||
		!slices.Equal(st.Audiences, []string{"https://skiff"}) {
		t.Errorf("good token: %+v", st)
	}
	if st := ask(`{"token":"good","audiences":["vault","https://skiff"]}`); !st.Authenticated || !slices.Equal(st.Audiences, []string{"https://skiff"}) {
		t.Errorf("good token, one of the API's audiences asked: %+v", st)
	}
	if st := ask(`{"token":"good","audiences":["vault"]}`); st.Authenticated || st.User.Username != "" {
		t.Errorf("good token, for another audience: %+v", st)
	}
	if st := ask(`{"token":"bad"}`); st.Authenticated || st.User.Username != "" {
		t.Errorf("bad token: %+v", st)
	}
	if code, body := call(s, as(reviewAdmin), http.MethodPost, trPath, tr(`{}`)); code != http.StatusBadRequest ||
		!strings.Contains(body, "token is required for TokenReview in authentication") {
		t.Errorf("no token: %d %s", code, body)
	}
	if code, body := call(s, as(reviewNode), http.MethodPost, trPath, tr(`{"token":"good"}`)); code != http.StatusForbidden {
		t.Errorf("a node's review: %d %s", code, body)
	}
}

// TestSelfSubjectRulesReview: system:masters may do everything; anyone
// else learns what everyone may do, and that the Authorizer's own rules
// are not listed.
func TestSelfSubjectRulesReview(t *testing.T) {
	s, as := reviewServer(t)
	ask := func(u *User) authorizationv1.SubjectRulesReviewStatus {
		t.Helper()
		var got authorizationv1.SelfSubjectRulesReview
		review(t, s, as(u), ssrrPath, `{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectRulesReview","spec":{"namespace":"default"}}`, &got)
		return got.Status
	}
	st := ask(reviewAdmin)
	if st.Incomplete || len(st.ResourceRules) != 1 || !slices.Equal(st.ResourceRules[0].Verbs, []string{"*"}) ||
		!slices.Equal(st.ResourceRules[0].Resources, []string{"*"}) || !slices.Equal(st.ResourceRules[0].APIGroups, []string{"*"}) {
		t.Errorf("admin: %+v", st)
	}
	// Without an Authorizer the list is all there is.
	st = ask(reviewBob)
	if st.Incomplete || len(st.ResourceRules) != len(selfReviews) || len(st.NonResourceRules) != 1 {
		t.Errorf("bob without an Authorizer: %+v", st)
	}
	s.cfg.Authorizer = &recordAuthorizer{}
	st = ask(reviewNode)
	if !st.Incomplete || st.EvaluationError == "" || len(st.ResourceRules) != len(selfReviews) {
		t.Errorf("a node: %+v", st)
	}
	if code, body := call(s, as(reviewNode), http.MethodPost, ssrrPath, `{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectRulesReview","spec":{}}`); code != http.StatusBadRequest {
		t.Errorf("no namespace: %d %s", code, body)
	}
}

// TestReviewBadInput: kube-apiserver's answers to malformed reviews and
// to verbs other than create.
func TestReviewBadInput(t *testing.T) {
	s, as := reviewServer(t)
	admin := as(reviewAdmin)
	for _, tc := range []struct {
		name, method, path, body string
		code                     int
		reason                   metav1.StatusReason
		message                  string
	}{
		{"body that does not decode", "POST", ssarPath, `{"spec":`, 400, metav1.StatusReasonBadRequest, "cannot be handled as a SelfSubjectAccessReview"},
		{"empty body", "POST", ssarPath, ``, 400, metav1.StatusReasonBadRequest, "the request body is empty"},
		{"another kind", "POST", ssarPath, `{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"x"}}`, 400, metav1.StatusReasonBadRequest, ""},
		{"another group", "POST", ssarPath, `{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{}}`, 400, metav1.StatusReasonBadRequest, "does not match the expected API version"},
		{"no attributes", "POST", ssarPath, `{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{}}`, 422, metav1.StatusReasonInvalid,
			`SelfSubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.resourceAttributes: Invalid value: null: exactly one of nonResourceAttributes or resourceAttributes must be specified`},
		{"both attributes", "POST", ssarPath, `{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{"resourceAttributes":{"verb":"get"},"nonResourceAttributes":{"verb":"get","path":"/"}}}`, 422, metav1.StatusReasonInvalid,
			"spec.nonResourceAttributes: Invalid value:"},
		{"metadata", "POST", ssarPath, `{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","metadata":{"name":"x"},"spec":{"resourceAttributes":{"verb":"get"}}}`, 422, metav1.StatusReasonInvalid,
			"metadata: Invalid value:"},
		{"no subject", "POST", sarPath, `{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"resourceAttributes":{"verb":"get"}}}`, 422, metav1.StatusReasonInvalid,
			`spec.user: Invalid value: \"\": at least one of user or group must be specified`},
		{"list", "GET", ssarPath, ``, 405, metav1.StatusReasonMethodNotAllowed, "the server does not allow this method on the requested resource"},
		{"watch", "GET", ssrPath + "?watch=1", ``, 405, metav1.StatusReasonMethodNotAllowed, ""},
		{"delete collection", "DELETE", trPath, ``, 405, metav1.StatusReasonMethodNotAllowed, ""},
		{"get", "GET", ssarPath + "/x", ``, 404, metav1.StatusReasonNotFound, "the server could not find the requested resource"},
		{"create with a name", "POST", ssrPath + "/x", `{}`, 404, metav1.StatusReasonNotFound, ""},
		{"subresource", "POST", ssrPath + "/x/status", `{}`, 404, metav1.StatusReasonNotFound, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := call(s, admin, tc.method, tc.path, tc.body)
			var st metav1.Status
			if err := json.Unmarshal([]byte(body), &st); err != nil || st.Kind != "Status" {
				t.Fatalf("%d %s: not a Status (%v)", code, body, err)
			}
			if code != tc.code || int(st.Code) != tc.code || st.Reason != tc.reason || !strings.Contains(body, tc.message) {
				t.Errorf("%d %s\nwant %d %s %q", code, body, tc.code, tc.reason, tc.message)
			}
		})
	}
	// Without the permission to ask, the verb is refused before it is
	// found unsupported, as kube-apiserver authorizes before routing.
	if code, body := call(s, as(reviewBob), http.MethodGet, ssarPath, ""); code != http.StatusForbidden {
		t.Errorf("bob lists reviews: %d %s", code, body)
	}
}

// TestReviewDiscovery: both discovery forms list the reviews with the
// one verb they serve, as kubectl looks for them there; OpenAPI
// describes their POST and nothing else.
func TestReviewDiscovery(t *testing.T) {
	s, as := reviewServer(t)
	admin := as(reviewAdmin)
	want := map[string][]string{
		"authentication.k8s.io/v1": {"selfsubjectreviews", "tokenreviews"},
		"authorization.k8s.io/v1":  {"localsubjectaccessreviews", "selfsubjectaccessreviews", "selfsubjectrulesreviews", "subjectaccessreviews"},
	}
	for gv, names := range want {
		code, body := call(s, admin, http.MethodGet, "/apis/"+gv, "")
		var list metav1.APIResourceList
		if code != http.StatusOK || json.Unmarshal([]byte(body), &list) != nil {
			t.Fatalf("GET /apis/%s: %d %s", gv, code, body)
		}
		var got []string
		for _, r := range list.APIResources {
			got = append(got, r.Name)
			if !slices.Equal(r.Verbs, []string{"create"}) || r.SingularName == "" {
				t.Errorf("%s %s: verbs %v singular %q", gv, r.Name, r.Verbs, r.SingularName)
			}
			if r.Namespaced != (r.Name == "localsubjectaccessreviews") {
				t.Errorf("%s %s: namespaced %v", gv, r.Name, r.Namespaced)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, names) {
			t.Errorf("%s lists %v, want %v", gv, got, names)
		}
	}

	r := httptest.NewRequest(http.MethodGet, "/apis", nil).WithContext(admin)
	r.Header.Set("Accept", aggregatedV2)
	w := httptest.NewRecorder()
	s.mux.ServeHTTP(w, r)
	var agg apidiscoveryv2.APIGroupDiscoveryList
	if err := json.Unmarshal(w.Body.Bytes(), &agg); err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, g := range agg.Items {
		for _, v := range g.Versions {
			for _, res := range v.Resources {
				if slices.Contains(want[g.Name+"/"+v.Version], res.Resource) {
					found++
					if !slices.Equal(res.Verbs, []string{"create"}) {
						t.Errorf("aggregated %s %s: verbs %v", g.Name, res.Resource, res.Verbs)
					}
				}
			}
		}
	}
	if found != 6 {
		t.Errorf("aggregated discovery lists %d of the 6 reviews", found)
	}

	code, body := call(s, admin, http.MethodGet, "/openapi/v3/apis/authorization.k8s.io/v1", "")
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &doc) != nil {
		t.Fatalf("OpenAPI: %d %.200s", code, body)
	}
	ops := doc.Paths["/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"]
	if _, ok := ops["post"]; !ok {
		t.Errorf("OpenAPI operations on selfsubjectaccessreviews: %v", keys(ops))
	}
	for _, k := range []string{"get", "put", "patch", "delete"} {
		if _, ok := ops[k]; ok {
			t.Errorf("OpenAPI describes %s on selfsubjectaccessreviews", k)
		}
	}
	if _, ok := doc.Paths["/apis/authorization.k8s.io/v1/namespaces/{namespace}/localsubjectaccessreviews"]["post"]; !ok {
		t.Errorf("OpenAPI has no POST of localsubjectaccessreviews: %v", keys(doc.Paths))
	}

	// kubectl finds no PATCH of a review in v3, so it validates reviews
	// against the v2 definitions, which every user may read.
	code, body = call(s, as(reviewBob), http.MethodGet, "/openapi/v2", "")
	var v2 struct {
		Definitions map[string]struct {
			GVK []map[string]string `json:"x-kubernetes-group-version-kind"`
		} `json:"definitions"`
		Paths map[string]json.RawMessage `json:"paths"`
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &v2) != nil {
		t.Fatalf("OpenAPI v2: %d %.200s", code, body)
	}
	for _, kind := range []string{"authentication.v1.SelfSubjectReview", "authentication.v1.TokenReview", "authorization.v1.LocalSubjectAccessReview",
		"authorization.v1.SelfSubjectAccessReview", "authorization.v1.SelfSubjectRulesReview", "authorization.v1.SubjectAccessReview"} {
		def, ok := v2.Definitions["io.k8s.api."+kind]
		if !ok || len(def.GVK) != 1 || "authorization.v1."+def.GVK[0]["kind"] != kind && "authentication.v1."+def.GVK[0]["kind"] != kind {
			t.Errorf("OpenAPI v2 definition of %s: %v %+v", kind, ok, def)
		}
	}
	if len(v2.Paths) != 0 {
		t.Errorf("OpenAPI v2 has paths, which would send kubectl looking for CRDs: %v", keys(v2.Paths))
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
