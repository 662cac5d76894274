// Package deployment is the Deployment controller (the role of
// kube-controller-manager's deployment controller): it rolls a
// Deployment's pod template out through ReplicaSets named
// <deployment>-<pod-template-hash>, with the RollingUpdate (maxSurge,
// maxUnavailable) or Recreate strategy, proportional scaling during a
// rollout, revisions (deployment.kubernetes.io/revision) and their
// cleanup past revisionHistoryLimit, pause and resume, rollback by
// template (the old ReplicaSet is reused and its revision bumped), and
// reports status and the Progressing, Available and ReplicaFailure
// conditions with Kubernetes' reasons.
//
// Decide is the pure decision step: the Deployment, its ReplicaSets, their
// pods and the time in, the ReplicaSet writes and the new status out. The
// loop (Controller) runs on informers and a rate-limited workqueue and
// applies the plan. Pods themselves are the replicaset controller's.
//
// It talks to the server only through server/kubeclient and must not import
// storage, the apiserver or anything under agent/.
package deployment
