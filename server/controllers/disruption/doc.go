// Package disruption is the PodDisruptionBudget controller (the role of
// kube-controller-manager's disruption controller): for every budget it
// counts the pods its selector matches, works out how many must stay
// healthy (minAvailable, or the owning workloads' replicas less
// maxUnavailable; percentages of the workloads' replicas), and writes
// status.currentHealthy, desiredHealthy, expectedPods, disruptionsAllowed,
// observedGeneration, the DisruptionAllowed condition and disruptedPods,
// from which it drops pods the eviction API took more than two minutes ago
// that were never deleted. The eviction API (server/apiserver) reads
// disruptionsAllowed and takes from it; this controller gives it back as
// the cluster changes.
//
// Status computes a budget's status and is pure (status.go); Controller
// runs it level-based over informers of budgets, pods and the workloads
// whose scale counts. It talks to the server only through its HTTP API
// (server/kubeclient) and must not import storage, the apiserver or
// anything under agent/.
package disruption
