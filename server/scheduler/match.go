package scheduler

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/klog/v2"
)

// nodeNameField is the one field node selector terms may match.
const nodeNameField = "metadata.name"

// matchesNodeSelector reports whether node satisfies pod's nodeSelector and
// required node affinity (both must hold).
func matchesNodeSelector(pod *corev1.Pod, node *corev1.Node) bool {
	for k, v := range pod.Spec.NodeSelector {
		if got, ok := node.Labels[k]; !ok || got != v {
			return false
		}
	}
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return true
	}
	return matchesAnyTerm(a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms, node)
}

// matchesAnyTerm: terms are ORed; a term with no requirements matches
// nothing.
func matchesAnyTerm(terms []corev1.NodeSelectorTerm, node *corev1.Node) bool {
	for i := range terms {
		if matchesTerm(&terms[i], node) {
			return true
		}
	}
	return false
}

func matchesTerm(t *corev1.NodeSelectorTerm, node *corev1.Node) bool {
	if len(t.MatchExpressions) == 0 && len(t.MatchFields) == 0 {
		return false
	}
	for i := range t.MatchExpressions {
		r := &t.MatchExpressions[i]
		v, ok := node.Labels[r.Key]
		if !matchesRequirement(r, v, ok) {
			return false
		}
	}
	for i := range t.MatchFields {
		r := &t.MatchFields[i]
		if r.Key != nodeNameField {
			return false
		}
		if !matchesRequirement(r, node.Name, true) {
			return false
		}
	}
	return true
}

func matchesRequirement(r *corev1.NodeSelectorRequirement, value string, present bool) bool {
	switch r.Operator {
	case corev1.NodeSelectorOpIn:
		return present && contains(r.Values, value)
	case corev1.NodeSelectorOpNotIn:
		return !present || !contains(r.Values, value)
	case corev1.NodeSelectorOpExists:
		return present
	case corev1.NodeSelectorOpDoesNotExist:
		return !present
	case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
		if !present || len(r.Values) != 1 {
			return false
		}
		have, err1 := strconv.ParseInt(value, 10, 64)
		want, err2 := strconv.ParseInt(r.Values[0], 10, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		if r.Operator == corev1.NodeSelectorOpGt {
			return have > want
		}
		return have < want
	}
	return false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// requiredNodeNames returns the node names required node affinity pins the
// pod to through matchFields metadata.name In, as kube-scheduler's
// NodeAffinity PreFilter computes them: nil when some term does not pin
// names (every node may match), empty when the terms conflict.
func requiredNodeNames(pod *corev1.Pod) (names map[string]bool, pinned bool) {
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return nil, false
	}
	terms := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) == 0 {
		return nil, false
	}
	union := map[string]bool{}
	for _, t := range terms {
		var term map[string]bool
		for _, r := range t.MatchFields {
			if r.Key != nodeNameField || r.Operator != corev1.NodeSelectorOpIn {
				continue
			}
			s := map[string]bool{}
			for _, v := range r.Values {
				if term == nil || term[v] {
					s[v] = true
				}
			}
			term = s
		}
		if term == nil {
			return nil, false
		}
		for n := range term {
			union[n] = true
		}
	}
	return union, true
}

// tolerates reports whether any of tolerations tolerates taint.
func tolerates(tolerations []corev1.Toleration, taint *corev1.Taint) bool {
	for i := range tolerations {
		// The zero logger discards: numeric (Gt, Lt) tolerations with a
		// value that is not a number simply do not match.
		if tolerations[i].ToleratesTaint(klog.Logger{}, taint, true) {
			return true
		}
	}
	return false
}

// untoleratedTaint returns the first of the node's NoSchedule or NoExecute
// taints (the lifecycle's NotReady taint last) that pod does not tolerate.
func untoleratedTaint(pod *corev1.Pod, ni *NodeInfo) *corev1.Taint {
	taints := ni.Node.Spec.Taints
	for i := range taints {
		t := &taints[i]
		if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		if !tolerates(pod.Spec.Tolerations, t) {
			return t
		}
	}
	if t := ni.notReadyTaint; t != nil && !tolerates(pod.Spec.Tolerations, t) {
		return t
	}
	return nil
}

// affinityTerm is a pod (anti-)affinity term made ready for matching.
type affinityTerm struct {
	selector    labels.Selector
	namespaces  map[string]bool
	nsSelector  labels.Selector // nil: only namespaces
	topologyKey string
	weight      int32
}

// newAffinityTerm builds the term owned by pod owner; it returns false for
// a term whose selector cannot be parsed (it matches nothing).
func newAffinityTerm(owner *corev1.Pod, t *corev1.PodAffinityTerm, weight int32) (affinityTerm, bool) {
	at := affinityTerm{topologyKey: t.TopologyKey, weight: weight}
	if t.LabelSelector == nil {
		at.selector = labels.Nothing()
	} else {
		sel, err := metav1.LabelSelectorAsSelector(t.LabelSelector)
		if err != nil {
			return at, false
		}
		for _, k := range t.MatchLabelKeys {
			if v, ok := owner.Labels[k]; ok {
				if r, err := labels.NewRequirement(k, selection.In, []string{v}); err == nil {
					sel = sel.Add(*r)
				}
			}
		}
		for _, k := range t.MismatchLabelKeys {
			if v, ok := owner.Labels[k]; ok {
				if r, err := labels.NewRequirement(k, selection.NotIn, []string{v}); err == nil {
					sel = sel.Add(*r)
				}
			}
		}
		at.selector = sel
	}
	at.namespaces = map[string]bool{}
	for _, ns := range t.Namespaces {
		at.namespaces[ns] = true
	}
	if t.NamespaceSelector != nil {
		sel, err := metav1.LabelSelectorAsSelector(t.NamespaceSelector)
		if err != nil {
			return at, false
		}
		at.nsSelector = sel
	} else if len(t.Namespaces) == 0 {
		at.namespaces[owner.Namespace] = true
	}
	return at, true
}

// matches reports whether a pod of namespace ns with labels podLabels
// falls under the term.
func (t *affinityTerm) matches(ns string, podLabels map[string]string, nsLabels map[string]map[string]string) bool {
	if !t.namespaces[ns] {
		if t.nsSelector == nil {
			return false
		}
		if !t.nsSelector.Empty() && !t.nsSelector.Matches(labels.Set(nsLabels[ns])) {
			return false
		}
	}
	return t.selector.Matches(labels.Set(podLabels))
}

func requiredTerms(owner *corev1.Pod, terms []corev1.PodAffinityTerm) []affinityTerm {
	out := make([]affinityTerm, 0, len(terms))
	for i := range terms {
		if t, ok := newAffinityTerm(owner, &terms[i], 1); ok {
			out = append(out, t)
		} else {
			// An unparsable selector matches nothing.
			out = append(out, affinityTerm{selector: labels.Nothing(), topologyKey: terms[i].TopologyKey})
		}
	}
	return out
}

func preferredTerms(owner *corev1.Pod, terms []corev1.WeightedPodAffinityTerm, sign int32) []affinityTerm {
	out := make([]affinityTerm, 0, len(terms))
	for i := range terms {
		if t, ok := newAffinityTerm(owner, &terms[i].PodAffinityTerm, sign*terms[i].Weight); ok {
			out = append(out, t)
		}
	}
	return out
}

// topologyValue returns the node's value for a topology key. Nodes
// registered by an agent carry kubernetes.io/hostname; for Node objects
// created without it the node name stands in, which is what the label
// holds on every agent.
func topologyValue(node *corev1.Node, key string) (string, bool) {
	v, ok := node.Labels[key]
	if !ok && key == corev1.LabelHostname {
		return node.Name, true
	}
	return v, ok
}
