package printers

import (
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-io/skiff/server/eventconv"
)

var eventDoc = corev1.Event{}.SwaggerDoc()

// eventColumns serve both event groups: kube-apiserver prints
// events.k8s.io/v1 events through the core printer, since both are one
// stored object.
var eventColumns = []metav1.TableColumnDefinition{
	{Name: "Last Seen", Type: "string", Description: eventDoc["lastTimestamp"]},
	{Name: "Type", Type: "string", Description: eventDoc["type"]},
	{Name: "Reason", Type: "string", Description: eventDoc["reason"]},
	{Name: "Object", Type: "string", Description: eventDoc["involvedObject"]},
	{Name: "Subobject", Type: "string", Priority: 1, Description: corev1.ObjectReference{}.SwaggerDoc()["fieldPath"]},
	{Name: "Source", Type: "string", Priority: 1, Description: eventDoc["source"]},
	{Name: "Message", Type: "string", Description: eventDoc["message"]},
	{Name: "First Seen", Type: "string", Priority: 1, Description: eventDoc["firstTimestamp"]},
	{Name: "Count", Type: "string", Priority: 1, Description: eventDoc["count"]},
	{Name: "Name", Type: "string", Priority: 1, Format: "name", Description: objectMetaDoc["name"]},
}

var eventPrinter = Printer{
	Columns: eventColumns,
	Row:     rowOf(eventRow),
}

var eventsV1Printer = Printer{
	Columns: eventColumns,
	Row: func(obj runtime.Object, now time.Time) []interface{} {
		ev, _ := obj.(*eventsv1.Event)
		return eventRow(eventconv.FromEventsV1(ev), now)
	},
}

func eventRow(ev *corev1.Event, now time.Time) []interface{} {
	if ev == nil {
		ev = &corev1.Event{}
	}
	// Events written through events.k8s.io have eventTime and series
	// instead of the legacy timestamps and count.
	first := age(ev.FirstTimestamp, now)
	if ev.FirstTimestamp.IsZero() {
		first = microAge(ev.EventTime, now)
	}
	last := age(ev.LastTimestamp, now)
	if ev.LastTimestamp.IsZero() {
		last = first
	}
	count := ev.Count
	switch {
	case ev.Series != nil:
		last, count = microAge(ev.Series.LastObservedTime, now), ev.Series.Count
	case count == 0:
		count = 1 // a singleton event in the new API carries no count
	}
	object := strings.ToLower(ev.InvolvedObject.Kind)
	if ev.InvolvedObject.Name != "" {
		object += "/" + ev.InvolvedObject.Name
	}
	return []interface{}{
		last, ev.Type, ev.Reason, object, ev.InvolvedObject.FieldPath, eventSource(ev),
		strings.TrimSpace(ev.Message), first, int64(count), ev.Name,
	}
}

// eventSource is "component, host", taking reportingController and
// reportingInstance where the legacy source fields are empty.
func eventSource(ev *corev1.Event) string {
	component := orDefault(ev.Source.Component, ev.ReportingController)
	host := orDefault(ev.Source.Host, ev.ReportingInstance)
	if host == "" {
		return component
	}
	return component + ", " + host
}
