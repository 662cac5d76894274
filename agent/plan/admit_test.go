package plan

import (
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
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
		{name: "a pod the server has as Succeeded, with no containers here, is not run and holds nothing",
			cands: []Candidate{{Pod: succeeded(portPod("a", 0, "8080"))}, {Pod: portPod("b", 1, "8080")}}, want: "a:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range tt.cands {
				tt.cands[i].HasContainers = tt.running[tt.cands[i].Pod.Name]
			}
			got := Admit(nil, tt.held, tt.cands)
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
	r := Admit(nil, []*corev1.Pod{portPod("a", 0, "8080")}, []Candidate{{Pod: p}})[p.UID]
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

// A pod the server has as finished, with no containers on the node (the
// node lost them), is never run again, and the agent reports the status
// the server has, container states and all, not a rejection.
func TestFinishedPodIsNotRunAgain(t *testing.T) {
	for _, phase := range []corev1.PodPhase{corev1.PodSucceeded, corev1.PodFailed} {
		p := portPod("done", 0)
		started := metav1.NewTime(t0)
		p.Status = corev1.PodStatus{Phase: phase, Reason: "", QOSClass: corev1.PodQOSBestEffort, StartTime: &started,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "PodCompleted"}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "c", State: corev1.ContainerState{
				Terminated: &corev1.ContainerStateTerminated{ExitCode: map[corev1.PodPhase]int32{corev1.PodSucceeded: 0, corev1.PodFailed: 3}[phase], Reason: "Completed"}}}}}
		r, ok := Admit(nil, nil, []Candidate{{Pod: p}})[p.UID]
		if !ok || !r.Finished || r.Event != "" {
			t.Fatalf("%s: admission %+v, %v: want Finished, with no event", phase, r, ok)
		}
		obs := Observed{Rejected: &r}
		if acts, _ := Plan(p, obs, false, t0.Add(time.Hour)); len(acts) != 0 {
			t.Errorf("%s: a finished pod is not set up or started: %s", phase, kinds(acts))
		}
		if acts, _ := Plan(p, obs, true, t0.Add(time.Hour)); kinds(acts) != "Gone" {
			t.Errorf("%s: deleting it: %s, want Gone alone", phase, kinds(acts))
		}
		if ph := Phase(p, obs); ph != phase {
			t.Errorf("phase %s, want %s", ph, phase)
		}
		if st := Status(p, obs, t0.Add(time.Hour)); !equality.Semantic.DeepEqual(st, p.Status) {
			t.Errorf("%s: status %+v, want the server's %+v", phase, st, p.Status)
		}
	}
}

// reqPod is a pod created at t0+age seconds whose container requests
// the given resources, written "cpu=500m,memory=1Gi".
func reqPod(name string, age int, reqs string) *corev1.Pod {
	p := portPod(name, age)
	if reqs != "" {
		p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{}
		for _, kv := range strings.Split(reqs, ",") {
			k, v, _ := strings.Cut(kv, "=")
			p.Spec.Containers[0].Resources.Requests[corev1.ResourceName(k)] = resource.MustParse(v)
		}
	}
	return p
}

func TestAdmitResources(t *testing.T) {
	alloc := corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("4Gi"),
		corev1.ResourceEphemeralStorage: resource.MustParse("10Gi"), corev1.ResourcePods: resource.MustParse("3"),
		"example.com/gpu": resource.MustParse("1"),
	}
	withInit := func(p *corev1.Pod, reqs string, sidecar bool) *corev1.Pod {
		ip := reqPod("x", 0, reqs)
		c := ip.Spec.Containers[0]
		c.Name = "init"
		if sidecar {
			c.RestartPolicy = new(corev1.ContainerRestartPolicy)
			*c.RestartPolicy = corev1.ContainerRestartPolicyAlways
		}
		p.Spec.InitContainers = append(p.Spec.InitContainers, c)
		return p
	}
	done := func(p *corev1.Pod) *corev1.Pod {
		p.Status.Phase = corev1.PodSucceeded
		return p
	}
	tests := []struct {
		name    string
		alloc   corev1.ResourceList
		held    []*corev1.Pod
		cands   []Candidate
		running map[string]bool
		want    string // rejected pods, sorted, with reason and event message
	}{
		{name: "fits", held: []*corev1.Pod{reqPod("a", 0, "cpu=1,memory=2Gi")}, cands: []Candidate{{Pod: reqPod("b", 1, "cpu=1,memory=2Gi")}}},
		{name: "cpu", held: []*corev1.Pod{reqPod("a", 0, "cpu=1500m")}, cands: []Candidate{{Pod: reqPod("b", 1, "cpu=600m")}},
			want: "b:OutOfcpu:Node didn't have enough resource: cpu, requested: 600, used: 1500, capacity: 2000"},
		{name: "memory", held: []*corev1.Pod{reqPod("a", 0, "memory=3Gi")}, cands: []Candidate{{Pod: reqPod("b", 1, "memory=2Gi")}},
			want: "b:OutOfmemory:Node didn't have enough resource: memory, requested: 2147483648, used: 3221225472, capacity: 4294967296"},
		{name: "cpu is checked before memory", cands: []Candidate{{Pod: reqPod("b", 1, "memory=5Gi,cpu=3")}},
			want: "b:OutOfcpu:Node didn't have enough resource: cpu, requested: 3000, used: 0, capacity: 2000"},
		{name: "ephemeral storage", cands: []Candidate{{Pod: reqPod("b", 1, "ephemeral-storage=11Gi")}},
			want: "b:OutOfephemeral-storage:Node didn't have enough resource: ephemeral-storage, requested: 11811160064, used: 0, capacity: 10737418240"},
		{name: "pods: checked first, even without requests", held: []*corev1.Pod{reqPod("a", 0, ""), reqPod("b", 0, ""), reqPod("c", 0, "")},
			cands: []Candidate{{Pod: reqPod("d", 1, "cpu=5")}}, want: "d:OutOfpods:Node didn't have enough resource: pods, requested: 1, used: 3, capacity: 3"},
		{name: "new pods in creation order; a refused pod takes nothing", cands: []Candidate{{Pod: reqPod("late", 9, "cpu=1")},
			{Pod: reqPod("early", 1, "cpu=1500m")}, {Pod: reqPod("big", 2, "cpu=1")}, {Pod: reqPod("small", 3, "cpu=500m")}},
			want: "big:OutOfcpu:Node didn't have enough resource: cpu, requested: 1000, used: 1500, capacity: 2000 " +
				"late:OutOfcpu:Node didn't have enough resource: cpu, requested: 1000, used: 2000, capacity: 2000"},
		{name: "a pod running here is admitted and counts first", cands: []Candidate{{Pod: reqPod("old", 0, "cpu=1500m")}, {Pod: reqPod("young", 9, "cpu=1500m")}},
			running: map[string]bool{"young": true}, want: "old:OutOfcpu:Node didn't have enough resource: cpu, requested: 1500, used: 1500, capacity: 2000"},
		{name: "a finished pod frees its requests", cands: []Candidate{{Pod: done(reqPod("a", 0, "cpu=2"))}, {Pod: reqPod("b", 1, "cpu=2")}},
			running: map[string]bool{"a": true}},
		{name: "init containers: the larger of their peak and the containers' sum", held: []*corev1.Pod{withInit(reqPod("a", 0, "cpu=100m"), "cpu=1500m", false)},
			cands: []Candidate{{Pod: reqPod("b", 1, "cpu=600m")}},
			want:  "b:OutOfcpu:Node didn't have enough resource: cpu, requested: 600, used: 1500, capacity: 2000"},
		{name: "sidecars add to the containers", held: []*corev1.Pod{withInit(reqPod("a", 0, "cpu=1"), "cpu=500m", true)},
			cands: []Candidate{{Pod: reqPod("b", 1, "cpu=600m")}},
			want:  "b:OutOfcpu:Node didn't have enough resource: cpu, requested: 600, used: 1500, capacity: 2000"},
		{name: "advertised extended resource", held: []*corev1.Pod{reqPod("a", 0, "example.com/gpu=1")}, cands: []Candidate{{Pod: reqPod("b", 1, "example.com/gpu=1")}},
			want: "b:OutOfexample.com/gpu:Node didn't have enough resource: example.com/gpu, requested: 1, used: 1, capacity: 1"},
		{name: "an extended resource the node does not advertise is not checked", cands: []Candidate{{Pod: reqPod("b", 1, "example.org/fpga=2")}}},
		{name: "huge pages the node lacks", cands: []Candidate{{Pod: reqPod("b", 1, "hugepages-2Mi=2Mi,memory=2Mi")}},
			want: "b:OutOfhugepages-2Mi:Node didn't have enough resource: hugepages-2Mi, requested: 2097152, used: 0, capacity: 0"},
		{name: "resources refused before ports", held: []*corev1.Pod{reqPod("a", 0, "cpu=2")}, cands: []Candidate{{Pod: reqPod("b", 1, "cpu=1")}},
			want: "b:OutOfcpu:Node didn't have enough resource: cpu, requested: 1000, used: 2000, capacity: 2000"},
		{name: "no allocatable: not checked", alloc: corev1.ResourceList{}, cands: []Candidate{{Pod: reqPod("b", 1, "cpu=100")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := alloc
			if tt.alloc != nil {
				a = tt.alloc
			}
			for i := range tt.cands {
				tt.cands[i].HasContainers = tt.running[tt.cands[i].Pod.Name]
			}
			got := Admit(a, tt.held, tt.cands)
			names := map[types.UID]string{}
			for _, c := range tt.cands {
				names[c.Pod.UID] = c.Pod.Name
			}
			var out []string
			for uid, r := range got {
				if r.Message != "Pod was rejected: "+r.Event {
					t.Errorf("%s: message %q does not carry the event %q", names[uid], r.Message, r.Event)
				}
				out = append(out, names[uid]+":"+r.Reason+":"+r.Event)
			}
			sort.Strings(out)
			if s := strings.Join(out, " "); s != tt.want {
				t.Errorf("rejected\n %q, want\n %q", s, tt.want)
			}
		})
	}
}
