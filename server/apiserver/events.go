package apiserver

import (
	"github.com/skiff-io/skiff/server/eventconv"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// eventsView serves events.k8s.io/v1 Events from the core Events stored
// under /registry/events, as kube-apiserver does: one object, two views.
var eventsView = &viewMapping{
	newStored: func() runtime.Object { return &corev1.Event{} },
	toStored:  func(o runtime.Object) runtime.Object { return eventconv.FromEventsV1(o.(*eventsv1.Event)) },
	fromStore: func(o runtime.Object) runtime.Object { return eventconv.ToEventsV1(o.(*corev1.Event)) },
}

func storedGVK(obj runtime.Object) schema.GroupVersionKind {
	if _, ok := obj.(*corev1.Event); ok {
		return corev1.SchemeGroupVersion.WithKind("Event")
	}
	return obj.GetObjectKind().GroupVersionKind()
}
