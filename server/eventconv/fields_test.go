package eventconv

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

func TestSelectableFields(t *testing.T) {
	tests := []struct {
		name string
		in   *corev1.Event
		want map[string]string // only the keys worth checking
	}{
		{
			name: "nil",
			in:   nil,
			want: map[string]string{"metadata.name": "", "source": ""},
		},
		{
			name: "source from source.component",
			in:   fullCore(),
			want: map[string]string{
				"metadata.name":            "web-0.17c1",
				"metadata.namespace":       "default",
				"involvedObject.kind":      "Pod",
				"involvedObject.name":      "web-0",
				"involvedObject.uid":       "p-1",
				"involvedObject.fieldPath": "spec.containers{web}",
				"reason":                   "BackOff",
				"type":                     "Warning",
				"reportingComponent":       "kubelet",
				"source":                   "kubelet",
			},
		},
		{
			name: "source falls back to reportingController",
			in: &corev1.Event{
				ObjectMeta:          metav1.ObjectMeta{Name: "e"},
				ReportingController: "skiff.io/scheduler",
			},
			want: map[string]string{"source": "skiff.io/scheduler", "reportingComponent": "skiff.io/scheduler"},
		},
		{
			name: "source.component wins",
			in: &corev1.Event{
				Source:              corev1.EventSource{Component: "kubelet"},
				ReportingController: "other",
			},
			want: map[string]string{"source": "kubelet", "reportingComponent": "other"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SelectableFields(tt.in)
			if len(got) != 13 {
				t.Errorf("got %d fields, want 13: %v", len(got), got)
			}
			for k, v := range tt.want {
				if g, ok := got[k]; !ok || g != v {
					t.Errorf("%s = %q (present %v), want %q", k, g, ok, v)
				}
			}
		})
	}
}

func TestFieldLabelFromEventsV1(t *testing.T) {
	tests := []struct {
		label, want string
		ok          bool
	}{
		{"regarding.name", "involvedObject.name", true},
		{"regarding.kind", "involvedObject.kind", true},
		{"regarding.uid", "involvedObject.uid", true},
		{"reportingController", "reportingComponent", true},
		{"metadata.name", "metadata.name", true},
		{"type", "type", true},
		{"source", "source", true},
		{"involvedObject.name", "", false},
		{"note", "", false},
	}
	for _, tt := range tests {
		got, ok := FieldLabelFromEventsV1(tt.label)
		if got != tt.want || ok != tt.ok {
			t.Errorf("FieldLabelFromEventsV1(%q) = %q, %v; want %q, %v", tt.label, got, ok, tt.want, tt.ok)
		}
	}
	// Every translated label must be one SelectableFields answers to.
	sel := SelectableFields(nil)
	for from, to := range eventsV1Labels {
		if _, ok := sel[to]; !ok {
			t.Errorf("%s maps to %s, which SelectableFields does not provide", from, to)
		}
	}
	// And the translation must be usable in a real selector.
	s, err := fields.ParseSelector("involvedObject.name=web-0,source=kubelet")
	if err != nil {
		t.Fatal(err)
	}
	if !s.Matches(SelectableFields(fullCore())) {
		t.Errorf("selector %s does not match the fixture", s)
	}
}
