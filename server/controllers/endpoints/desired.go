package endpoints

import (
	"fmt"
	"net"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Annotations and labels Kubernetes' endpoints controller writes.
const (
	// TriggerTimeAnnotation holds when the change that caused the last
	// write happened (RFC 3339).
	TriggerTimeAnnotation = "endpoints.kubernetes.io/last-change-trigger-time"
	// OverCapacityAnnotation is "truncated" when more than MaxAddresses
	// addresses were selected.
	OverCapacityAnnotation = "endpoints.kubernetes.io/over-capacity"
	// HeadlessLabel marks the Endpoints of a headless Service.
	HeadlessLabel = "service.kubernetes.io/headless"
	// MaxAddresses bounds the addresses (ready and not) of one Endpoints.
	MaxAddresses = 1000
)

// PodReady reports whether pod's Ready condition is True.
func PodReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Eligible reports whether pod may appear in a Service's endpoints at all:
// it has an IP, has not finished, and is not being deleted unless
// includeTerminating.
func Eligible(pod *corev1.Pod, includeTerminating bool) bool {
	if pod.Status.PodIP == "" && len(pod.Status.PodIPs) == 0 {
		return false
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return false
	}
	if pod.DeletionTimestamp != nil && !includeTerminating {
		return false
	}
	return true
}

// FindPort resolves a Service port's targetPort for pod: a number is
// itself, a name is looked up among the pod's container ports of the
// same protocol.
func FindPort(pod *corev1.Pod, sp *corev1.ServicePort) (int32, error) {
	tp := sp.TargetPort
	if tp.Type == intstr.Int {
		if tp.IntVal == 0 {
			return sp.Port, nil
		}
		return tp.IntVal, nil
	}
	proto := sp.Protocol
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			pp := p.Protocol
			if pp == "" {
				pp = corev1.ProtocolTCP
			}
			if p.Name == tp.StrVal && pp == proto {
				return p.ContainerPort, nil
			}
		}
	}
	return 0, fmt.Errorf("no container port named %q (%s) in pod %s/%s", tp.StrVal, proto, pod.Namespace, pod.Name)
}

// Headless reports whether svc has no ClusterIP.
func Headless(svc *corev1.Service) bool { return svc.Spec.ClusterIP == corev1.ClusterIPNone }

// Hostname is the DNS hostname a pod's address gets under svc: its
// spec.hostname when it sets spec.subdomain to a headless svc's name.
func Hostname(svc *corev1.Service, pod *corev1.Pod) string {
	if Headless(svc) && pod.Spec.Hostname != "" && pod.Spec.Subdomain == svc.Name {
		return pod.Spec.Hostname
	}
	return ""
}

// podIP is the pod's address in the Service's primary IP family.
func podIP(svc *corev1.Service, pod *corev1.Pod) string {
	want6 := len(svc.Spec.IPFamilies) > 0 && svc.Spec.IPFamilies[0] == corev1.IPv6Protocol
	ips := []string{pod.Status.PodIP}
	for _, ip := range pod.Status.PodIPs {
		ips = append(ips, ip.IP)
	}
	for _, ip := range ips {
		p := net.ParseIP(ip)
		if p == nil {
			continue
		}
		if (p.To4() == nil) == want6 {
			return ip
		}
	}
	return ""
}

// Result is the content an Endpoints object should have.
type Result struct {
	Subsets []corev1.EndpointSubset
	// OverCapacity: more than MaxAddresses were selected and Subsets
	// were truncated.
	OverCapacity bool
}

// Desired computes the subsets of svc's Endpoints from pods (those its
// selector matches, in its namespace).
func Desired(svc *corev1.Service, pods []*corev1.Pod) Result {
	type group struct {
		ports           []corev1.EndpointPort
		ready, notReady map[string]corev1.EndpointAddress
	}
	groups := map[string]*group{}
	add := func(ports []corev1.EndpointPort, addr corev1.EndpointAddress, ready bool) {
		key := portsKey(ports)
		g := groups[key]
		if g == nil {
			g = &group{ports: ports, ready: map[string]corev1.EndpointAddress{}, notReady: map[string]corev1.EndpointAddress{}}
			groups[key] = g
		}
		if ready {
			g.ready[addr.IP] = addr
			delete(g.notReady, addr.IP)
		} else if _, ok := g.ready[addr.IP]; !ok {
			g.notReady[addr.IP] = addr
		}
	}
	publish := svc.Spec.PublishNotReadyAddresses
	for _, pod := range pods {
		if !Eligible(pod, publish) {
			continue
		}
		ip := podIP(svc, pod)
		if ip == "" {
			continue
		}
		addr := corev1.EndpointAddress{
			IP:        ip,
			Hostname:  Hostname(svc, pod),
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		}
		if pod.Spec.NodeName != "" {
			n := pod.Spec.NodeName
			addr.NodeName = &n
		}
		ready := publish || PodReady(pod)
		if len(svc.Spec.Ports) == 0 {
			if Headless(svc) {
				add(nil, addr, ready)
			}
			continue
		}
		var ports []corev1.EndpointPort
		for i := range svc.Spec.Ports {
			sp := &svc.Spec.Ports[i]
			num, err := FindPort(pod, sp)
			if err != nil {
				continue // this pod does not serve that port
			}
			proto := sp.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			ports = append(ports, corev1.EndpointPort{Name: sp.Name, Port: num, Protocol: proto, AppProtocol: sp.AppProtocol})
		}
		if len(ports) == 0 {
			continue
		}
		add(ports, addr, ready)
	}

	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var res Result
	for _, k := range keys {
		g := groups[k]
		s := corev1.EndpointSubset{Ports: g.ports, Addresses: sortedAddrs(g.ready), NotReadyAddresses: sortedAddrs(g.notReady)}
		sort.Slice(s.Ports, func(i, j int) bool { return s.Ports[i].Name < s.Ports[j].Name })
		res.Subsets = append(res.Subsets, s)
	}
	res.OverCapacity = truncate(res.Subsets, MaxAddresses)
	return res
}

// truncate cuts subsets down to max addresses, keeping ready addresses
// first, and reports whether it cut anything.
func truncate(subsets []corev1.EndpointSubset, max int) bool {
	total := 0
	for _, s := range subsets {
		total += len(s.Addresses) + len(s.NotReadyAddresses)
	}
	if total <= max {
		return false
	}
	budget := max
	for i := range subsets {
		if len(subsets[i].Addresses) > budget {
			subsets[i].Addresses = subsets[i].Addresses[:budget]
		}
		budget -= len(subsets[i].Addresses)
	}
	for i := range subsets {
		if len(subsets[i].NotReadyAddresses) > budget {
			subsets[i].NotReadyAddresses = subsets[i].NotReadyAddresses[:budget]
		}
		budget -= len(subsets[i].NotReadyAddresses)
	}
	return true
}

func sortedAddrs(m map[string]corev1.EndpointAddress) []corev1.EndpointAddress {
	if len(m) == 0 {
		return nil
	}
	out := make([]corev1.EndpointAddress, 0, len(m))
	for _, a := range m {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IP < out[j].IP })
	return out
}

func portsKey(ports []corev1.EndpointPort) string {
	parts := make([]string, len(ports))
	for i, p := range ports {
		parts[i] = fmt.Sprintf("%s/%d/%s", p.Name, p.Port, p.Protocol)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// Labels are the labels svc's Endpoints carry: the Service's own, plus
// HeadlessLabel on a headless Service.
func Labels(svc *corev1.Service) map[string]string {
	out := map[string]string{}
	for k, v := range svc.Labels {
		out[k] = v
	}
	if Headless(svc) {
		out[HeadlessLabel] = ""
	} else {
		delete(out, HeadlessLabel)
	}
	return out
}
