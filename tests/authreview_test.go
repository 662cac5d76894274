package tests

import (
	"errors"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestKubectlAuth: kubectl auth whoami and can-i, which ask the review
// APIs, answer for the admin, a node's client certificate and a service
// account token; the reviews are in discovery and OpenAPI like any other
// resource.
func TestKubectlAuth(t *testing.T) {
	needIntegration(t, "kubectl")
	s := startServer(t)
	n1 := s.nodeKubeconfig("n1")

	// exit runs kubectl and returns its output and exit code.
	exit := func(kubeconfig string, args ...string) (string, int) {
		t.Helper()
		out, err := s.kubectlAs(kubeconfig, "", args...)
		var ee *exec.ExitError
		switch {
		case err == nil:
			return out, 0
		case errors.As(err, &ee):
			return out, ee.ExitCode()
		}
		t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
		return "", 0
	}
	canI := func(who, kubeconfig, want string, args ...string) {
		t.Helper()
		out, code := exit(kubeconfig, append([]string{"auth", "can-i"}, args...)...)
		wantCode := 0
		if want == "no" {
			wantCode = 1
		}
		// The answer is the last line (kubectl may warn first), and a
		// "no" may give the authorizer's reason: "no - can only ...".
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if got := lines[len(lines)-1]; (got != want && !strings.HasPrefix(got, want+" - ")) || code != wantCode {
			t.Errorf("%s: kubectl auth can-i %s = %q, exit %d; want %q, exit %d", who, strings.Join(args, " "), out, code, want, wantCode)
		}
	}

	// Who am I.
	contains(t, s.mustKubectl("auth", "whoami"), "Username", "system:admin", "system:masters", "system:authenticated")
	out, code := exit(n1, "auth", "whoami")
	if code != 0 {
		t.Fatalf("node whoami: exit %d\n%s", code, out)
	}
	contains(t, out, "system:node:n1", "system:nodes", "system:authenticated")
	token := strings.TrimSpace(s.mustKubectl("create", "token", "default"))
	out, err := s.kubectlToken(token, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
	if err != nil || out != "system:serviceaccount:default:default" {
		t.Errorf("service account whoami: %q, %v", out, err)
	}

	// Can I: the admin anything, the node what the node rules allow.
	canI("admin", s.kubeconfig, "yes", "create", "pods")
	canI("admin", s.kubeconfig, "yes", "delete", "nodes", "--all-namespaces")
	canI("admin", s.kubeconfig, "yes", "get", "/debug/pprof/")
	canI("node", n1, "no", "list", "pods", "-A")
	canI("node", n1, "no", "create", "pods")
	canI("node", n1, "yes", "get", "nodes/n1")
	canI("node", n1, "yes", "update", "nodes/n1", "--subresource=status")
	canI("node", n1, "no", "update", "nodes/n2", "--subresource=status")
	canI("node", n1, "no", "get", "secrets/db-password", "-n", "default")
	canI("node", n1, "yes", "get", "/version")
	canI("node", n1, "no", "get", "/debug/pprof/")
	// The service account may do nothing yet (no RBAC), but ask.
	if out, err := s.kubectlToken(token, "auth", "can-i", "get", "pods"); strings.TrimSpace(out) != "no" || err == nil {
		t.Errorf("service account can-i get pods: %q, %v", out, err)
	}

	// can-i --list: everything for the admin; for the node what everyone
	// may do, the rest not being listable.
	contains(t, s.mustKubectl("auth", "can-i", "--list"), "*.*", "[*]")
	out, code = exit(n1, "auth", "can-i", "--list")
	if code != 0 {
		t.Fatalf("node can-i --list: exit %d\n%s", code, out)
	}
	contains(t, out, "selfsubjectaccessreviews.authorization.k8s.io", "[create]", "/version")

	// A TokenReview by the admin; the node may not ask.
	review := `apiVersion: authentication.k8s.io/v1
kind: TokenReview
spec: {token: ` + token + `}
`
	out = s.mustKubectlStdin(review, "create", "-f", "-", "-o", "jsonpath={.status.authenticated} {.status.user.username}")
	if out != "true system:serviceaccount:default:default" {
		t.Errorf("token review: %q", out)
	}
	out, err = s.kubectlAs(n1, review, "create", "-f", "-")
	if err == nil || !strings.Contains(out, `User "system:node:n1" cannot create resource "tokenreviews"`) {
		t.Errorf("node's token review: %v\n%s", err, out)
	}

	// Every review kind by a plain kubectl create -f, with kubectl's
	// default strict validation: a review has no PATCH operation for
	// kubectl to find in OpenAPI v3, so kubectl validates it against the
	// OpenAPI v2 definitions itself before sending it.
	for _, tt := range []struct{ manifest, jsonpath, want string }{
		{"apiVersion: authentication.k8s.io/v1\nkind: SelfSubjectReview\n", "{.status.userInfo.username}", "system:admin"},
		{"apiVersion: authorization.k8s.io/v1\nkind: SelfSubjectAccessReview\nspec:\n  resourceAttributes: {verb: delete, resource: nodes}\n",
			"{.status.allowed}", "true"},
		{"apiVersion: authorization.k8s.io/v1\nkind: SubjectAccessReview\nspec:\n  user: system:node:n1\n  groups: [system:nodes]\n  resourceAttributes: {verb: get, resource: nodes, name: n1}\n",
			"{.status.allowed}", "true"},
		{"apiVersion: authorization.k8s.io/v1\nkind: LocalSubjectAccessReview\nmetadata: {namespace: default}\nspec:\n  user: system:node:n1\n  groups: [system:nodes]\n  resourceAttributes: {namespace: default, verb: list, resource: secrets}\n",
			"{.status.allowed}", "false"},
		{"apiVersion: authorization.k8s.io/v1\nkind: SelfSubjectRulesReview\nspec: {namespace: default}\n", "{.status.resourceRules[0].verbs}", `["*"]`},
	} {
		out, err := s.kubectlStdin(tt.manifest, "create", "-f", "-", "-o", "jsonpath="+tt.jsonpath)
		if err != nil || out != tt.want {
			t.Errorf("kubectl create -f:\n%s=> %q, %v; want %q", tt.manifest, out, err, tt.want)
		}
	}

	// An unknown field in a review is rejected, as it is for kube-apiserver:
	// by kubectl's strict validation against the v2 definitions, and by the
	// server when the request asks for strict field validation; with
	// --validate=warn the server's warning names the field.
	bogus := strings.Replace(review, "spec: {", "spec: {bogus: 1, ", 1)
	out, err = s.kubectlStdin(bogus, "create", "-f", "-")
	if err == nil || !strings.Contains(out, `unknown field "bogus" in io.k8s.api.authentication.v1.TokenReviewSpec`) {
		t.Errorf("token review with an unknown field: %v\n%s", err, out)
	}
	out, err = s.kubectlStdin(bogus, "create", "--validate=warn", "-f", "-", "-o", "jsonpath={.status.authenticated}")
	if err != nil || !strings.Contains(out, `Warning: unknown field "spec.bogus"`) || !strings.HasSuffix(out, "true") {
		t.Errorf("token review with an unknown field, --validate=warn: %v\n%s", err, out)
	}
	bogusJSON := `{"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"bogus": 1, "token": "` + token + `"}}`
	out, err = s.kubectlStdin(bogusJSON, "create", "--raw", "/apis/authentication.k8s.io/v1/tokenreviews?fieldValidation=Strict", "-f", "-")
	if err == nil || !strings.Contains(out, `strict decoding error: unknown field "spec.bogus"`) {
		t.Errorf("token review with an unknown field, fieldValidation=Strict: %v\n%s", err, out)
	}

	// The API surface: discovery, OpenAPI, and 405 on what is not served.
	out = s.mustKubectl("api-resources", "-o", "wide", "--api-group=authorization.k8s.io")
	contains(t, out, "subjectaccessreviews", "localsubjectaccessreviews", "selfsubjectrulesreviews")
	if !regexp.MustCompile(`selfsubjectaccessreviews\s+authorization.k8s.io/v1\s+false\s+SelfSubjectAccessReview\s+create\s`).MatchString(out) {
		t.Errorf("api-resources does not list selfsubjectaccessreviews with the one verb create:\n%s", out)
	}
	contains(t, s.mustKubectl("api-resources", "--api-group=authentication.k8s.io"), "selfsubjectreviews", "tokenreviews")
	contains(t, s.mustKubectl("explain", "selfsubjectaccessreview.spec"), "resourceAttributes", "nonResourceAttributes")
	out, err = s.kubectl("get", "selfsubjectaccessreviews")
	if err == nil || !strings.Contains(out, "MethodNotAllowed") {
		t.Errorf("kubectl get selfsubjectaccessreviews: %v\n%s", err, out)
	}
}
