// Package daemonset runs one pod of each DaemonSet on every node it
// belongs on, as Kubernetes' DaemonSet controller does: a node is eligible
// when it matches the template's nodeSelector and required node affinity
// and the pod tolerates its NoSchedule and NoExecute taints (with the
// tolerations Kubernetes adds to every daemon pod). Daemon pods are created
// pinned to their node by required node affinity on metadata.name, and the
// default scheduler binds them. Templates are rolled out by RollingUpdate
// (maxUnavailable or maxSurge, minReadySeconds) or OnDelete, with each
// template kept as a ControllerRevision (server/controllers/history).
// Failed daemon pods are deleted, and so replaced, with per-node back-off.
//
// Plan is the pure decision; Controller runs it level-based from informers
// and a rate-limited work queue, writing through the server's HTTP API
// (server/kubeclient). It must not import storage, the apiserver or
// anything under agent/.
package daemonset
