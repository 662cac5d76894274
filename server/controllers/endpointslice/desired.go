package endpointslice

import (
	"fmt"
	"net"
	"sort"
	"strings"

	"github.com/skiff-io/skiff/server/controllers/endpoints"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// Managers, in the endpointslice.kubernetes.io/managed-by label.
const (
	ControllerName = "endpointslice-controller.k8s.io"
	MirroringName  = "endpointslicemirroring-controller.k8s.io"
	// SkipMirrorLabel set to "true" on an Endpoints keeps it from being
	// mirrored.
	SkipMirrorLabel = "endpointslice.kubernetes.io/skip-mirror"
	// MaxEndpoints bounds the endpoints of one slice.
	MaxEndpoints = 100
	// MaxMirrored bounds the addresses mirrored from one Endpoints subset.
	MaxMirrored = 1000
)

// Group is endpoints that share an address type and a port set: they can
// go in the same slices.
type Group struct {
	AddressType discoveryv1.AddressType
	Ports       []discoveryv1.EndpointPort
	Endpoints   []discoveryv1.Endpoint
}

func groupKey(at discoveryv1.AddressType, ports []discoveryv1.EndpointPort) string {
	parts := make([]string, len(ports))
	for i, p := range ports {
		parts[i] = fmt.Sprintf("%s/%d/%s", ptr.Deref(p.Name, ""), ptr.Deref(p.Port, 0), ptr.Deref(p.Protocol, corev1.ProtocolTCP))
	}
	sort.Strings(parts)
	return string(at) + "|" + strings.Join(parts, ",")
}

type groups map[string]*Group

func (gs groups) add(at discoveryv1.AddressType, ports []discoveryv1.EndpointPort, ep discoveryv1.Endpoint) {
	sort.Slice(ports, func(i, j int) bool { return ptr.Deref(ports[i].Name, "") < ptr.Deref(ports[j].Name, "") })
	k := groupKey(at, ports)
	g := gs[k]
	if g == nil {
		g = &Group{AddressType: at, Ports: ports}
		gs[k] = g
	}
	g.Endpoints = append(g.Endpoints, ep)
}

func (gs groups) sorted() []Group {
	keys := make([]string, 0, len(gs))
	for k := range gs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]Group, 0, len(keys))
	for _, k := range keys {
		g := gs[k]
		sort.SliceStable(g.Endpoints, func(i, j int) bool { return g.Endpoints[i].Addresses[0] < g.Endpoints[j].Addresses[0] })
		out = append(out, *g)
	}
	return out
}

// addressType is the slice address type of ip, "" if it is not an IP.
func addressType(ip string) discoveryv1.AddressType {
	p := net.ParseIP(ip)
	switch {
	case p == nil:
		return ""
	case p.To4() != nil:
		return discoveryv1.AddressTypeIPv4
	default:
		return discoveryv1.AddressTypeIPv6
	}
}

// families lists the address types svc's slices have.
func families(svc *corev1.Service) map[discoveryv1.AddressType]bool {
	out := map[discoveryv1.AddressType]bool{}
	for _, f := range svc.Spec.IPFamilies {
		if f == corev1.IPv6Protocol {
			out[discoveryv1.AddressTypeIPv6] = true
		} else {
			out[discoveryv1.AddressTypeIPv4] = true
		}
	}
	if len(out) == 0 {
		out[discoveryv1.AddressTypeIPv4] = true
	}
	return out
}

// FromPods computes the endpoints of svc (a Service with a selector) from
// the pods it selects; zoneOf gives a node's topology.kubernetes.io/zone.
func FromPods(svc *corev1.Service, pods []*corev1.Pod, zoneOf func(node string) string) []Group {
	gs := groups{}
	fams := families(svc)
	for _, pod := range pods {
		if !endpoints.Eligible(pod, true) {
			continue
		}
		var ports []discoveryv1.EndpointPort
		for i := range svc.Spec.Ports {
			sp := &svc.Spec.Ports[i]
			num, err := endpoints.FindPort(pod, sp)
			if err != nil {
				continue
			}
			proto := sp.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			ports = append(ports, discoveryv1.EndpointPort{Name: ptr.To(sp.Name), Port: ptr.To(num),
				Protocol: ptr.To(proto), AppProtocol: sp.AppProtocol})
		}
		if len(ports) == 0 && len(svc.Spec.Ports) > 0 {
			continue
		}
		serving := svc.Spec.PublishNotReadyAddresses || endpoints.PodReady(pod)
		terminating := pod.DeletionTimestamp != nil
		ready := svc.Spec.PublishNotReadyAddresses || (serving && !terminating)
		ips := []string{pod.Status.PodIP}
		for _, ip := range pod.Status.PodIPs {
			ips = append(ips, ip.IP)
		}
		seen := map[discoveryv1.AddressType]bool{}
		for _, ip := range ips {
			at := addressType(ip)
			if at == "" || !fams[at] || seen[at] {
				continue
			}
			seen[at] = true
			ep := discoveryv1.Endpoint{
				Addresses:  []string{ip},
				Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ready), Serving: ptr.To(serving), Terminating: ptr.To(terminating)},
				TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
			}
			if h := endpoints.Hostname(svc, pod); h != "" {
				ep.Hostname = ptr.To(h)
			}
			if n := pod.Spec.NodeName; n != "" {
				ep.NodeName = ptr.To(n)
				if z := zoneOf(n); z != "" {
					ep.Zone = ptr.To(z)
				}
			}
			gs.add(at, append([]discoveryv1.EndpointPort(nil), ports...), ep)
		}
	}
	return gs.sorted()
}

// FromEndpoints computes the slices mirroring a hand-written Endpoints.
func FromEndpoints(ep *corev1.Endpoints) []Group {
	gs := groups{}
	for _, ss := range ep.Subsets {
		ports := make([]discoveryv1.EndpointPort, 0, len(ss.Ports))
		for _, p := range ss.Ports {
			ports = append(ports, discoveryv1.EndpointPort{Name: ptr.To(p.Name), Port: ptr.To(p.Port),
				Protocol: ptr.To(p.Protocol), AppProtocol: p.AppProtocol})
			if p.Protocol == "" {
				ports[len(ports)-1].Protocol = ptr.To(corev1.ProtocolTCP)
			}
		}
		n := 0
		for i, list := range [][]corev1.EndpointAddress{ss.Addresses, ss.NotReadyAddresses} {
			ready := i == 0
			for _, a := range list {
				at := addressType(a.IP)
				if at == "" || n >= MaxMirrored {
					continue
				}
				n++
				e := discoveryv1.Endpoint{
					Addresses:  []string{a.IP},
					Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ready), Serving: ptr.To(ready), Terminating: ptr.To(false)},
					NodeName:   a.NodeName,
				}
				if a.Hostname != "" {
					e.Hostname = ptr.To(a.Hostname)
				}
				if a.TargetRef != nil {
					e.TargetRef = a.TargetRef.DeepCopy()
				}
				gs.add(at, append([]discoveryv1.EndpointPort(nil), ports...), e)
			}
		}
	}
	return gs.sorted()
}

// Owner is what the slices of one Service share.
type Owner struct {
	Service *corev1.Service
	// ManagedBy is ControllerName or MirroringName.
	ManagedBy string
	// Labels are the slices' labels besides the service name and manager.
	Labels map[string]string
}

func (o Owner) labels() map[string]string {
	out := map[string]string{}
	for k, v := range o.Labels {
		out[k] = v
	}
	out[discoveryv1.LabelServiceName] = o.Service.Name
	out[discoveryv1.LabelManagedBy] = o.ManagedBy
	return out
}

// Changes are the writes that bring a Service's slices in line.
type Changes struct {
	Create, Update, Delete []*discoveryv1.EndpointSlice
}

// Plan matches the desired groups, cut into slices of at most
// MaxEndpoints, against the Service's existing slices (those with its
// manager): a slice with the same address type and ports is rewritten in
// place, missing ones are created, the rest deleted. A Service with no
// endpoints keeps one empty slice, as Kubernetes does.
func Plan(owner Owner, existing []*discoveryv1.EndpointSlice, desired []Group) Changes {
	type chunk struct {
		at    discoveryv1.AddressType
		ports []discoveryv1.EndpointPort
		eps   []discoveryv1.Endpoint
	}
	var chunks []chunk
	for _, g := range desired {
		for i := 0; i < len(g.Endpoints); i += MaxEndpoints {
			end := min(i+MaxEndpoints, len(g.Endpoints))
			chunks = append(chunks, chunk{g.AddressType, g.Ports, g.Endpoints[i:end]})
		}
	}
	if len(chunks) == 0 {
		chunks = []chunk{{at: discoveryv1.AddressTypeIPv4}}
	}
	byKey := map[string][]*discoveryv1.EndpointSlice{}
	sorted := append([]*discoveryv1.EndpointSlice(nil), existing...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for _, s := range sorted {
		k := groupKey(s.AddressType, s.Ports)
		byKey[k] = append(byKey[k], s)
	}
	labels := owner.labels()
	ownerRefs := []metav1.OwnerReference{*metav1.NewControllerRef(owner.Service, corev1.SchemeGroupVersion.WithKind("Service"))}
	var ch Changes
	for _, c := range chunks {
		k := groupKey(c.at, c.ports)
		want := &discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{Namespace: owner.Service.Namespace, GenerateName: owner.Service.Name + "-",
				Labels: labels, OwnerReferences: ownerRefs},
			AddressType: c.at, Endpoints: c.eps, Ports: c.ports,
		}
		if cands := byKey[k]; len(cands) > 0 {
			cur := cands[0]
			byKey[k] = cands[1:]
			if sameSlice(cur, want) {
				continue
			}
			upd := cur.DeepCopy()
			upd.Labels, upd.OwnerReferences = labels, ownerRefs
			upd.Endpoints, upd.Ports = want.Endpoints, want.Ports
			ch.Update = append(ch.Update, upd)
			continue
		}
		ch.Create = append(ch.Create, want)
	}
	for _, s := range sorted {
		for _, left := range byKey[groupKey(s.AddressType, s.Ports)] {
			if left == s {
				ch.Delete = append(ch.Delete, s)
			}
		}
	}
	return ch
}

func sameSlice(cur, want *discoveryv1.EndpointSlice) bool {
	return cur.AddressType == want.AddressType &&
		equality.Semantic.DeepEqual(cur.Labels, want.Labels) &&
		equality.Semantic.DeepEqual(cur.OwnerReferences, want.OwnerReferences) &&
		equality.Semantic.DeepEqual(cur.Endpoints, want.Endpoints) &&
		equality.Semantic.DeepEqual(cur.Ports, want.Ports)
}

// ServiceLabels are the labels a Service's slices take from it.
func ServiceLabels(svc *corev1.Service) map[string]string {
	out := map[string]string{}
	for k, v := range svc.Labels {
		if k == discoveryv1.LabelServiceName || k == discoveryv1.LabelManagedBy {
			continue
		}
		out[k] = v
	}
	if endpoints.Headless(svc) {
		out[endpoints.HeadlessLabel] = ""
	}
	return out
}
