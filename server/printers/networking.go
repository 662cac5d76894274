package printers

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	discoveryv1beta1 "k8s.io/api/discovery/v1beta1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var ingressPrinter = Printer{
	Columns: []metav1.TableColumnDefinition{
		nameColumn,
		{Name: "Class", Type: "string", Description: "The name of the IngressClass resource that should be used for additional configuration"},
		{Name: "Hosts", Type: "string", Description: "Hosts that incoming requests are matched against before the ingress rule"},
		{Name: "Address", Type: "string", Description: "Address is a list containing ingress points for the load-balancer"},
		{Name: "Ports", Type: "string", Description: "Ports of TLS configurations that open"},
		ageColumn,
	},
	Row: rowOf(func(ing *networkingv1.Ingress, now time.Time) []interface{} {
		class := "<none>"
		if ing.Spec.IngressClassName != nil {
			class = *ing.Spec.IngressClassName
		}
		var addrs []string
		for _, in := range ing.Status.LoadBalancer.Ingress {
			switch {
			case in.IP != "":
				addrs = append(addrs, in.IP)
			case in.Hostname != "":
				addrs = append(addrs, in.Hostname)
			}
		}
		slices.Sort(addrs)
		ports := "80"
		if len(ing.Spec.TLS) > 0 {
			ports = "80, 443"
		}
		return []interface{}{
			ing.Name, class, ingressHosts(ing.Spec.Rules), strings.Join(slices.Compact(addrs), ","), ports,
			age(ing.CreationTimestamp, now),
		}
	}),
}

// ingressHosts lists the hosts of the first three rules, "*" if none names
// one. Like kube, the "more" count is of rules, not of hosts.
func ingressHosts(rules []networkingv1.IngressRule) string {
	var hosts []string
	more := false
	for _, r := range rules {
		if len(hosts) == 3 {
			more = true
			break
		}
		if r.Host != "" {
			hosts = append(hosts, r.Host)
		}
	}
	if len(hosts) == 0 {
		return "*"
	}
	s := strings.Join(hosts, ",")
	if more {
		return fmt.Sprintf("%s + %d more...", s, len(rules)-3)
	}
	return s
}

var endpointSliceDoc = discoveryv1beta1.EndpointSlice{}.SwaggerDoc()

var endpointSlicePrinter = Printer{
	Columns: []metav1.TableColumnDefinition{
		nameColumn,
		{Name: "AddressType", Type: "string", Description: endpointSliceDoc["addressType"]},
		{Name: "Ports", Type: "string", Description: endpointSliceDoc["ports"]},
		{Name: "Endpoints", Type: "string", Description: endpointSliceDoc["endpoints"]},
		ageColumn,
	},
	Row: rowOf(func(es *discoveryv1.EndpointSlice, now time.Time) []interface{} {
		var ports []string
		for _, p := range es.Ports {
			if len(ports) == 3 {
				break
			}
			switch {
			case p.Port != nil:
				ports = append(ports, strconv.Itoa(int(*p.Port)))
			case p.Name != nil:
				ports = append(ports, *p.Name)
			default:
				ports = append(ports, "*")
			}
		}
		var addrs []string
		total := 0
		for _, ep := range es.Endpoints {
			for _, a := range ep.Addresses {
				total++
				if len(addrs) < 3 {
					addrs = append(addrs, a)
				}
			}
		}
		return []interface{}{
			es.Name, string(es.AddressType), orDefault(withMore(ports, len(es.Ports)), "<unset>"),
			orDefault(withMore(addrs, total), "<unset>"), age(es.CreationTimestamp, now),
		}
	}),
}

var leasePrinter = Printer{
	Columns: []metav1.TableColumnDefinition{
		nameColumn,
		{Name: "Holder", Type: "string", Description: coordinationv1.LeaseSpec{}.SwaggerDoc()["holderIdentity"]},
		ageColumn,
	},
	Row: rowOf(func(l *coordinationv1.Lease, now time.Time) []interface{} {
		holder := ""
		if l.Spec.HolderIdentity != nil {
			holder = *l.Spec.HolderIdentity
		}
		return []interface{}{l.Name, holder, age(l.CreationTimestamp, now)}
	}),
}
