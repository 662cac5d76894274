package daemonset

import (
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/skiff-io/skiff/server/controllers/history"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

var now = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func node(name string, labels map[string]string, taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Spec: corev1.NodeSpec{Taints: taints}}
}

func daemonSet(mut ...func(*appsv1.DaemonSet)) *appsv1.DaemonSet {
	one := intstr.FromInt32(1)
	zero := intstr.FromInt32(0)
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "ds", Namespace: "ns", UID: "dsuid", Generation: 2},
		Spec: appsv1.DaemonSetSpec{
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "d"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i"}}},
			},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: &one, MaxSurge: &zero}},
		},
	}
	for _, m := range mut {
		m(ds)
	}
	return ds
}

// pod is a daemon pod named name on node at revision hash; state is
// "ready", "pending", "failed" or "terminating".
func pod(name, node, hash, state string, age int) *corev1.Pod {
	p := NewPod(daemonSet(), node, hash)
	p.Name = name
	p.UID = types.UID("uid-" + name)
	p.Spec.NodeName = node
	p.CreationTimestamp = metav1.NewTime(now.Add(-time.Duration(age) * time.Minute))
	switch state {
	case "ready":
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-time.Minute))}}
	case "pending":
		p.Status.Phase = corev1.PodPending
	case "failed":
		p.Status.Phase = corev1.PodFailed
	case "terminating":
		p.Status.Phase = corev1.PodRunning
		ts := metav1.NewTime(now)
		p.DeletionTimestamp = &ts
	}
	return p
}

func names(pods []*corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	sort.Strings(out)
	return out
}

func TestNodeFit(t *testing.T) {
	tolerant := func(ds *appsv1.DaemonSet) {
		ds.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "edge", Effect: corev1.TaintEffectNoSchedule}}
		ds.Spec.Template.Spec.NodeSelector = map[string]string{"role": "worker"}
	}
	worker := map[string]string{"role": "worker"}
	for _, tc := range []struct {
		name             string
		ds               *appsv1.DaemonSet
		node             *corev1.Node
		run, keepRunning bool
	}{
		{"plain node", daemonSet(), node("n", nil), true, true},
		{"selector matches", daemonSet(tolerant), node("n", worker), true, true},
		{"selector does not match", daemonSet(tolerant), node("n", map[string]string{"role": "gw"}), false, false},
		{"tolerated taint", daemonSet(tolerant), node("n", worker, corev1.Taint{Key: "dedicated", Value: "edge", Effect: corev1.TaintEffectNoSchedule}), true, true},
		{"untolerated NoSchedule: existing pods stay", daemonSet(tolerant), node("n", worker, corev1.Taint{Key: "gpu", Effect: corev1.TaintEffectNoSchedule}), false, true},
		{"untolerated NoExecute", daemonSet(), node("n", nil, corev1.Taint{Key: "gpu", Effect: corev1.TaintEffectNoExecute}), false, false},
		{"PreferNoSchedule is ignored", daemonSet(), node("n", nil, corev1.Taint{Key: "gpu", Effect: corev1.TaintEffectPreferNoSchedule}), true, true},
		{"daemon tolerations: unreachable", daemonSet(), node("n", nil, corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute}), true, true},
		{"daemon tolerations: cordoned", daemonSet(), node("n", nil, corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}), true, true},
		{"daemon tolerations: memory pressure", daemonSet(), node("n", nil, corev1.Taint{Key: corev1.TaintNodeMemoryPressure, Effect: corev1.TaintEffectNoSchedule}), true, true},
		{"network unavailable: only host network", daemonSet(), node("n", nil, corev1.Taint{Key: corev1.TaintNodeNetworkUnavailable, Effect: corev1.TaintEffectNoSchedule}), false, true},
		{"network unavailable, host network", daemonSet(func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.HostNetwork = true }),
			node("n", nil, corev1.Taint{Key: corev1.TaintNodeNetworkUnavailable, Effect: corev1.TaintEffectNoSchedule}), true, true},
		{"required node affinity", daemonSet(func(ds *appsv1.DaemonSet) {
			ds.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "role", Operator: corev1.NodeSelectorOpIn, Values: []string{"gw"}}}}}}}}
		}), node("n", worker), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run, keep := NodeFit(tc.ds, tc.node)
			if run != tc.run || keep != tc.keepRunning {
				t.Fatalf("NodeFit = %v, %v; want %v, %v", run, keep, tc.run, tc.keepRunning)
			}
		})
	}
}

func TestNewPodPinsNode(t *testing.T) {
	ds := daemonSet(func(ds *appsv1.DaemonSet) {
		ds.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "role", Operator: corev1.NodeSelectorOpExists}}}}}}}
	})
	p := NewPod(ds, "n7", "h1")
	terms := p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	want := []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"n7"}}}
	if len(terms) != 1 || !reflect.DeepEqual(terms[0].MatchFields, want) || len(terms[0].MatchExpressions) != 1 {
		t.Fatalf("terms %+v", terms)
	}
	if TargetNode(p) != "n7" || p.Labels[history.HashLabel] != "h1" || p.Labels[TemplateGenerationLabel] != "2" || p.GenerateName != "ds-" {
		t.Fatalf("pod %+v", p.ObjectMeta)
	}
	if ds.Spec.Template.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchFields != nil {
		t.Fatal("NewPod changed the DaemonSet's template")
	}
	if len(p.Spec.Tolerations) != 6 {
		t.Fatalf("tolerations %+v", p.Spec.Tolerations)
	}
}

func TestDecide(t *testing.T) {
	three := []*corev1.Node{node("a", nil), node("b", nil), node("c", nil)}
	surge := func(ds *appsv1.DaemonSet) {
		one, zero := intstr.FromInt32(1), intstr.FromInt32(0)
		ds.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxSurge: &one, MaxUnavailable: &zero}
	}
	for _, tc := range []struct {
		name       string
		ds         *appsv1.DaemonSet
		nodes      []*corev1.Node
		pods       []*corev1.Pod
		backingOff map[string]bool
		create     []string
		del        []string
		delFailed  []string
		status     appsv1.DaemonSetStatus
	}{
		{name: "fresh: a pod per node", ds: daemonSet(), nodes: three, create: []string{"a", "b", "c"},
			status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, NumberUnavailable: 3}},
		{name: "steady", ds: daemonSet(), nodes: three,
			pods:   []*corev1.Pod{pod("pa", "a", "new", "ready", 1), pod("pb", "b", "new", "ready", 1), pod("pc", "c", "new", "ready", 1)},
			status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, CurrentNumberScheduled: 3, NumberReady: 3, NumberAvailable: 3, UpdatedNumberScheduled: 3}},
		{name: "duplicate: the oldest stays", ds: daemonSet(), nodes: three[:1],
			pods:   []*corev1.Pod{pod("young", "a", "new", "ready", 1), pod("old", "a", "new", "ready", 5)},
			del:    []string{"young"},
			status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 1, CurrentNumberScheduled: 1, NumberReady: 1, NumberAvailable: 1, UpdatedNumberScheduled: 1}},
		{name: "misplaced and orphaned pods go", ds: daemonSet(), nodes: []*corev1.Node{node("a", nil, corev1.Taint{Key: "x", Effect: corev1.TaintEffectNoExecute})},
			pods: []*corev1.Pod{pod("pa", "a", "new", "ready", 1), pod("gone", "z", "new", "ready", 1)},
			del:  []string{"gone", "pa"}, status: appsv1.DaemonSetStatus{NumberMisscheduled: 1}},
		{name: "failed pod replaced", ds: daemonSet(), nodes: three[:1],
			pods:      []*corev1.Pod{pod("pa", "a", "new", "failed", 1)},
			delFailed: []string{"pa"}, status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 1, CurrentNumberScheduled: 1, UpdatedNumberScheduled: 1, NumberUnavailable: 1}},
		{name: "failed pod backing off", ds: daemonSet(), nodes: three[:1], backingOff: map[string]bool{"a": true},
			pods:   []*corev1.Pod{pod("pa", "a", "new", "failed", 1)},
			status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 1, CurrentNumberScheduled: 1, UpdatedNumberScheduled: 1, NumberUnavailable: 1}},
		{name: "terminating pod: wait before replacing", ds: daemonSet(), nodes: three[:1],
			pods:   []*corev1.Pod{pod("pa", "a", "old", "terminating", 1)},
			status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 1, CurrentNumberScheduled: 1, NumberUnavailable: 1}},
		{name: "rolling: one old pod at a time", ds: daemonSet(), nodes: three,
			pods: []*corev1.Pod{pod("pa", "a", "old", "ready", 1), pod("pb", "b", "old", "ready", 1), pod("pc", "c", "old", "ready", 1)},
			del:  []string{"pa"}, status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, CurrentNumberScheduled: 3, NumberReady: 3, NumberAvailable: 3}},
		{name: "rolling: wait while a node has no pod yet", ds: daemonSet(), nodes: three,
			pods:   []*corev1.Pod{pod("pb", "b", "old", "ready", 1), pod("pc", "c", "old", "ready", 1)},
			create: []string{"a"}, status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, CurrentNumberScheduled: 2, NumberReady: 2, NumberAvailable: 2, NumberUnavailable: 1}},
		{name: "rolling: wait for the new pod to be available", ds: daemonSet(), nodes: three,
			pods: []*corev1.Pod{pod("pa", "a", "new", "pending", 1), pod("pb", "b", "old", "ready", 1), pod("pc", "c", "old", "ready", 1)},
			status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, CurrentNumberScheduled: 3, NumberReady: 2, NumberAvailable: 2,
				NumberUnavailable: 1, UpdatedNumberScheduled: 1}},
		{name: "rolling: an unavailable old pod goes at once", ds: daemonSet(), nodes: three,
			pods: []*corev1.Pod{pod("pa", "a", "new", "pending", 1), pod("pb", "b", "old", "pending", 1), pod("pc", "c", "old", "ready", 1)},
			del:  []string{"pb"}, status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, CurrentNumberScheduled: 3, NumberReady: 1, NumberAvailable: 1,
				NumberUnavailable: 2, UpdatedNumberScheduled: 1}},
		{name: "OnDelete: old pods stay", ds: daemonSet(func(ds *appsv1.DaemonSet) {
			ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType}
		}), nodes: three[:1], pods: []*corev1.Pod{pod("pa", "a", "old", "ready", 1)},
			status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 1, CurrentNumberScheduled: 1, NumberReady: 1, NumberAvailable: 1}},
		{name: "surge: a new pod beside the old", ds: daemonSet(surge), nodes: three[:2],
			pods:   []*corev1.Pod{pod("pa", "a", "old", "ready", 1), pod("pb", "b", "old", "ready", 1)},
			create: []string{"a"}, status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 2, CurrentNumberScheduled: 2, NumberReady: 2, NumberAvailable: 2}},
		{name: "surge: the old goes once the new is available", ds: daemonSet(surge), nodes: three[:2],
			pods:   []*corev1.Pod{pod("pa", "a", "old", "ready", 5), pod("na", "a", "new", "ready", 1), pod("pb", "b", "old", "ready", 5)},
			create: []string{"b"}, del: []string{"pa"},
			status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 2, CurrentNumberScheduled: 2, NumberReady: 2, NumberAvailable: 2}},
		{name: "surge: no second surge while the new is not available", ds: daemonSet(surge), nodes: three[:2],
			pods:   []*corev1.Pod{pod("pa", "a", "old", "ready", 5), pod("na", "a", "new", "pending", 1), pod("pb", "b", "old", "ready", 5)},
			status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 2, CurrentNumberScheduled: 2, NumberReady: 2, NumberAvailable: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Decide(Input{DS: tc.ds, Nodes: tc.nodes, Pods: tc.pods, Hash: "new", Now: now, BackingOff: tc.backingOff})
			if fmt.Sprint(p.Create) != fmt.Sprint(tc.create) {
				t.Errorf("create %v, want %v", p.Create, tc.create)
			}
			if fmt.Sprint(names(p.Delete)) != fmt.Sprint(tc.del) {
				t.Errorf("delete %v, want %v", names(p.Delete), tc.del)
			}
			if fmt.Sprint(names(p.DeleteFailed)) != fmt.Sprint(tc.delFailed) {
				t.Errorf("delete failed %v, want %v", names(p.DeleteFailed), tc.delFailed)
			}
			tc.status.ObservedGeneration = 2
			if !reflect.DeepEqual(p.Status, tc.status) {
				t.Errorf("status\n got %+v\nwant %+v", p.Status, tc.status)
			}
		})
	}
}

func TestDecideMinReadySeconds(t *testing.T) {
	ds := daemonSet(func(ds *appsv1.DaemonSet) { ds.Spec.MinReadySeconds = 90 })
	p := Decide(Input{DS: ds, Nodes: []*corev1.Node{node("a", nil), node("b", nil)}, Hash: "new", Now: now,
		Pods: []*corev1.Pod{pod("pa", "a", "new", "ready", 1), pod("pb", "b", "old", "ready", 1)}})
	// Ready for a minute of the 90 seconds: not available, look again in
	// 30s. An old pod that is not available yet counts as down already
	// and is replaced at once, as Kubernetes does.
	if p.Status.NumberAvailable != 0 || p.Status.NumberReady != 2 || p.RequeueAfter != 30*time.Second || fmt.Sprint(names(p.Delete)) != "[pb]" {
		t.Fatalf("plan %+v", p)
	}
}
