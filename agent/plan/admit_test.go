package plan

import (
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// portPod is a pod created at t0+age seconds whose containers ask for
// ports written "hostPort[/proto][@hostIP]".
func portPod(name string, age int, ports ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name),
		CreationTimestamp: metav1.NewTime(t0.Add(time.Duration(age) * time.Second))}}
	c := corev1.Container{Name: "c", Image: "img"}
	for _, s := range ports {
		s, ip, _ := strings.Cut(s, "@")
		s, proto, _ := strings.Cut(s, "/")
		var port int32
		for _, d := range s {
			port = port*10 + d - '0'
		}
		c.Ports = append(c.Ports, corev1.ContainerPort{ContainerPort: 80, HostPort: port, Protocol: corev1.Protocol(proto), HostIP: ip})
	}
	p.Spec.Containers = []corev1.Container{c}
	return p
}

func TestAdmit(t *testing.T) {
	hostNet := func(p *corev1.Pod, containerPort int32) *corev1.Pod {
		p.Spec.HostNetwork = true
		p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{ContainerPort: containerPort})
		return p
	}
	sidecar := func(p *corev1.Pod, hostPort int32, always bool) *corev1.Pod {
		c := corev1.Container{Name: "init", Image: "img", Ports: []corev1.ContainerPort{{ContainerPort: 1, HostPort: hostPort}}}
		if always {
			c.RestartPolicy = new(corev1.ContainerRestartPolicy)
			*c.RestartPolicy = corev1.ContainerRestartPolicyAlways
		}
		p.Spec.InitContainers = append(p.Spec.InitContainers, c)
		return p
	}
	failed := func(p *corev1.Pod) *corev1.Pod {
		p.Status = corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted", Message: "The node was low on resource: memory."}
		return p
	}
	succeeded := func(p *corev1.Pod) *corev1.Pod {
		p.Status.Phase = corev1.PodSucceeded
		return p
	}
	tests := []struct {
		name    string
		held    []*corev1.Pod
		cands   []Candidate
		running map[string]bool // candidates with containers on the node
		want    string          // rejected pods, sorted, with their reasons
	}{
		{name: "no ports", held: []*corev1.Pod{portPod("a", 0)}, cands: []Candidate{{Pod: portPod("b", 1)}}},
		{name: "same port held", held: []*corev1.Pod{portPod("a", 5, "8080")}, cands: []Candidate{{Pod: portPod("b", 1, "8080")}},
			want: "b:NodePorts"},
		{name: "defaults: empty protocol is TCP", held: []*corev1.Pod{portPod("a", 0, "8080/TCP")}, cands: []Candidate{{Pod: portPod("b", 1, "8080")}},
			want: "b:NodePorts"},
		{name: "other protocol", held: []*corev1.Pod{portPod("a", 0, "53/UDP")}, cands: []Candidate{{Pod: portPod("b", 1, "53/TCP")}}},
		{name: "other port", held: []*corev1.Pod{portPod("a", 0, "8080")}, cands: []Candidate{{Pod: portPod("b", 1, "8081")}}},
		{name: "different host IPs", held: []*corev1.Pod{portPod("a", 0, "8080@10.0.0.1")}, cands: []Candidate{{Pod: portPod("b", 1, "8080@10.0.0.2")}}},
		{name: "same host IP", held: []*corev1.Pod{portPod("a", 0, "8080@10.0.0.1")}, cands: []Candidate{{Pod: portPod("b", 1, "8080@10.0.0.1")}},
			want: "b:NodePorts"},
		{name: "any address against one", held: []*corev1.Pod{portPod("a", 0, "8080@0.0.0.0")}, cands: []Candidate{{Pod: portPod("b", 1, "8080@10.0.0.1")}},
			want: "b:NodePorts"},
		{name: "one address against any (empty hostIP)", held: []*corev1.Pod{portPod("a", 0, "8080@10.0.0.1")}, cands: []Candidate{{Pod: portPod("b", 1, "8080")}},
			want: "b:NodePorts"},
		{name: "new pods in creation order", cands: []Candidate{{Pod: portPod("late", 9, "8080")}, {Pod: portPod("early", 1, "8080")}, {Pod: portPod("other", 0, "9090")}},
			want: "late:NodePorts"},
		{name: "same creation time: by name", cands: []Candidate{{Pod: portPod("b", 1, "8080")}, {Pod: portPod("a", 1, "8080")}},
			want: "b:NodePorts"},
		{name: "a pod running here keeps its ports against an older new one", cands: []Candidate{{Pod: portPod("old", 0, "8080")}, {Pod: portPod("young", 9, "8080")}},
			running: map[string]bool{"young": true}, want: "old:NodePorts"},
		{name: "running pods are never rejected", held: []*corev1.Pod{portPod("a", 0, "8080")}, cands: []Candidate{{Pod: portPod("b", 1, "8080")}},
			running: map[string]bool{"b": true}},
		{name: "a rejected pod holds nothing", held: []*corev1.Pod{portPod("a", 0, "8080")},
			cands: []Candidate{{Pod: portPod("b", 1, "8080", "9090")}, {Pod: portPod("c", 2, "9090")}}, want: "b:NodePorts"},
		{name: "hostNetwork container ports are host ports", held: []*corev1.Pod{hostNet(portPod("a", 0), 8080)},
			cands: []Candidate{{Pod: portPod("b", 1, "8080")}}, want: "b:NodePorts"},
		{name: "hostNetwork against hostNetwork", held: []*corev1.Pod{hostNet(portPod("a", 0), 8080)},
			cands: []Candidate{{Pod: hostNet(portPod("b", 1), 8080)}}, want: "b:NodePorts"},
		{name: "sidecar ports count", held: []*corev1.Pod{sidecar(portPod("a", 0), 8080, true)},
			cands: []Candidate{{Pod: portPod("b", 1, "8080")}}, want: "b:NodePorts"},
		{name: "init container ports do not", held: []*corev1.Pod{sidecar(portPod("a", 0), 8080, false)},
			cands: []Candidate{{Pod: portPod("b", 1, "8080")}}},
		{name: "a pod the server has as Failed stays Failed and holds nothing",
			cands: []Candidate{{Pod: failed(portPod("a", 0, "8080"))}, {Pod: portPod("b", 1, "8080")}}, want: "a:Evicted"},
		{name: "a Failed pod with containers here is not touched and holds nothing", cands: []Candidate{{Pod: failed(portPod("a", 0, "8080"))}, {Pod: portPod("b", 1, "8080")}},
			running: map[string]bool{"a": true}},
		{name: "a Succeeded pod holds nothing", cands: []Candidate{{Pod: succeeded(portPod("a", 0, "8080"))}, {Pod: portPod("b", 1, "8080")}},
			running: map[string]bool{"a": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range tt.cands {
				tt.cands[i].HasContainers = tt.running[tt.cands[i].Pod.Name]
			}
			got := Admit(tt.held, tt.cands)
			names := map[types.UID]string{}
			for _, c := range tt.cands {
				names[c.Pod.UID] = c.Pod.Name
			}
			var out []string
			for uid, r := range got {
				out = append(out, names[uid]+":"+r.Reason)
			}
			sort.Strings(out)
			if s := strings.Join(out, " "); s != tt.want {
				t.Errorf("rejected %q, want %q", s, tt.want)
			}
		})
	}
}

func TestRejectedPod(t *testing.T) {
	p := portPod("b", 1, "8080")
	p.Status.QOSClass = corev1.PodQOSBestEffort
	r := Admit([]*corev1.Pod{portPod("a", 0, "8080")}, []Candidate{{Pod: p}})[p.UID]
	if r.Message != "Pod was rejected: Predicate NodePorts failed: node(s) didn't have free ports for the requested pod ports" ||
		r.Event != "Predicate NodePorts failed: node(s) didn't have free ports for the requested pod ports" {
		t.Fatalf("rejection %+v", r)
	}
	obs := Observed{Rejected: &r}
	if acts, _ := Plan(p, obs, false, t0); len(acts) != 0 {
		t.Errorf("a rejected pod is not set up or started: %s", kinds(acts))
	}
	if acts, _ := Plan(p, obs, true, t0); kinds(acts) != "Gone" {
		t.Errorf("deleting a rejected pod: %s, want Gone alone", kinds(acts))
	}
	st := Status(p, obs, t0)
	if st.Phase != corev1.PodFailed || st.Reason != "NodePorts" || st.Message != r.Message || st.QOSClass != corev1.PodQOSBestEffort ||
		st.StartTime == nil || len(st.ContainerStatuses) != 0 || len(st.Conditions) != 0 || st.PodIP != "" {
		t.Errorf("status %+v", st)
	}
	// Containers of it found on the node (it ran before): the usual rules.
	obs.Instances = []Container{running("c", 0)}
	if ph := Phase(p, obs); ph != corev1.PodRunning {
		t.Errorf("phase with a running container: %s", ph)
	}
}
