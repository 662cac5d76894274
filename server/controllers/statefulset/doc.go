// Package statefulset runs StatefulSets as Kubernetes' StatefulSet
// controller does: pods with stable names <set>-<ordinal> (from
// spec.ordinals.start), the pod-name and pod-index labels, hostname and
// subdomain from serviceName, and one PersistentVolumeClaim per
// volumeClaimTemplate and ordinal (<template>-<set>-<ordinal>), created
// before the pod and kept or deleted as persistentVolumeClaimRetentionPolicy
// says (through owner references the garbage collector follows).
// OrderedReady creates ordinal N only when the lower ones are Running and
// Ready and removes pods from the highest ordinal down, one at a time;
// Parallel does both at once. Templates roll out by RollingUpdate (from the
// highest ordinal down to the partition, one pod at a time or, with
// maxUnavailable, as many as may be down at once) or OnDelete, each kept as
// a ControllerRevision (server/controllers/history).
//
// Decide is the pure decision; Controller runs it level-based from
// informers and a rate-limited work queue, writing through the server's
// HTTP API (server/kubeclient). It must not import storage, the apiserver
// or anything under agent/.
package statefulset
