package plan

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Rejection is why the agent refuses to run a pod, in the kubelet's
// words: the pod's status becomes phase Failed with Reason and Message,
// and Event (when not empty) is the Warning event's message.
type Rejection struct {
	Reason, Message, Event string
}

// The kubelet's admission reports a failed predicate by its name, the
// message of its failure, and "Pod was rejected: " before it in the
// pod's status.
const (
	ReasonNodePorts  = "NodePorts"
	nodePortsFailure = "Predicate NodePorts failed: node(s) didn't have free ports for the requested pod ports"
	rejectedPrefix   = "Pod was rejected: "
	defaultHostIP    = "0.0.0.0"
	defaultProtocol  = corev1.ProtocolTCP
)

// Candidate is a pod new to the agent, to be admitted or rejected.
type Candidate struct {
	Pod *corev1.Pod
	// HasContainers: the node has containers of it already (the agent
	// restarted), so it was admitted before and keeps its ports.
	HasContainers bool
}

// Admit decides which new pods may run beside held, the pods admitted
// before that still hold their host ports (not yet Succeeded or Failed).
// As the kubelet does, it admits one pod at a time, each against those
// admitted before it: pods with containers on the node first, then by
// creation time (name, then UID, break ties). A pod the server already
// has as Failed, with no containers here, stays Failed and holds nothing
// (the kubelet never runs a pod in a terminal phase again); a finished
// pod frees its ports. It returns the rejected pods.
func Admit(held []*corev1.Pod, cands []Candidate) map[types.UID]Rejection {
	cands = append([]Candidate(nil), cands...)
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if a.HasContainers != b.HasContainers {
			return a.HasContainers
		}
		ta, tb := a.Pod.CreationTimestamp, b.Pod.CreationTimestamp
		if !ta.Equal(&tb) {
			return ta.Before(&tb)
		}
		if a.Pod.Namespace+"/"+a.Pod.Name != b.Pod.Namespace+"/"+b.Pod.Name {
			return a.Pod.Namespace+"/"+a.Pod.Name < b.Pod.Namespace+"/"+b.Pod.Name
		}
		return a.Pod.UID < b.Pod.UID
	})
	used := usedPorts{}
	for _, p := range held {
		used.add(HostPorts(p))
	}
	out := map[types.UID]Rejection{}
	for _, c := range cands {
		if !c.HasContainers && c.Pod.Status.Phase == corev1.PodFailed {
			out[c.Pod.UID] = Rejection{Reason: c.Pod.Status.Reason, Message: c.Pod.Status.Message}
			continue
		}
		if c.Pod.Status.Phase == corev1.PodSucceeded || c.Pod.Status.Phase == corev1.PodFailed {
			continue // finished: its ports are free
		}
		ports := HostPorts(c.Pod)
		if !c.HasContainers && used.conflict(ports) {
			out[c.Pod.UID] = Rejection{Reason: ReasonNodePorts, Message: rejectedPrefix + nodePortsFailure, Event: nodePortsFailure}
			continue
		}
		used.add(ports)
	}
	return out
}

// HostPorts are the node ports a pod holds while it runs: the hostPorts
// of its containers and of its sidecars (init containers that restart
// Always), as the kubelet counts them. With hostNetwork a container port
// is a host port even without hostPort set (the API server defaults
// hostPort to it; a pod from elsewhere may lack the default).
func HostPorts(pod *corev1.Pod) []corev1.ContainerPort {
	var out []corev1.ContainerPort
	add := func(c *corev1.Container) {
		for _, p := range c.Ports {
			if p.HostPort == 0 && pod.Spec.HostNetwork {
				p.HostPort = p.ContainerPort
			}
			if p.HostPort > 0 {
				out = append(out, p)
			}
		}
	}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			add(c)
		}
	}
	for i := range pod.Spec.Containers {
		add(&pod.Spec.Containers[i])
	}
	return out
}

type protoPort struct {
	proto corev1.Protocol
	port  int32
}

// usedPorts holds the host ports in use by host IP ("0.0.0.0" is every
// address).
type usedPorts map[string]map[protoPort]bool

func sanitize(p corev1.ContainerPort) (string, protoPort) {
	ip, proto := p.HostIP, p.Protocol
	if ip == "" {
		ip = defaultHostIP
	}
	if proto == "" {
		proto = defaultProtocol
	}
	return ip, protoPort{proto, p.HostPort}
}

func (u usedPorts) add(ports []corev1.ContainerPort) {
	for _, p := range ports {
		ip, pp := sanitize(p)
		if u[ip] == nil {
			u[ip] = map[protoPort]bool{}
		}
		u[ip][pp] = true
	}
}

// conflict: one of ports is taken. A port on every address conflicts
// with that port on any address, and the reverse.
func (u usedPorts) conflict(ports []corev1.ContainerPort) bool {
	for _, p := range ports {
		ip, pp := sanitize(p)
		if ip == defaultHostIP {
			for _, m := range u {
				if m[pp] {
					return true
				}
			}
			continue
		}
		if u[defaultHostIP][pp] || u[ip][pp] {
			return true
		}
	}
	return false
}
