// Package nodelifecycle watches node heartbeats and acts on nodes that
// stop reporting, as kube-controller-manager's node lifecycle controller
// and taint manager do:
//
//   - a node whose Lease (kube-node-lease) and status heartbeat are both
//     older than the Lease's leaseDurationSeconds gets its conditions set
//     to Unknown (reason NodeStatusUnknown), its pods' Ready condition set
//     False, and the node.kubernetes.io/unreachable taints (NoSchedule and
//     NoExecute); a node reporting Ready=False gets the not-ready taints;
//     all are removed when the node reports again;
//   - pods on a node with a NoExecute taint they do not tolerate are
//     deleted, after their tolerationSeconds if they give one.
//
// skiff's edge promise changes one default: nodes labelled
// node.skiff.io/edge=true are never evicted for being unreachable or not
// ready, and the annotation node.skiff.io/eviction-timeout (a duration, or
// "never") sets the timeout of any node.
//
// The decisions (decide.go) are pure; the loop talks to the API through
// server/kubeclient only and must not import storage, the apiserver or
// anything under agent/.
package nodelifecycle
