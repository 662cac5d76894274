// Package scheduler decides where a pod runs: Schedule(snapshot, pod) takes
// the cluster as the scheduler sees it (nodes and the pods assigned or
// assumed on them) and returns a node or a *FitError whose message is
// kube-scheduler's ("0/3 nodes are available: 1 Insufficient cpu, ...").
//
// The filters and scores follow kube-scheduler's default profile, in its
// order and with its weights: NodeUnschedulable, NodeName, TaintToleration,
// NodeAffinity, NodePorts, NodeResourcesFit, PodTopologySpread and
// InterPodAffinity filter; TaintToleration, NodeAffinity,
// NodeResourcesFit (least allocated), PodTopologySpread (including the
// spreading of one owner's pods), InterPodAffinity, balanced allocation and
// ImageLocality score. Preemption is out of scope: a pod that fits nowhere
// waits.
//
// The package is pure: no goroutines, clock, randomness or I/O. The runner
// in server/controllers/scheduler feeds it and performs the bindings. It
// must not import kubeclient, storage, the apiserver or anything under
// agent/.
package scheduler
