package scheduler

import (
	"errors"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// node builds a Ready node with allocatable cpu, memory and 110 pods.
func node(name, cpu, mem string, opts ...func(*corev1.Node)) *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}},
		Status: corev1.NodeStatus{
			Allocatable: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse(cpu),
				corev1.ResourceMemory: resource.MustParse(mem),
				corev1.ResourcePods:   resource.MustParse("110"),
			},
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
		},
	}
	for _, o := range opts {
		o(n)
	}
	return n
}

func withLabel(k, v string) func(*corev1.Node) {
	return func(n *corev1.Node) { n.Labels[k] = v }
}

func withTaint(key, value string, effect corev1.TaintEffect) func(*corev1.Node) {
	return func(n *corev1.Node) {
		n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: key, Value: value, Effect: effect})
	}
}

func cordoned(n *corev1.Node) { n.Spec.Unschedulable = true }

func ready(status corev1.ConditionStatus) func(*corev1.Node) {
	return func(n *corev1.Node) { n.Status.Conditions[0].Status = status }
}

func withAllocatable(name corev1.ResourceName, q string) func(*corev1.Node) {
	return func(n *corev1.Node) { n.Status.Allocatable[name] = resource.MustParse(q) }
}

func withImage(size int64, names ...string) func(*corev1.Node) {
	return func(n *corev1.Node) {
		n.Status.Images = append(n.Status.Images, corev1.ContainerImage{Names: names, SizeBytes: size})
	}
}

// pod builds a pod in namespace "ns" with one container requesting cpu and
// memory ("" requests nothing).
func pod(name, cpu, mem string, opts ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name), Labels: map[string]string{}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
	req := corev1.ResourceList{}
	if cpu != "" {
		req[corev1.ResourceCPU] = resource.MustParse(cpu)
	}
	if mem != "" {
		req[corev1.ResourceMemory] = resource.MustParse(mem)
	}
	if len(req) > 0 {
		p.Spec.Containers[0].Resources.Requests = req
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func on(nodeName string) func(*corev1.Pod) { return func(p *corev1.Pod) { p.Spec.NodeName = nodeName } }

func labeled(k, v string) func(*corev1.Pod) { return func(p *corev1.Pod) { p.Labels[k] = v } }

func tolerating(t corev1.Toleration) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.Spec.Tolerations = append(p.Spec.Tolerations, t) }
}

func selecting(k, v string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		if p.Spec.NodeSelector == nil {
			p.Spec.NodeSelector = map[string]string{}
		}
		p.Spec.NodeSelector[k] = v
	}
}

func hostPortOf(port int32) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{ContainerPort: port, HostPort: port})
	}
}

func ownedBy(uid string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		yes := true
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", UID: types.UID(uid), Controller: &yes}}
	}
}

func requiredNodeAffinity(terms ...corev1.NodeSelectorTerm) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		if p.Spec.Affinity == nil {
			p.Spec.Affinity = &corev1.Affinity{}
		}
		p.Spec.Affinity.NodeAffinity = &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms}}
	}
}

func podAntiAffinity(key, value string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		if p.Spec.Affinity == nil {
			p.Spec.Affinity = &corev1.Affinity{}
		}
		p.Spec.Affinity.PodAntiAffinity = &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{key: value}}, TopologyKey: corev1.LabelHostname}}}
	}
}

func podAffinity(key, value string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		if p.Spec.Affinity == nil {
			p.Spec.Affinity = &corev1.Affinity{}
		}
		p.Spec.Affinity.PodAffinity = &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{key: value}}, TopologyKey: corev1.LabelHostname}}}
	}
}

func spread(maxSkew int32, key, value string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.TopologySpreadConstraints = append(p.Spec.TopologySpreadConstraints, corev1.TopologySpreadConstraint{
			MaxSkew: maxSkew, TopologyKey: corev1.LabelHostname, WhenUnsatisfiable: corev1.DoNotSchedule,
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{key: value}}})
	}
}

func TestScheduleFilters(t *testing.T) {
	cp := withTaint("node-role.kubernetes.io/control-plane", "", corev1.TaintEffectNoSchedule)
	always := corev1.ContainerRestartPolicyAlways
	tests := []struct {
		name  string
		nodes []*corev1.Node
		pods  []*corev1.Pod // already assigned (spec.nodeName set)
		pod   *corev1.Pod
		// want is the node, or wantErr the exact failure message.
		want    string
		wantErr string
	}{
		{
			name:    "the issue's example",
			nodes:   []*corev1.Node{node("a", "1", "1Gi"), node("b", "8", "8Gi", cp), node("c", "8", "8Gi", cp)},
			pod:     pod("p", "2", ""),
			wantErr: "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }.",
		},
		{
			name:  "requests fit only on the roomy node",
			nodes: []*corev1.Node{node("a", "1", "1Gi"), node("b", "4", "4Gi")},
			pod:   pod("p", "2", "1Gi"),
			want:  "b",
		},
		{
			name:    "cpu and memory both short, every reason counted",
			nodes:   []*corev1.Node{node("a", "1", "1Gi"), node("b", "1", "8Gi")},
			pod:     pod("p", "2", "2Gi"),
			wantErr: "0/2 nodes are available: 1 Insufficient memory, 2 Insufficient cpu.",
		},
		{
			name:    "assigned pods use up the node",
			nodes:   []*corev1.Node{node("a", "2", "2Gi")},
			pods:    []*corev1.Pod{pod("x", "1500m", "", on("a"))},
			pod:     pod("p", "1", ""),
			wantErr: "0/1 nodes are available: 1 Insufficient cpu.",
		},
		{
			name:    "pods allocatable",
			nodes:   []*corev1.Node{node("a", "2", "2Gi", withAllocatable(corev1.ResourcePods, "1"))},
			pods:    []*corev1.Pod{pod("x", "", "", on("a"))},
			pod:     pod("p", "", ""),
			wantErr: "0/1 nodes are available: 1 Too many pods.",
		},
		{
			name:  "ephemeral storage",
			nodes: []*corev1.Node{node("a", "2", "2Gi", withAllocatable(corev1.ResourceEphemeralStorage, "1Gi"))},
			pod: pod("p", "", "", func(p *corev1.Pod) {
				p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse("2Gi")}
			}),
			wantErr: "0/1 nodes are available: 1 Insufficient ephemeral-storage.",
		},
		{
			name:  "init containers count by their max, not their sum",
			nodes: []*corev1.Node{node("a", "2", "2Gi")},
			pod: pod("p", "1", "", func(p *corev1.Pod) {
				p.Spec.InitContainers = []corev1.Container{
					{Name: "i1", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}}},
					{Name: "i2", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}}},
				}
			}),
			want: "a",
		},
		{
			name:  "an init container larger than the node",
			nodes: []*corev1.Node{node("a", "2", "2Gi")},
			pod: pod("p", "1", "", func(p *corev1.Pod) {
				p.Spec.InitContainers = []corev1.Container{{Name: "i", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("3")}}}}
			}),
			wantErr: "0/1 nodes are available: 1 Insufficient cpu.",
		},
		{
			name:  "sidecars add to the regular containers",
			nodes: []*corev1.Node{node("a", "2", "2Gi")},
			pod: pod("p", "1500m", "", func(p *corev1.Pod) {
				p.Spec.InitContainers = []corev1.Container{{Name: "s", RestartPolicy: &always, Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}}}
			}),
			wantErr: "0/1 nodes are available: 1 Insufficient cpu.",
		},
		{
			name:  "overhead counts",
			nodes: []*corev1.Node{node("a", "2", "2Gi")},
			pod: pod("p", "1500m", "", func(p *corev1.Pod) {
				p.Spec.Overhead = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}
			}),
			wantErr: "0/1 nodes are available: 1 Insufficient cpu.",
		},
		{
			name:  "extended resources",
			nodes: []*corev1.Node{node("a", "2", "2Gi"), node("b", "2", "2Gi", withAllocatable("example.com/gpu", "1"))},
			pod: pod("p", "", "", func(p *corev1.Pod) {
				p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{"example.com/gpu": resource.MustParse("1")}
			}),
			want: "b",
		},
		{
			name:    "nodeSelector",
			nodes:   []*corev1.Node{node("a", "2", "2Gi"), node("b", "2", "2Gi", withLabel("disk", "ssd"))},
			pod:     pod("p", "", "", selecting("disk", "nvme")),
			wantErr: "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.",
		},
		{
			name:  "nodeSelector matches",
			nodes: []*corev1.Node{node("a", "2", "2Gi"), node("b", "2", "2Gi", withLabel("disk", "ssd"))},
			pod:   pod("p", "", "", selecting("disk", "ssd")),
			want:  "b",
		},
		{
			name:  "required node affinity matchExpressions",
			nodes: []*corev1.Node{node("a", "2", "2Gi", withLabel("gen", "3")), node("b", "2", "2Gi", withLabel("gen", "5")), node("c", "2", "2Gi")},
			pod: pod("p", "", "", requiredNodeAffinity(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{
				{Key: "gen", Operator: corev1.NodeSelectorOpGt, Values: []string{"4"}}}})),
			want: "b",
		},
		{
			name:  "required node affinity terms are ORed, NotIn and DoesNotExist",
			nodes: []*corev1.Node{node("a", "2", "2Gi", withLabel("zone", "x")), node("b", "2", "2Gi", withLabel("zone", "y"))},
			pod: pod("p", "", "", requiredNodeAffinity(
				corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpNotIn, Values: []string{"x", "y"}}}},
				corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"y"}},
					{Key: "gpu", Operator: corev1.NodeSelectorOpDoesNotExist}}},
			)),
			want: "b",
		},
		{
			name:  "matchFields metadata.name pins the pod (DaemonSet pods)",
			nodes: []*corev1.Node{node("a", "2", "2Gi"), node("b", "1", "1Gi"), node("c", "2", "2Gi")},
			pod: pod("p", "2", "", requiredNodeAffinity(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{
				{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"b"}}}})),
			wantErr: "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't satisfy plugin(s) [NodeAffinity].",
		},
		{
			name:  "matchFields metadata.name fits",
			nodes: []*corev1.Node{node("a", "2", "2Gi"), node("b", "1", "1Gi"), node("c", "2", "2Gi")},
			pod: pod("p", "", "", requiredNodeAffinity(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{
				{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"b"}}}})),
			want: "b",
		},
		{
			name:    "nodeName",
			nodes:   []*corev1.Node{node("a", "2", "2Gi"), node("b", "2", "2Gi")},
			pod:     pod("p", "", "", on("z")),
			wantErr: "0/2 nodes are available: 2 node(s) didn't match the requested node name.",
		},
		{
			name:  "NoExecute taints filter too, PreferNoSchedule does not",
			nodes: []*corev1.Node{node("a", "2", "2Gi", withTaint("k", "v", corev1.TaintEffectNoExecute)), node("b", "2", "2Gi", withTaint("soft", "", corev1.TaintEffectPreferNoSchedule))},
			pod:   pod("p", "", ""),
			want:  "b",
		},
		{
			name:  "a toleration lets the pod onto the tainted node",
			nodes: []*corev1.Node{node("a", "2", "2Gi", withTaint("k", "v", corev1.TaintEffectNoSchedule)), node("b", "1", "1Gi")},
			pod:   pod("p", "1500m", "", tolerating(corev1.Toleration{Key: "k", Operator: corev1.TolerationOpEqual, Value: "v", Effect: corev1.TaintEffectNoSchedule})),
			want:  "a",
		},
		{
			name:    "a toleration of another value does not",
			nodes:   []*corev1.Node{node("a", "2", "2Gi", withTaint("k", "v", corev1.TaintEffectNoSchedule))},
			pod:     pod("p", "", "", tolerating(corev1.Toleration{Key: "k", Value: "w"})),
			wantErr: "0/1 nodes are available: 1 node(s) had untolerated taint {k: v}.",
		},
		{
			name:    "cordoned nodes",
			nodes:   []*corev1.Node{node("a", "2", "2Gi", cordoned), node("b", "1", "1Gi")},
			pod:     pod("p", "1500m", ""),
			wantErr: "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) were unschedulable.",
		},
		{
			name:  "tolerating node.kubernetes.io/unschedulable admits a cordoned node",
			nodes: []*corev1.Node{node("a", "2", "2Gi", cordoned)},
			pod:   pod("p", "", "", tolerating(corev1.Toleration{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})),
			want:  "a",
		},
		{
			name:    "NotReady and unknown nodes",
			nodes:   []*corev1.Node{node("a", "2", "2Gi", ready(corev1.ConditionFalse)), node("b", "2", "2Gi", ready(corev1.ConditionUnknown))},
			pod:     pod("p", "", ""),
			wantErr: "0/2 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }.",
		},
		{
			name:  "the not-ready taint already there is not doubled; tolerating it admits the node",
			nodes: []*corev1.Node{node("a", "2", "2Gi", ready(corev1.ConditionFalse), withTaint(corev1.TaintNodeNotReady, "", corev1.TaintEffectNoExecute))},
			pod:   pod("p", "", "", tolerating(corev1.Toleration{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists})),
			want:  "a",
		},
		{
			name:    "host ports",
			nodes:   []*corev1.Node{node("a", "2", "2Gi"), node("b", "2", "2Gi")},
			pods:    []*corev1.Pod{pod("x", "", "", on("a"), hostPortOf(80)), pod("y", "", "", on("b"), hostPortOf(80))},
			pod:     pod("p", "", "", hostPortOf(80)),
			wantErr: "0/2 nodes are available: 2 node(s) didn't have free ports for the requested pod ports.",
		},
		{
			name:  "host ports on another port or protocol are free",
			nodes: []*corev1.Node{node("a", "2", "2Gi")},
			pods:  []*corev1.Pod{pod("x", "", "", on("a"), hostPortOf(80))},
			pod: pod("p", "", "", hostPortOf(81), func(p *corev1.Pod) {
				p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{HostPort: 80, ContainerPort: 80, Protocol: corev1.ProtocolUDP})
			}),
			want: "a",
		},
		{
			name:  "required anti-affinity on the hostname",
			nodes: []*corev1.Node{node("a", "8", "8Gi"), node("b", "1", "1Gi")},
			pods:  []*corev1.Pod{pod("x", "", "", on("a"), labeled("app", "db"))},
			pod:   pod("p", "", "", labeled("app", "db"), podAntiAffinity("app", "db")),
			want:  "b",
		},
		{
			name:    "required anti-affinity everywhere",
			nodes:   []*corev1.Node{node("a", "8", "8Gi"), node("b", "1", "1Gi")},
			pods:    []*corev1.Pod{pod("x", "", "", on("a"), labeled("app", "db")), pod("y", "", "", on("b"), labeled("app", "db"))},
			pod:     pod("p", "", "", podAntiAffinity("app", "db")),
			wantErr: "0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules.",
		},
		{
			name:    "existing pods' anti-affinity is honoured",
			nodes:   []*corev1.Node{node("a", "8", "8Gi")},
			pods:    []*corev1.Pod{pod("x", "", "", on("a"), podAntiAffinity("app", "web"))},
			pod:     pod("p", "", "", labeled("app", "web")),
			wantErr: "0/1 nodes are available: 1 node(s) didn't satisfy existing pods anti-affinity rules.",
		},
		{
			name:  "anti-affinity in another namespace does not apply",
			nodes: []*corev1.Node{node("a", "8", "8Gi")},
			pods:  []*corev1.Pod{pod("x", "", "", on("a"), labeled("app", "db"), func(p *corev1.Pod) { p.Namespace = "other" })},
			pod:   pod("p", "", "", podAntiAffinity("app", "db")),
			want:  "a",
		},
		{
			name:  "required affinity follows the matching pod",
			nodes: []*corev1.Node{node("a", "8", "8Gi"), node("b", "1", "1Gi")},
			pods:  []*corev1.Pod{pod("x", "", "", on("b"), labeled("app", "cache"))},
			pod:   pod("p", "", "", podAffinity("app", "cache")),
			want:  "b",
		},
		{
			name:    "required affinity with no matching pod",
			nodes:   []*corev1.Node{node("a", "8", "8Gi")},
			pod:     pod("p", "", "", podAffinity("app", "cache")),
			wantErr: "0/1 nodes are available: 1 node(s) didn't match pod affinity rules.",
		},
		{
			name:  "the first pod of a self-affine group goes anywhere",
			nodes: []*corev1.Node{node("a", "8", "8Gi")},
			pod:   pod("p", "", "", labeled("app", "cache"), podAffinity("app", "cache")),
			want:  "a",
		},
		{
			name:  "topology spread DoNotSchedule",
			nodes: []*corev1.Node{node("a", "8", "8Gi"), node("b", "1", "1Gi")},
			pods:  []*corev1.Pod{pod("x", "", "", on("a"), labeled("app", "w")), pod("y", "", "", on("a"), labeled("app", "w"))},
			pod:   pod("p", "", "", labeled("app", "w"), spread(1, "app", "w")),
			want:  "b",
		},
		{
			name:    "topology spread on a key a node lacks; reasons sorted as strings",
			nodes:   []*corev1.Node{node("a", "8", "8Gi"), node("b", "1", "1Gi", cordoned), node("c", "1", "1Gi", withLabel("zone", "z"))},
			pods:    []*corev1.Pod{pod("x", "", "", on("a"), labeled("app", "w"))},
			pod:     pod("p", "2", "", labeled("app", "w"), spread(1, "app", "w"), func(p *corev1.Pod) { p.Spec.TopologySpreadConstraints[0].TopologyKey = "zone" }),
			wantErr: "0/3 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match pod topology spread constraints (missing required label), 1 node(s) were unschedulable.",
		},
		{
			name:    "no nodes",
			pod:     pod("p", "", ""),
			wantErr: "no nodes available to schedule pods",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			snap := NewSnapshot(tc.nodes, tc.pods)
			res, err := Schedule(snap, tc.pod)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("scheduled on %q, want error %q", res.NodeName, tc.wantErr)
				}
				if err.Error() != tc.wantErr {
					t.Fatalf("error\n got %q\nwant %q", err.Error(), tc.wantErr)
				}
				var fe *FitError
				if !errors.As(err, &fe) && !errors.Is(err, ErrNoNodes) {
					t.Fatalf("error %T is neither a FitError nor ErrNoNodes", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if res.NodeName != tc.want {
				t.Fatalf("scheduled on %q, want %q", res.NodeName, tc.want)
			}
		})
	}
}

func TestFitErrorSortsLikeKubeScheduler(t *testing.T) {
	e := &FitError{NumAllNodes: 12, Reasons: map[string]int{"Insufficient cpu": 2, ReasonUnschedulable: 10}}
	// Sorted as strings: "10 ..." before "2 ...".
	want := "0/12 nodes are available: 10 node(s) were unschedulable, 2 Insufficient cpu."
	if e.Error() != want {
		t.Fatalf("got %q, want %q", e.Error(), want)
	}
	conflict := pod("p", "", "", requiredNodeAffinity(
		corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}},
			{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"b"}}}}))
	_, err := Schedule(NewSnapshot([]*corev1.Node{node("a", "1", "1Gi")}, nil), conflict)
	if err == nil || err.Error() != "0/1 nodes are available: pod affinity terms conflict." {
		t.Fatalf("conflicting matchFields: %v", err)
	}
}

func TestScheduleScores(t *testing.T) {
	tests := []struct {
		name  string
		nodes []*corev1.Node
		pods  []*corev1.Pod
		pod   *corev1.Pod
		want  string
	}{
		{
			name:  "least allocated",
			nodes: []*corev1.Node{node("a", "4", "4Gi"), node("b", "4", "4Gi")},
			pods:  []*corev1.Pod{pod("x", "2", "2Gi", on("a"))},
			pod:   pod("p", "1", "1Gi"),
			want:  "b",
		},
		{
			name:  "balanced: memory-heavy pod goes where memory is idle",
			nodes: []*corev1.Node{node("a", "4", "4Gi"), node("b", "4", "4Gi")},
			pods:  []*corev1.Pod{pod("x", "", "3Gi", on("a")), pod("y", "3", "", on("b"))},
			pod:   pod("p", "", "1Gi"),
			want:  "b",
		},
		{
			name:  "preferred node affinity",
			nodes: []*corev1.Node{node("a", "4", "4Gi"), node("b", "4", "4Gi", withLabel("disk", "ssd"))},
			pods:  []*corev1.Pod{pod("x", "1", "1Gi", on("b"))},
			pod: pod("p", "", "", func(p *corev1.Pod) {
				p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{
					Weight: 50, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "disk", Operator: corev1.NodeSelectorOpIn, Values: []string{"ssd"}}}}}}}}
			}),
			want: "b",
		},
		{
			name:  "PreferNoSchedule is avoided",
			nodes: []*corev1.Node{node("a", "4", "4Gi", withTaint("soft", "", corev1.TaintEffectPreferNoSchedule)), node("b", "4", "4Gi")},
			pods:  []*corev1.Pod{pod("x", "1", "1Gi", on("b"))},
			pod:   pod("p", "", ""),
			want:  "b",
		},
		{
			name:  "preferred pod affinity",
			nodes: []*corev1.Node{node("a", "4", "4Gi"), node("b", "4", "4Gi")},
			pods:  []*corev1.Pod{pod("x", "1", "1Gi", on("b"), labeled("app", "cache"))},
			pod: pod("p", "", "", func(p *corev1.Pod) {
				p.Spec.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
					Weight: 100, PodAffinityTerm: corev1.PodAffinityTerm{LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "cache"}}, TopologyKey: corev1.LabelHostname}}}}}
			}),
			want: "b",
		},
		{
			name:  "preferred pod anti-affinity",
			nodes: []*corev1.Node{node("a", "4", "4Gi"), node("b", "4", "4Gi")},
			pods:  []*corev1.Pod{pod("x", "", "", on("b"), labeled("app", "cache"))},
			pod: pod("p", "", "", func(p *corev1.Pod) {
				p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
					Weight: 100, PodAffinityTerm: corev1.PodAffinityTerm{LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "cache"}}, TopologyKey: corev1.LabelHostname}}}}}
			}),
			want: "a",
		},
		{
			name: "image locality",
			nodes: []*corev1.Node{node("a", "4", "4Gi"), node("b", "4", "4Gi", withImage(800*mb, "registry.local/big:1")),
				node("c", "4", "4Gi")},
			pod:  pod("p", "", "", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "registry.local/big:1" }),
			want: "b",
		},
		{
			name:  "an owner's pods spread across nodes",
			nodes: []*corev1.Node{node("a", "64", "64Gi"), node("b", "4", "4Gi")},
			pods:  []*corev1.Pod{pod("x", "", "", on("a"), ownedBy("rs1")), pod("y", "", "", on("a"), ownedBy("rs1"))},
			pod:   pod("p", "", "", ownedBy("rs1")),
			want:  "b",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Schedule(NewSnapshot(tc.nodes, tc.pods), tc.pod)
			if err != nil {
				t.Fatal(err)
			}
			if res.NodeName != tc.want {
				t.Fatalf("scheduled on %q (score %d), want %q", res.NodeName, res.Score, tc.want)
			}
		})
	}
}

// TestScheduleSpreadsReplicas places pods one after the other, accounting
// each as the runner assumes it, and checks they spread evenly and the
// outcome does not depend on anything but the inputs.
func TestScheduleSpreadsReplicas(t *testing.T) {
	run := func() map[string]int {
		snap := NewSnapshot([]*corev1.Node{node("a", "4", "8Gi"), node("b", "4", "8Gi"), node("c", "4", "8Gi")}, nil)
		counts := map[string]int{}
		for i := 0; i < 9; i++ {
			p := pod(fmt.Sprintf("web-%d", i), "", "", ownedBy("rs1"))
			res, err := Schedule(snap, p)
			if err != nil {
				t.Fatal(err)
			}
			snap.AddPod(p, res.NodeName)
			counts[res.NodeName]++
		}
		return counts
	}
	first := run()
	for _, n := range []string{"a", "b", "c"} {
		if first[n] != 3 {
			t.Fatalf("replicas not spread evenly: %v", first)
		}
	}
	if again := run(); fmt.Sprint(again) != fmt.Sprint(first) {
		t.Fatalf("not deterministic: %v then %v", first, again)
	}
}

func TestSnapshotAccounting(t *testing.T) {
	snap := NewSnapshot(nil, nil)
	p := pod("p", "1", "1Gi", hostPortOf(80))
	snap.AddPod(p, "late") // before its node is known
	snap.SetNode(node("late", "2", "2Gi"))
	if got := snap.Node("late").Requested().MilliCPU; got != 1000 {
		t.Fatalf("pod of a node seen later: requested cpu %d", got)
	}
	if _, err := Schedule(snap, pod("q", "", "", hostPortOf(80))); err == nil {
		t.Fatal("host port of the early pod not accounted")
	}
	snap.AddPod(p, "late") // again: replaces, does not double
	if got := snap.Node("late").Requested().MilliCPU; got != 1000 {
		t.Fatalf("re-adding doubled the requests: %d", got)
	}
	snap.RemovePod(p)
	if n := snap.Node("late"); n.Pods() != 0 || n.Requested().MilliCPU != 0 {
		t.Fatalf("after RemovePod: %d pods, %dm", n.Pods(), n.Requested().MilliCPU)
	}
	if _, err := Schedule(snap, pod("q", "", "", hostPortOf(80))); err != nil {
		t.Fatalf("port still held after RemovePod: %v", err)
	}
	snap.RemoveNode("late")
	if snap.NumNodes() != 0 || snap.Node("late") != nil {
		t.Fatal("node not removed")
	}
}

func BenchmarkSchedule(b *testing.B) {
	nodes := make([]*corev1.Node, 1000)
	for i := range nodes {
		nodes[i] = node(fmt.Sprintf("node-%04d", i), "32", "64Gi", withAllocatable(corev1.ResourcePods, "110"),
			withLabel(corev1.LabelTopologyZone, fmt.Sprintf("zone-%d", i%3)))
	}
	snap := NewSnapshot(nodes, nil)
	// 5,000 pods already running, 5 per node, from 50 owners.
	for i := 0; i < 5000; i++ {
		p := pod(fmt.Sprintf("run-%d", i), "100m", "128Mi", ownedBy(fmt.Sprintf("rs-%d", i%50)))
		snap.AddPod(p, nodes[i%1000].Name)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := pod(fmt.Sprintf("new-%d", i), "100m", "128Mi", ownedBy("rs-new"))
		res, err := Schedule(snap, p)
		if err != nil {
			b.Fatal(err)
		}
		// Accounted as the runner would, then forgotten so the cluster
		// does not fill up over b.N.
		snap.AddPod(p, res.NodeName)
		if i%1000 == 999 {
			b.StopTimer()
			snap = NewSnapshot(nodes, nil)
			for j := 0; j < 5000; j++ {
				q := pod(fmt.Sprintf("run-%d", j), "100m", "128Mi", ownedBy(fmt.Sprintf("rs-%d", j%50)))
				snap.AddPod(q, nodes[j%1000].Name)
			}
			b.StartTimer()
		}
	}
}

func TestAffinityNamespaceSelector(t *testing.T) {
	snap := NewSnapshot([]*corev1.Node{node("a", "8", "8Gi"), node("b", "8", "8Gi")},
		[]*corev1.Pod{pod("x", "", "", on("a"), labeled("app", "db"), func(p *corev1.Pod) { p.Namespace = "prod" })})
	p := pod("p", "", "", podAntiAffinity("app", "db"))
	p.Spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0].NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"env": "prod"}}
	// Without the namespace's labels the selector matches nothing: both
	// nodes fit. With them, x in "prod" repels p from a.
	if res, err := Schedule(snap, p); err != nil || res.FeasibleNodes != 2 {
		t.Fatalf("unlabeled namespace: %+v, %v; want both nodes feasible", res, err)
	}
	snap.NamespaceLabels = map[string]map[string]string{"prod": {"env": "prod"}}
	for i := 0; i < 5; i++ {
		q := p.DeepCopy()
		q.Name, q.UID = fmt.Sprintf("p%d", i), types.UID(fmt.Sprintf("uid-p%d", i))
		res, err := Schedule(snap, q)
		if err != nil || res.NodeName != "b" {
			t.Fatalf("%s: %q, %v; want b (anti-affinity to pods of namespaces labeled env=prod)", q.Name, res.NodeName, err)
		}
	}
	// An empty namespaceSelector means every namespace.
	p.Spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0].NamespaceSelector = &metav1.LabelSelector{}
	snap.NamespaceLabels = nil
	if res, err := Schedule(snap, p); err != nil || res.NodeName != "b" {
		t.Fatalf("empty namespaceSelector: %q, %v; want b", res.NodeName, err)
	}
}

// The snapshot walks its nodes sorted by name, each once, however they
// came and went: a node removed while pods are accounted on it and then
// seen again, an update of a known node, a node removed for good.
func TestSnapshotNodeOrder(t *testing.T) {
	snap := NewSnapshot(nil, nil)
	for _, n := range []string{"c", "a", "d", "b"} {
		snap.SetNode(node(n, "2", "2Gi"))
	}
	snap.AddPod(pod("p", "1", "1Gi"), "b")
	snap.RemoveNode("b")
	snap.RemoveNode("d")
	snap.RemoveNode("missing")
	snap.SetNode(node("a", "4", "4Gi"))
	snap.SetNode(node("b", "2", "2Gi"))
	var got []string
	for _, ni := range snap.infos {
		got = append(got, ni.Node.Name)
	}
	if fmt.Sprint(got) != "[a b c]" || snap.NumNodes() != 3 {
		t.Fatalf("nodes walked: %v (NumNodes %d), want [a b c]", got, snap.NumNodes())
	}
	if got := snap.Node("b").Requested().MilliCPU; got != 1000 {
		t.Fatalf("b lost its pod while removed: requested cpu %d", got)
	}
	if got := snap.Node("a").allocatable.MilliCPU; got != 4000 {
		t.Fatalf("a not updated: allocatable cpu %d", got)
	}
}
