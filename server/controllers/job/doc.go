// Package job is the Job controller (the role of kube-controller-manager's
// job and ttl-after-finished controllers): it runs a batch/v1 Job's pods to
// completion as Kubernetes 1.37 does — completions and parallelism,
// NonIndexed and Indexed completion modes, backoffLimit with exponential
// back-off between re-creations, backoffLimitPerIndex and
// maxFailedIndexes, activeDeadlineSeconds, podFailurePolicy, an Indexed
// Job's successPolicy, suspend, podReplacementPolicy — and deletes
// finished Jobs whose ttlSecondsAfterFinished has passed.
//
// Counts are exact: every pod carries the batch.kubernetes.io/job-tracking
// finalizer, a finished pod's UID is first written to the Job's
// status.uncountedTerminatedPods, only then is the finalizer removed, and
// only a pod without it moves into status.succeeded or status.failed.
// Conditions follow the two steps of 1.37: SuccessCriteriaMet then
// Complete, FailureTarget then Failed once no pod is left terminating.
//
// Decide is the pure decision (a Job, its pods and the time in; pods to
// create and delete, finalizers to release and the new status out); the
// Controller carries it out through the server's HTTP API
// (server/kubeclient) with informers and a rate-limited work queue. Jobs
// whose spec.managedBy names another controller are left alone. A running
// Job adopts orphan pods its selector matches and releases the pods it no
// longer matches (Claim).
//
// It must not import storage, the apiserver or anything under agent/.
package job
