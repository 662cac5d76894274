package scheduler

import (
	"math"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
)

type topoPair struct{ key, value string }

type spreadConstraint struct {
	maxSkew       int32
	key           string
	selector      labels.Selector
	minDomains    int32
	selfMatch     int
	honorAffinity bool
	honorTaints   bool
}

// spreadState is PodTopologySpread's view for one pod and one kind of
// constraint (DoNotSchedule for filtering, ScheduleAnyway for scoring).
type spreadState struct {
	constraints []spreadConstraint
	counts      map[topoPair]int
	// domains counts each constraint's domains; minMatch is the smallest
	// count among them (0 when there are fewer than minDomains).
	domains  []int
	minMatch []int
}

func newSpreadState(snap *Snapshot, pod *corev1.Pod, when corev1.UnsatisfiableConstraintAction) *spreadState {
	var cs []spreadConstraint
	for _, tc := range pod.Spec.TopologySpreadConstraints {
		if tc.WhenUnsatisfiable != when {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(tc.LabelSelector)
		if err != nil || tc.LabelSelector == nil {
			sel = labels.Nothing()
		}
		for _, k := range tc.MatchLabelKeys {
			if v, ok := pod.Labels[k]; ok {
				if r, err := labels.NewRequirement(k, selection.In, []string{v}); err == nil {
					sel = sel.Add(*r)
				}
			}
		}
		c := spreadConstraint{maxSkew: tc.MaxSkew, key: tc.TopologyKey, selector: sel,
			honorAffinity: tc.NodeAffinityPolicy == nil || *tc.NodeAffinityPolicy == corev1.NodeInclusionPolicyHonor,
			honorTaints:   tc.NodeTaintsPolicy != nil && *tc.NodeTaintsPolicy == corev1.NodeInclusionPolicyHonor}
		if tc.MinDomains != nil {
			c.minDomains = *tc.MinDomains
		}
		if sel.Matches(labels.Set(pod.Labels)) {
			c.selfMatch = 1
		}
		cs = append(cs, c)
	}
	if len(cs) == 0 {
		return nil
	}
	s := &spreadState{constraints: cs, counts: map[topoPair]int{}, domains: make([]int, len(cs)), minMatch: make([]int, len(cs))}
	for _, ni := range snap.infos {
		if !s.hasKeys(ni.Node) {
			continue
		}
		for i := range cs {
			c := &cs[i]
			if c.honorAffinity && !matchesNodeSelector(pod, ni.Node) {
				continue
			}
			if c.honorTaints && untoleratedTaint(pod, ni) != nil {
				continue
			}
			v, _ := topologyValue(ni.Node, c.key)
			pair := topoPair{c.key, v}
			n := 0
			for _, p := range ni.pods {
				if p.namespace == pod.Namespace && !p.deleting && c.selector.Matches(labels.Set(p.labels)) {
					n++
				}
			}
			if _, seen := s.counts[pair]; !seen {
				s.domains[i]++
			}
			s.counts[pair] += n
		}
	}
	for i := range cs {
		m := math.MaxInt
		for pair, n := range s.counts {
			if pair.key == cs[i].key && n < m {
				m = n
			}
		}
		if m == math.MaxInt || int32(s.domains[i]) < cs[i].minDomains {
			m = 0
		}
		s.minMatch[i] = m
	}
	return s
}

func (s *spreadState) hasKeys(node *corev1.Node) bool {
	for i := range s.constraints {
		if _, ok := topologyValue(node, s.constraints[i].key); !ok {
			return false
		}
	}
	return true
}

// filter returns the reason ni breaks a DoNotSchedule constraint, or "".
func (s *spreadState) filter(ni *NodeInfo) string {
	if s == nil {
		return ""
	}
	if !s.hasKeys(ni.Node) {
		return ReasonTopologySpreadLabel
	}
	for i := range s.constraints {
		c := &s.constraints[i]
		v, _ := topologyValue(ni.Node, c.key)
		skew := s.counts[topoPair{c.key, v}] + c.selfMatch - s.minMatch[i]
		if skew > int(c.maxSkew) {
			return ReasonTopologySpread
		}
	}
	return ""
}

// affinityState is InterPodAffinity's filtering view for one pod.
type affinityState struct {
	// existingAnti counts, per domain, existing pods whose required
	// anti-affinity the pod falls under.
	existingAnti   map[topoPair]int
	affinityCounts map[topoPair]int
	antiCounts     map[topoPair]int
	required       []affinityTerm
	anti           []affinityTerm
	// selfMatch: the pod matches all its own affinity terms, so the first
	// pod of a group may go anywhere.
	selfMatch bool
}

func newAffinityState(snap *Snapshot, pod *corev1.Pod, pi *podInfo) *affinityState {
	s := &affinityState{}
	for _, ni := range snap.infos {
		if ni.withAntiA == 0 {
			continue
		}
		for _, p := range ni.pods {
			anti := p.affinity().requiredAnti
			for i := range anti {
				t := &anti[i]
				if v, ok := topologyValue(ni.Node, t.topologyKey); ok && t.matches(pod.Namespace, pod.Labels, snap.NamespaceLabels) {
					if s.existingAnti == nil {
						s.existingAnti = map[topoPair]int{}
					}
					s.existingAnti[topoPair{t.topologyKey, v}]++
				}
			}
		}
	}
	own := pi.affinity()
	s.required, s.anti = own.requiredAff, own.requiredAnti
	if len(s.required) == 0 && len(s.anti) == 0 {
		return s
	}
	s.affinityCounts, s.antiCounts = map[topoPair]int{}, map[topoPair]int{}
	s.selfMatch = true
	for i := range s.required {
		if !s.required[i].matches(pod.Namespace, pod.Labels, snap.NamespaceLabels) {
			s.selfMatch = false
		}
	}
	for _, ni := range snap.infos {
		for _, p := range ni.pods {
			for i := range s.required {
				t := &s.required[i]
				if v, ok := topologyValue(ni.Node, t.topologyKey); ok && t.matches(p.namespace, p.labels, snap.NamespaceLabels) {
					s.affinityCounts[topoPair{t.topologyKey, v}]++
				}
			}
			for i := range s.anti {
				t := &s.anti[i]
				if v, ok := topologyValue(ni.Node, t.topologyKey); ok && t.matches(p.namespace, p.labels, snap.NamespaceLabels) {
					s.antiCounts[topoPair{t.topologyKey, v}]++
				}
			}
		}
	}
	return s
}

// filter returns the reason ni breaks required inter-pod (anti-)affinity,
// or "": existing pods' anti-affinity first, then the pod's affinity, then
// its anti-affinity, as kube-scheduler checks them.
func (s *affinityState) filter(ni *NodeInfo) string {
	for pair, n := range s.existingAnti {
		if v, ok := topologyValue(ni.Node, pair.key); ok && v == pair.value && n > 0 {
			return ReasonExistingAntiAffinity
		}
	}
	if len(s.required) > 0 {
		podsExist := true
		for i := range s.required {
			v, ok := topologyValue(ni.Node, s.required[i].topologyKey)
			if !ok {
				return ReasonAffinity
			}
			if s.affinityCounts[topoPair{s.required[i].topologyKey, v}] <= 0 {
				podsExist = false
			}
		}
		if !podsExist && !(len(s.affinityCounts) == 0 && s.selfMatch) {
			return ReasonAffinity
		}
	}
	for i := range s.anti {
		if v, ok := topologyValue(ni.Node, s.anti[i].topologyKey); ok && s.antiCounts[topoPair{s.anti[i].topologyKey, v}] > 0 {
			return ReasonAntiAffinity
		}
	}
	return ""
}
