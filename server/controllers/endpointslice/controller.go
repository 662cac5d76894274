package endpointslice

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/skiff-io/skiff/server/kubeclient"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
)

const workers = 2

// Controller keeps one manager's EndpointSlices: New's from pods,
// NewMirroring's from hand-written Endpoints.
type Controller struct {
	client    kubeclient.Interface
	managedBy string
	informers *kubeclient.Informers
	services  cache.SharedIndexInformer
	slices    cache.SharedIndexInformer
	// pods and nodes (New) or endpoints (NewMirroring) feed the desired
	// state.
	pods, nodes, endpoints cache.SharedIndexInformer
	queue                  workqueue.TypedRateLimitingInterface[string]
}

// byManagedService indexes slices by "<manager>|<namespace>/<service>":
// the slice informer is shared by both managers (and with anyone else
// reading slices), and each reads only its own slices.
const byManagedService = "managed-by/service"

func managedServiceKey(manager, serviceKey string) string { return manager + "|" + serviceKey }

func managedServiceIndex(obj any) ([]string, error) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return nil, nil
	}
	if n := s.Labels[discoveryv1.LabelServiceName]; n != "" {
		return []string{managedServiceKey(s.Labels[discoveryv1.LabelManagedBy], s.Namespace+"/"+n)}, nil
	}
	return nil, nil
}

func newController(client kubeclient.Interface, managedBy string, informers *kubeclient.Informers) *Controller {
	inf := kubeclient.OrNew(informers, client)
	c := &Controller{
		client:    client,
		managedBy: managedBy,
		informers: inf,
		services:  inf.Services(),
		slices:    inf.EndpointSlices(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: managedBy}),
	}
	kubeclient.AddIndexers(c.slices, cache.Indexers{byManagedService: managedServiceIndex})
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			c.queue.Add(key)
		}
	}
	_, _ = c.services.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, obj any) { enqueue(obj) }, DeleteFunc: enqueue,
	})
	sliceChanged := func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		if s, ok := obj.(*discoveryv1.EndpointSlice); ok && s.Labels[discoveryv1.LabelServiceName] != "" &&
			s.Labels[discoveryv1.LabelManagedBy] == c.managedBy {
			c.queue.Add(s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName])
		}
	}
	_, _ = c.slices.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: sliceChanged, UpdateFunc: func(_, obj any) { sliceChanged(obj) }, DeleteFunc: sliceChanged,
	})
	return c
}

// New returns the EndpointSlice controller: slices from the pods of
// Services with a selector. informers are shared with the other
// controllers (its own when nil).
func New(client kubeclient.Interface, informers *kubeclient.Informers) *Controller {
	c := newController(client, ControllerName, informers)
	c.pods, c.nodes = c.informers.Pods(), c.informers.Nodes()
	podChanged := func(objs ...any) {
		for _, obj := range objs {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			p, ok := obj.(*corev1.Pod)
			if !ok {
				continue
			}
			svcs, _ := c.services.GetIndexer().ByIndex(cache.NamespaceIndex, p.Namespace)
			for _, o := range svcs {
				svc := o.(*corev1.Service)
				if len(svc.Spec.Selector) > 0 && labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(p.Labels)) {
					c.queue.Add(svc.Namespace + "/" + svc.Name)
				}
			}
		}
	}
	_, _ = c.pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { podChanged(obj) }, UpdateFunc: func(old, obj any) { podChanged(old, obj) },
		DeleteFunc: func(obj any) { podChanged(obj) },
	})
	_, _ = c.nodes.AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(old, obj any) {
			if old.(*corev1.Node).Labels[corev1.LabelTopologyZone] != obj.(*corev1.Node).Labels[corev1.LabelTopologyZone] {
				for _, key := range c.services.GetIndexer().ListKeys() {
					c.queue.Add(key)
				}
			}
		},
	})
	return c
}

// NewMirroring returns the mirroring controller: slices from the
// Endpoints of Services without a selector.
func NewMirroring(client kubeclient.Interface, informers *kubeclient.Informers) *Controller {
	c := newController(client, MirroringName, informers)
	c.endpoints = c.informers.Endpoints()
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			c.queue.Add(key)
		}
	}
	_, _ = c.endpoints.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, obj any) { enqueue(obj) }, DeleteFunc: enqueue,
	})
	return c
}

// Run keeps slices until ctx ends and returns after its informers and
// workers have stopped.
func (c *Controller) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	defer c.queue.ShutDown()
	infs := []cache.SharedIndexInformer{c.services, c.slices}
	for _, inf := range []cache.SharedIndexInformer{c.pods, c.nodes, c.endpoints} {
		if inf != nil {
			infs = append(infs, inf)
		}
	}
	if !c.informers.Start(ctx, &wg, infs...) {
		return nil
	}
	kubeclient.RunWorkers(ctx, &wg, workers, c.processNext)
	return nil
}

func (c *Controller) processNext(ctx context.Context) bool {
	key, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(key)
	if err := c.Sync(ctx, key); err != nil {
		if ctx.Err() == nil {
			klog.ErrorS(err, "syncing EndpointSlices", "manager", c.managedBy, "service", key)
		}
		c.queue.AddRateLimited(key)
		return true
	}
	c.queue.Forget(key)
	return true
}

// Sync brings the slices of the Service namespace/name in line.
func (c *Controller) Sync(ctx context.Context, key string) error {
	ns, _, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	var existing []*discoveryv1.EndpointSlice
	objs, _ := c.slices.GetIndexer().ByIndex(byManagedService, managedServiceKey(c.managedBy, key))
	for _, o := range objs {
		existing = append(existing, o.(*discoveryv1.EndpointSlice))
	}
	obj, exists, err := c.services.GetIndexer().GetByKey(key)
	if err != nil {
		return err
	}
	var svc *corev1.Service
	if exists {
		svc = obj.(*corev1.Service)
	}
	owner, desired, ok := c.desired(key, svc)
	if !ok {
		return c.deleteAll(ctx, existing)
	}
	ch := Plan(owner, existing, desired)
	var errs []error
	slices := c.client.EndpointSlices(ns)
	for _, s := range ch.Create {
		created, err := slices.Create(ctx, s, metav1.CreateOptions{FieldManager: c.managedBy})
		if err != nil {
			if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				return nil
			}
			errs = append(errs, fmt.Errorf("creating a slice of %s: %w", key, err))
			continue
		}
		c.remember(created)
	}
	for _, s := range ch.Update {
		updated, err := slices.Update(ctx, s, metav1.UpdateOptions{FieldManager: c.managedBy})
		if err != nil {
			errs = append(errs, fmt.Errorf("updating slice %s/%s: %w", ns, s.Name, err))
			continue
		}
		c.remember(updated)
	}
	if err := c.deleteAll(ctx, ch.Delete); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// desired says what slices the Service should have; ok is false when it
// should have none of this manager's.
func (c *Controller) desired(key string, svc *corev1.Service) (Owner, []Group, bool) {
	if svc == nil {
		return Owner{}, nil, false
	}
	owner := Owner{Service: svc, ManagedBy: c.managedBy}
	if c.managedBy == ControllerName {
		if len(svc.Spec.Selector) == 0 {
			return Owner{}, nil, false
		}
		owner.Labels = ServiceLabels(svc)
		sel := labels.SelectorFromSet(svc.Spec.Selector)
		pods := kubeclient.PodsWhere(c.pods, cache.NamespaceIndex, svc.Namespace, func(m metav1.Object) bool {
			return sel.Matches(labels.Set(m.GetLabels()))
		})
		zoneOf := func(node string) string {
			if o, ok, _ := c.nodes.GetIndexer().GetByKey(node); ok {
				return o.(*corev1.Node).Labels[corev1.LabelTopologyZone]
			}
			return ""
		}
		return owner, FromPods(svc, pods, zoneOf), true
	}
	if len(svc.Spec.Selector) > 0 {
		return Owner{}, nil, false
	}
	o, ok, _ := c.endpoints.GetIndexer().GetByKey(key)
	if !ok {
		return Owner{}, nil, false
	}
	ep := o.(*corev1.Endpoints)
	if ep.Labels[SkipMirrorLabel] == "true" {
		return Owner{}, nil, false
	}
	owner.Labels = map[string]string{}
	for k, v := range ep.Labels {
		owner.Labels[k] = v
	}
	return owner, FromEndpoints(ep), true
}

// remember puts a slice just written into the informer's cache, so that
// a sync running before the watch delivers it does not write it again;
// the watch event that follows replaces it with the same object.
func (c *Controller) remember(s *discoveryv1.EndpointSlice) {
	s.ManagedFields = nil
	_ = c.slices.GetIndexer().Update(s)
}

func (c *Controller) deleteAll(ctx context.Context, slices []*discoveryv1.EndpointSlice) error {
	var errs []error
	for _, s := range slices {
		uid := s.UID
		err := c.client.EndpointSlices(s.Namespace).Delete(ctx, s.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if err == nil || apierrors.IsNotFound(err) {
			_ = c.slices.GetIndexer().Delete(s)
		}
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			errs = append(errs, fmt.Errorf("deleting slice %s/%s: %w", s.Namespace, s.Name, err))
		}
	}
	return errors.Join(errs...)
}
