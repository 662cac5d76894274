package scheduler

import (
	"math"

	corev1 "k8s.io/api/core/v1"
)

// maxNodeScore is the top score of each scorer before weighting.
const maxNodeScore = 100

// Scorer weights: kube-scheduler's default profile.
const (
	weightTaint      = 3
	weightNodeAff    = 2
	weightFit        = 1
	weightSpread     = 2
	weightInterPod   = 2
	weightBalanced   = 1
	weightImage      = 1
	mb               = 1024 * 1024
	imageMinScoreSum = 23 * mb
	imageMaxPerCtr   = 1000 * mb
	// zoneLabel is the topology key the default owner spreading uses
	// besides the hostname.
	zoneLabel = corev1.LabelTopologyZone
)

// score returns each feasible node's weighted total.
func (c *cycle) score(nodes []*NodeInfo) []int64 {
	total := make([]int64, len(nodes))
	raw := make([]int64, len(nodes))
	add := func(weight int64) {
		for i := range raw {
			total[i] += weight * raw[i]
			raw[i] = 0
		}
	}

	// TaintToleration: fewer untolerated PreferNoSchedule taints is better.
	var prefer []corev1.Toleration
	for _, t := range c.pod.Spec.Tolerations {
		if t.Effect == "" || t.Effect == corev1.TaintEffectPreferNoSchedule {
			prefer = append(prefer, t)
		}
	}
	for i, ni := range nodes {
		for j := range ni.Node.Spec.Taints {
			t := &ni.Node.Spec.Taints[j]
			if t.Effect == corev1.TaintEffectPreferNoSchedule && !tolerates(prefer, t) {
				raw[i]++
			}
		}
	}
	normalize(raw, true)
	add(weightTaint)

	// NodeAffinity: the weights of the preferred terms the node matches.
	if a := c.pod.Spec.Affinity; a != nil && a.NodeAffinity != nil && len(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution) > 0 {
		for i, ni := range nodes {
			for _, t := range a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
				if t.Weight != 0 && matchesTerm(&t.Preference, ni.Node) {
					raw[i] += int64(t.Weight)
				}
			}
		}
		normalize(raw, false)
		add(weightNodeAff)
	}

	// NodeResourcesFit, LeastAllocated: the share of cpu and memory left.
	for i, ni := range nodes {
		cpu := leastAllocated(ni.nonZeroCPU+c.pi.cpu, ni.allocatable.MilliCPU)
		mem := leastAllocated(ni.nonZeroMem+c.pi.mem, ni.allocatable.Memory)
		raw[i] = (cpu + mem) / 2
	}
	add(weightFit)

	// BalancedAllocation: cpu and memory used in equal shares.
	for i, ni := range nodes {
		cpu := fraction(ni.requested.MilliCPU+c.pi.requests.MilliCPU, ni.allocatable.MilliCPU)
		mem := fraction(ni.requested.Memory+c.pi.requests.Memory, ni.allocatable.Memory)
		std := math.Abs(cpu-mem) / 2
		raw[i] = int64((1 - std) * maxNodeScore)
	}
	add(weightBalanced)

	// PodTopologySpread: the pod's ScheduleAnyway constraints, or else
	// the spreading of its owner's pods across hosts and zones.
	if c.spreadScores(nodes, raw) {
		add(weightSpread)
	}

	// InterPodAffinity: preferred terms both ways, and existing pods'
	// required affinity towards this pod.
	if c.interPodScores(nodes, raw) {
		add(weightInterPod)
	}

	// ImageLocality: images already on the node, scaled by how widely
	// they are spread (so that one node holding an image does not draw
	// every pod).
	if c.imageScores(nodes, raw) {
		add(weightImage)
	}
	return total
}

func leastAllocated(requested, capacity int64) int64 {
	if capacity == 0 || requested > capacity {
		return 0
	}
	return (capacity - requested) * maxNodeScore / capacity
}

func fraction(requested, capacity int64) float64 {
	if capacity == 0 {
		return 1
	}
	f := float64(requested) / float64(capacity)
	return min(f, 1)
}

// normalize scales scores to 0..100 by the largest (kube's
// DefaultNormalizeScore), reversed when lower is better.
func normalize(scores []int64, reverse bool) {
	var m int64
	for _, s := range scores {
		m = max(m, s)
	}
	for i := range scores {
		switch {
		case m == 0 && reverse:
			scores[i] = maxNodeScore
		case m == 0:
			scores[i] = 0
		default:
			scores[i] = scores[i] * maxNodeScore / m
			if reverse {
				scores[i] = maxNodeScore - scores[i]
			}
		}
	}
}

func (c *cycle) spreadScores(nodes []*NodeInfo, raw []int64) bool {
	f := make([]float64, len(nodes))
	ignored := make([]bool, len(nodes))
	if s := newSpreadState(c.snap, c.pod, corev1.ScheduleAnyway); s != nil {
		for i, ni := range nodes {
			if !s.hasKeys(ni.Node) {
				ignored[i] = true
				continue
			}
			for j := range s.constraints {
				k := &s.constraints[j]
				v, _ := topologyValue(ni.Node, k.key)
				w := math.Log(float64(s.domains[j] + 2))
				f[i] += float64(s.counts[topoPair{k.key, v}])*w + float64(k.maxSkew-1)
			}
		}
	} else if owner := c.pi.owner; owner != "" && len(c.pod.Spec.TopologySpreadConstraints) == 0 {
		// Like kube's default constraints (hostname maxSkew 3, zone
		// maxSkew 5), counting the pods of the same controller.
		zones := map[string]int{}
		for _, ni := range c.snap.infos {
			if z, ok := ni.Node.Labels[zoneLabel]; ok {
				zones[z] += int(ni.owners[owner])
			}
		}
		hostW := math.Log(float64(c.snap.NumNodes() + 2))
		zoneW := math.Log(float64(len(zones) + 2))
		for i, ni := range nodes {
			f[i] = float64(ni.owners[owner])*hostW + 2
			if z, ok := ni.Node.Labels[zoneLabel]; ok {
				f[i] += float64(zones[z])*zoneW + 4
			}
		}
	} else {
		return false
	}
	minS, maxS := int64(math.MaxInt64), int64(0)
	for i := range nodes {
		if ignored[i] {
			continue
		}
		raw[i] = int64(math.Round(f[i]))
		minS, maxS = min(minS, raw[i]), max(maxS, raw[i])
	}
	for i := range raw {
		switch {
		case ignored[i]:
			raw[i] = 0
		case maxS == 0:
			raw[i] = maxNodeScore
		default:
			raw[i] = maxNodeScore * (maxS + minS - raw[i]) / maxS
		}
	}
	return true
}

func (c *cycle) interPodScores(nodes []*NodeInfo, raw []int64) bool {
	own := c.pi.affinity()
	nsl := c.snap.NamespaceLabels
	incomingTerms := len(own.preferredAff)+len(own.preferredAnti) > 0
	scores := map[topoPair]int64{}
	process := func(t *affinityTerm, ns string, podLabels map[string]string, node *corev1.Node, weight int64) {
		if v, ok := topologyValue(node, t.topologyKey); ok && t.matches(ns, podLabels, nsl) {
			scores[topoPair{t.topologyKey, v}] += weight
		}
	}
	for _, ni := range c.snap.infos {
		if !incomingTerms && ni.withAff == 0 {
			continue
		}
		for _, p := range ni.pods {
			for i := range own.preferredAff {
				process(&own.preferredAff[i], p.namespace, p.labels, ni.Node, int64(own.preferredAff[i].weight))
			}
			for i := range own.preferredAnti {
				process(&own.preferredAnti[i], p.namespace, p.labels, ni.Node, int64(own.preferredAnti[i].weight))
			}
			theirs := p.affinity()
			for i := range theirs.requiredAff {
				process(&theirs.requiredAff[i], c.pod.Namespace, c.pod.Labels, ni.Node, 1)
			}
			for i := range theirs.preferredAff {
				process(&theirs.preferredAff[i], c.pod.Namespace, c.pod.Labels, ni.Node, int64(theirs.preferredAff[i].weight))
			}
			for i := range theirs.preferredAnti {
				process(&theirs.preferredAnti[i], c.pod.Namespace, c.pod.Labels, ni.Node, int64(theirs.preferredAnti[i].weight))
			}
		}
	}
	if len(scores) == 0 {
		return false
	}
	minS, maxS := int64(math.MaxInt64), int64(math.MinInt64)
	for i, ni := range nodes {
		raw[i] = 0
		for pair, s := range scores {
			if v, ok := topologyValue(ni.Node, pair.key); ok && v == pair.value {
				raw[i] += s
			}
		}
		minS, maxS = min(minS, raw[i]), max(maxS, raw[i])
	}
	for i := range raw {
		if maxS > minS {
			raw[i] = int64(float64(maxNodeScore) * float64(raw[i]-minS) / float64(maxS-minS))
		} else {
			raw[i] = 0
		}
	}
	return true
}

func (c *cycle) imageScores(nodes []*NodeInfo, raw []int64) bool {
	ctrs := len(c.pod.Spec.Containers) + len(c.pod.Spec.InitContainers)
	if ctrs == 0 || len(c.snap.imageNodes) == 0 {
		return false
	}
	names := make([]string, 0, ctrs)
	for i := range c.pod.Spec.InitContainers {
		names = append(names, normalizedImageName(c.pod.Spec.InitContainers[i].Image))
	}
	for i := range c.pod.Spec.Containers {
		names = append(names, normalizedImageName(c.pod.Spec.Containers[i].Image))
	}
	total := float64(c.snap.NumNodes())
	maxSum := int64(imageMaxPerCtr) * int64(ctrs)
	for i, ni := range nodes {
		var sum int64
		for _, n := range names {
			if size, ok := ni.images[n]; ok {
				sum += int64(float64(size) * float64(c.snap.imageNodes[n]) / total)
			}
		}
		sum = min(max(sum, imageMinScoreSum), maxSum)
		raw[i] = maxNodeScore * (sum - imageMinScoreSum) / (maxSum - imageMinScoreSum)
	}
	return true
}
