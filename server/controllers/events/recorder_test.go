package events

import (
	"context"
	"testing"
	"time"

	"github.com/skiff-io/skiff/server/kubeclient/kubeclienttest"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func drain(t *testing.T, r *Recorder) {
	t.Helper()
	ctx := context.Background()
	for {
		select {
		case ev := <-r.queue:
			if err := r.write(ctx, ev); err != nil {
				t.Fatal(err)
			}
		default:
			return
		}
	}
}

func TestRecorderAggregatesAndLimits(t *testing.T) {
	client := kubeclienttest.New()
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := New(client, "deployment-controller", Options{Now: func() time.Time { clock = clock.Add(time.Millisecond); return clock }})
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "u1"}}

	r.Event(d, corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled up replica set web-1 from 0 to 3")
	r.Event(d, corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled up replica set web-1 from 0 to 3")
	r.Eventf(d, corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled down replica set web-1 from %d to %d", 3, 1)
	drain(t, r)

	list, err := client.CoreV1().Events("ns").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 2 {
		t.Fatalf("want 2 events (one aggregated), got %d", len(list.Items))
	}
	counts := map[string]int32{}
	for _, ev := range list.Items {
		counts[ev.Message] = ev.Count
		if ev.InvolvedObject.Kind != "Deployment" || ev.InvolvedObject.APIVersion != "apps/v1" || ev.Source.Component != "deployment-controller" {
			t.Errorf("event %+v: wrong reference or source", ev)
		}
	}
	if counts["Scaled up replica set web-1 from 0 to 3"] != 2 {
		t.Errorf("repeat not aggregated: %v", counts)
	}

	// The spam filter: after the burst, one more per refill period.
	for i := 0; i < 40; i++ {
		r.Eventf(d, corev1.EventTypeWarning, "Flood", "attempt %d", i)
	}
	if got := len(r.queue); got != burst-3 {
		t.Errorf("queued %d events after the burst, want %d", got, burst-3)
	}
	drain(t, r)
	clock = clock.Add(refill)
	r.Event(d, corev1.EventTypeWarning, "Flood", "later")
	if len(r.queue) != 1 {
		t.Errorf("no event allowed after a refill period")
	}
}

func TestClusterScopedEventsGoToDefault(t *testing.T) {
	client := kubeclienttest.New()
	r := New(client, "node-controller", Options{})
	r.Event(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", UID: "n"}}, corev1.EventTypeNormal, "RegisteredNode", "registered")
	drain(t, r)
	list, _ := client.CoreV1().Events(metav1.NamespaceDefault).List(context.Background(), metav1.ListOptions{})
	if len(list.Items) != 1 || list.Items[0].InvolvedObject.Kind != "Node" {
		t.Fatalf("want one Node event in default, got %+v", list.Items)
	}
}

func TestLRUForgetsOldest(t *testing.T) {
	l := newLRU(2)
	l.put("a", 1)
	l.put("b", 2)
	l.get("a")
	l.put("c", 3)
	if l.get("b") != nil || l.get("a") != 1 || l.get("c") != 3 {
		t.Fatal("lru kept the wrong entries")
	}
}
