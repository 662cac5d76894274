package scheduler

import (
	corev1 "k8s.io/api/core/v1"
)

// Defaults kube-scheduler assumes for scoring containers that request
// nothing, so that such pods still spread.
const (
	defaultMilliCPURequest int64 = 100               // 0.1 core
	defaultMemoryRequest   int64 = 200 * 1024 * 1024 // 200 MiB
)

// Resources is an amount of the resources the scheduler accounts for.
type Resources struct {
	MilliCPU         int64
	Memory           int64
	EphemeralStorage int64
	// Pods is the pod count (only meaningful for allocatable).
	Pods int64
	// Scalar holds extended resources (example.com/gpu, hugepages-2Mi).
	Scalar map[corev1.ResourceName]int64
}

func (r *Resources) add(o *Resources, sign int64) {
	r.MilliCPU += sign * o.MilliCPU
	r.Memory += sign * o.Memory
	r.EphemeralStorage += sign * o.EphemeralStorage
	r.Pods += sign * o.Pods
	for k, v := range o.Scalar {
		if r.Scalar == nil {
			r.Scalar = map[corev1.ResourceName]int64{}
		}
		r.Scalar[k] += sign * v
		if r.Scalar[k] == 0 {
			delete(r.Scalar, k)
		}
	}
}

// max raises each of r's amounts to o's where o's is larger.
func (r *Resources) max(o *Resources) {
	r.MilliCPU = max(r.MilliCPU, o.MilliCPU)
	r.Memory = max(r.Memory, o.Memory)
	r.EphemeralStorage = max(r.EphemeralStorage, o.EphemeralStorage)
	for k, v := range o.Scalar {
		if r.Scalar == nil {
			r.Scalar = map[corev1.ResourceName]int64{}
		}
		if v > r.Scalar[k] {
			r.Scalar[k] = v
		}
	}
}

func (r *Resources) clone() Resources {
	c := *r
	c.Scalar = nil
	for k, v := range r.Scalar {
		if c.Scalar == nil {
			c.Scalar = map[corev1.ResourceName]int64{}
		}
		c.Scalar[k] = v
	}
	return c
}

func (r *Resources) zero() bool {
	return r.MilliCPU == 0 && r.Memory == 0 && r.EphemeralStorage == 0 && len(r.Scalar) == 0
}

// resourcesOf converts a ResourceList (requests or allocatable).
func resourcesOf(l corev1.ResourceList) Resources {
	var r Resources
	for name, q := range l {
		switch name {
		case corev1.ResourceCPU:
			r.MilliCPU = q.MilliValue()
		case corev1.ResourceMemory:
			r.Memory = q.Value()
		case corev1.ResourceEphemeralStorage:
			r.EphemeralStorage = q.Value()
		case corev1.ResourcePods:
			r.Pods = q.Value()
		default:
			if isScalar(name) {
				if r.Scalar == nil {
					r.Scalar = map[corev1.ResourceName]int64{}
				}
				r.Scalar[name] = q.Value()
			}
		}
	}
	return r
}

// isScalar reports whether name is an extended resource or huge pages: the
// resources besides cpu, memory and storage that pods request and nodes
// advertise.
func isScalar(name corev1.ResourceName) bool {
	s := string(name)
	if len(s) > len(corev1.ResourceHugePagesPrefix) && s[:len(corev1.ResourceHugePagesPrefix)] == corev1.ResourceHugePagesPrefix {
		return true
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			domain := s[:i]
			return domain != "kubernetes.io" && !hasSuffix(domain, ".kubernetes.io")
		}
	}
	return false
}

func hasSuffix(s, suffix string) bool {
	return len(s) >= len(suffix) && s[len(s)-len(suffix):] == suffix
}

// PodRequests returns what pod asks of a node, as the kubelet admits it:
// the larger of the regular containers' sum and the peak while init
// containers run (sidecars, init containers that keep running, add to
// both), plus the pod overhead.
func PodRequests(pod *corev1.Pod) Resources {
	var reqs Resources
	for i := range pod.Spec.Containers {
		c := resourcesOf(pod.Spec.Containers[i].Resources.Requests)
		reqs.add(&c, 1)
	}
	var sidecars, initPeak Resources
	for i := range pod.Spec.InitContainers {
		ic := &pod.Spec.InitContainers[i]
		c := resourcesOf(ic.Resources.Requests)
		if ic.RestartPolicy != nil && *ic.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			reqs.add(&c, 1)
			sidecars.add(&c, 1)
			c = sidecars.clone()
		} else {
			c.add(&sidecars, 1)
		}
		initPeak.max(&c)
	}
	reqs.max(&initPeak)
	if pod.Spec.Overhead != nil {
		o := resourcesOf(pod.Spec.Overhead)
		reqs.add(&o, 1)
	}
	reqs.Pods = 0
	return reqs
}

// nonZeroRequests returns the cpu and memory the scorers count for pod:
// its requests, with kube-scheduler's defaults for containers that set
// none.
func nonZeroRequests(pod *corev1.Pod) (milliCPU, memory int64) {
	one := func(c *corev1.Container) (int64, int64) {
		cpu, mem := defaultMilliCPURequest, defaultMemoryRequest
		if q, ok := c.Resources.Requests[corev1.ResourceCPU]; ok {
			cpu = q.MilliValue()
		}
		if q, ok := c.Resources.Requests[corev1.ResourceMemory]; ok {
			mem = q.Value()
		}
		return cpu, mem
	}
	var sideCPU, sideMem, initCPU, initMem int64
	for i := range pod.Spec.Containers {
		c, m := one(&pod.Spec.Containers[i])
		milliCPU += c
		memory += m
	}
	for i := range pod.Spec.InitContainers {
		ic := &pod.Spec.InitContainers[i]
		c, m := one(ic)
		if ic.RestartPolicy != nil && *ic.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			milliCPU += c
			memory += m
			sideCPU += c
			sideMem += m
			c, m = sideCPU, sideMem
		} else {
			c += sideCPU
			m += sideMem
		}
		initCPU = max(initCPU, c)
		initMem = max(initMem, m)
	}
	milliCPU = max(milliCPU, initCPU)
	memory = max(memory, initMem)
	if pod.Spec.Overhead != nil {
		milliCPU += pod.Spec.Overhead.Cpu().MilliValue()
		memory += pod.Spec.Overhead.Memory().Value()
	}
	return milliCPU, memory
}
