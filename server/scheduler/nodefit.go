package scheduler

import corev1 "k8s.io/api/core/v1"

// The node-level filters, exported for controllers that decide placement
// themselves (the DaemonSet controller asks them which nodes a daemon pod
// belongs on, and the scheduler then binds it with the same rules).

// MatchesNodeAffinity reports whether node satisfies pod's nodeSelector and
// required node affinity, matchFields on metadata.name included.
func MatchesNodeAffinity(pod *corev1.Pod, node *corev1.Node) bool {
	return matchesNodeSelector(pod, node)
}

// UntoleratedTaint returns the first of taints whose effect is one of
// effects that tolerations do not tolerate, or nil.
func UntoleratedTaint(taints []corev1.Taint, tolerations []corev1.Toleration, effects ...corev1.TaintEffect) *corev1.Taint {
	for i := range taints {
		t := &taints[i]
		for _, e := range effects {
			if t.Effect == e {
				if !tolerates(tolerations, t) {
					return t
				}
				break
			}
		}
	}
	return nil
}
