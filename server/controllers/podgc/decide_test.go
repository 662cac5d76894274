package podgc

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func pod(name, node string, phase corev1.PodPhase, created time.Duration, deleting bool) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", CreationTimestamp: metav1.NewTime(t0.Add(created))},
		Spec: corev1.PodSpec{NodeName: node}, Status: corev1.PodStatus{Phase: phase}}
	if deleting {
		p.DeletionTimestamp = &metav1.Time{Time: t0}
	}
	return p
}

func TestDecide(t *testing.T) {
	nodes := map[string]bool{"n1": true}
	missing := map[string]time.Time{"old": t0.Add(-time.Minute), "new": t0.Add(-10 * time.Second)}
	tests := []struct {
		name      string
		pods      []*corev1.Pod
		threshold int
		want      []string
		wantNext  time.Duration
	}{
		{"healthy pods stay", []*corev1.Pod{pod("a", "n1", corev1.PodRunning, 0, false), pod("b", "", corev1.PodPending, 0, false)}, 10, nil, 0},
		{"node gone past quarantine", []*corev1.Pod{pod("a", "old", corev1.PodRunning, 0, false)}, 10, []string{"a: node gone"}, 0},
		{"node gone, in quarantine", []*corev1.Pod{pod("a", "new", corev1.PodRunning, 0, false)}, 10, nil, 30 * time.Second},
		{"node gone, first seen now", []*corev1.Pod{pod("a", "unseen", corev1.PodRunning, 0, false)}, 10, nil, 40 * time.Second},
		{"unscheduled terminating", []*corev1.Pod{pod("a", "", corev1.PodPending, 0, true), pod("b", "n1", corev1.PodRunning, 0, true)}, 10, []string{"a: deleted before it was scheduled"}, 0},
		{"finished over threshold, oldest first", []*corev1.Pod{
			pod("new", "n1", corev1.PodSucceeded, 0, false), pod("oldest", "n1", corev1.PodFailed, -2*time.Hour, false),
			pod("old", "n1", corev1.PodSucceeded, -time.Hour, false), pod("running", "n1", corev1.PodRunning, -3*time.Hour, false)},
			1, []string{"oldest: too many finished pods", "old: too many finished pods"}, 0},
		{"threshold off", []*corev1.Pod{pod("a", "n1", corev1.PodSucceeded, 0, false), pod("b", "n1", corev1.PodSucceeded, 0, false)}, -1, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, next := Decide(Input{Pods: tt.pods, Threshold: tt.threshold, Quarantine: DefaultQuarantine, Now: t0,
				NodeExists:   func(n string) bool { return nodes[n] },
				MissingSince: func(n string) (time.Time, bool) { s, ok := missing[n]; return s, ok }})
			var names []string
			for _, d := range got {
				names = append(names, fmt.Sprintf("%s: %s", d.Pod.Name, d.Reason))
			}
			if fmt.Sprint(names) != fmt.Sprint(tt.want) || next != tt.wantNext {
				t.Fatalf("got %v next %v, want %v next %v", names, next, tt.want, tt.wantNext)
			}
		})
	}
}
