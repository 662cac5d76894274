package podspec

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// ResourceFieldValue resolves a resourceFieldRef (env or downward API
// volume) for container c of pod (c may be nil when ref names its
// container). As on any Kubernetes node, a container without a cpu,
// memory or ephemeral-storage limit reads the pod-level limit when the pod
// sets one (cpu and memory), otherwise the node's allocatable. The value is
// divided by ref.Divisor (default 1) and rounded up.
func ResourceFieldValue(pod *corev1.Pod, c *corev1.Container, ref *corev1.ResourceFieldSelector, node NodeInfo) (string, error) {
	if ref.ContainerName != "" {
		c = findContainer(pod, ref.ContainerName)
		if c == nil {
			return "", fmt.Errorf("container %s not found", ref.ContainerName)
		}
	}
	if c == nil {
		return "", fmt.Errorf("resourceFieldRef %s names no container", ref.Resource)
	}
	limits := defaultedLimits(pod, c, node.Allocatable)
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	name, which, ok := splitResource(ref.Resource)
	if !ok {
		return "", fmt.Errorf("unsupported container resource : %v", ref.Resource)
	}
	list := c.Resources.Requests
	if which == "limits" {
		list = limits
	}
	switch {
	case name == corev1.ResourceCPU:
		q := list[name]
		return ceilDiv(float64(q.MilliValue()), float64(divisor.MilliValue())), nil
	case name == corev1.ResourceMemory, name == corev1.ResourceEphemeralStorage,
		strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix):
		q := list[name]
		return ceilDiv(float64(q.Value()), float64(divisor.Value())), nil
	}
	return "", fmt.Errorf("unsupported container resource : %v", ref.Resource)
}

func ceilDiv(v, d float64) string {
	return strconv.FormatInt(int64(math.Ceil(v/d)), 10)
}

func splitResource(r string) (corev1.ResourceName, string, bool) {
	which, name, ok := strings.Cut(r, ".")
	if !ok || (which != "limits" && which != "requests") {
		return "", "", false
	}
	return corev1.ResourceName(name), which, true
}

// defaultedLimits is c's limits with every missing or zero cpu, memory and
// ephemeral-storage limit filled from the pod-level limits (cpu, memory)
// or else from allocatable.
func defaultedLimits(pod *corev1.Pod, c *corev1.Container, allocatable corev1.ResourceList) corev1.ResourceList {
	fallback := allocatable.DeepCopy()
	if pod.Spec.Resources != nil {
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if v, ok := pod.Spec.Resources.Limits[r]; ok && !v.IsZero() {
				if _, ok := fallback[r]; ok {
					fallback[r] = v.DeepCopy()
				}
			}
		}
	}
	limits := c.Resources.Limits.DeepCopy()
	if limits == nil {
		limits = corev1.ResourceList{}
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage} {
		if q, ok := limits[r]; !ok || q.IsZero() {
			if v, ok := fallback[r]; ok {
				limits[r] = v.DeepCopy()
			}
		}
	}
	return limits
}

func findContainer(pod *corev1.Pod, name string) *corev1.Container {
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == name {
			return &pod.Spec.InitContainers[i]
		}
	}
	return nil
}
