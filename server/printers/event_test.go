package printers

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"

	"github.com/skiff-io/skiff/server/eventconv"
)

func TestEventRow(t *testing.T) {
	tests := []struct {
		name string
		ev   corev1.Event
		// LAST SEEN, OBJECT, SOURCE, FIRST SEEN, COUNT
		want []interface{}
	}{
		{
			name: "singleton from the new API",
			ev: corev1.Event{
				EventTime:           microAgo(3 * time.Minute),
				ReportingController: "skiff.io/scheduler",
				InvolvedObject:      corev1.ObjectReference{Kind: "Node"},
			},
			want: []interface{}{"3m", "node", "skiff.io/scheduler", "3m", int64(1)},
		},
		{
			name: "legacy without last timestamp",
			ev: corev1.Event{
				FirstTimestamp:      ago(20 * time.Minute),
				Count:               2,
				Source:              corev1.EventSource{Host: "node-a"},
				ReportingController: "kubelet",
				InvolvedObject:      corev1.ObjectReference{Kind: "ReplicaSet", Name: "web-abc"},
			},
			want: []interface{}{"20m", "replicaset/web-abc", "kubelet, node-a", "20m", int64(2)},
		},
		{
			name: "series overrides last seen and count",
			ev: corev1.Event{
				FirstTimestamp:    ago(time.Hour),
				LastTimestamp:     ago(30 * time.Minute),
				Count:             3,
				Series:            &corev1.EventSeries{Count: 9, LastObservedTime: microAgo(10 * time.Second)},
				Source:            corev1.EventSource{Component: "kubelet"},
				ReportingInstance: "node-b",
			},
			want: []interface{}{"10s", "", "kubelet, node-b", "60m", int64(9)},
		},
	}
	for _, tt := range tests {
		row := eventPrinter.Row(&tt.ev, now)
		got := []interface{}{row[0], row[3], row[5], row[7], row[8]}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

// TestEventsV1SameAsCore checks that an event looks the same in
// `kubectl get events` and `kubectl get events.events.k8s.io`.
func TestEventsV1SameAsCore(t *testing.T) {
	for _, kc := range kindCases() {
		var core *corev1.Event
		switch ev := kc.full.(type) {
		case *corev1.Event:
			core = ev
		case *eventsv1.Event:
			core = eventconv.FromEventsV1(ev)
		default:
			continue
		}
		want := eventPrinter.Row(core, now)
		got := eventsV1Printer.Row(eventconv.ToEventsV1(core), now)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: events.k8s.io row differs from core (-core +events):\n%s", core.Name, diff)
		}
	}
	if diff := cmp.Diff(eventColumns, eventsV1Printer.Columns); diff != "" {
		t.Error(diff)
	}
}
