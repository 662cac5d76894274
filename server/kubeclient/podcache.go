package kubeclient

import (
	"reflect"
	"sync"
	"time"
	"weak"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// cachedPod is how the shared pod informer keeps a pod: its metadata, its
// node, and pointers to a spec and a status that pods equal in them share.
// A decoded *corev1.Pod is a 1,240-byte struct (1,280 with the allocator's
// rounding) whatever it holds, and once StripPod has shared what pods
// repeat, that struct was nearly all of a cached pod; a cachedPod is 288
// bytes, and the pods of one template (a Deployment's, a DaemonSet's) share
// one spec and, while their statuses are equal, one status.
//
// Readers never see it: the informer's indexer, its index functions and
// its event handlers hand out *corev1.Pod (podInformer), built on demand
// and remembered through a weak pointer, so that every reader of one
// cached pod gets the same *corev1.Pod while any of them holds it, or
// until the next collection: a controller that lists a namespace of
// 10,000 pods on every sync builds them once per collection cycle, not
// once per list, and the typed pods do not outlive their readers.
//
// The metadata is embedded, so the key functions and the namespace and
// controller indexes read a cachedPod as they read a pod.
type cachedPod struct {
	metav1.ObjectMeta
	typeMeta *metav1.TypeMeta // nil when empty, as in most decoded pods
	nodeName string
	spec     *corev1.PodSpec // nodeName empty: pods of one template on different nodes share it
	status   *corev1.PodStatus

	mu    sync.Mutex
	built weak.Pointer[corev1.Pod]
}

// pod returns the typed pod c stands for. It is read-only, as every
// cached object: it shares its maps and slices with c and other pods.
func (c *cachedPod) pod() *corev1.Pod {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.built.Value(); p != nil {
		return p
	}
	p := &corev1.Pod{ObjectMeta: c.ObjectMeta, Spec: *c.spec, Status: *c.status}
	if c.typeMeta != nil {
		p.TypeMeta = *c.typeMeta
	}
	p.Spec.NodeName = c.nodeName
	c.built = weak.Make(p)
	return p
}

// podTypeMeta stands for every pod's TypeMeta that names a v1 Pod.
var podTypeMeta = &metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}

// podShapes remembers, per controller owner (or, for pods without one, per
// namespace and generateName), the spec and status of the last pod cached,
// so that the next pod with an equal one shares it. Pods of one template
// are created together and bound together, so the last one is the one to
// compare with. Bounded as podStrings is: full, it starts anew.
var podShapes = struct {
	mu   sync.Mutex
	last map[string]podShape
}{}

type podShape struct {
	spec   *corev1.PodSpec
	status *corev1.PodStatus
}

const podShapesMax = 8192

// emptyPodStatus stands for every empty status.
var emptyPodStatus = &corev1.PodStatus{}

// CachePod is the transform of the shared pod informer: StripPod, then the
// pod is kept as a cachedPod. Objects it has already made pass through
// (client-go may hand a transform what its cache already holds).
func CachePod(obj any) (any, error) {
	if _, ok := obj.(*cachedPod); ok {
		return obj, nil
	}
	obj, err := StripPod(obj)
	p, ok := obj.(*corev1.Pod)
	if err != nil || !ok {
		return obj, err
	}
	return newCachedPod(p), nil
}

// newCachedPod returns p as a cachedPod; p is not kept, only what it
// points to.
func newCachedPod(p *corev1.Pod) *cachedPod {
	c := &cachedPod{ObjectMeta: p.ObjectMeta, nodeName: p.Spec.NodeName}
	switch p.TypeMeta {
	case metav1.TypeMeta{}:
	case *podTypeMeta:
		c.typeMeta = podTypeMeta
	default:
		tm := p.TypeMeta
		c.typeMeta = &tm
	}
	spec := p.Spec
	spec.NodeName = ""
	key := ""
	if ref := metav1.GetControllerOf(p); ref != nil {
		key = string(ref.UID)
	} else {
		key = "\x00" + p.Namespace + "\x00" + p.GenerateName
	}
	podShapes.mu.Lock()
	defer podShapes.mu.Unlock()
	last := podShapes.last[key]
	// Slices and maps StripPod shared compare by pointer first, so
	// comparing pods of one template is cheap.
	if last.spec != nil && reflect.DeepEqual(*last.spec, spec) {
		c.spec = last.spec
	} else {
		c.spec = &spec
	}
	switch {
	case reflect.ValueOf(p.Status).IsZero():
		c.status = emptyPodStatus
	case last.status != nil && reflect.DeepEqual(*last.status, p.Status):
		c.status = last.status
	default:
		st := p.Status
		c.status = &st
	}
	if podShapes.last == nil || len(podShapes.last) >= podShapesMax {
		podShapes.last = make(map[string]podShape, 256)
	}
	podShapes.last[key] = podShape{spec: c.spec, status: c.status}
	return c
}

// asPod returns the typed pod obj stands for when it is a cachedPod (or a
// tombstone of one), and obj otherwise.
func asPod(obj any) any {
	switch o := obj.(type) {
	case *cachedPod:
		return o.pod()
	case cache.DeletedFinalStateUnknown:
		o.Obj = asPod(o.Obj)
		return o
	}
	return obj
}

// asPods replaces the cachedPods of objs by their typed pods, in place.
func asPods(objs []any) []any {
	for i, o := range objs {
		if c, ok := o.(*cachedPod); ok {
			objs[i] = c.pod()
		}
	}
	return objs
}

// PodsWhere returns the pods that the pod informer inf's index holds
// under value and that keep accepts, reading each pod's metadata as
// cached: only the pods keep accepts are built. A controller that needs
// a few pods of a large namespace (a ReplicaSet's, a Service's) otherwise
// builds every pod of it on each sync: at 10,000 pods in one namespace,
// ~12 MiB of garbage per sync of any ReplicaSet or Service there.
func PodsWhere(inf cache.SharedIndexInformer, index, value string, keep func(metav1.Object) bool) []*corev1.Pod {
	idx := inf.GetIndexer()
	if pi, ok := idx.(podIndexer); ok {
		idx = pi.Indexer // hands out cachedPods, unbuilt
	}
	objs, _ := idx.ByIndex(index, value)
	var out []*corev1.Pod
	for _, o := range objs {
		if m, ok := o.(metav1.Object); !ok || !keep(m) {
			continue
		}
		if p, ok := asPod(o).(*corev1.Pod); ok {
			out = append(out, p)
		}
	}
	return out
}

// podInformer is the shared pod informer as its readers see it: its
// cache holds cachedPods, and everything it hands out is a *corev1.Pod.
type podInformer struct {
	cache.SharedIndexInformer
	indexer podIndexer
}

func newPodInformer(inf cache.SharedIndexInformer) *podInformer {
	return &podInformer{SharedIndexInformer: inf, indexer: podIndexer{inf.GetIndexer()}}
}

func (i *podInformer) GetStore() cache.Store     { return i.indexer }
func (i *podInformer) GetIndexer() cache.Indexer { return i.indexer }

func (i *podInformer) AddIndexers(indexers cache.Indexers) error {
	return i.SharedIndexInformer.AddIndexers(podIndexers(indexers))
}

func (i *podInformer) AddEventHandler(h cache.ResourceEventHandler) (cache.ResourceEventHandlerRegistration, error) {
	return i.SharedIndexInformer.AddEventHandler(podHandler{h})
}

func (i *podInformer) AddEventHandlerWithResyncPeriod(h cache.ResourceEventHandler, resync time.Duration) (cache.ResourceEventHandlerRegistration, error) {
	return i.SharedIndexInformer.AddEventHandlerWithResyncPeriod(podHandler{h}, resync)
}

func (i *podInformer) AddEventHandlerWithOptions(h cache.ResourceEventHandler, options cache.HandlerOptions) (cache.ResourceEventHandlerRegistration, error) {
	return i.SharedIndexInformer.AddEventHandlerWithOptions(podHandler{h}, options)
}

// podHandler hands its handler typed pods.
type podHandler struct{ h cache.ResourceEventHandler }

func (h podHandler) OnAdd(obj any, initial bool) { h.h.OnAdd(asPod(obj), initial) }
func (h podHandler) OnUpdate(old, obj any)       { h.h.OnUpdate(asPod(old), asPod(obj)) }
func (h podHandler) OnDelete(obj any)            { h.h.OnDelete(asPod(obj)) }

// podIndexers returns indexers whose functions see typed pods. The
// namespace, controller and node-name indexes read a cachedPod directly
// (an index name means one function, see the Index constants), so that
// indexing a pod does not build it.
func podIndexers(indexers cache.Indexers) cache.Indexers {
	out := make(cache.Indexers, len(indexers))
	for name, fn := range indexers {
		switch name {
		case cache.NamespaceIndex, IndexController, IndexNodeName:
			out[name] = fn
		default:
			out[name] = func(obj any) ([]string, error) { return fn(asPod(obj)) }
		}
	}
	return out
}

// podIndexer is the pod informer's indexer as its readers see it. The
// lists the indexer returns are its own copies, so they are rewritten in
// place. Objects added (by tests, say) are kept as the informer keeps
// them.
type podIndexer struct{ cache.Indexer }

func (i podIndexer) Get(obj any) (any, bool, error) {
	item, ok, err := i.Indexer.Get(obj)
	return asPod(item), ok, err
}

func (i podIndexer) GetByKey(key string) (any, bool, error) {
	item, ok, err := i.Indexer.GetByKey(key)
	return asPod(item), ok, err
}

func (i podIndexer) List() []any { return asPods(i.Indexer.List()) }

func (i podIndexer) ByIndex(name, value string) ([]any, error) {
	objs, err := i.Indexer.ByIndex(name, value)
	return asPods(objs), err
}

func (i podIndexer) Index(name string, obj any) ([]any, error) {
	objs, err := i.Indexer.Index(name, obj)
	return asPods(objs), err
}

func (i podIndexer) Add(obj any) error    { return i.Indexer.Add(asCached(obj)) }
func (i podIndexer) Update(obj any) error { return i.Indexer.Update(asCached(obj)) }

func (i podIndexer) Replace(objs []any, rv string) error {
	cached := make([]any, len(objs))
	for n, obj := range objs {
		cached[n] = asCached(obj)
	}
	return i.Indexer.Replace(cached, rv)
}

// asCached returns a typed pod as a cachedPod, unstripped (the caller's
// pod is left as it is), and anything else as it is.
func asCached(obj any) any {
	if p, ok := obj.(*corev1.Pod); ok {
		return newCachedPod(p)
	}
	return obj
}

func (i podIndexer) AddIndexers(indexers cache.Indexers) error {
	return i.Indexer.AddIndexers(podIndexers(indexers))
}
