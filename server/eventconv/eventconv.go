package eventconv

import (
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
)

// ToEventsV1 returns the events.k8s.io/v1 view of a stored core/v1 event.
// The result shares no memory with in. TypeMeta is rewritten to
// events.k8s.io/v1 Event when in carries one and left empty otherwise. A nil
// event converts to nil.
func ToEventsV1(in *corev1.Event) *eventsv1.Event {
	if in == nil {
		return nil
	}
	in = in.DeepCopy()
	out := &eventsv1.Event{
		ObjectMeta:          in.ObjectMeta,
		EventTime:           in.EventTime,
		ReportingController: in.ReportingController,
		ReportingInstance:   in.ReportingInstance,
		Action:              in.Action,
		Reason:              in.Reason,
		Regarding:           in.InvolvedObject,
		Related:             in.Related,
		Note:                in.Message,
		Type:                in.Type,
		// The pre-events.k8s.io bookkeeping survives under Deprecated* names
		// rather than being folded into series, exactly as kube does, so the
		// way back is the identity.
		DeprecatedSource:         in.Source,
		DeprecatedFirstTimestamp: in.FirstTimestamp,
		DeprecatedLastTimestamp:  in.LastTimestamp,
		DeprecatedCount:          in.Count,
	}
	if in.Series != nil {
		out.Series = &eventsv1.EventSeries{
			Count:            in.Series.Count,
			LastObservedTime: in.Series.LastObservedTime,
		}
	}
	if in.APIVersion != "" || in.Kind != "" {
		out.APIVersion = eventsv1.SchemeGroupVersion.String()
		out.Kind = "Event"
	}
	return out
}

// FromEventsV1 returns the core/v1 form, the one skiff stores, of an
// events.k8s.io/v1 event. The result shares no memory with in. TypeMeta is
// rewritten to v1 Event when in carries one and left empty otherwise. A nil
// event converts to nil.
func FromEventsV1(in *eventsv1.Event) *corev1.Event {
	if in == nil {
		return nil
	}
	in = in.DeepCopy()
	out := &corev1.Event{
		ObjectMeta:          in.ObjectMeta,
		InvolvedObject:      in.Regarding,
		Reason:              in.Reason,
		Message:             in.Note,
		Source:              in.DeprecatedSource,
		FirstTimestamp:      in.DeprecatedFirstTimestamp,
		LastTimestamp:       in.DeprecatedLastTimestamp,
		Count:               in.DeprecatedCount,
		Type:                in.Type,
		EventTime:           in.EventTime,
		Action:              in.Action,
		Related:             in.Related,
		ReportingController: in.ReportingController,
		ReportingInstance:   in.ReportingInstance,
	}
	if in.Series != nil {
		out.Series = &corev1.EventSeries{
			Count:            in.Series.Count,
			LastObservedTime: in.Series.LastObservedTime,
		}
	}
	if in.APIVersion != "" || in.Kind != "" {
		out.APIVersion = corev1.SchemeGroupVersion.String()
		out.Kind = "Event"
	}
	return out
}
