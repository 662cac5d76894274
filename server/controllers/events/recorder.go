package events

import (
	"container/list"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"sync"
	"time"

	"github.com/skiff-io/skiff/server/kubeclient"
	"github.com/skiff-io/skiff/server/scheme"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

// Limits, client-go's where it has one.
const (
	// burst events per object are written at once; after that one more
	// every refill.
	burst  = 25
	refill = 5 * time.Minute
	// queueSize bounds the Events waiting to be written; more are dropped.
	queueSize = 1000
	// remembered bounds how many distinct Events (and per-object buckets)
	// are kept for aggregation; the least recently used are forgotten.
	remembered = 4096
)

// Options tune a Recorder; the zero value is the default.
type Options struct {
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Instance names the controller's process in reportingInstance
	// (hostname when empty).
	Instance string
}

// Recorder writes one controller's Events. Its methods are safe for
// concurrent use; Run must be running for Events to be written.
type Recorder struct {
	client    kubeclient.Interface
	component string
	instance  string
	now       func() time.Time
	scheme    *runtime.Scheme
	queue     chan *corev1.Event

	mu      sync.Mutex
	seen    *lru // aggregation key -> *written
	buckets *lru // object UID -> *bucket
}

type written struct {
	name  string
	count int32
}

type bucket struct {
	tokens float64
	last   time.Time
}

// New returns a Recorder for the controller named component (the Event's
// source.component and reportingController, e.g. "deployment-controller").
func New(client kubeclient.Interface, component string, opts Options) *Recorder {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Recorder{
		client: client, component: component, instance: opts.Instance, now: now,
		scheme: scheme.New(), queue: make(chan *corev1.Event, queueSize),
		seen: newLRU(remembered), buckets: newLRU(remembered),
	}
}

// Event records an event about obj (a typed API object, e.g. from an
// informer). eventType is corev1.EventTypeNormal or EventTypeWarning.
func (r *Recorder) Event(obj runtime.Object, eventType, reason, message string) {
	ref, err := r.reference(obj)
	if err != nil {
		log.Printf("events: %s: %v", r.component, err)
		return
	}
	if !r.allow(ref.UID) {
		return
	}
	now := metav1.NewTime(r.now())
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: fmt.Sprintf("%v.%x", ref.Name, now.UnixNano()), Namespace: eventNamespace(ref)},
		InvolvedObject: *ref,
		Reason:         reason, Message: message, Type: eventType,
		Source:              corev1.EventSource{Component: r.component},
		ReportingController: r.component, ReportingInstance: r.instance,
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
	}
	select {
	case r.queue <- ev:
	default:
		log.Printf("events: %s: queue full, dropping %s %s about %s/%s", r.component, eventType, reason, ref.Namespace, ref.Name)
	}
}

// Eventf is Event with a formatted message.
func (r *Recorder) Eventf(obj runtime.Object, eventType, reason, format string, args ...any) {
	r.Event(obj, eventType, reason, fmt.Sprintf(format, args...))
}

// Run writes queued Events until ctx ends.
func (r *Recorder) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-r.queue:
			if err := r.write(ctx, ev); err != nil && ctx.Err() == nil {
				log.Printf("events: %s: writing %s about %s/%s: %v", r.component, ev.Reason,
					ev.InvolvedObject.Namespace, ev.InvolvedObject.Name, err)
			}
		}
	}
}

// write creates ev, or bumps the count of the Event it repeats.
func (r *Recorder) write(ctx context.Context, ev *corev1.Event) error {
	key := aggregationKey(ev)
	events := r.client.Events(ev.Namespace)
	r.mu.Lock()
	prev, _ := r.seen.get(key).(*written)
	r.mu.Unlock()
	if prev != nil {
		count := prev.count + 1
		patch, _ := json.Marshal(map[string]any{"count": count, "lastTimestamp": ev.LastTimestamp})
		_, err := events.Patch(ctx, prev.name, types.MergePatchType, patch, metav1.PatchOptions{})
		if err == nil {
			r.mu.Lock()
			r.seen.put(key, &written{name: prev.name, count: count})
			r.mu.Unlock()
			return nil
		}
		if !apierrors.IsNotFound(err) {
			return err
		}
		// The Event expired (events live an hour): start a new one.
	}
	if _, err := events.Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		return err
	}
	r.mu.Lock()
	r.seen.put(key, &written{name: ev.Name, count: 1})
	r.mu.Unlock()
	return nil
}

// allow takes a token from the object's bucket.
func (r *Recorder) allow(uid types.UID) bool {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	b, _ := r.buckets.get(string(uid)).(*bucket)
	if b == nil {
		b = &bucket{tokens: burst, last: now}
		r.buckets.put(string(uid), b)
	}
	b.tokens += float64(now.Sub(b.last)) / float64(refill)
	if b.tokens > burst {
		b.tokens = burst
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// reference builds the involvedObject of obj, finding its kind in the
// served scheme when the object does not carry it (informers' objects).
func (r *Recorder) reference(obj runtime.Object) (*corev1.ObjectReference, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	gvk := obj.GetObjectKind().GroupVersionKind()
	if gvk.Kind == "" {
		kinds, _, err := r.scheme.ObjectKinds(obj)
		if err != nil || len(kinds) == 0 {
			return nil, fmt.Errorf("no kind for %T: %v", obj, err)
		}
		gvk = kinds[0]
	}
	return &corev1.ObjectReference{
		Kind: gvk.Kind, APIVersion: gvk.GroupVersion().String(),
		Namespace: m.GetNamespace(), Name: m.GetName(), UID: m.GetUID(), ResourceVersion: m.GetResourceVersion(),
	}, nil
}

// eventNamespace is where an Event about ref lives: its namespace, or
// "default" for cluster-scoped objects, as client-go does.
func eventNamespace(ref *corev1.ObjectReference) string {
	if ref.Namespace == "" {
		return metav1.NamespaceDefault
	}
	return ref.Namespace
}

func aggregationKey(ev *corev1.Event) string {
	return string(ev.InvolvedObject.UID) + "\x00" + ev.Type + "\x00" + ev.Reason + "\x00" + ev.Message
}

// lru is a bounded map that forgets its least recently used entries.
type lru struct {
	max   int
	order *list.List // front: most recent; values are *entry
	items map[string]*list.Element
}

type entry struct {
	key   string
	value any
}

func newLRU(max int) *lru {
	return &lru{max: max, order: list.New(), items: map[string]*list.Element{}}
}

func (l *lru) get(key string) any {
	e, ok := l.items[key]
	if !ok {
		return nil
	}
	l.order.MoveToFront(e)
	return e.Value.(*entry).value
}

func (l *lru) put(key string, value any) {
	if e, ok := l.items[key]; ok {
		e.Value.(*entry).value = value
		l.order.MoveToFront(e)
		return
	}
	l.items[key] = l.order.PushFront(&entry{key: key, value: value})
	for l.order.Len() > l.max {
		last := l.order.Back()
		l.order.Remove(last)
		delete(l.items, last.Value.(*entry).key)
	}
}
