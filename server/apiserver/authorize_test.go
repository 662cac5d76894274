package apiserver

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// recordAuthorizer allows everything and remembers what it was asked.
type recordAuthorizer struct {
	asked []Attributes
	allow bool
}

func (r *recordAuthorizer) Authorize(a Attributes) (bool, string) {
	r.asked = append(r.asked, a)
	return r.allow, "because"
}

func TestAttributes(t *testing.T) {
	node := &User{Name: "system:node:n1", Groups: []string{"system:nodes"}}
	admin := &User{Name: "system:admin", Groups: []string{MastersGroup}}
	lease := `{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"n1","namespace":"kube-node-lease"}}`
	for _, tc := range []struct {
		name                  string
		user                  *User
		method, url, ct, body string
		wantField             string // "" for Everything
		wantLabel, wantNew    string
	}{
		{"field selector", node, "GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dn1&labelSelector=a%3Db", "", "", "spec.nodeName=n1", "a=b", ""},
		{"no selector", node, "GET", "/api/v1/pods", "", "", "", "", ""},
		{"bad selector is Nothing", node, "GET", "/api/v1/pods?fieldSelector=%3D%3D%3D", "", "", "<nothing>", "", ""},
		{"create: name from a JSON body", node, "POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", "application/json", lease, "", "", "n1"},
		{"create: name from a YAML body", node, "POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", "application/yaml",
			"apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata:\n  name: n2\n", "", "", "n2"},
		{"create: generateName", node, "POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", "application/json",
			`{"metadata":{"generateName":"n1"}}`, "", "", ""},
		{"create: body that does not decode", node, "POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", "application/json", `{`, "", "", ""},
		{"create by an admin: body not read", admin, "POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", "application/json", lease, "", "", ""},
		{"update: body not read", node, "PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1", "application/json", lease, "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Server{cfg: Config{Authorizer: &recordAuthorizer{}}, scheme: newScheme()}
			s.dec = newDecoder(s.scheme)
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			r := httptest.NewRequest(tc.method, tc.url, body)
			if tc.ct != "" {
				r.Header.Set("Content-Type", tc.ct)
			}
			ri, ok := parseResourcePath(r)
			if !ok {
				t.Fatalf("not a resource path: %s", tc.url)
			}
			res := catalogueResource(t, ri.resource)
			a, err := s.attributes(r, tc.user, ri, res)
			if err != nil {
				t.Fatal(err)
			}
			if a.User != tc.user || a.Verb != ri.verb || a.Resource != groupResource(res) || a.Namespace != ri.namespace || a.Name != ri.name {
				t.Errorf("attributes = %+v for %+v", a, ri)
			}
			got := a.FieldSelector.String()
			if tc.wantField == "<nothing>" {
				if a.FieldSelector.Empty() || a.FieldSelector.Matches(fields.Set{}) {
					t.Errorf("field selector %q matches everything, want nothing", got)
				}
			} else if (tc.wantField == "" && !a.FieldSelector.Empty()) || (tc.wantField != "" && got != tc.wantField) {
				t.Errorf("field selector = %q, want %q", got, tc.wantField)
			}
			if a.LabelSelector != tc.wantLabel {
				t.Errorf("label selector = %q, want %q", a.LabelSelector, tc.wantLabel)
			}
			if a.NewName != tc.wantNew {
				t.Errorf("NewName = %q, want %q", a.NewName, tc.wantNew)
			}
			// The handler still reads the whole body.
			if tc.body != "" {
				rest, _ := io.ReadAll(r.Body)
				if string(rest) != tc.body {
					t.Errorf("body left for the handler = %q, want %q", rest, tc.body)
				}
			}
		})
	}
}

func TestAuthorize(t *testing.T) {
	admin := &User{Name: "system:admin", Groups: []string{"system:authenticated", MastersGroup}}
	alice := &User{Name: "alice", Groups: []string{"system:authenticated"}}
	for _, tc := range []struct {
		name       string
		authorizer *recordAuthorizer
		user       *User
		want       bool
		wantAsked  int
	}{
		{"masters without an authorizer", nil, admin, true, 0},
		{"others without an authorizer", nil, alice, false, 0},
		{"masters are not asked about", &recordAuthorizer{allow: false}, admin, true, 0},
		{"others are asked about: no", &recordAuthorizer{allow: false}, alice, false, 1},
		{"others are asked about: yes", &recordAuthorizer{allow: true}, alice, true, 1},
		{"no user", &recordAuthorizer{allow: true}, nil, false, 0},
	} {
		s := &Server{}
		if tc.authorizer != nil {
			s.cfg.Authorizer = tc.authorizer
		}
		got, _ := s.authorize(Attributes{User: tc.user, Verb: "get", Resource: schema.GroupResource{Resource: "nodes"}, Name: "n1"})
		if got != tc.want {
			t.Errorf("%s: allowed = %v, want %v", tc.name, got, tc.want)
		}
		if tc.authorizer != nil && len(tc.authorizer.asked) != tc.wantAsked {
			t.Errorf("%s: authorizer asked %d times, want %d", tc.name, len(tc.authorizer.asked), tc.wantAsked)
		}
	}
}

func TestForbiddenMessage(t *testing.T) {
	u := &User{Name: "system:node:n1"}
	ri := requestInfo{verb: "patch", resource: "nodes", name: "n2", subresource: "status"}
	gr := schema.GroupResource{Resource: "nodes"}
	want := `nodes "n2" is forbidden: User "system:node:n1" cannot patch resource "nodes/status" in API group "" at the cluster scope`
	if got := forbidden(u, ri, gr, "").Error(); got != want {
		t.Errorf("without a reason: %q, want %q", got, want)
	}
	if got := forbidden(u, ri, gr, "node \"n1\" can only modify its own node").Error(); got != want+`: node "n1" can only modify its own node` {
		t.Errorf("with a reason: %q", got)
	}
}
