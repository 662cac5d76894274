package endpoints

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

type podOpt func(*corev1.Pod)

func pod(name, ip string, ready bool, opts ...podOpt) *corev1.Pod {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name)},
		Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func svc(opts ...func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, ClusterIP: "10.43.0.10",
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("http")}}},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func addr(name, ip string) corev1.EndpointAddress {
	n := "n1"
	return corev1.EndpointAddress{IP: ip, NodeName: &n,
		TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "ns", Name: name, UID: types.UID("uid-" + name)}}
}

func TestDesired(t *testing.T) {
	httpPort := []corev1.EndpointPort{{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP}}
	deleting := func(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{} }
	tests := []struct {
		name string
		svc  *corev1.Service
		pods []*corev1.Pod
		want []corev1.EndpointSubset
	}{
		{"ready and not ready", svc(), []*corev1.Pod{pod("a", "10.0.0.2", true), pod("b", "10.0.0.1", false), pod("c", "10.0.0.3", true)},
			[]corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{addr("a", "10.0.0.2"), addr("c", "10.0.0.3")},
				NotReadyAddresses: []corev1.EndpointAddress{addr("b", "10.0.0.1")}, Ports: httpPort}}},
		{"no IP, finished and deleting pods left out", svc(), []*corev1.Pod{
			pod("a", "", true), pod("b", "10.0.0.2", true, func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }),
			pod("c", "10.0.0.3", true, deleting)}, nil},
		{"publishNotReadyAddresses", svc(func(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = true }),
			[]*corev1.Pod{pod("a", "10.0.0.1", false), pod("b", "10.0.0.2", true, deleting)},
			[]corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{addr("a", "10.0.0.1"), addr("b", "10.0.0.2")}, Ports: httpPort}}},
		{"named port differs per pod", svc(), []*corev1.Pod{pod("a", "10.0.0.1", true),
			pod("b", "10.0.0.2", true, func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 9090 }),
			pod("c", "10.0.0.3", true, func(p *corev1.Pod) { p.Spec.Containers[0].Ports = nil })},
			[]corev1.EndpointSubset{
				{Addresses: []corev1.EndpointAddress{addr("a", "10.0.0.1")}, Ports: httpPort},
				{Addresses: []corev1.EndpointAddress{addr("b", "10.0.0.2")}, Ports: []corev1.EndpointPort{{Name: "http", Port: 9090, Protocol: corev1.ProtocolTCP}}}}},
		{"numeric target port", svc(func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromInt32(7000) }),
			[]*corev1.Pod{pod("a", "10.0.0.1", true)},
			[]corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{addr("a", "10.0.0.1")},
				Ports: []corev1.EndpointPort{{Name: "http", Port: 7000, Protocol: corev1.ProtocolTCP}}}}},
		{"headless with hostname, no ports", svc(func(s *corev1.Service) { s.Spec.ClusterIP = corev1.ClusterIPNone; s.Spec.Ports = nil }),
			[]*corev1.Pod{pod("a", "10.0.0.1", true, func(p *corev1.Pod) { p.Spec.Hostname, p.Spec.Subdomain = "a0", "web" }),
				pod("b", "10.0.0.2", true, func(p *corev1.Pod) { p.Spec.Hostname, p.Spec.Subdomain = "b0", "other" })},
			[]corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{
				func() corev1.EndpointAddress { a := addr("a", "10.0.0.1"); a.Hostname = "a0"; return a }(), addr("b", "10.0.0.2")}}}},
		{"ClusterIP Service without ports has no endpoints", svc(func(s *corev1.Service) { s.Spec.Ports = nil }),
			[]*corev1.Pod{pod("a", "10.0.0.1", true)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Desired(tt.svc, tt.pods)
			if got.OverCapacity {
				t.Error("over capacity")
			}
			if !equality.Semantic.DeepEqual(got.Subsets, tt.want) {
				t.Errorf("subsets:\n got %+v\nwant %+v", got.Subsets, tt.want)
			}
		})
	}
}

func TestDesiredTruncates(t *testing.T) {
	var pods []*corev1.Pod
	for i := 0; i < 1100; i++ {
		pods = append(pods, pod(fmt.Sprint("p", i), fmt.Sprintf("10.1.%d.%d", i/250, i%250), i%2 == 0))
	}
	got := Desired(svc(), pods)
	if !got.OverCapacity {
		t.Fatal("1100 addresses not reported over capacity")
	}
	s := got.Subsets[0]
	if len(s.Addresses) != 550 || len(s.NotReadyAddresses) != 450 {
		t.Fatalf("kept %d ready and %d not ready, want 550 and 450", len(s.Addresses), len(s.NotReadyAddresses))
	}
}

func TestLabels(t *testing.T) {
	s := svc(func(s *corev1.Service) { s.Labels = map[string]string{"a": "b"}; s.Spec.ClusterIP = "None" })
	if got := Labels(s); got["a"] != "b" || got[HeadlessLabel] != "" || len(got) != 2 {
		t.Fatalf("labels %v", got)
	}
}
