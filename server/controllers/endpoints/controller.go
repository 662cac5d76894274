package endpoints

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/skiff-io/skiff/server/kubeclient"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// FieldManager is the manager name of this controller's writes; an
// Endpoints object it last wrote is deleted with its Service.
const FieldManager = "endpoint-controller"

const workers = 2

// Options tune a Controller; the zero value is the default.
type Options struct {
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Informers are shared with the other controllers (its own when nil).
	Informers *kubeclient.Informers
}

// Controller keeps the Endpoints of Services with selectors.
type Controller struct {
	client    kubeclient.Interface
	now       func() time.Time
	informers *kubeclient.Informers
	services  cache.SharedIndexInformer
	pods      cache.SharedIndexInformer
	endpoints cache.SharedIndexInformer
	queue     workqueue.TypedRateLimitingInterface[string]
}

// New builds the controller.
func New(client kubeclient.Interface, opts Options) *Controller {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	inf := kubeclient.OrNew(opts.Informers, client)
	c := &Controller{
		client:    client,
		now:       opts.Now,
		informers: inf,
		services:  inf.Services(),
		pods:      inf.Pods(),
		endpoints: inf.Endpoints(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "endpoints"}),
	}
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			c.queue.Add(key)
		}
	}
	_, _ = c.services.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, obj any) { enqueue(obj) }, DeleteFunc: enqueue,
	})
	_, _ = c.endpoints.AddEventHandler(cache.ResourceEventHandlerFuncs{
		// Someone else changed or removed an Endpoints: put it right.
		UpdateFunc: func(_, obj any) { enqueue(obj) }, DeleteFunc: enqueue,
	})
	_, _ = c.pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.podChanged(nil, obj) },
		UpdateFunc: c.podChanged,
		DeleteFunc: func(obj any) { c.podChanged(nil, obj) },
	})
	return c
}

func asPod(obj any) *corev1.Pod {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	p, _ := obj.(*corev1.Pod)
	return p
}

// podChanged queues the Services that select the pod, before or after.
func (c *Controller) podChanged(old, obj any) {
	for _, p := range []*corev1.Pod{asPod(old), asPod(obj)} {
		if p == nil {
			continue
		}
		for _, svc := range servicesFor(c.services.GetIndexer(), p) {
			c.queue.Add(svc.Namespace + "/" + svc.Name)
		}
	}
}

// servicesFor lists the Services of indexer whose selector matches pod.
func servicesFor(indexer cache.Indexer, pod *corev1.Pod) []*corev1.Service {
	objs, _ := indexer.ByIndex(cache.NamespaceIndex, pod.Namespace)
	var out []*corev1.Service
	for _, o := range objs {
		svc := o.(*corev1.Service)
		if len(svc.Spec.Selector) == 0 {
			continue
		}
		if labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(pod.Labels)) {
			out = append(out, svc)
		}
	}
	return out
}

// Run keeps Endpoints until ctx ends and returns after its informers and
// workers have stopped.
func (c *Controller) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	defer c.queue.ShutDown()
	if !c.informers.Start(ctx, &wg, c.services, c.pods, c.endpoints) {
		return nil
	}
	// Endpoints whose Service went away while no controller ran.
	for _, key := range c.endpoints.GetIndexer().ListKeys() {
		c.queue.Add(key)
	}
	kubeclient.RunWorkers(ctx, &wg, workers, c.processNext)
	return nil
}

func (c *Controller) processNext(ctx context.Context) bool {
	return kubeclient.ProcessNext(ctx, c.queue, func(ctx context.Context, key string) (time.Duration, error) { return 0, c.Sync(ctx, key) }, "syncing Endpoints", "service")
}

// Sync brings the Endpoints of the Service namespace/name in line with its
// pods.
func (c *Controller) Sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	obj, exists, err := c.services.GetIndexer().GetByKey(key)
	if err != nil {
		return err
	}
	curObj, epExists, err := c.endpoints.GetIndexer().GetByKey(key)
	if err != nil {
		return err
	}
	var cur *corev1.Endpoints
	if epExists {
		cur = curObj.(*corev1.Endpoints)
	}
	if !exists {
		if cur == nil || !writtenBy(cur, FieldManager) {
			return nil
		}
		err := c.client.Endpoints(ns).Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &cur.UID}})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil
		}
		return err
	}
	svc := obj.(*corev1.Service)
	if len(svc.Spec.Selector) == 0 {
		return nil // user-managed Endpoints
	}
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	pods := kubeclient.PodsWhere(c.pods, cache.NamespaceIndex, ns, func(m metav1.Object) bool {
		return sel.Matches(labels.Set(m.GetLabels()))
	})
	want := Desired(svc, pods)
	wantLabels := Labels(svc)
	if cur != nil && upToDate(cur, want, wantLabels) {
		return nil
	}
	var ep *corev1.Endpoints
	if cur == nil {
		ep = &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	} else {
		ep = cur.DeepCopy()
	}
	ep.Labels = wantLabels
	if ep.Annotations == nil {
		ep.Annotations = map[string]string{}
	}
	ep.Annotations[TriggerTimeAnnotation] = c.now().UTC().Format(time.RFC3339Nano)
	if want.OverCapacity {
		ep.Annotations[OverCapacityAnnotation] = "truncated"
	} else {
		delete(ep.Annotations, OverCapacityAnnotation)
	}
	ep.Subsets = want.Subsets
	if cur == nil {
		_, err = c.client.Endpoints(ns).Create(ctx, ep, metav1.CreateOptions{FieldManager: FieldManager})
		if apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("endpoints %s appeared meanwhile: %w", key, err)
		}
	} else {
		_, err = c.client.Endpoints(ns).Update(ctx, ep, metav1.UpdateOptions{FieldManager: FieldManager})
	}
	if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
		return nil
	}
	return err
}

// upToDate reports whether cur already holds want.
func upToDate(cur *corev1.Endpoints, want Result, wantLabels map[string]string) bool {
	_, over := cur.Annotations[OverCapacityAnnotation]
	if over != want.OverCapacity {
		return false
	}
	return equality.Semantic.DeepEqual(cur.Labels, wantLabels) && equality.Semantic.DeepEqual(cur.Subsets, want.Subsets)
}

// writtenBy reports whether manager wrote obj's content.
func writtenBy(obj metav1.Object, manager string) bool {
	for _, m := range obj.GetManagedFields() {
		if m.Manager == manager {
			return true
		}
	}
	return false
}
