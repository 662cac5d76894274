package replicaset

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func testRS(n int32) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "rs-uid", Generation: 3},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: &n,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web", "tier": "fe"}}},
		},
	}
}

type podOpt func(*corev1.Pod)

func owned(uid types.UID) podOpt {
	return func(p *corev1.Pod) {
		yes := true
		p.OwnerReferences = []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "x", UID: uid, Controller: &yes}}
	}
}
func labelled(l map[string]string) podOpt { return func(p *corev1.Pod) { p.Labels = l } }
func onNode(n string) podOpt              { return func(p *corev1.Pod) { p.Spec.NodeName = n } }
func phase(ph corev1.PodPhase) podOpt     { return func(p *corev1.Pod) { p.Status.Phase = ph } }
func readyAt(t time.Time) podOpt {
	return func(p *corev1.Pod) {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t)}}
	}
}
func created(t time.Time) podOpt {
	return func(p *corev1.Pod) { p.CreationTimestamp = metav1.NewTime(t) }
}
func restarts(n int32) podOpt {
	return func(p *corev1.Pod) { p.Status.ContainerStatuses = []corev1.ContainerStatus{{RestartCount: n}} }
}
func cost(c string) podOpt {
	return func(p *corev1.Pod) { p.Annotations = map[string]string{PodDeletionCostAnnotation: c} }
}
func deleting() podOpt {
	return func(p *corev1.Pod) { now := metav1.NewTime(t0); p.DeletionTimestamp = &now }
}

func pod(name string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name),
		Labels: map[string]string{"app": "web", "tier": "fe"}, CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour))},
		Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	for _, o := range opts {
		o(p)
	}
	return p
}

func names(pods []*corev1.Pod) []string {
	out := []string{}
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

func TestDecide(t *testing.T) {
	mine := owned("rs-uid")
	tests := []struct {
		name                         string
		replicas                     int32
		pods                         []*corev1.Pod
		manage                       bool
		deleting                     bool
		create                       int
		del, adopt, release, ownedBy []string
	}{
		{name: "creates the missing pods", replicas: 3, pods: []*corev1.Pod{pod("a", mine)}, manage: true,
			create: 2, ownedBy: []string{"a"}},
		{name: "waits for expectations", replicas: 3, pods: []*corev1.Pod{pod("a", mine)}, manage: false,
			ownedBy: []string{"a"}},
		{name: "adopts a matching orphan instead of creating", replicas: 2, pods: []*corev1.Pod{pod("a", mine), pod("o")}, manage: true,
			adopt: []string{"o"}, ownedBy: []string{"a", "o"}},
		{name: "releases a pod that no longer matches and replaces it", replicas: 1,
			pods: []*corev1.Pod{pod("a", mine, labelled(map[string]string{"app": "other"}))}, manage: true,
			create: 1, release: []string{"a"}},
		{name: "leaves other controllers' pods and finished or deleted pods", replicas: 1,
			pods:   []*corev1.Pod{pod("x", owned("other")), pod("f", mine, phase(corev1.PodSucceeded)), pod("d", mine, deleting()), pod("a", mine)},
			manage: true, ownedBy: []string{"a"}},
		{name: "deletes the surplus, unassigned first", replicas: 1,
			pods: []*corev1.Pod{pod("a", mine, onNode("n1")), pod("b", mine), pod("c", mine, onNode("n1"), readyAt(t0))}, manage: true,
			del: []string{"b", "a"}, ownedBy: []string{"a", "b", "c"}},
		{name: "a ReplicaSet being deleted neither adopts, releases nor creates", replicas: 3, deleting: true,
			pods: []*corev1.Pod{pod("o"), pod("a", mine, labelled(map[string]string{"app": "other"}))}, manage: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := testRS(tt.replicas)
			if tt.deleting {
				now := metav1.NewTime(t0)
				rs.DeletionTimestamp = &now
			}
			p := Decide(Input{RS: rs, Pods: tt.pods, Manage: tt.manage, Now: t0})
			if p.Create != tt.create {
				t.Errorf("create %d, want %d", p.Create, tt.create)
			}
			for _, c := range []struct {
				what      string
				got, want []string
			}{{"delete", names(p.Delete), tt.del}, {"adopt", names(p.Adopt), tt.adopt}, {"release", names(p.Release), tt.release}, {"owned", names(p.Owned), tt.ownedBy}} {
				if c.want == nil {
					c.want = []string{}
				}
				if !reflect.DeepEqual(c.got, c.want) {
					t.Errorf("%s %v, want %v", c.what, c.got, c.want)
				}
			}
		})
	}
}

func TestDecideBurst(t *testing.T) {
	p := Decide(Input{RS: testRS(2000), Manage: true, Now: t0})
	if p.Create != BurstReplicas {
		t.Fatalf("create %d, want the burst %d", p.Create, BurstReplicas)
	}
}

func TestPodsToDelete(t *testing.T) {
	tests := []struct {
		name  string
		pods  []*corev1.Pod
		first string
	}{
		{"unassigned before assigned", []*corev1.Pod{pod("assigned", onNode("n")), pod("unassigned")}, "unassigned"},
		{"pending before unknown before running", []*corev1.Pod{pod("running", onNode("n")), pod("unknown", onNode("n"), phase(corev1.PodUnknown)), pod("pending", onNode("n"), phase(corev1.PodPending))}, "pending"},
		{"unknown before running", []*corev1.Pod{pod("running", onNode("n")), pod("unknown", onNode("n"), phase(corev1.PodUnknown))}, "unknown"},
		{"not ready before ready", []*corev1.Pod{pod("ready", onNode("n"), readyAt(t0.Add(-time.Hour))), pod("notready", onNode("n"))}, "notready"},
		{"lower deletion cost first", []*corev1.Pod{pod("cheap", onNode("n"), cost("-5")), pod("dear", onNode("n"), cost("10"))}, "cheap"},
		{"doubled up on a node first", []*corev1.Pod{pod("alone", onNode("n1")), pod("pair1", onNode("n2"), created(t0.Add(-2*time.Hour))), pod("pair2", onNode("n2"), created(t0.Add(-2*time.Hour)))}, "pair1"},
		{"ready more recently first", []*corev1.Pod{pod("old", onNode("n1"), readyAt(t0.Add(-10*time.Hour))), pod("young", onNode("n2"), readyAt(t0.Add(-time.Minute)))}, "young"},
		{"more restarts first", []*corev1.Pod{pod("steady", onNode("n1")), pod("crashy", onNode("n2"), restarts(5))}, "crashy"},
		{"newer first", []*corev1.Pod{pod("old", onNode("n1"), created(t0.Add(-10*time.Hour))), pod("new", onNode("n2"), created(t0.Add(-time.Minute)))}, "new"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PodsToDelete(tt.pods, tt.pods, 1, t0)
			if len(got) != 1 || got[0].Name != tt.first {
				t.Fatalf("deletes %v first, want %s", names(got), tt.first)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	rs := testRS(3)
	rs.Spec.MinReadySeconds = 10
	pods := []*corev1.Pod{
		pod("available", readyAt(t0.Add(-time.Minute))),
		pod("justready", readyAt(t0.Add(-4*time.Second))),
		pod("notready"),
		pod("partial", labelled(map[string]string{"app": "web"})),
	}
	st, recheck := Status(rs, pods, nil, t0)
	want := appsv1.ReplicaSetStatus{Replicas: 4, FullyLabeledReplicas: 3, ReadyReplicas: 2, AvailableReplicas: 1, ObservedGeneration: 3}
	if !reflect.DeepEqual(st, want) {
		t.Fatalf("status %+v, want %+v", st, want)
	}
	if recheck != 7*time.Second {
		t.Fatalf("recheck %s, want 7s (6s to minReadySeconds and a second)", recheck)
	}

	st, _ = Status(rs, nil, errors.New(`pods "web-" is forbidden: quota`), t0)
	if len(st.Conditions) != 1 || st.Conditions[0].Type != appsv1.ReplicaSetReplicaFailure || st.Conditions[0].Reason != ReasonFailedCreate ||
		st.Conditions[0].Message != `pods "web-" is forbidden: quota` || st.Conditions[0].Status != corev1.ConditionTrue {
		t.Fatalf("conditions after a failed create: %+v", st.Conditions)
	}
	rs.Status = st
	if st, _ = Status(rs, nil, nil, t0); st.Conditions != nil {
		t.Fatalf("ReplicaFailure not cleared: %+v", st.Conditions)
	}
}

func TestSlowStart(t *testing.T) {
	tests := []struct {
		count, failAt int // failAt: the call that fails (1-based, 0: none)
		wantOK, calls int
	}{
		{count: 10, wantOK: 10, calls: 10},
		{count: 0, wantOK: 0, calls: 0},
		// Batches 1, 2, 4: the 4th call fails, the batch of 4 finishes,
		// no batch of 8 starts.
		{count: 10, failAt: 4, wantOK: 6, calls: 7},
		{count: 10, failAt: 1, wantOK: 0, calls: 1},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.count, "/", tt.failAt), func(t *testing.T) {
			var mu sync.Mutex
			calls := 0
			ok, err := slowStart(tt.count, 1, func() error {
				mu.Lock()
				defer mu.Unlock()
				calls++
				if calls == tt.failAt {
					return errors.New("refused")
				}
				return nil
			})
			if (err != nil) != (tt.failAt > 0) {
				t.Fatalf("error %v", err)
			}
			if ok != tt.wantOK || calls != tt.calls {
				t.Fatalf("%d succeeded of %d calls, want %d of %d", ok, calls, tt.wantOK, tt.calls)
			}
		})
	}
}

func TestExpectations(t *testing.T) {
	e := NewExpectations()
	if !e.Satisfied("k", t0) {
		t.Fatal("nothing expected: satisfied")
	}
	e.ExpectCreations("k", 2, t0)
	e.CreationObserved("k")
	if e.Satisfied("k", t0) {
		t.Fatal("one creation unseen: not satisfied")
	}
	e.CreationObserved("k")
	if !e.Satisfied("k", t0) {
		t.Fatal("all creations seen: satisfied")
	}
	e.ExpectDeletions("k", []string{"ns/a", "ns/b"}, t0)
	e.DeletionObserved("k", "ns/a")
	e.DeletionObserved("k", "ns/a")
	if e.Satisfied("k", t0) {
		t.Fatal("ns/b unseen: not satisfied")
	}
	if !e.Satisfied("k", t0.Add(expectationsTTL+time.Second)) {
		t.Fatal("expired expectations: satisfied")
	}
	e.Forget("k")
	if !e.Satisfied("k", t0) {
		t.Fatal("forgotten: satisfied")
	}
}
