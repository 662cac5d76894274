package nodeauth

import (
	"fmt"
	"strings"

	"github.com/skiff-io/skiff/protocol"
	"github.com/skiff-io/skiff/server/apiserver"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// Graph tells which objects a node's pods use. The node sync hub
// implements it; it answers for the kinds of a desired document (Pod,
// ConfigMap, Secret) and false for any other.
type Graph interface {
	MayRead(node string, r protocol.Ref) bool
}

// Kinds the authorizer also asks the Graph about. The hub does not track
// them yet and answers false, so nodes cannot read volumes' claims or
// request service account tokens until it does.
const (
	KindPersistentVolumeClaim = "PersistentVolumeClaim"
	KindPersistentVolume      = "PersistentVolume"
	// KindServiceAccount: a node may create a token for a service account
	// one of its pods runs as.
	KindServiceAccount = "ServiceAccount"
)

// Nothing is a Graph in which no node runs anything: a server without a
// node sync hub lets nodes read no pod, ConfigMap or Secret.
type Nothing struct{}

// MayRead implements Graph.
func (Nothing) MayRead(string, protocol.Ref) bool { return false }

// Authorizer applies the node rules to node users and hands every other
// user to the next authorizer.
type Authorizer struct {
	graph Graph
	next  apiserver.Authorizer
}

var _ apiserver.Authorizer = (*Authorizer)(nil)

// New returns the node authorizer over graph (nil: Nothing). next decides
// for users outside system:nodes; nil denies them.
func New(graph Graph, next apiserver.Authorizer) *Authorizer {
	if graph == nil {
		graph = Nothing{}
	}
	return &Authorizer{graph: graph, next: next}
}

// Authorize implements apiserver.Authorizer.
func (z *Authorizer) Authorize(a apiserver.Attributes) (bool, string) {
	if a.User == nil {
		return false, ""
	}
	if !inGroup(a.User, protocol.NodesGroup) {
		if z.next == nil {
			return false, ""
		}
		return z.next.Authorize(a)
	}
	node, ok := strings.CutPrefix(a.User.Name, protocol.NodeUserPrefix)
	if !ok || node == "" {
		return false, fmt.Sprintf("unknown node for user %q", a.User.Name)
	}
	return z.node(node, a)
}

func inGroup(u *apiserver.User, g string) bool {
	for _, x := range u.Groups {
		if x == g {
			return true
		}
	}
	return false
}

// node applies the rules to a request of node n.
func (z *Authorizer) node(n string, a apiserver.Attributes) (bool, string) {
	switch a.Resource.Group + "/" + a.Resource.Resource {
	case "/nodes":
		return z.nodes(n, a)
	case "coordination.k8s.io/leases":
		return z.leases(n, a)
	case "/pods":
		return z.pods(n, a)
	case "/configmaps":
		return z.readUsed(n, a, protocol.KindConfigMap)
	case "/secrets":
		return z.readUsed(n, a, protocol.KindSecret)
	case "/persistentvolumeclaims":
		return z.getUsed(n, a, KindPersistentVolumeClaim)
	case "/persistentvolumes":
		return z.getUsed(n, a, KindPersistentVolume)
	case "/serviceaccounts":
		if a.Subresource == "token" && a.Verb == "create" {
			return z.allowIf(z.mayRead(n, KindServiceAccount, a.Namespace, a.Name),
				fmt.Sprintf("no pod of node %q runs as service account %q", n, a.Namespace+"/"+a.Name))
		}
	case "/events", "events.k8s.io/events":
		if a.Subresource == "" && oneOf(a.Verb, "create", "update", "patch") {
			return true, ""
		}
	case "/services", "/endpoints", "discovery.k8s.io/endpointslices":
		if a.Subresource == "" && oneOf(a.Verb, "get", "list", "watch") {
			return true, ""
		}
	}
	return false, ""
}

// nodes: any Node may be read (a node looks up its peers' addresses); a
// node writes only its own, status included.
func (z *Authorizer) nodes(n string, a apiserver.Attributes) (bool, string) {
	switch {
	case a.Subresource == "" && oneOf(a.Verb, "get", "list", "watch"), a.Subresource == "status" && a.Verb == "get":
		return true, ""
	case a.Subresource == "" && a.Verb == "create":
		return own(n, a.NewName, "node", "create")
	case a.Subresource == "" && oneOf(a.Verb, "update", "patch", "delete"):
		return own(n, a.Name, "node", "modify")
	case a.Subresource == "status" && oneOf(a.Verb, "update", "patch"):
		return own(n, a.Name, "node", "modify")
	}
	return false, ""
}

// leases: the node's heartbeat, kube-node-lease/<node>.
func (z *Authorizer) leases(n string, a apiserver.Attributes) (bool, string) {
	if a.Namespace != corev1.NamespaceNodeLease || a.Subresource != "" {
		return false, ""
	}
	switch a.Verb {
	case "get", "update", "patch", "delete":
		return own(n, a.Name, "lease", a.Verb)
	case "create":
		return own(n, a.NewName, "lease", a.Verb)
	case "list", "watch":
		name, ok := exact(a.FieldSelector, "metadata.name")
		return z.allowIf(ok && name == n, fmt.Sprintf("can only %s its own lease, with fieldSelector metadata.name=%s", a.Verb, n))
	}
	return false, ""
}

// pods: the node reads and reports on the pods bound to it.
func (z *Authorizer) pods(n string, a apiserver.Attributes) (bool, string) {
	mine := func() (bool, string) {
		return z.allowIf(z.mayRead(n, protocol.KindPod, a.Namespace, a.Name),
			fmt.Sprintf("no relationship found between node %q and this object", n))
	}
	switch {
	case a.Subresource == "" && oneOf(a.Verb, "get", "delete"):
		return mine()
	case a.Subresource == "" && oneOf(a.Verb, "list", "watch"):
		name, ok := exact(a.FieldSelector, "spec.nodeName")
		return z.allowIf(ok && name == n, fmt.Sprintf("can only %s pods with fieldSelector spec.nodeName=%s", a.Verb, n))
	case a.Subresource == "status" && oneOf(a.Verb, "get", "update", "patch"):
		return mine()
	}
	return false, ""
}

// readUsed: ConfigMaps and Secrets the node's pods use, one at a time
// (get, or list/watch pinned to one name as the kubelet's watch-based
// managers ask).
func (z *Authorizer) readUsed(n string, a apiserver.Attributes, kind string) (bool, string) {
	if a.Subresource != "" {
		return false, ""
	}
	name := a.Name
	switch a.Verb {
	case "get":
	case "list", "watch":
		var ok bool
		if name, ok = exact(a.FieldSelector, "metadata.name"); !ok || a.Namespace == "" {
			return false, fmt.Sprintf("can only %s one object in a namespace, with fieldSelector metadata.name", a.Verb)
		}
	default:
		return false, ""
	}
	return z.allowIf(z.mayRead(n, kind, a.Namespace, name),
		fmt.Sprintf("no relationship found between node %q and this object", n))
}

// getUsed: objects a node may get, but not list or watch, when the
// Graph relates them to it.
func (z *Authorizer) getUsed(n string, a apiserver.Attributes, kind string) (bool, string) {
	if a.Subresource != "" || a.Verb != "get" {
		return false, ""
	}
	return z.allowIf(z.mayRead(n, kind, a.Namespace, a.Name),
		fmt.Sprintf("no relationship found between node %q and this object", n))
}

func (z *Authorizer) mayRead(n, kind, ns, name string) bool {
	return name != "" && z.graph.MayRead(n, protocol.Ref{Kind: kind, Namespace: ns, Name: name})
}

func (z *Authorizer) allowIf(ok bool, reason string) (bool, string) {
	if ok {
		return true, ""
	}
	return false, reason
}

func own(n, name, what, verb string) (bool, string) {
	if name == n {
		return true, ""
	}
	return false, fmt.Sprintf("node %q can only %s its own %s", n, verb, what)
}

// exact returns the value a field selector requires field to equal. A
// selector of several terms qualifies when one of them pins the field:
// the others can only narrow the result.
func exact(sel fields.Selector, field string) (string, bool) {
	if sel == nil {
		return "", false
	}
	return sel.RequiresExactMatch(field)
}

func oneOf(s string, set ...string) bool {
	for _, x := range set {
		if s == x {
			return true
		}
	}
	return false
}
