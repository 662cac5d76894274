package scheduler

import (
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Reasons a node is refused, in kube-scheduler's words: they appear in
// FailedScheduling events and in the PodScheduled condition, and users
// and tools match on them.
const (
	ReasonUnschedulable             = "node(s) were unschedulable"
	ReasonNodeName                  = "node(s) didn't match the requested node name"
	ReasonNodeAffinity              = "node(s) didn't match Pod's node affinity/selector"
	ReasonNodePorts                 = "node(s) didn't have free ports for the requested pod ports"
	ReasonTooManyPods               = "Too many pods"
	ReasonTopologySpread            = "node(s) didn't match pod topology spread constraints"
	ReasonTopologySpreadLabel       = ReasonTopologySpread + " (missing required label)"
	ReasonExistingAntiAffinity      = "node(s) didn't satisfy existing pods anti-affinity rules"
	ReasonAffinity                  = "node(s) didn't match pod affinity rules"
	ReasonAntiAffinity              = "node(s) didn't match pod anti-affinity rules"
	ReasonNotInNodeAffinityNodeList = "node(s) didn't satisfy plugin(s) [NodeAffinity]"
	// reasonAffinityConflict is the whole message when the pod's required
	// node affinity pins it to no node name at all.
	reasonAffinityConflict = "pod affinity terms conflict"
)

// ReasonTaint is the reason for a taint the pod does not tolerate.
func ReasonTaint(t *corev1.Taint) string {
	return fmt.Sprintf("node(s) had untolerated taint {%s: %s}", t.Key, t.Value)
}

// ReasonInsufficient is the reason for a resource the node has too little
// of.
func ReasonInsufficient(name corev1.ResourceName) string {
	return fmt.Sprintf("Insufficient %v", name)
}

// ErrNoNodes is returned when the cluster has no node at all.
var ErrNoNodes = errors.New("no nodes available to schedule pods")

// FitError says why no node fits a pod.
type FitError struct {
	// NumAllNodes is how many nodes were considered.
	NumAllNodes int
	// Reasons counts, per reason, the nodes refused for it.
	Reasons map[string]int
	// PreFilterMsg, when set, is the one reason every node was refused for.
	PreFilterMsg string
}

// Error renders kube-scheduler's message: "0/3 nodes are available: 1
// Insufficient cpu, 2 node(s) had untolerated taint {k: v}." with the
// "<count> <reason>" entries sorted as strings.
func (e *FitError) Error() string {
	msg := fmt.Sprintf("0/%v nodes are available:", e.NumAllNodes)
	if e.PreFilterMsg != "" {
		return msg + " " + e.PreFilterMsg + "."
	}
	entries := make([]string, 0, len(e.Reasons))
	for reason, n := range e.Reasons {
		entries = append(entries, fmt.Sprintf("%v %v", n, reason))
	}
	sort.Strings(entries)
	if len(entries) > 0 {
		msg += " " + strings.Join(entries, ", ") + "."
	}
	return msg
}

// Result is where a pod goes.
type Result struct {
	NodeName string
	// FeasibleNodes is how many nodes passed the filters.
	FeasibleNodes int
	// Score is the chosen node's weighted score.
	Score int64
}

// Schedule picks the node for pod among snap's nodes: the feasible node
// with the highest weighted score, ties broken by a hash of the pod and
// node names (deterministic, and spreads ties). It returns a *FitError
// when no node fits, ErrNoNodes when there are none.
func Schedule(snap *Snapshot, pod *corev1.Pod) (Result, error) {
	if snap.NumNodes() == 0 {
		return Result{}, ErrNoNodes
	}
	c := newCycle(snap, pod)
	fitErr := &FitError{NumAllNodes: snap.NumNodes(), Reasons: map[string]int{}}
	pinned, isPinned := requiredNodeNames(pod)
	if isPinned && len(pinned) == 0 {
		fitErr.PreFilterMsg = reasonAffinityConflict
		return Result{}, fitErr
	}
	if snap.Volumes != nil {
		v := snap.Volumes(pod)
		if v.PreFilterMsg != "" {
			fitErr.PreFilterMsg = v.PreFilterMsg
			return Result{}, fitErr
		}
		c.vols = &v
	}
	feasible := make([]*NodeInfo, 0, snap.NumNodes())
	var reasons []string
	for _, ni := range snap.infos {
		if isPinned && !pinned[ni.Node.Name] {
			fitErr.Reasons[ReasonNotInNodeAffinityNodeList]++
			continue
		}
		reasons = c.filter(ni, reasons[:0])
		if len(reasons) == 0 {
			feasible = append(feasible, ni)
			continue
		}
		for _, r := range reasons {
			fitErr.Reasons[r]++
		}
	}
	if len(feasible) == 0 {
		return Result{}, fitErr
	}
	if len(feasible) == 1 {
		return Result{NodeName: feasible[0].Node.Name, FeasibleNodes: 1}, nil
	}
	scores := c.score(feasible)
	best, bestHash := -1, uint32(0)
	key := podKey(pod)
	for i, s := range scores {
		if best >= 0 && s < scores[best] {
			continue
		}
		h := tieHash(key, feasible[i].Node.Name)
		if best < 0 || s > scores[best] || h < bestHash {
			best, bestHash = i, h
		}
	}
	return Result{NodeName: feasible[best].Node.Name, FeasibleNodes: len(feasible), Score: scores[best]}, nil
}

func tieHash(podKey, node string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(podKey))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(node))
	return h.Sum32()
}

// cycle holds what one Schedule call derives from the pod once (kube's
// PreFilter state).
type cycle struct {
	snap *Snapshot
	pod  *corev1.Pod
	pi   *podInfo

	tolerateUnschedulable bool
	spread                *spreadState
	aff                   *affinityState
	vols                  *PodVolumes // nil: claims not checked
}

func newCycle(snap *Snapshot, pod *corev1.Pod) *cycle {
	c := &cycle{snap: snap, pod: pod, pi: newPodInfo(pod)}
	c.tolerateUnschedulable = tolerates(pod.Spec.Tolerations, &corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule})
	c.spread = newSpreadState(snap, pod, corev1.DoNotSchedule)
	c.aff = newAffinityState(snap, pod, c.pi)
	return c
}

// filter appends to reasons why ni cannot take the pod; none means it
// can. As in kube-scheduler, the first filter that refuses a node gives
// its reasons and the others are not asked.
func (c *cycle) filter(ni *NodeInfo, reasons []string) []string {
	node := ni.Node
	pod := c.pod
	if node.Spec.Unschedulable && !c.tolerateUnschedulable {
		return append(reasons, ReasonUnschedulable)
	}
	if pod.Spec.NodeName != "" && pod.Spec.NodeName != node.Name {
		return append(reasons, ReasonNodeName)
	}
	if t := untoleratedTaint(pod, ni); t != nil {
		return append(reasons, ReasonTaint(t))
	}
	if !matchesNodeSelector(pod, node) {
		return append(reasons, ReasonNodeAffinity)
	}
	if c.portConflict(ni) {
		return append(reasons, ReasonNodePorts)
	}
	if reasons = c.fits(ni, reasons); len(reasons) > 0 {
		return reasons
	}
	if c.vols != nil && !c.vols.fits(node) {
		return append(reasons, ReasonVolumeNodeAffinity)
	}
	if r := c.spread.filter(ni); r != "" {
		return append(reasons, r)
	}
	if r := c.aff.filter(ni); r != "" {
		return append(reasons, r)
	}
	return reasons
}

func (c *cycle) portConflict(ni *NodeInfo) bool {
	for _, hp := range c.pi.ports {
		anyKey := hostPort{protocol: hp.protocol, port: hp.port}
		if hp.ip == "0.0.0.0" {
			if ni.portsAny[anyKey] > 0 {
				return true
			}
			continue
		}
		if ni.ports[hp] > 0 || ni.ports[hostPort{ip: "0.0.0.0", protocol: hp.protocol, port: hp.port}] > 0 {
			return true
		}
	}
	return false
}

// fits compares the pod's requests with what the node has left, as
// NodeResourcesFit does: the pod count first, then each requested
// resource.
func (c *cycle) fits(ni *NodeInfo, reasons []string) []string {
	if int64(len(ni.pods))+1 > ni.allocatable.Pods {
		reasons = append(reasons, ReasonTooManyPods)
	}
	req := &c.pi.requests
	if req.zero() {
		return reasons
	}
	alloc, used := &ni.allocatable, &ni.requested
	if req.MilliCPU > 0 && req.MilliCPU > alloc.MilliCPU-used.MilliCPU {
		reasons = append(reasons, ReasonInsufficient(corev1.ResourceCPU))
	}
	if req.Memory > 0 && req.Memory > alloc.Memory-used.Memory {
		reasons = append(reasons, ReasonInsufficient(corev1.ResourceMemory))
	}
	if req.EphemeralStorage > 0 && req.EphemeralStorage > alloc.EphemeralStorage-used.EphemeralStorage {
		reasons = append(reasons, ReasonInsufficient(corev1.ResourceEphemeralStorage))
	}
	if len(req.Scalar) > 0 {
		names := make([]string, 0, len(req.Scalar))
		for name := range req.Scalar {
			names = append(names, string(name))
		}
		sort.Strings(names)
		for _, name := range names {
			rn := corev1.ResourceName(name)
			if v := req.Scalar[rn]; v > 0 && v > alloc.Scalar[rn]-used.Scalar[rn] {
				reasons = append(reasons, ReasonInsufficient(rn))
			}
		}
	}
	return reasons
}
