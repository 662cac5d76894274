package garbagecollector

import (
	"context"
	"errors"
	"fmt"
	"github.com/skiff-io/skiff/server/kubeclient"
	"github.com/skiff-io/skiff/server/metafeed"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
)

// Options tune the collector; the zero value is the default.
type Options struct {
	// Workers is how many objects are decided and acted on at once
	// (default 10).
	Workers int
	// QPS and Burst limit the collector's own API requests (default 1000
	// and 2000: the requests go to this server over loopback, and
	// collecting a large tree is bounded by the datastore, not by them).
	QPS   float32
	Burst int
}

// ignoredResources are never watched, as in kube's default
// garbage-collector configuration: events are many, short-lived and
// never owners.
var ignoredResources = map[schema.GroupResource]bool{
	{Group: "", Resource: "events"}:              true,
	{Group: "events.k8s.io", Resource: "events"}: true,
}

// Collector is the garbage collector: it keeps the ownership graph of
// every object up to date from a metadata feed (one datastore list and
// watch for all resources, see server/metafeed) and deletes or orphans
// dependents as their owners' deletion asks, through the API.
type Collector struct {
	meta    metadata.Interface
	source  metafeed.Source
	workers int
	queue   workqueue.TypedRateLimitingInterface[types.UID]
	// graph is set by Run once the watched resources are known.
	graph *graph
}

// New returns a collector that acts through cfg (the server's loopback
// config) and learns about objects from source.
func New(cfg *rest.Config, source metafeed.Source, opts Options) (*Collector, error) {
	if opts.Workers <= 0 {
		opts.Workers = 10
	}
	if opts.QPS == 0 {
		opts.QPS, opts.Burst = 1000, 2000
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = opts.QPS, opts.Burst
	cfg.UserAgent = "skiff-garbage-collector"
	mc, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("garbage collector: %w", err)
	}
	return &Collector{
		meta: mc, source: source, workers: opts.Workers,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[types.UID](),
			workqueue.TypedRateLimitingQueueConfig[types.UID]{Name: "garbagecollector"}),
	}, nil
}

// Run follows the feed and collects garbage until ctx ends. It returns
// after every goroutine it started has ended.
func (c *Collector) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	defer c.queue.ShutDown()

	resources := collectable(c.source.Resources())
	c.graph = newGraph(resources)
	h := &feedHandler{c: c, byGVR: map[schema.GroupVersionResource]*resource{}, synced: make(chan struct{})}
	for _, r := range resources {
		h.byGVR[r.gvr] = r
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := c.source.Run(ctx, h); err != nil {
			klog.ErrorS(err, "garbage collector: metadata feed stopped")
		}
	}()
	// Deciding before every object is known could take an owner that
	// exists for one that is gone.
	select {
	case <-h.synced:
	case <-ctx.Done():
		return nil
	}
	observed, virtual := c.graph.size()
	klog.InfoS("garbage collector synced", "resources", len(resources), "objects", observed, "unseenOwners", virtual)
	kubeclient.RunWorkers(ctx, &wg, c.workers, c.processNext)
	return nil
}

// collectable keeps the resources the collector works on: all the feed
// reports except the ignored ones.
func collectable(rs []metafeed.Resource) []*resource {
	var out []*resource
	for _, r := range rs {
		if ignoredResources[r.GVR.GroupResource()] {
			continue
		}
		out = append(out, &resource{gvr: r.GVR, kind: r.Kind, namespaced: r.Namespaced})
	}
	return out
}

// feedHandler feeds the metadata feed into the graph.
type feedHandler struct {
	c      *Collector
	byGVR  map[schema.GroupVersionResource]*resource
	synced chan struct{}
	once   sync.Once
}

func (h *feedHandler) Upsert(o metafeed.Object) {
	if r := h.byGVR[o.Resource]; r != nil {
		h.c.enqueue(h.c.graph.observe(r, o.Meta))
	}
}

func (h *feedHandler) Delete(o metafeed.Object) {
	if h.byGVR[o.Resource] != nil {
		h.c.enqueue(h.c.graph.forget(o.Meta))
	}
}

// Replace forgets what the listing no longer holds, then observes it all.
func (h *feedHandler) Replace(objs []metafeed.Object) {
	present := make(map[types.UID]bool, len(objs))
	for _, o := range objs {
		if h.byGVR[o.Resource] != nil {
			present[o.Meta.UID] = true
		}
	}
	for _, gone := range h.c.graph.observedExcept(present) {
		h.c.enqueue(h.c.graph.forget(gone))
	}
	for _, o := range objs {
		h.Upsert(o)
	}
	h.once.Do(func() { close(h.synced) })
}

func (c *Collector) enqueue(uids []types.UID) {
	for _, uid := range uids {
		c.queue.Add(uid)
	}
}

func (c *Collector) processNext(ctx context.Context) bool {
	uid, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(uid)
	if err := c.sync(ctx, uid); err != nil {
		if ctx.Err() != nil {
			return false
		}
		if apierrors.IsConflict(err) || errors.Is(err, errOwnersUnknown) {
			// Expected while the graph catches up with a write.
			klog.V(2).InfoS("garbage collector: will retry", "uid", uid, "err", err)
		} else {
			klog.ErrorS(err, "garbage collector: will retry", "uid", uid)
		}
		c.queue.AddRateLimited(uid)
		return true
	}
	c.queue.Forget(uid)
	return true
}

// errOwnersUnknown: owners were looked up but are still not known (the
// graph changed underneath); the item is tried again later.
var errOwnersUnknown = errors.New("owners still unknown after lookup")

// sync decides about one object from the graph and carries the plan out.
func (c *Collector) sync(ctx context.Context, uid types.UID) error {
	for attempt := 0; ; attempt++ {
		snap, ok := c.graph.item(uid)
		if !ok {
			return nil
		}
		plan := Decide(snap.item)
		if len(plan.Lookup) == 0 {
			return c.execute(ctx, snap, plan)
		}
		if attempt > 0 {
			return errOwnersUnknown
		}
		for _, ref := range plan.Lookup {
			if err := c.lookup(ctx, ref, snap.obj.Namespace); err != nil {
				return err
			}
		}
	}
}
