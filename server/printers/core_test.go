package printers

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestServiceExternalIP(t *testing.T) {
	lb := corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{
		{IP: "5.6.7.8"}, {IP: "1.2.3.4"}, {IP: "1.2.3.4"}, {Hostname: "lb.example", IP: "9.9.9.9"},
	}}}
	tests := []struct {
		name string
		spec corev1.ServiceSpec
		st   corev1.ServiceStatus
		want string
	}{
		{"unset type is ClusterIP", corev1.ServiceSpec{}, corev1.ServiceStatus{}, "<none>"},
		{"ClusterIP with externalIPs", corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ExternalIPs: []string{"a", "b"}}, corev1.ServiceStatus{}, "a,b"},
		{"NodePort", corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort}, corev1.ServiceStatus{}, "<none>"},
		{"LoadBalancer pending", corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer}, corev1.ServiceStatus{}, "<pending>"},
		// Sorted, deduplicated, IP preferred over hostname, never truncated.
		{"LoadBalancer", corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer}, lb, "1.2.3.4,5.6.7.8,9.9.9.9"},
		{"LoadBalancer plus externalIPs", corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ExternalIPs: []string{"8.8.8.8"}}, lb, "1.2.3.4,5.6.7.8,9.9.9.9,8.8.8.8"},
		{"LoadBalancer, externalIPs only", corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ExternalIPs: []string{"8.8.8.8"}}, corev1.ServiceStatus{}, "8.8.8.8"},
		{"ExternalName", corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example"}, corev1.ServiceStatus{}, "db.example"},
		{"unknown type", corev1.ServiceSpec{Type: "Weird"}, corev1.ServiceStatus{}, "<unknown>"},
	}
	for _, tt := range tests {
		row := servicePrinter.Row(&corev1.Service{Spec: tt.spec, Status: tt.st}, now)
		if got := row[3]; got != tt.want {
			t.Errorf("%s: EXTERNAL-IP = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestServiceCells(t *testing.T) {
	tests := []struct {
		name                  string
		spec                  corev1.ServiceSpec
		clusterIP, ports, sel string
	}{
		{"headless", corev1.ServiceSpec{ClusterIP: "None", ClusterIPs: []string{"None"}}, "None", "<none>", "<none>"},
		{"clusterIP without clusterIPs", corev1.ServiceSpec{ClusterIP: "10.0.0.1"}, "10.0.0.1", "<none>", "<none>"},
		{"dual stack shows the primary", corev1.ServiceSpec{ClusterIPs: []string{"10.0.0.1", "fd00::1"}}, "10.0.0.1", "<none>", "<none>"},
		{
			"unset protocol is TCP",
			corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}, {Port: 443, Protocol: corev1.ProtocolSCTP}}, Selector: map[string]string{"b": "2", "a": "1"}},
			"<none>", "80/TCP,443/SCTP", "a=1,b=2",
		},
	}
	for _, tt := range tests {
		row := servicePrinter.Row(&corev1.Service{Spec: tt.spec}, now)
		if row[2] != tt.clusterIP || row[4] != tt.ports || row[6] != tt.sel {
			t.Errorf("%s: CLUSTER-IP %q PORT(S) %q SELECTOR %q; want %q %q %q", tt.name, row[2], row[4], row[6], tt.clusterIP, tt.ports, tt.sel)
		}
	}
}

func TestNodeStatusAndRoles(t *testing.T) {
	ready := func(s corev1.ConditionStatus) []corev1.NodeCondition {
		return []corev1.NodeCondition{{Type: corev1.NodeReady, Status: s}}
	}
	tests := []struct {
		name          string
		node          corev1.Node
		status, roles string
	}{
		{"no conditions", corev1.Node{}, "Unknown", "<none>"},
		{"ready", corev1.Node{Status: corev1.NodeStatus{Conditions: ready(corev1.ConditionTrue)}}, "Ready", "<none>"},
		{"not ready", corev1.Node{Status: corev1.NodeStatus{Conditions: ready(corev1.ConditionFalse)}}, "NotReady", "<none>"},
		{"unknown ready is NotReady", corev1.Node{Status: corev1.NodeStatus{Conditions: ready(corev1.ConditionUnknown)}}, "NotReady", "<none>"},
		{"cordoned, never reported", corev1.Node{Spec: corev1.NodeSpec{Unschedulable: true}}, "Unknown,SchedulingDisabled", "<none>"},
		{
			"roles",
			corev1.Node{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{
				"node-role.kubernetes.io/worker": "", "kubernetes.io/role": "worker", "node-role.kubernetes.io/edge": "true",
			}}},
			"Unknown", "edge,worker",
		},
		{"empty kubernetes.io/role", corev1.Node{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"kubernetes.io/role": ""}}}, "Unknown", "<none>"},
	}
	for _, tt := range tests {
		row := nodePrinter.Row(&tt.node, now)
		if row[1] != tt.status || row[2] != tt.roles {
			t.Errorf("%s: STATUS %q ROLES %q, want %q %q", tt.name, row[1], row[2], tt.status, tt.roles)
		}
	}
}

func TestFormatEndpoints(t *testing.T) {
	addrs := func(ips ...string) []corev1.EndpointAddress {
		out := make([]corev1.EndpointAddress, len(ips))
		for i, ip := range ips {
			out[i].IP = ip
		}
		return out
	}
	tests := []struct {
		name    string
		subsets []corev1.EndpointSubset
		want    string
	}{
		{"none", nil, "<none>"},
		{"subset without addresses", []corev1.EndpointSubset{{NotReadyAddresses: addrs("10.0.0.9")}}, ""},
		{"headless, no ports", []corev1.EndpointSubset{{Addresses: addrs("10.0.0.1", "10.0.0.2")}}, "10.0.0.1,10.0.0.2"},
		{
			"more than three",
			[]corev1.EndpointSubset{
				{Addresses: addrs("10.0.0.1", "10.0.0.2"), Ports: []corev1.EndpointPort{{Port: 80}, {Port: 443}}},
				{Addresses: addrs("10.0.0.3"), Ports: []corev1.EndpointPort{{Port: 80}}},
			},
			"10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 2 more...",
		},
	}
	for _, tt := range tests {
		if got := formatEndpoints(tt.subsets); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestAccessModes(t *testing.T) {
	tests := []struct {
		in   []corev1.PersistentVolumeAccessMode
		want string
	}{
		{nil, ""},
		{[]corev1.PersistentVolumeAccessMode{corev1.ReadWriteOncePod, corev1.ReadOnlyMany, corev1.ReadWriteOnce, corev1.ReadWriteMany, corev1.ReadOnlyMany}, "RWO,ROX,RWX,RWOP"},
		{[]corev1.PersistentVolumeAccessMode{"Bogus"}, ""},
	}
	for _, tt := range tests {
		if got := accessModes(tt.in); got != tt.want {
			t.Errorf("accessModes(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestStorageClassAnnotationWins(t *testing.T) {
	meta := metav1.ObjectMeta{Annotations: map[string]string{corev1.BetaStorageClassAnnotation: "legacy"}}
	pv := &corev1.PersistentVolume{ObjectMeta: meta, Spec: corev1.PersistentVolumeSpec{StorageClassName: "new"}}
	if got := persistentVolumePrinter.Row(pv, now)[6]; got != "legacy" {
		t.Errorf("PV STORAGECLASS = %q, want legacy", got)
	}
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: meta, Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr("new")}}
	if got := persistentVolumeClaimPrinter.Row(pvc, now)[5]; got != "legacy" {
		t.Errorf("PVC STORAGECLASS = %q, want legacy", got)
	}
	deleting := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: ptr(ago(0))}}
	if got := persistentVolumeClaimPrinter.Row(deleting, now)[1]; got != "Terminating" {
		t.Errorf("deleted PVC STATUS = %q, want Terminating", got)
	}
}
