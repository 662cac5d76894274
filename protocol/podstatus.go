package protocol

import corev1 "k8s.io/api/core/v1"

// nodeConditions are the pod conditions a node owns; the others
// (PodScheduled, DisruptionTarget, readiness gates' own) are the server's,
// as the kubelet's status manager leaves them.
var nodeConditions = map[corev1.PodConditionType]bool{
	corev1.PodInitialized: true, corev1.PodReady: true, corev1.ContainersReady: true,
	corev1.PodReadyToStartContainers: true,
}

// IsNodeCondition says whether the node owns pod conditions of type t.
func IsNodeCondition(t corev1.PodConditionType) bool { return nodeConditions[t] }

// MergePodStatus is how an ItemPodStatus applies to the status the server
// has: the node's status replaces it, but for the conditions the node does
// not own, which stay as the server has them, and the QoS class and
// nominated node, kept when the node reports none.
//
// Everything but those conditions and the nominated node is the node's:
// a change of only that part of a stored pod is not news to the node, and
// the server leaves it out of the node's desired document.
func MergePodStatus(server, node corev1.PodStatus) corev1.PodStatus {
	out := node
	out.Conditions = nil
	for _, c := range server.Conditions {
		if !nodeConditions[c.Type] {
			out.Conditions = append(out.Conditions, c)
		}
	}
	for _, c := range node.Conditions {
		if nodeConditions[c.Type] {
			out.Conditions = append(out.Conditions, c)
		}
	}
	if out.QOSClass == "" {
		out.QOSClass = server.QOSClass
	}
	if out.NominatedNodeName == "" {
		out.NominatedNodeName = server.NominatedNodeName
	}
	return out
}

// ServerPodStatus is the part of a pod's status that is not the node's:
// the conditions it does not own and the nominated node.
func ServerPodStatus(st corev1.PodStatus) corev1.PodStatus {
	out := corev1.PodStatus{NominatedNodeName: st.NominatedNodeName}
	for _, c := range st.Conditions {
		if !nodeConditions[c.Type] {
			out.Conditions = append(out.Conditions, c)
		}
	}
	return out
}
