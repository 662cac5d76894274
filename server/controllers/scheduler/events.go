package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/skiff-io/skiff/server/kubeclient"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// recorder writes the scheduler's Events. A repeat of a pod's last event
// (same reason and message, as a pod retried while nothing changes)
// bumps that Event's count instead of creating another, so a pod that
// stays unschedulable holds one Event, not one per attempt.
type recorder struct {
	client   kubeclient.Interface
	instance string
	now      func() time.Time

	mu   sync.Mutex
	last map[types.UID]lastEvent
}

type lastEvent struct {
	name, reason, message string
	count                 int32
}

func newRecorder(client kubeclient.Interface, instance string, now func() time.Time) *recorder {
	return &recorder{client: client, instance: instance, now: now, last: map[types.UID]lastEvent{}}
}

// emit records an event about pod; failures are returned for logging only.
func (r *recorder) emit(ctx context.Context, pod *corev1.Pod, eventType, reason, action, message string) error {
	now := metav1.NewTime(r.now())
	events := r.client.Events(pod.Namespace)
	r.mu.Lock()
	prev, seen := r.last[pod.UID]
	r.mu.Unlock()
	if seen && prev.reason == reason && prev.message == message {
		patch, _ := json.Marshal(map[string]any{"count": prev.count + 1, "lastTimestamp": now})
		_, err := events.Patch(ctx, prev.name, types.MergePatchType, patch, metav1.PatchOptions{})
		if err == nil {
			prev.count++
			r.remember(pod.UID, prev)
			return nil
		}
		if !apierrors.IsNotFound(err) {
			return err
		}
	}
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%v.%x", pod.Name, now.UnixNano()), Namespace: pod.Namespace},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name,
			UID: pod.UID, ResourceVersion: pod.ResourceVersion},
		Reason: reason, Message: message, Type: eventType, Action: action,
		Source:              corev1.EventSource{Component: SchedulerName},
		ReportingController: SchedulerName, ReportingInstance: r.instance,
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
	}
	if _, err := events.Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		return err
	}
	r.remember(pod.UID, lastEvent{name: ev.Name, reason: reason, message: message, count: 1})
	return nil
}

func (r *recorder) remember(uid types.UID, e lastEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last[uid] = e
}

// forget drops what is remembered of a pod (deleted, or scheduled).
func (r *recorder) forget(uid types.UID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.last, uid)
}
