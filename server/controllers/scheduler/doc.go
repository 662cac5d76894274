// Package scheduler runs the pure decision of server/scheduler against the
// API, as kube-scheduler's "default-scheduler" does: it follows pods and
// nodes with informers, keeps the scheduler's snapshot of the cluster up
// to date (counting pods it has just bound before the informer shows them,
// so consecutive pods do not overcommit a node), takes unscheduled pods
// from a priority-ordered, rate-limited work queue, binds them through
// pods/binding, and for pods that fit nowhere sets PodScheduled=False
// (reason Unschedulable) and emits a FailedScheduling event with
// kube-scheduler's message. Unschedulable pods wait until a node or pod
// changes, and are retried periodically, with per-pod backoff.
//
// Pods whose spec.schedulerName is neither empty nor "default-scheduler"
// are left alone, and so are pods with scheduling gates. The queue orders
// pods by spec.priority (which the API server's priority admission
// resolves from priorityClassName when a pod is created), then by arrival.
// Preemption is out of scope.
//
// It writes through the server's HTTP API (server/kubeclient) and must not
// import storage, the apiserver or anything under agent/.
package scheduler
