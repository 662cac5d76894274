package nodeauth

import (
	"strings"
	"testing"

	"github.com/skiff-io/skiff/protocol"
	"github.com/skiff-io/skiff/server/apiserver"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// graph is a fixed set of objects each node may read.
type graph map[string][]protocol.Ref

func (g graph) MayRead(node string, r protocol.Ref) bool {
	for _, x := range g[node] {
		if x == r {
			return true
		}
	}
	return false
}

// allowAll stands for the authorizer after this one.
type allowAll struct{}

func (allowAll) Authorize(apiserver.Attributes) (bool, string) { return true, "" }

var n1 = &apiserver.User{Name: "system:node:n1", Groups: []string{"system:nodes", "system:authenticated"}}

func testGraph() graph {
	return graph{
		"n1": {
			{Kind: protocol.KindPod, Namespace: "default", Name: "web"},
			{Kind: protocol.KindConfigMap, Namespace: "default", Name: "web-config"},
			{Kind: protocol.KindSecret, Namespace: "default", Name: "web-tls"},
		},
		"n2": {
			{Kind: protocol.KindPod, Namespace: "default", Name: "db"},
			{Kind: protocol.KindSecret, Namespace: "default", Name: "db-password"},
		},
	}
}

func sel(s string) fields.Selector {
	if s == "" {
		return fields.Everything()
	}
	f, err := fields.ParseSelector(s)
	if err != nil {
		panic(err)
	}
	return f
}

// req builds attributes: "verb group/resource[/sub] ns/name" with the
// namespace and name optional, as in "get /pods default/web".
func req(u *apiserver.User, verb, res, obj, fieldSelector string) apiserver.Attributes {
	a := apiserver.Attributes{User: u, Verb: verb, FieldSelector: sel(fieldSelector)}
	group, rest, _ := strings.Cut(res, "/")
	resource, sub, _ := strings.Cut(rest, "/")
	a.Resource = schema.GroupResource{Group: group, Resource: resource}
	a.Subresource = sub
	if ns, name, ok := strings.Cut(obj, "/"); ok {
		a.Namespace, a.Name = ns, name
	} else {
		a.Name = obj
	}
	return a
}

func TestNodeRules(t *testing.T) {
	tests := []struct {
		verb, res, obj, fieldSelector string
		newName                       string
		want                          bool
	}{
		// Nodes: read any, write its own.
		{"get", "/nodes", "n1", "", "", true},
		{"get", "/nodes", "n2", "", "", true},
		{"list", "/nodes", "", "", "", true},
		{"watch", "/nodes", "", "metadata.name=n1", "", true},
		{"get", "/nodes/status", "n2", "", "", true},
		{"update", "/nodes/status", "n1", "", "", true},
		{"patch", "/nodes/status", "n1", "", "", true},
		{"patch", "/nodes/status", "n2", "", "", false},
		{"update", "/nodes/status", "n2", "", "", false},
		{"update", "/nodes", "n1", "", "", true},
		{"patch", "/nodes", "n2", "", "", false},
		{"delete", "/nodes", "n1", "", "", true},
		{"delete", "/nodes", "n2", "", "", false},
		{"create", "/nodes", "", "", "n1", true},
		{"create", "/nodes", "", "", "n2", false},
		{"create", "/nodes", "", "", "", false},
		{"deletecollection", "/nodes", "", "", "", false},
		{"create", "/nodes/proxy", "n1", "", "", false},

		// Leases: its own, in kube-node-lease.
		{"get", "coordination.k8s.io/leases", "kube-node-lease/n1", "", "", true},
		{"update", "coordination.k8s.io/leases", "kube-node-lease/n1", "", "", true},
		{"patch", "coordination.k8s.io/leases", "kube-node-lease/n1", "", "", true},
		{"delete", "coordination.k8s.io/leases", "kube-node-lease/n1", "", "", true},
		{"create", "coordination.k8s.io/leases", "kube-node-lease/", "", "n1", true},
		{"create", "coordination.k8s.io/leases", "kube-node-lease/", "", "n2", false},
		{"create", "coordination.k8s.io/leases", "kube-node-lease/", "", "", false},
		{"get", "coordination.k8s.io/leases", "kube-node-lease/n2", "", "", false},
		{"update", "coordination.k8s.io/leases", "kube-node-lease/n2", "", "", false},
		{"get", "coordination.k8s.io/leases", "default/n1", "", "", false},
		{"create", "coordination.k8s.io/leases", "kube-system/", "", "n1", false},
		{"list", "coordination.k8s.io/leases", "kube-node-lease/", "metadata.name=n1", "", true},
		{"watch", "coordination.k8s.io/leases", "kube-node-lease/", "metadata.name=n1", "", true},
		{"watch", "coordination.k8s.io/leases", "kube-node-lease/", "metadata.name=n2", "", false},
		{"list", "coordination.k8s.io/leases", "kube-node-lease/", "", "", false},
		{"list", "coordination.k8s.io/leases", "", "metadata.name=n1", "", false},
		{"deletecollection", "coordination.k8s.io/leases", "kube-node-lease/", "metadata.name=n1", "", false},

		// Pods: those bound to it.
		{"get", "/pods", "default/web", "", "", true},
		{"get", "/pods", "default/db", "", "", false},
		{"get", "/pods", "kube-system/web", "", "", false},
		{"list", "/pods", "", "spec.nodeName=n1", "", true},
		{"watch", "/pods", "", "spec.nodeName=n1", "", true},
		{"watch", "/pods", "default/", "spec.nodeName==n1", "", true},
		{"list", "/pods", "", "spec.nodeName=n1,status.phase!=Succeeded", "", true},
		{"list", "/pods", "", "spec.nodeName=n2", "", false},
		{"list", "/pods", "", "spec.nodeName!=n2", "", false},
		{"list", "/pods", "", "status.phase=Running", "", false},
		{"list", "/pods", "", "", "", false},
		{"list", "/pods", "default/", "", "", false},
		{"update", "/pods/status", "default/web", "", "", true},
		{"patch", "/pods/status", "default/web", "", "", true},
		{"patch", "/pods/status", "default/db", "", "", false},
		{"delete", "/pods", "default/web", "", "", true},
		{"delete", "/pods", "default/db", "", "", false},
		{"create", "/pods", "default/", "", "web", false},
		{"update", "/pods", "default/web", "", "", false},
		{"patch", "/pods", "default/web", "", "", false},
		{"deletecollection", "/pods", "default/", "spec.nodeName=n1", "", false},
		{"create", "/pods/eviction", "default/web", "", "", false},
		{"get", "/pods/log", "default/web", "", "", false},
		{"create", "/pods/exec", "default/web", "", "", false},

		// ConfigMaps and Secrets its pods use, one at a time.
		{"get", "/configmaps", "default/web-config", "", "", true},
		{"get", "/secrets", "default/web-tls", "", "", true},
		{"get", "/secrets", "default/db-password", "", "", false},
		{"get", "/secrets", "default/other", "", "", false},
		{"get", "/configmaps", "default/web-tls", "", "", false}, // a Secret of that name, not a ConfigMap
		{"watch", "/secrets", "default/", "metadata.name=web-tls", "", true},
		{"list", "/configmaps", "default/", "metadata.name=web-config", "", true},
		{"list", "/secrets", "default/", "metadata.name=db-password", "", false},
		{"list", "/secrets", "default/", "", "", false},
		{"list", "/secrets", "", "metadata.name=web-tls", "", false},
		{"list", "/secrets", "", "", "", false},
		{"update", "/secrets", "default/web-tls", "", "", false},
		{"patch", "/configmaps", "default/web-config", "", "", false},
		{"delete", "/secrets", "default/web-tls", "", "", false},
		{"create", "/configmaps", "default/", "", "web-config", false},

		// Volumes and tokens: through the Graph, which relates none here.
		{"get", "/persistentvolumeclaims", "default/data", "", "", false},
		{"get", "/persistentvolumes", "pv1", "", "", false},
		{"create", "/serviceaccounts/token", "default/default", "", "", false},

		// Events: anywhere.
		{"create", "/events", "default/", "", "web.1", true},
		{"update", "/events", "kube-system/x", "", "", true},
		{"patch", "events.k8s.io/events", "other/x", "", "", true},
		{"create", "events.k8s.io/events", "other/", "", "", true},
		{"delete", "/events", "default/x", "", "", false},
		{"list", "/events", "", "", "", false},

		// Services and endpoints: read.
		{"get", "/services", "default/kubernetes", "", "", true},
		{"list", "/services", "", "", "", true},
		{"watch", "/endpoints", "", "", "", true},
		{"list", "discovery.k8s.io/endpointslices", "", "", "", true},
		{"create", "/services", "default/", "", "x", false},
		{"update", "discovery.k8s.io/endpointslices", "default/x", "", "", false},
		{"update", "/services/status", "default/kubernetes", "", "", false},

		// Everything else.
		{"list", "/namespaces", "", "", "", false},
		{"get", "/namespaces", "default", "", "", false},
		{"list", "apps/deployments", "", "", "", false},
		{"get", "/serviceaccounts", "default/default", "", "", false},
		{"list", "rbac.authorization.k8s.io/clusterroles", "", "", "", false},
		{"create", "certificates.k8s.io/certificatesigningrequests", "", "", "n1", false},
	}
	z := New(testGraph(), allowAll{})
	for _, tt := range tests {
		a := req(n1, tt.verb, tt.res, tt.obj, tt.fieldSelector)
		a.NewName = tt.newName
		got, reason := z.Authorize(a)
		if got != tt.want {
			t.Errorf("%s %s %s fieldSelector=%q newName=%q: allowed = %v (%q), want %v", tt.verb, tt.res, tt.obj, tt.fieldSelector, tt.newName, got, reason, tt.want)
		}
		if got && reason != "" {
			t.Errorf("%s %s %s: allowed with a reason %q", tt.verb, tt.res, tt.obj, reason)
		}
	}
}

func TestUsers(t *testing.T) {
	other := &apiserver.User{Name: "alice", Groups: []string{"system:authenticated"}}
	noPrefix := &apiserver.User{Name: "n1", Groups: []string{"system:nodes"}}
	emptyName := &apiserver.User{Name: "system:node:", Groups: []string{"system:nodes"}}
	notInGroup := &apiserver.User{Name: "system:node:n1", Groups: []string{"system:authenticated"}}
	getNode := func(u *apiserver.User) apiserver.Attributes { return req(u, "get", "/nodes", "n1", "") }

	tests := []struct {
		name string
		next apiserver.Authorizer
		a    apiserver.Attributes
		want bool
	}{
		{"other users go to the next authorizer", allowAll{}, req(other, "list", "/namespaces", "", ""), true},
		{"without a next authorizer other users are denied", nil, req(other, "get", "/nodes", "n1", ""), false},
		{"a user named as a node but outside system:nodes is not a node", nil, getNode(notInGroup), false},
		{"... and goes to the next authorizer", allowAll{}, req(notInGroup, "list", "/secrets", "", ""), true},
		{"a node user without the name form is denied everything", allowAll{}, getNode(noPrefix), false},
		{"a node user with an empty node name is denied everything", allowAll{}, getNode(emptyName), false},
		{"node rules do not fall through to the next authorizer", allowAll{}, req(n1, "list", "/secrets", "", ""), false},
		{"no user", allowAll{}, req(nil, "get", "/nodes", "n1", ""), false},
		{"no user, no next", nil, req(nil, "get", "/nodes", "n1", ""), false},
	}
	for _, tt := range tests {
		z := New(testGraph(), tt.next)
		if got, _ := z.Authorize(tt.a); got != tt.want {
			t.Errorf("%s: allowed = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestNilGraph(t *testing.T) {
	z := New(nil, nil)
	for _, a := range []apiserver.Attributes{
		req(n1, "get", "/pods", "default/web", ""),
		req(n1, "get", "/secrets", "default/web-tls", ""),
	} {
		if ok, _ := z.Authorize(a); ok {
			t.Errorf("%s %s/%s allowed without a graph", a.Verb, a.Namespace, a.Name)
		}
	}
	if ok, _ := z.Authorize(req(n1, "get", "/nodes", "n1", "")); !ok {
		t.Error("get own node denied without a graph")
	}
}

func TestReasons(t *testing.T) {
	z := New(testGraph(), nil)
	_, reason := z.Authorize(req(n1, "patch", "/nodes/status", "n2", ""))
	if reason != `node "n1" can only modify its own node` {
		t.Errorf("reason = %q", reason)
	}
	_, reason = z.Authorize(req(n1, "list", "/pods", "", ""))
	if !strings.Contains(reason, "spec.nodeName=n1") {
		t.Errorf("reason = %q", reason)
	}
}
