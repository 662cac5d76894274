package eventconv

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// SelectableFields returns the fields a core/v1 field selector on events may
// name, with their values for ev. They are kube-apiserver's: metadata.name,
// metadata.namespace, the involvedObject.* fields, reason, type,
// reportingComponent and source. source is source.component, or
// reportingComponent when that is empty, so that
// `kubectl get events --field-selector source=kubelet` also finds events
// written through events.k8s.io, which carry no source.
func SelectableFields(ev *corev1.Event) fields.Set {
	if ev == nil {
		ev = &corev1.Event{}
	}
	source := ev.Source.Component
	if source == "" {
		source = ev.ReportingController
	}
	return fields.Set{
		"metadata.name":                  ev.Name,
		"metadata.namespace":             ev.Namespace,
		"involvedObject.kind":            ev.InvolvedObject.Kind,
		"involvedObject.namespace":       ev.InvolvedObject.Namespace,
		"involvedObject.name":            ev.InvolvedObject.Name,
		"involvedObject.uid":             string(ev.InvolvedObject.UID),
		"involvedObject.apiVersion":      ev.InvolvedObject.APIVersion,
		"involvedObject.resourceVersion": ev.InvolvedObject.ResourceVersion,
		"involvedObject.fieldPath":       ev.InvolvedObject.FieldPath,
		"reason":                         ev.Reason,
		// The core/v1 JSON name of ReportingController.
		"reportingComponent": ev.ReportingController,
		"source":             source,
		"type":               ev.Type,
	}
}

// eventsV1Labels maps the field labels an events.k8s.io/v1 client may use
// to the core/v1 names SelectableFields answers to.
var eventsV1Labels = map[string]string{
	"metadata.name":             "metadata.name",
	"metadata.namespace":        "metadata.namespace",
	"regarding.kind":            "involvedObject.kind",
	"regarding.namespace":       "involvedObject.namespace",
	"regarding.name":            "involvedObject.name",
	"regarding.uid":             "involvedObject.uid",
	"regarding.apiVersion":      "involvedObject.apiVersion",
	"regarding.resourceVersion": "involvedObject.resourceVersion",
	"regarding.fieldPath":       "involvedObject.fieldPath",
	"reportingController":       "reportingComponent",
	"reason":                    "reason",
	"type":                      "type",
	// events.k8s.io/v1 has no source field; kube still accepts the label.
	"source": "source",
}

// FieldLabelFromEventsV1 translates a field-selector label written against
// events.k8s.io/v1 (regarding.name, reportingController…) into the core/v1
// label SelectableFields uses. ok is false for labels kube-apiserver would
// reject as unsupported.
func FieldLabelFromEventsV1(label string) (coreLabel string, ok bool) {
	coreLabel, ok = eventsV1Labels[label]
	return coreLabel, ok
}
