package plan

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	resourcehelper "k8s.io/component-helpers/resource"
)

// Rejection is why the agent refuses to run a pod, in the kubelet's
// words: the pod's status becomes phase Failed with Reason and Message,
// and Event (when not empty) is the Warning event's message.
//
// Finished marks a pod the server already has as Succeeded or Failed and
// that has no containers on the node: the kubelet never runs a pod in a
// terminal phase again, so it is not run, and the status the server has
// (its phase, reason and container states) is kept as it is.
type Rejection struct {
	Reason, Message, Event string
	Finished               bool
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
// before that still hold their host ports and resources (not yet
// Succeeded or Failed), on a node with allocatable resources alloc (empty:
// resources are not checked). As the kubelet does, it admits one pod at
// a time, each against those admitted before it: pods with containers on
// the node first, then by creation time (name, then UID, break ties). A
// pod is refused when the node has no room for its requests (reason
// OutOfcpu, OutOfmemory, OutOfpods, ...; checked first, as the kubelet
// does) or when another pod holds one of its host ports (NodePorts). A
// pod the server already has as Succeeded or Failed, with no containers
// here, is not run and keeps the status the server has (Finished); a
// finished pod holds no ports or resources. A pod with
// containers here was admitted before and is never refused. It returns
// the rejected pods.
func Admit(alloc corev1.ResourceList, held []*corev1.Pod, cands []Candidate) map[types.UID]Rejection {
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
	room := newNodeRoom(alloc)
	for _, p := range held {
		used.add(HostPorts(p))
		room.add(p)
	}
	out := map[types.UID]Rejection{}
	for _, c := range cands {
		if c.Pod.Status.Phase == corev1.PodSucceeded || c.Pod.Status.Phase == corev1.PodFailed {
			if !c.HasContainers {
				out[c.Pod.UID] = Rejection{Reason: c.Pod.Status.Reason, Message: c.Pod.Status.Message, Finished: true}
			}
			continue // finished: its ports are free
		}
		ports := HostPorts(c.Pod)
		if !c.HasContainers {
			if r, ok := room.fits(c.Pod); !ok {
				out[c.Pod.UID] = r
				continue
			}
			if used.conflict(ports) {
				out[c.Pod.UID] = Rejection{Reason: ReasonNodePorts, Message: rejectedPrefix + nodePortsFailure, Event: nodePortsFailure}
				continue
			}
		}
		used.add(ports)
		room.add(c.Pod)
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

// nodeRoom is the node's allocatable resources and what the admitted
// pods request of them.
type nodeRoom struct {
	alloc     corev1.ResourceList // empty: not checked
	requested corev1.ResourceList
	pods      int64
}

func newNodeRoom(alloc corev1.ResourceList) *nodeRoom {
	return &nodeRoom{alloc: alloc, requested: corev1.ResourceList{}}
}

func (r *nodeRoom) add(p *corev1.Pod) {
	r.pods++
	for name, q := range resourcehelper.PodRequests(p, resourcehelper.PodResourcesOptions{}) {
		sum := r.requested[name]
		sum.Add(q)
		r.requested[name] = sum
	}
}

// fits checks pod against the room left, in the order and words of the
// kubelet's admission: the number of pods first, then cpu, memory,
// ephemeral storage, and the other resources by name. Extended resources
// the node does not advertise are not checked (the kubelet leaves them to
// whatever asked for them); huge pages are.
func (r *nodeRoom) fits(pod *corev1.Pod) (Rejection, bool) {
	if len(r.alloc) == 0 {
		return Rejection{}, true
	}
	if max, ok := r.alloc[corev1.ResourcePods]; ok && r.pods+1 > max.Value() {
		return outOf(corev1.ResourcePods, 1, r.pods, max.Value()), false
	}
	reqs := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{})
	names := make([]corev1.ResourceName, 0, len(reqs))
	for name, q := range reqs {
		if q.Sign() <= 0 || name == corev1.ResourcePods {
			continue
		}
		if _, advertised := r.alloc[name]; !advertised && isExtended(name) {
			continue
		}
		names = append(names, name)
	}
	order := map[corev1.ResourceName]int{corev1.ResourceCPU: 1, corev1.ResourceMemory: 2, corev1.ResourceEphemeralStorage: 3}
	sort.Slice(names, func(i, j int) bool {
		oi, oj := order[names[i]], order[names[j]]
		if oi == 0 {
			oi = len(order) + 1
		}
		if oj == 0 {
			oj = len(order) + 1
		}
		if oi != oj {
			return oi < oj
		}
		return names[i] < names[j]
	})
	for _, name := range names {
		want, used, capacity := reqs[name], r.requested[name], r.alloc[name]
		if name == corev1.ResourceCPU {
			if want.MilliValue() > capacity.MilliValue()-used.MilliValue() {
				return outOf(name, want.MilliValue(), used.MilliValue(), capacity.MilliValue()), false
			}
			continue
		}
		if want.Value() > capacity.Value()-used.Value() {
			return outOf(name, want.Value(), used.Value(), capacity.Value()), false
		}
	}
	return Rejection{}, true
}

// outOf is the kubelet's rejection of a pod the node has no room for:
// reason OutOf<resource>, cpu in millicores, the rest in units.
func outOf(name corev1.ResourceName, requested, used, capacity int64) Rejection {
	msg := fmt.Sprintf("Node didn't have enough resource: %s, requested: %d, used: %d, capacity: %d", name, requested, used, capacity)
	return Rejection{Reason: "OutOf" + string(name), Message: rejectedPrefix + msg, Event: msg}
}

// isExtended: name is an extended resource (a domain outside
// kubernetes.io, such as example.com/gpu), not cpu, memory, storage or
// huge pages.
func isExtended(name corev1.ResourceName) bool {
	domain, _, ok := strings.Cut(string(name), "/")
	return ok && domain != "kubernetes.io" && !strings.HasSuffix(domain, ".kubernetes.io") &&
		!strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix)
}
