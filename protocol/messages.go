package protocol

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// KubernetesVersion is the Kubernetes release whose API skiff serves and
// whose types it is built with (k8s.io/api v0.37.2): the server's /version
// and the nodes' kubeletVersion.
const KubernetesVersion = "v1.37.2"

// APIVersion is the version of every message in this package.
const APIVersion = "sync.skiff.io/v1"

// Desired is a node's desired state: every object the node needs to run its
// pods while it cannot reach the server. Revision is the datastore revision
// the document reflects.
//
// A document with Since == 0 is whole: it replaces everything the agent
// holds. Otherwise it is a delta over the agent's document at revision
// Since: the objects listed replace the agent's copies and Removed names
// objects to drop.
type Desired struct {
	APIVersion string             `json:"apiVersion"`
	Node       string             `json:"node"`
	Revision   int64              `json:"revision"`
	Since      int64              `json:"since,omitempty"`
	Pods       []corev1.Pod       `json:"pods,omitempty"`
	ConfigMaps []corev1.ConfigMap `json:"configMaps,omitempty"`
	Secrets    []corev1.Secret    `json:"secrets,omitempty"`
	// PersistentVolumeClaims are the claims the node's pods use, and
	// PersistentVolumes the volumes bound to them, plus the local-path
	// volumes of the node being deleted (whose directories the node
	// removes, see ItemVolumeGone).
	PersistentVolumeClaims []corev1.PersistentVolumeClaim `json:"persistentVolumeClaims,omitempty"`
	PersistentVolumes      []corev1.PersistentVolume      `json:"persistentVolumes,omitempty"`
	Removed                []Ref                          `json:"removed,omitempty"`
}

// Object kinds a desired document carries.
const (
	KindPod       = "Pod"
	KindConfigMap = "ConfigMap"
	KindSecret    = "Secret"

	KindPersistentVolumeClaim = "PersistentVolumeClaim"
	KindPersistentVolume      = "PersistentVolume" // cluster-scoped: no namespace
)

// A local-path volume (provisioned by the server for one node) carries
// LocalPathNodeAnnotation naming its node and, until that node has
// removed its directory, LocalPathCleanupFinalizer.
const (
	LocalPathNodeAnnotation   = "skiff.io/local-path-node"
	LocalPathCleanupFinalizer = "skiff.io/local-path-cleanup"
)

// Ref names an object in a desired document.
type Ref struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// Status item kinds, agent to server.
const (
	// ItemPodStatus replaces a pod's status (latest wins).
	ItemPodStatus = "PodStatus"
	// ItemPodGone reports that a pod being deleted has stopped everywhere
	// on the node: the server may now remove the object.
	ItemPodGone = "PodGone"
	// ItemNodeStatus replaces the node's status.
	ItemNodeStatus = "NodeStatus"
	// ItemEvent records an event.
	ItemEvent = "Event"
	// ItemVolumeGone reports that the node removed the directory of a
	// deleted local-path volume (Name, UID): the server may drop its
	// cleanup finalizer.
	ItemVolumeGone = "VolumeGone"
)

// StatusItem is one entry of an agent's outbox. Items of one object are
// coalesced on the agent (latest wins), so an item always carries the
// whole state it reports.
type StatusItem struct {
	Seq        int64              `json:"seq"`
	Kind       string             `json:"kind"`
	Namespace  string             `json:"namespace,omitempty"`
	Name       string             `json:"name,omitempty"`
	UID        types.UID          `json:"uid,omitempty"`
	PodStatus  *corev1.PodStatus  `json:"podStatus,omitempty"`
	NodeStatus *corev1.NodeStatus `json:"nodeStatus,omitempty"`
	Event      *corev1.Event      `json:"event,omitempty"`
}

// StatusBatch carries outbox items in sequence order.
type StatusBatch struct {
	APIVersion string       `json:"apiVersion"`
	Node       string       `json:"node"`
	Items      []StatusItem `json:"items"`
}

// StatusAck tells the agent that every item up to and including Seq has
// been stored (or deliberately dropped, as for a pod that no longer
// exists); the agent may delete them from its outbox.
type StatusAck struct {
	APIVersion string `json:"apiVersion"`
	Seq        int64  `json:"seq"`
}

// JoinRequest asks the server for a node credential. The agent sends it
// with the join token's secret as a bearer credential, after checking the
// server's CA against the token's hash.
type JoinRequest struct {
	APIVersion string `json:"apiVersion"`
	// Password is the node's own secret, created at its first start and
	// kept in its data dir. The first join of a node name records it; later
	// joins with another password are refused, so a second machine cannot
	// take over the name.
	Password string `json:"password"`
	// CSR is a PEM certificate request for the node's key.
	CSR []byte `json:"csr"`
	// Node is the Node object to register when it does not exist yet
	// (labels, taints, addresses); the server fills in spec.podCIDR.
	Node corev1.Node `json:"node"`
}

// JoinResponse is the node's credential and the cluster's addressing.
type JoinResponse struct {
	APIVersion  string `json:"apiVersion"`
	Certificate []byte `json:"certificate"` // PEM, system:node:<name> in system:nodes
	CA          []byte `json:"ca"`          // PEM bundle to trust for the server
	PodCIDR     string `json:"podCIDR"`
	ClusterCIDR string `json:"clusterCIDR"`
	ServiceCIDR string `json:"serviceCIDR"`
}

// Paths of the HTTP transport, below the server's API address.
const (
	PathCACerts = "/cacerts"
	PathJoin    = "/skiff/v1/join"
	// PathNodes is followed by <node>/desired or <node>/status.
	PathNodes = "/skiff/v1/nodes/"
)

// NodeUserPrefix and NodesGroup identify node credentials, as the
// Kubernetes Node authorizer names them.
const (
	NodeUserPrefix = "system:node:"
	NodesGroup     = "system:nodes"
)
