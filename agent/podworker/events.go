package podworker

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/skiff-io/skiff/protocol"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
)

// eventState aggregates repeats of one event, as the kubelet's recorder
// does: same object, reason and message → one Event with a count.
type eventState struct {
	name        string
	first, last time.Time
	count       int32
}

// backOffEventGap is the least time between two counts of one back-off
// event. The kubelet counts one each time it syncs a pod whose container
// is still in back-off, and its pod workers sync such a pod about every
// 10 s. A pod worker here syncs on every poke instead: every runtime
// event of the pod's containers, every change of a ConfigMap, Secret or
// claim on the node (which pokes every pod), the 30 s resync. A node with
// a ConfigMap that changes every second would otherwise write a count to
// the outbox, and then to the server, every second for each pod in
// back-off.
const backOffEventGap = 10 * time.Second

// event queues a pod event in the outbox. Repeats replace the queued one
// (with a higher count), so a crash loop cannot flood the outbox.
func (p *pod) event(spec *corev1.Pod, container, typ, reason, msg string) {
	p.countEvent(spec, container, typ, reason, msg, 0)
}

// backOffEvent is event for a container that a sync found still in
// back-off: counted at most once per backOffEventGap.
func (p *pod) backOffEvent(spec *corev1.Pod, container, typ, reason, msg string) {
	p.countEvent(spec, container, typ, reason, msg, backOffEventGap)
}

// countEvent queues the event unless the same one was queued less than
// gap ago.
func (p *pod) countEvent(spec *corev1.Pod, container, typ, reason, msg string, gap time.Duration) {
	if p.orphan {
		return
	}
	h := fnv.New64a()
	fmt.Fprint(h, container, "\x00", reason, "\x00", msg)
	key := fmt.Sprintf("event/%s/%x", spec.UID, h.Sum64())
	// Probes emit events from their own goroutines. The lock is held
	// through the Put so that a higher count never reaches the outbox
	// before a lower one (latest wins there).
	p.evMu.Lock()
	defer p.evMu.Unlock()
	now := p.w.now()
	es := p.events[key]
	if es != nil && gap > 0 && now.Sub(es.last) < gap {
		return
	}
	if es == nil {
		// Named by the time, as the kubelet names events, but never
		// twice the same: two events queued within one tick of the
		// clock would be one Event on the server, the second's count
		// and message written over the first's.
		n := max(now.UnixNano(), p.evNamed+1)
		p.evNamed = n
		es = &eventState{name: fmt.Sprintf("%s.%x", spec.Name, n), first: now}
		p.events[key] = es
	}
	es.count++
	es.last = now
	ref := corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: spec.Namespace, Name: spec.Name, UID: spec.UID, ResourceVersion: spec.ResourceVersion}
	if container != "" {
		ref.FieldPath = fmt.Sprintf("spec.containers{%s}", container)
		for _, c := range spec.Spec.InitContainers {
			if c.Name == container {
				ref.FieldPath = fmt.Sprintf("spec.initContainers{%s}", container)
			}
		}
	}
	ev := &corev1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: es.name, Namespace: spec.Namespace},
		InvolvedObject:      ref,
		Reason:              reason,
		Message:             msg,
		Type:                typ,
		Source:              corev1.EventSource{Component: "kubelet", Host: p.w.cfg.NodeName},
		FirstTimestamp:      metav1.NewTime(es.first),
		LastTimestamp:       metav1.NewTime(now),
		Count:               es.count,
		ReportingController: "kubelet",
		ReportingInstance:   p.w.cfg.NodeName,
	}
	if err := p.w.out.Put(context.Background(), key, protocol.StatusItem{Kind: protocol.ItemEvent, Namespace: spec.Namespace, Name: es.name, Event: ev}); err != nil {
		klog.ErrorS(err, "queueing an event", "pod", klog.KObj(spec), "reason", reason)
	}
}
