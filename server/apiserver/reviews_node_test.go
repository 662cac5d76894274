package apiserver_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/skiff-io/skiff/protocol"
	"github.com/skiff-io/skiff/server/apiserver"
	"github.com/skiff-io/skiff/server/nodeauth"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
)

// usedBy is the node sync hub's view for the test: what each node's pods
// use.
type usedBy map[string][]protocol.Ref

func (g usedBy) MayRead(node string, r protocol.Ref) bool { return slices.Contains(g[node], r) }

// TestAccessReviewsOfANode: a node's credential asks, with
// SelfSubjectAccessReviews, about requests it then makes for real,
// against the node authorizer the server runs with: every answer is the
// one the request gets (403 or not), and the one the node rules give.
func TestAccessReviewsOfANode(t *testing.T) {
	store := apiserver.KineStore(t)
	graph := usedBy{
		"n1": {{Kind: protocol.KindPod, Namespace: "default", Name: "web"}, {Kind: protocol.KindSecret, Namespace: "default", Name: "web-tls"},
			{Kind: protocol.KindConfigMap, Namespace: "default", Name: "web-config"}},
		"n2": {{Kind: protocol.KindPod, Namespace: "default", Name: "db"}, {Kind: protocol.KindSecret, Namespace: "default", Name: "db-password"}},
	}
	s, err := apiserver.New(apiserver.Config{Store: store, Authorizer: nodeauth.New(graph, nil)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { _ = s.Run(ctx); close(ran) }()
	t.Cleanup(func() { cancel(); <-ran })

	tr := apiserver.NewInProcess(ctx, apiserver.User{Name: "system:node:n1", Groups: []string{"system:nodes"}})
	tr.SetHandler(s)
	client := &http.Client{Transport: tr}
	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, "https://skiff"+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if method == http.MethodPatch {
			req.Header.Set("Content-Type", "application/merge-patch+json")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	// Who am I: the node's name and groups as authenticated.
	code, body := do(http.MethodPost, "/apis/authentication.k8s.io/v1/selfsubjectreviews", `{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`)
	var ssr authenticationv1.SelfSubjectReview
	if code != http.StatusCreated || json.Unmarshal([]byte(body), &ssr) != nil ||
		ssr.Status.UserInfo.Username != "system:node:n1" || !slices.Equal(ssr.Status.UserInfo.Groups, []string{"system:nodes", "system:authenticated"}) {
		t.Fatalf("whoami: %d %s", code, body)
	}

	node := func(name string) string {
		return `{"apiVersion":"v1","kind":"Node","metadata":{"name":"` + name + `"}}`
	}
	for _, tc := range []struct {
		name               string
		method, path, body string
		attrs              string // spec.resourceAttributes
		allowed            bool
	}{
		{"get its node", "GET", "/api/v1/nodes/n1", "", `{"verb":"get","resource":"nodes","name":"n1"}`, true},
		{"list nodes", "GET", "/api/v1/nodes", "", `{"verb":"list","resource":"nodes"}`, true},
		{"create its node", "POST", "/api/v1/nodes", node("n1"), `{"verb":"create","resource":"nodes","name":"n1"}`, true},
		{"create another node", "POST", "/api/v1/nodes", node("n2"), `{"verb":"create","resource":"nodes","name":"n2"}`, false},
		{"patch its node's status", "PATCH", "/api/v1/nodes/n1/status", `{}`, `{"verb":"patch","resource":"nodes","subresource":"status","name":"n1"}`, true},
		{"patch another node's status", "PATCH", "/api/v1/nodes/n2/status", `{}`, `{"verb":"patch","resource":"nodes","subresource":"status","name":"n2"}`, false},
		{"list all pods", "GET", "/api/v1/pods", "", `{"verb":"list","resource":"pods"}`, false},
		{"list pods in a namespace", "GET", "/api/v1/namespaces/default/pods", "", `{"verb":"list","resource":"pods","namespace":"default"}`, false},
		{"list its pods", "GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dn1", "", `{"verb":"list","resource":"pods","fieldSelector":{"rawSelector":"spec.nodeName=n1"}}`, true},
		{"list its pods, as requirements", "GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dn1", "",
			`{"verb":"list","resource":"pods","fieldSelector":{"requirements":[{"key":"spec.nodeName","operator":"In","values":["n1"]}]}}`, true},
		{"list another node's pods", "GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dn2", "", `{"verb":"list","resource":"pods","fieldSelector":{"rawSelector":"spec.nodeName=n2"}}`, false},
		{"get its pod", "GET", "/api/v1/namespaces/default/pods/web", "", `{"verb":"get","resource":"pods","namespace":"default","name":"web"}`, true},
		{"get another node's pod", "GET", "/api/v1/namespaces/default/pods/db", "", `{"verb":"get","resource":"pods","namespace":"default","name":"db"}`, false},
		{"get its pod's secret", "GET", "/api/v1/namespaces/default/secrets/web-tls", "", `{"verb":"get","resource":"secrets","namespace":"default","name":"web-tls"}`, true},
		{"get another node's secret", "GET", "/api/v1/namespaces/default/secrets/db-password", "", `{"verb":"get","resource":"secrets","namespace":"default","name":"db-password"}`, false},
		{"list secrets", "GET", "/api/v1/namespaces/default/secrets", "", `{"verb":"list","resource":"secrets","namespace":"default"}`, false},
		{"watch its pod's configmap", "GET", "/api/v1/namespaces/default/configmaps?watch=1&fieldSelector=metadata.name%3Dweb-config&timeoutSeconds=1", "",
			`{"verb":"watch","resource":"configmaps","namespace":"default","fieldSelector":{"rawSelector":"metadata.name=web-config"}}`, true},
		{"delete a namespace", "DELETE", "/api/v1/namespaces/default", "", `{"verb":"delete","resource":"namespaces","name":"default"}`, false},
		{"create events", "POST", "/api/v1/namespaces/default/events", `{"apiVersion":"v1","kind":"Event","metadata":{"name":"e1"},"involvedObject":{"kind":"Node","name":"n1"}}`,
			`{"verb":"create","resource":"events","namespace":"default"}`, true},
		{"ask about itself", "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
			`{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{"nonResourceAttributes":{"verb":"get","path":"/version"}}}`,
			`{"verb":"create","group":"authorization.k8s.io","resource":"selfsubjectaccessreviews"}`, true},
		{"ask about others", "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
			`{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"x","resourceAttributes":{"verb":"get","resource":"pods"}}}`,
			`{"verb":"create","group":"authorization.k8s.io","resource":"subjectaccessreviews"}`, false},
		{"review tokens", "POST", "/apis/authentication.k8s.io/v1/tokenreviews",
			`{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"x"}}`,
			`{"verb":"create","group":"authentication.k8s.io","resource":"tokenreviews"}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := do(http.MethodPost, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
				`{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{"resourceAttributes":`+tc.attrs+`}}`)
			var review authorizationv1.SelfSubjectAccessReview
			if code != http.StatusCreated || json.Unmarshal([]byte(body), &review) != nil {
				t.Fatalf("review: %d %s", code, body)
			}
			if review.Status.Allowed != tc.allowed {
				t.Errorf("review: %+v, want allowed=%v", review.Status, tc.allowed)
			}
			realCode, realBody := do(tc.method, tc.path, tc.body)
			if (realCode != http.StatusForbidden) != review.Status.Allowed {
				t.Errorf("the review says allowed=%v (%s), the request got %d %.300s", review.Status.Allowed, review.Status.Reason, realCode, realBody)
			}
			if !review.Status.Allowed && realCode == http.StatusForbidden && review.Status.Reason != "" &&
				!strings.Contains(realBody, strings.ReplaceAll(review.Status.Reason, `"`, `\"`)) {
				t.Errorf("the review's reason %q is not the request's: %s", review.Status.Reason, realBody)
			}
		})
	}

	// can-i --list: what every user may do, and that the node rules are
	// not listed.
	code, body = do(http.MethodPost, "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
		`{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectRulesReview","spec":{"namespace":"default"}}`)
	var rules authorizationv1.SelfSubjectRulesReview
	if code != http.StatusCreated || json.Unmarshal([]byte(body), &rules) != nil || !rules.Status.Incomplete || rules.Status.EvaluationError == "" {
		t.Errorf("rules review: %d %s", code, body)
	}
}
