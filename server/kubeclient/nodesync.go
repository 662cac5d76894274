package kubeclient

import (
	corev1 "k8s.io/api/core/v1"
)

// Pods is the typed client of pods (the node sync hub writes their status
// and removes them once their node has stopped them).
func (cs *Clientset) Pods(namespace string) Client[*corev1.Pod, *corev1.PodList] {
	return resource(cs, corev1.SchemeGroupVersion, "pods", namespace,
		func() *corev1.Pod { return &corev1.Pod{} }, func() *corev1.PodList { return &corev1.PodList{} })
}

// Nodes is the typed client of nodes.
func (cs *Clientset) Nodes() Client[*corev1.Node, *corev1.NodeList] {
	return resource(cs, corev1.SchemeGroupVersion, "nodes", "",
		func() *corev1.Node { return &corev1.Node{} }, func() *corev1.NodeList { return &corev1.NodeList{} })
}

// Events is the typed client of core events.
func (cs *Clientset) Events(namespace string) Client[*corev1.Event, *corev1.EventList] {
	return resource(cs, corev1.SchemeGroupVersion, "events", namespace,
		func() *corev1.Event { return &corev1.Event{} }, func() *corev1.EventList { return &corev1.EventList{} })
}
