package endpointslice

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func testPod(name, ip string, ready, deleting bool) *corev1.Pod {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID(name)},
		Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}},
	}
	if deleting {
		p.DeletionTimestamp = &metav1.Time{}
	}
	return p
}

var testSvc = &corev1.Service{
	ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "svc-uid", Labels: map[string]string{"team": "a"}},
	Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"},
		Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("http")}}},
}

func TestFromPodsConditions(t *testing.T) {
	pods := []*corev1.Pod{testPod("a", "10.0.0.1", true, false), testPod("b", "10.0.0.2", false, false),
		testPod("c", "10.0.0.3", true, true), testPod("d", "", true, false)}
	gs := FromPods(testSvc, pods, func(string) string { return "z1" })
	if len(gs) != 1 || len(gs[0].Endpoints) != 3 {
		t.Fatalf("groups %+v", gs)
	}
	if p := gs[0].Ports[0]; *p.Port != 8080 || *p.Name != "http" || *p.Protocol != corev1.ProtocolTCP {
		t.Fatalf("port %+v", p)
	}
	want := map[string][3]bool{"10.0.0.1": {true, true, false}, "10.0.0.2": {false, false, false}, "10.0.0.3": {false, true, true}}
	for _, e := range gs[0].Endpoints {
		c := e.Conditions
		got := [3]bool{*c.Ready, *c.Serving, *c.Terminating}
		if got != want[e.Addresses[0]] {
			t.Errorf("%s: ready/serving/terminating %v, want %v", e.Addresses[0], got, want[e.Addresses[0]])
		}
		if ptr.Deref(e.Zone, "") != "z1" || ptr.Deref(e.NodeName, "") != "n1" || e.TargetRef == nil || e.TargetRef.Kind != "Pod" {
			t.Errorf("%s: zone/node/targetRef %v %v %v", e.Addresses[0], e.Zone, e.NodeName, e.TargetRef)
		}
	}
}

func TestPlan(t *testing.T) {
	owner := Owner{Service: testSvc, ManagedBy: ControllerName, Labels: ServiceLabels(testSvc)}
	var pods []*corev1.Pod
	for i := 0; i < 250; i++ {
		pods = append(pods, testPod(fmt.Sprint("p", i), fmt.Sprintf("10.0.%d.%d", i/200, i%200+1), true, false))
	}
	gs := FromPods(testSvc, pods, func(string) string { return "" })

	ch := Plan(owner, nil, gs)
	if len(ch.Create) != 3 || len(ch.Update) != 0 || len(ch.Delete) != 0 {
		t.Fatalf("from nothing: %d creates, %d updates, %d deletes; want 3 creates", len(ch.Create), len(ch.Update), len(ch.Delete))
	}
	total := 0
	for _, s := range ch.Create {
		total += len(s.Endpoints)
		if len(s.Endpoints) > MaxEndpoints {
			t.Fatalf("slice of %d endpoints", len(s.Endpoints))
		}
		if s.Labels[discoveryv1.LabelServiceName] != "web" || s.Labels[discoveryv1.LabelManagedBy] != ControllerName || s.Labels["team"] != "a" {
			t.Fatalf("labels %v", s.Labels)
		}
		if len(s.OwnerReferences) != 1 || s.OwnerReferences[0].UID != "svc-uid" || !*s.OwnerReferences[0].Controller {
			t.Fatalf("owner %v", s.OwnerReferences)
		}
	}
	if total != 250 {
		t.Fatalf("%d endpoints in slices, want 250", total)
	}

	// The same state again writes nothing.
	var existing []*discoveryv1.EndpointSlice
	for i, s := range ch.Create {
		s = s.DeepCopy()
		s.Name = fmt.Sprint("web-", i)
		existing = append(existing, s)
	}
	if ch := Plan(owner, existing, gs); len(ch.Create)+len(ch.Update)+len(ch.Delete) != 0 {
		t.Fatalf("steady state: %d creates, %d updates, %d deletes", len(ch.Create), len(ch.Update), len(ch.Delete))
	}
	// Down to one pod: one slice rewritten, two deleted.
	ch = Plan(owner, existing, FromPods(testSvc, pods[:1], func(string) string { return "" }))
	if len(ch.Create) != 0 || len(ch.Update) != 1 || len(ch.Delete) != 2 {
		t.Fatalf("shrink: %d creates, %d updates, %d deletes", len(ch.Create), len(ch.Update), len(ch.Delete))
	}
	// No pods: one empty placeholder slice is kept.
	ch = Plan(owner, nil, nil)
	if len(ch.Create) != 1 || len(ch.Create[0].Endpoints) != 0 || ch.Create[0].AddressType != discoveryv1.AddressTypeIPv4 {
		t.Fatalf("placeholder: %+v", ch)
	}
}

func TestFromEndpoints(t *testing.T) {
	ep := &corev1.Endpoints{Subsets: []corev1.EndpointSubset{{
		Addresses:         []corev1.EndpointAddress{{IP: "192.168.1.5", Hostname: "h"}},
		NotReadyAddresses: []corev1.EndpointAddress{{IP: "192.168.1.6"}, {IP: "not-an-ip"}},
		Ports:             []corev1.EndpointPort{{Name: "db", Port: 5432}},
	}}}
	gs := FromEndpoints(ep)
	if len(gs) != 1 || len(gs[0].Endpoints) != 2 {
		t.Fatalf("groups %+v", gs)
	}
	e0, e1 := gs[0].Endpoints[0], gs[0].Endpoints[1]
	if e0.Addresses[0] != "192.168.1.5" || !*e0.Conditions.Ready || *e0.Hostname != "h" || *e1.Conditions.Ready {
		t.Fatalf("endpoints %+v", gs[0].Endpoints)
	}
	if p := gs[0].Ports[0]; *p.Port != 5432 || *p.Protocol != corev1.ProtocolTCP {
		t.Fatalf("port %+v", p)
	}
}
