// Package replicaset is the ReplicaSet controller (the role of
// kube-controller-manager's replicaset controller): it keeps as many active
// pods as a ReplicaSet's spec.replicas asks for, created from its template
// with a controller ownerReference, adopts orphan pods its selector matches
// and releases owned pods that no longer match, picks the pods to delete in
// Kubernetes' order, and reports status (replicas, fullyLabeledReplicas,
// readyReplicas, availableReplicas, observedGeneration, ReplicaFailure).
//
// The decision step (Decide, Status, RankForDeletion) is pure: it takes the
// ReplicaSet, the namespace's pods and the time and returns what to do. The
// loop (Controller) runs on informers and a rate-limited workqueue, keeps
// expectations so that a lagging informer does not cause double creation,
// and creates pods in slow-start batches.
//
// It talks to the server only through server/kubeclient and must not import
// storage, the apiserver or anything under agent/.
package replicaset
