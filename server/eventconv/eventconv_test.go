package eventconv

import (
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/randfill"
)

var (
	t0 = metav1.NewTime(time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC))
	t1 = metav1.NewTime(time.Date(2024, 5, 1, 10, 5, 0, 0, time.UTC))
	m0 = metav1.NewMicroTime(time.Date(2024, 5, 1, 10, 0, 0, 123456000, time.UTC))
	m1 = metav1.NewMicroTime(time.Date(2024, 5, 1, 10, 6, 0, 654321000, time.UTC))
)

// fullCore sets every field of core/v1 Event; TestFixturesAreFull keeps it so.
func fullCore() *corev1.Event {
	return &corev1.Event{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Event"},
		ObjectMeta: metav1.ObjectMeta{
			Name: "web-0.17c1", Namespace: "default", UID: "u-1", ResourceVersion: "42",
			Labels: map[string]string{"a": "b"}, Annotations: map[string]string{"c": "d"},
			CreationTimestamp: t0,
		},
		InvolvedObject: corev1.ObjectReference{
			Kind: "Pod", Namespace: "default", Name: "web-0", UID: "p-1",
			APIVersion: "v1", ResourceVersion: "7", FieldPath: "spec.containers{web}",
		},
		Reason:              "BackOff",
		Message:             "Back-off restarting failed container",
		Source:              corev1.EventSource{Component: "kubelet", Host: "node-a"},
		FirstTimestamp:      t0,
		LastTimestamp:       t1,
		Count:               5,
		Type:                corev1.EventTypeWarning,
		EventTime:           m0,
		Series:              &corev1.EventSeries{Count: 3, LastObservedTime: m1},
		Action:              "Restarting",
		Related:             &corev1.ObjectReference{Kind: "Node", Name: "node-a", APIVersion: "v1"},
		ReportingController: "kubelet",
		ReportingInstance:   "kubelet-node-a",
	}
}

// fullEventsV1 is fullCore as kube-apiserver would serve it from
// events.k8s.io/v1.
func fullEventsV1() *eventsv1.Event {
	c := fullCore()
	return &eventsv1.Event{
		TypeMeta:                 metav1.TypeMeta{APIVersion: "events.k8s.io/v1", Kind: "Event"},
		ObjectMeta:               c.ObjectMeta,
		EventTime:                m0,
		Series:                   &eventsv1.EventSeries{Count: 3, LastObservedTime: m1},
		ReportingController:      "kubelet",
		ReportingInstance:        "kubelet-node-a",
		Action:                   "Restarting",
		Reason:                   "BackOff",
		Regarding:                c.InvolvedObject,
		Related:                  c.Related,
		Note:                     "Back-off restarting failed container",
		Type:                     corev1.EventTypeWarning,
		DeprecatedSource:         corev1.EventSource{Component: "kubelet", Host: "node-a"},
		DeprecatedFirstTimestamp: t0,
		DeprecatedLastTimestamp:  t1,
		DeprecatedCount:          5,
	}
}

// TestFixturesAreFull fails when k8s.io/api grows an Event field the
// fixtures (and so, probably, the converters) do not know about.
func TestFixturesAreFull(t *testing.T) {
	for name, obj := range map[string]any{"core": *fullCore(), "eventsv1": *fullEventsV1()} {
		v := reflect.ValueOf(obj)
		for i := 0; i < v.NumField(); i++ {
			if v.Field(i).IsZero() {
				t.Errorf("%s fixture leaves %s unset", name, v.Type().Field(i).Name)
			}
		}
	}
}

func TestToEventsV1(t *testing.T) {
	tests := []struct {
		name string
		in   *corev1.Event
		want *eventsv1.Event
	}{
		{name: "nil", in: nil, want: nil},
		{name: "empty", in: &corev1.Event{}, want: &eventsv1.Event{}},
		{name: "every field", in: fullCore(), want: fullEventsV1()},
		{
			// What `kubectl create` or an old client-go recorder writes.
			name: "legacy recorder",
			in: &corev1.Event{
				TypeMeta:       metav1.TypeMeta{APIVersion: "v1", Kind: "Event"},
				ObjectMeta:     metav1.ObjectMeta{Name: "e", Namespace: "ns"},
				InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "p"},
				Reason:         "Pulled", Message: "pulled", Type: "Normal",
				Source:         corev1.EventSource{Component: "kubelet"},
				FirstTimestamp: t0, LastTimestamp: t1, Count: 2,
			},
			want: &eventsv1.Event{
				TypeMeta:   metav1.TypeMeta{APIVersion: "events.k8s.io/v1", Kind: "Event"},
				ObjectMeta: metav1.ObjectMeta{Name: "e", Namespace: "ns"},
				Regarding:  corev1.ObjectReference{Kind: "Pod", Name: "p"},
				Reason:     "Pulled", Note: "pulled", Type: "Normal",
				DeprecatedSource: corev1.EventSource{Component: "kubelet"},
				// Like kube, the conversion does not invent a
				// reportingController from source.component.
				DeprecatedFirstTimestamp: t0, DeprecatedLastTimestamp: t1, DeprecatedCount: 2,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, ToEventsV1(tt.in)); diff != "" {
				t.Errorf("ToEventsV1 (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFromEventsV1(t *testing.T) {
	tests := []struct {
		name string
		in   *eventsv1.Event
		want *corev1.Event
	}{
		{name: "nil", in: nil, want: nil},
		{name: "empty", in: &eventsv1.Event{}, want: &corev1.Event{}},
		{name: "every field", in: fullEventsV1(), want: fullCore()},
		{
			// What a client-go events/v1 recorder writes.
			name: "new recorder",
			in: &eventsv1.Event{
				TypeMeta:            metav1.TypeMeta{APIVersion: "events.k8s.io/v1", Kind: "Event"},
				ObjectMeta:          metav1.ObjectMeta{Name: "e", Namespace: "ns"},
				EventTime:           m0,
				ReportingController: "skiff.io/scheduler", ReportingInstance: "scheduler-1",
				Action: "Binding", Reason: "Scheduled", Type: "Normal", Note: "assigned",
				Regarding: corev1.ObjectReference{Kind: "Pod", Name: "p"},
			},
			want: &corev1.Event{
				TypeMeta:            metav1.TypeMeta{APIVersion: "v1", Kind: "Event"},
				ObjectMeta:          metav1.ObjectMeta{Name: "e", Namespace: "ns"},
				EventTime:           m0,
				ReportingController: "skiff.io/scheduler", ReportingInstance: "scheduler-1",
				Action: "Binding", Reason: "Scheduled", Type: "Normal", Message: "assigned",
				InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "p"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, FromEventsV1(tt.in)); diff != "" {
				t.Errorf("FromEventsV1 (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRoundTrip fills events at random (fixed seeds, so failures repeat)
// and checks that either form survives a trip through the other.
func TestRoundTrip(t *testing.T) {
	for seed := int64(0); seed < 200; seed++ {
		f := randfill.NewWithSeed(seed).NilChance(0.3).NumElements(0, 3)

		var core corev1.Event
		f.Fill(&core)
		got := FromEventsV1(ToEventsV1(&core))
		want := core.DeepCopy()
		if want.APIVersion != "" || want.Kind != "" {
			want.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Event"}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("seed %d: core/v1 -> events/v1 -> core/v1 (-want +got):\n%s", seed, diff)
		}

		var ev eventsv1.Event
		f.Fill(&ev)
		gotV1 := ToEventsV1(FromEventsV1(&ev))
		wantV1 := ev.DeepCopy()
		if wantV1.APIVersion != "" || wantV1.Kind != "" {
			wantV1.TypeMeta = metav1.TypeMeta{APIVersion: "events.k8s.io/v1", Kind: "Event"}
		}
		if diff := cmp.Diff(wantV1, gotV1); diff != "" {
			t.Fatalf("seed %d: events/v1 -> core/v1 -> events/v1 (-want +got):\n%s", seed, diff)
		}
	}
}

// TestNoAliasing guards the server: it converts objects read from a cache
// and must not be able to corrupt them by editing the result.
func TestNoAliasing(t *testing.T) {
	core := fullCore()
	v1 := ToEventsV1(core)
	v1.Labels["a"] = "changed"
	v1.Series.Count = 99
	v1.Related.Name = "changed"
	if diff := cmp.Diff(fullCore(), core); diff != "" {
		t.Errorf("editing ToEventsV1's result changed its input:\n%s", diff)
	}

	ev := fullEventsV1()
	c := FromEventsV1(ev)
	c.Annotations["c"] = "changed"
	c.Series.Count = 99
	c.Related.Name = "changed"
	if diff := cmp.Diff(fullEventsV1(), ev); diff != "" {
		t.Errorf("editing FromEventsV1's result changed its input:\n%s", diff)
	}
}
