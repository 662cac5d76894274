package garbagecollector

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/skiff-io/skiff/server/kubeclient"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
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
// every watched object up to date from metadata-only watches and deletes
// or orphans dependents as their owners' deletion asks.
type Collector struct {
	meta metadata.Interface
	// preferredResources is the server's discovery
	// (kubeclient.Interface.PreferredResources).
	preferredResources func(context.Context) ([]*metav1.APIResourceList, error)
	workers            int
	queue              workqueue.TypedRateLimitingInterface[types.UID]
	// graph is set by Run once the watched resources are known.
	graph *graph
}

// New returns a collector that uses cfg (the server's loopback config) and
// discovers the served resources with preferredResources.
func New(cfg *rest.Config, preferredResources func(context.Context) ([]*metav1.APIResourceList, error), opts Options) (*Collector, error) {
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
		meta: mc, preferredResources: preferredResources, workers: opts.Workers,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[types.UID](),
			workqueue.TypedRateLimitingQueueConfig[types.UID]{Name: "garbagecollector"}),
	}, nil
}

// Run discovers the served resources, watches them, and collects garbage
// until ctx ends. It returns after every goroutine it started has ended.
func (c *Collector) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	defer c.queue.ShutDown()

	resources, err := c.discover(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	c.graph = newGraph(resources)
	synced := make([]cache.InformerSynced, 0, len(resources))
	for _, res := range resources {
		inf := kubeclient.NewMetadataInformer(c.meta.Resource(res.gvr).Namespace(metav1.NamespaceAll), nil, nil)
		if err := inf.SetTransform(trim); err != nil {
			return err
		}
		if _, err := inf.AddEventHandler(handler{c: c, res: res}); err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			inf.RunWithContext(ctx)
		}()
		synced = append(synced, inf.HasSynced)
	}
	// Deciding before every resource is listed could take an owner that
	// exists for one that is gone.
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return nil
	}
	observed, virtual := c.graph.size()
	klog.InfoS("garbage collector synced", "resources", len(resources), "objects", observed, "unseenOwners", virtual)
	for i := 0; i < c.workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c.processNext(ctx) {
			}
		}()
	}
	<-ctx.Done()
	return nil
}

// discover lists the served resources the collector can watch and delete,
// retrying until the API answers.
func (c *Collector) discover(ctx context.Context) ([]*resource, error) {
	var out []*resource
	err := wait.PollUntilContextCancel(ctx, 500*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		lists, err := c.preferredResources(ctx)
		if err != nil {
			klog.V(2).InfoS("garbage collector: discovery failed, retrying", "err", err)
			return false, nil
		}
		out = deletableResources(lists)
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("garbage collector: discovery: %w", err)
	}
	return out, nil
}

// deletableResources keeps the resources that support get, list, watch and
// delete, without subresources and ignored resources.
func deletableResources(lists []*metav1.APIResourceList) []*resource {
	lists = kubeclient.FilterResources(lists, func(gv schema.GroupVersion, r *metav1.APIResource) bool {
		return kubeclient.HasVerbs(r, "delete", "get", "list", "watch") &&
			!ignoredResources[gv.WithResource(r.Name).GroupResource()]
	})
	var out []*resource
	for _, l := range lists {
		gv, _ := schema.ParseGroupVersion(l.GroupVersion) // FilterResources keeps only valid ones
		for _, r := range l.APIResources {
			out = append(out, &resource{gvr: gv.WithResource(r.Name), kind: r.Kind, namespaced: r.Namespaced})
		}
	}
	return out
}

// trim keeps only the metadata the graph uses, so that the informers'
// caches hold a few hundred bytes per object.
func trim(obj interface{}) (interface{}, error) {
	m, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return obj, nil
	}
	return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
		Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion,
		OwnerReferences: m.OwnerReferences, Finalizers: m.Finalizers, DeletionTimestamp: m.DeletionTimestamp,
	}}, nil
}

// handler feeds one resource's watch events into the graph.
type handler struct {
	c   *Collector
	res *resource
}

func (h handler) OnAdd(obj interface{}, _ bool) {
	if m, ok := obj.(*metav1.PartialObjectMetadata); ok {
		h.c.enqueue(h.c.graph.observe(h.res, m))
	}
}

func (h handler) OnUpdate(_, obj interface{}) { h.OnAdd(obj, false) }

func (h handler) OnDelete(obj interface{}) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	if m, ok := obj.(*metav1.PartialObjectMetadata); ok {
		h.c.enqueue(h.c.graph.forget(m))
	}
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
