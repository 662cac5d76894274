package nodelifecycle

import (
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func readyNode(status corev1.ConditionStatus, heartbeat time.Time) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "n1", CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour))},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status,
			Reason: "KubeletReady", LastHeartbeatTime: metav1.NewTime(heartbeat)}}},
	}
}

func lease(renew time.Time, seconds int32) *coordinationv1.Lease {
	return &coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{RenewTime: &metav1.MicroTime{Time: renew}, LeaseDurationSeconds: ptr.To(seconds)}}
}

func TestHealth(t *testing.T) {
	start := t0.Add(-time.Hour)
	tests := []struct {
		name      string
		node      *corev1.Node
		lease     *coordinationv1.Lease
		start     time.Time
		stale     bool
		wantAfter time.Duration
	}{
		{"fresh lease", readyNode(corev1.ConditionTrue, t0.Add(-time.Hour)), lease(t0.Add(-60*time.Second), 180), start, false, 120 * time.Second},
		{"lease and status both old", readyNode(corev1.ConditionTrue, t0.Add(-time.Hour)), lease(t0.Add(-181*time.Second), 180), start, true, 0},
		{"old lease, recent status", readyNode(corev1.ConditionTrue, t0.Add(-10*time.Second)), lease(t0.Add(-time.Hour), 180), start, false, 170 * time.Second},
		{"short lease", readyNode(corev1.ConditionTrue, t0.Add(-time.Hour)), lease(t0.Add(-4*time.Second), 3), start, true, 0},
		{"no lease: default grace", readyNode(corev1.ConditionTrue, t0.Add(-100*time.Second)), nil, start, false, 80 * time.Second},
		{"no lease, old status", readyNode(corev1.ConditionTrue, t0.Add(-200*time.Second)), nil, start, true, 0},
		{"controller just started", readyNode(corev1.ConditionTrue, t0.Add(-time.Hour)), lease(t0.Add(-time.Hour), 180), t0.Add(-time.Second), false, 179 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stale, after := Health(tt.node, tt.lease, tt.start, t0, DefaultGracePeriod)
			if stale != tt.stale || after != tt.wantAfter {
				t.Fatalf("stale=%v after=%v, want %v %v", stale, after, tt.stale, tt.wantAfter)
			}
		})
	}
}

func TestMarkUnknownAndRestore(t *testing.T) {
	n := readyNode(corev1.ConditionTrue, t0.Add(-time.Hour))
	n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse})
	stash := append([]corev1.NodeCondition(nil), n.Status.Conditions...)
	if !MarkUnknown(&n.Status, n.CreationTimestamp.Time, t0) {
		t.Fatal("nothing changed")
	}
	for _, c := range n.Status.Conditions {
		if c.Status != corev1.ConditionUnknown || c.Reason != ReasonUnknown || c.Message != MessageUnknown || !c.LastTransitionTime.Time.Equal(t0) {
			t.Fatalf("condition %+v", c)
		}
	}
	if r := ReadyCondition(&n.Status); !r.LastHeartbeatTime.Time.Equal(t0.Add(-time.Hour)) {
		t.Fatal("the heartbeat moved: the node would look alive")
	}
	if MarkUnknown(&n.Status, n.CreationTimestamp.Time, t0) {
		t.Fatal("marked twice")
	}
	if !Restore(&n.Status, stash, t0.Add(time.Minute)) || ReadyCondition(&n.Status).Status != corev1.ConditionTrue || len(n.Status.Conditions) != 2 {
		t.Fatalf("restore: %+v", n.Status.Conditions)
	}
	if Restore(&n.Status, stash, t0) {
		t.Fatal("restored a node that is not Unknown")
	}

	empty := &corev1.Node{}
	if !MarkUnknown(&empty.Status, t0.Add(-time.Hour), t0) || ReadyCondition(&empty.Status).Reason != ReasonNeverUpdated {
		t.Fatalf("a node that never reported: %+v", empty.Status.Conditions)
	}
}

func TestTaints(t *testing.T) {
	user := corev1.Taint{Key: "dedicated", Value: "x", Effect: corev1.TaintEffectNoSchedule}
	old := metav1.NewTime(t0.Add(-time.Minute))
	tests := []struct {
		name    string
		ready   corev1.ConditionStatus
		taints  []corev1.Taint
		want    []string
		changed bool
		// edit, when set, changes the node before Taints runs.
		edit func(*corev1.Node)
	}{
		{"ready, nothing to do", corev1.ConditionTrue, []corev1.Taint{user}, []string{"dedicated:NoSchedule"}, false, nil},
		{"unknown", corev1.ConditionUnknown, []corev1.Taint{user}, []string{"dedicated:NoSchedule", "node.kubernetes.io/unreachable:NoSchedule", "node.kubernetes.io/unreachable:NoExecute"}, true, nil},
		{"not ready replaces unreachable", corev1.ConditionFalse, []corev1.Taint{TaintUnreachableNoSchedule, TaintUnreachableNoExecute}, []string{"node.kubernetes.io/not-ready:NoSchedule", "node.kubernetes.io/not-ready:NoExecute"}, true, nil},
		{"back to ready", corev1.ConditionTrue, []corev1.Taint{user, TaintUnreachableNoSchedule, {Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &old}}, []string{"dedicated:NoSchedule"}, true, nil},
		{"unknown already tainted", corev1.ConditionUnknown, []corev1.Taint{TaintUnreachableNoSchedule, {Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &old}}, []string{"node.kubernetes.io/unreachable:NoSchedule", "node.kubernetes.io/unreachable:NoExecute"}, false, nil},
		{"memory and disk pressure", corev1.ConditionTrue, []corev1.Taint{user}, []string{"dedicated:NoSchedule", "node.kubernetes.io/memory-pressure:NoSchedule", "node.kubernetes.io/disk-pressure:NoSchedule"}, true,
			func(n *corev1.Node) {
				n.Status.Conditions = append(n.Status.Conditions,
					corev1.NodeCondition{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionTrue},
					corev1.NodeCondition{Type: corev1.NodeDiskPressure, Status: corev1.ConditionTrue},
					corev1.NodeCondition{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse})
			}},
		{"pressure gone", corev1.ConditionTrue, []corev1.Taint{{Key: corev1.TaintNodeMemoryPressure, Effect: corev1.TaintEffectNoSchedule}}, nil, true,
			func(n *corev1.Node) {
				n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse})
			}},
		{"a stale pressure condition of an unreachable node taints nothing", corev1.ConditionUnknown, nil, []string{"node.kubernetes.io/unreachable:NoSchedule", "node.kubernetes.io/unreachable:NoExecute"}, true,
			func(n *corev1.Node) {
				n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{Type: corev1.NodeDiskPressure, Status: corev1.ConditionUnknown})
			}},
		{"cordoned", corev1.ConditionTrue, nil, []string{"node.kubernetes.io/unschedulable:NoSchedule"}, true,
			func(n *corev1.Node) { n.Spec.Unschedulable = true }},
		{"uncordoned", corev1.ConditionTrue, []corev1.Taint{{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}}, nil, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := readyNode(tt.ready, t0)
			n.Spec.Taints = tt.taints
			if tt.edit != nil {
				tt.edit(n)
			}
			got, changed := Taints(n, t0)
			var keys []string
			for _, g := range got {
				keys = append(keys, g.Key+":"+string(g.Effect))
				if g.Effect == corev1.TaintEffectNoExecute && g.TimeAdded == nil {
					t.Errorf("NoExecute taint without timeAdded")
				}
				if g.Key == corev1.TaintNodeUnreachable && g.Effect == corev1.TaintEffectNoExecute && !changed && !g.TimeAdded.Equal(&old) {
					t.Errorf("timeAdded moved")
				}
			}
			if changed != tt.changed || len(keys) != len(tt.want) {
				t.Fatalf("taints %v changed=%v, want %v changed=%v", keys, changed, tt.want, tt.changed)
			}
			for i := range keys {
				if keys[i] != tt.want[i] {
					t.Fatalf("taints %v, want %v", keys, tt.want)
				}
			}
		})
	}
}

func TestEvictions(t *testing.T) {
	added := metav1.NewTime(t0.Add(-10 * time.Second))
	unreachable := corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &added}
	custom := corev1.Taint{Key: "maintenance", Effect: corev1.TaintEffectNoExecute, TimeAdded: &added}
	tol := func(key string, secs *int64) corev1.Toleration {
		return corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: secs}
	}
	pod := func(tols ...corev1.Toleration) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{NodeName: "n1", Tolerations: tols}}
	}
	node := func(labels, annotations map[string]string, taints ...corev1.Taint) *corev1.Node {
		n := readyNode(corev1.ConditionUnknown, t0)
		n.Labels, n.Annotations, n.Spec.Taints = labels, annotations, taints
		return n
	}
	edge := map[string]string{EdgeLabel: "true"}
	tests := []struct {
		name     string
		node     *corev1.Node
		pod      *corev1.Pod
		evict    bool
		wantNext time.Duration
	}{
		{"untolerated: now", node(nil, nil, unreachable), pod(), true, 0},
		{"default 300s toleration: later", node(nil, nil, unreachable), pod(tol(corev1.TaintNodeUnreachable, ptr.To[int64](300))), false, 290 * time.Second},
		{"5s toleration elapsed", node(nil, nil, unreachable), pod(tol(corev1.TaintNodeUnreachable, ptr.To[int64](5))), true, 0},
		{"tolerated forever", node(nil, nil, unreachable), pod(tol(corev1.TaintNodeUnreachable, nil)), false, 0},
		{"wildcard toleration", node(nil, nil, unreachable), pod(corev1.Toleration{Operator: corev1.TolerationOpExists}), false, 0},
		{"edge node: never", node(edge, nil, unreachable), pod(tol(corev1.TaintNodeUnreachable, ptr.To[int64](5))), false, 0},
		{"edge node, untolerated: never", node(edge, nil, unreachable), pod(), false, 0},
		{"edge node with a timeout", node(edge, map[string]string{EvictionTimeoutAnnotation: "1m"}, unreachable), pod(tol(corev1.TaintNodeUnreachable, ptr.To[int64](5))), false, 50 * time.Second},
		{"annotation never on a plain node", node(nil, map[string]string{EvictionTimeoutAnnotation: "never"}, unreachable), pod(), false, 0},
		{"annotation timeout elapsed", node(nil, map[string]string{EvictionTimeoutAnnotation: "5s"}, unreachable), pod(tol(corev1.TaintNodeUnreachable, ptr.To[int64](300))), true, 0},
		{"annotation timeout, pod tolerates forever", node(nil, map[string]string{EvictionTimeoutAnnotation: "5s"}, unreachable), pod(tol(corev1.TaintNodeUnreachable, nil)), false, 0},
		{"edge node, user's NoExecute taint still applies", node(edge, nil, unreachable, custom), pod(), true, 0},
		{"two taints, one untolerated", node(nil, nil, unreachable, custom), pod(tol(corev1.TaintNodeUnreachable, nil)), true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			policy, err := NodePolicy(tt.node)
			if err != nil {
				t.Fatal(err)
			}
			due, next := Evictions(tt.node, []*corev1.Pod{tt.pod}, policy, t0)
			if (len(due) == 1) != tt.evict || next != tt.wantNext {
				t.Fatalf("evict=%v next=%v, want %v %v", len(due) == 1, next, tt.evict, tt.wantNext)
			}
		})
	}
	deleting := pod()
	deleting.DeletionTimestamp = &added
	if due, _ := Evictions(node(nil, nil, unreachable), []*corev1.Pod{deleting}, Policy{}, t0); len(due) != 0 {
		t.Fatal("evicted a pod already being deleted")
	}
	if _, err := NodePolicy(node(nil, map[string]string{EvictionTimeoutAnnotation: "soon"})); err == nil {
		t.Fatal("a bad annotation was accepted")
	}
}

func TestPodReadiness(t *testing.T) {
	pod := func(st corev1.ConditionStatus, reason string) *corev1.Pod {
		return &corev1.Pod{Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st, Reason: reason}}}}
	}
	tests := []struct {
		name    string
		unknown bool
		pod     *corev1.Pod
		write   bool
		want    corev1.ConditionStatus
	}{
		{"ready pod on unknown node", true, pod(corev1.ConditionTrue, ""), true, corev1.ConditionFalse},
		{"already not ready", true, pod(corev1.ConditionFalse, "ContainersNotReady"), false, ""},
		{"node back: restore what was marked", false, pod(corev1.ConditionFalse, PodReasonNodeUnknown), true, corev1.ConditionTrue},
		{"node back: the agent's own not-ready stays", false, pod(corev1.ConditionFalse, "ContainersNotReady"), false, ""},
		{"healthy", false, pod(corev1.ConditionTrue, ""), false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := PodReadiness(tt.unknown, tt.pod, t0)
			if ok != tt.write || (ok && c.Status != tt.want) {
				t.Fatalf("write=%v status=%s, want %v %s", ok, c.Status, tt.write, tt.want)
			}
		})
	}
}
