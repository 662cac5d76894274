package daemonset

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/skiff-io/skiff/server/controllers/events"
	"github.com/skiff-io/skiff/server/controllers/history"
	"github.com/skiff-io/skiff/server/kubeclient"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/client-go/util/workqueue"
)

// Component names the controller in its Events.
const Component = "daemonset-controller"

const (
	workers = 2
	// Queue back-off after a failed sync.
	retryBase = 100 * time.Millisecond
	retryMax  = 30 * time.Second
	// Back-off before replacing a failed daemon pod on the same node.
	failedBase = time.Second
	failedMax  = 15 * time.Minute
	// expectationTTL: writes not seen by the informer after this long are
	// assumed lost, and the DaemonSet is synced again.
	expectationTTL = time.Minute
	// adoptRecheck is when a set that adopted orphans is looked at again.
	adoptRecheck = 200 * time.Millisecond
)

var kind = appsv1.SchemeGroupVersion.WithKind("DaemonSet")

// Options tune a Controller; the zero value is the default.
type Options struct {
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Informers are shared with the other controllers (its own when nil).
	Informers *kubeclient.Informers
}

// Controller reconciles DaemonSets.
type Controller struct {
	client kubeclient.Interface
	now    func() time.Time
	events *events.Recorder
	// informers are shared with the other controllers.
	informers *kubeclient.Informers

	dsInformer, podInformer, nodeInformer, revInformer cache.SharedIndexInformer
	queue                                              workqueue.TypedRateLimitingInterface[string]
	failed                                             *flowcontrol.Backoff
	expect                                             *expectations
}

// New builds the controller.
func New(client kubeclient.Interface, opts Options) *Controller {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &Controller{
		client: client,
		now:    opts.Now,
		events: events.New(client, Component, events.Options{Now: opts.Now}),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](retryBase, retryMax),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "daemonset"}),
		failed: flowcontrol.NewBackOff(failedBase, failedMax),
		expect: newExpectations(opts.Now),
	}
	inf := kubeclient.OrNew(opts.Informers, client)
	c.informers = inf
	c.dsInformer, c.podInformer, c.nodeInformer, c.revInformer = inf.DaemonSets(), inf.Pods(), inf.Nodes(), inf.ControllerRevisions()
	byController := cache.Indexers{kubeclient.IndexController: kubeclient.ControllerIndexFunc}
	kubeclient.AddIndexers(c.podInformer, byController)
	kubeclient.AddIndexers(c.revInformer, byController)

	_, _ = c.dsInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if ds, ok := obj.(*appsv1.DaemonSet); ok {
				c.expect.forget(keyOf(ds))
			}
		},
	})
	_, _ = c.podInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if key, ok := ownerKey(obj); ok {
				c.expect.created(key)
				c.queue.Add(key)
			}
		},
		UpdateFunc: func(old, obj any) {
			if key, ok := ownerKey(obj); ok {
				if pod := obj.(*corev1.Pod); pod.DeletionTimestamp != nil {
					c.expect.deleted(key, pod.UID) // graceful deletion began
				}
				c.queue.Add(key)
			}
			if key, ok := ownerKey(old); ok {
				c.queue.Add(key)
			}
		},
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if key, ok := ownerKey(obj); ok {
				c.expect.deleted(key, obj.(*corev1.Pod).UID)
				c.queue.Add(key)
			}
		},
	})
	nodeChanged := func(old, obj any) {
		if old != nil && !nodeFitChanged(old.(*corev1.Node), obj.(*corev1.Node)) {
			return
		}
		c.enqueueAll()
	}
	_, _ = c.nodeInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { nodeChanged(nil, obj) },
		UpdateFunc: nodeChanged,
		DeleteFunc: func(any) { c.enqueueAll() },
	})
	_, _ = c.revInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: func(obj any) {
			if key, ok := ownerKey(obj); ok {
				c.queue.Add(key)
			}
		},
	})
	return c
}

// ownerKey is the key of the DaemonSet controlling obj.
func ownerKey(obj any) (string, bool) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return "", false
	}
	ref := metav1.GetControllerOf(m)
	if ref == nil || ref.Kind != kind.Kind || ref.APIVersion != kind.GroupVersion().String() {
		return "", false
	}
	return m.GetNamespace() + "/" + ref.Name, true
}

// nodeFitChanged: only labels, taints, name-related fields and readiness
// bear on where daemon pods go.
func nodeFitChanged(old, cur *corev1.Node) bool {
	return !equality.Semantic.DeepEqual(old.Labels, cur.Labels) ||
		!equality.Semantic.DeepEqual(old.Spec.Taints, cur.Spec.Taints) ||
		old.Spec.Unschedulable != cur.Spec.Unschedulable
}

func keyOf(ds *appsv1.DaemonSet) string { return ds.Namespace + "/" + ds.Name }

func (c *Controller) enqueue(obj any) {
	if ds, ok := obj.(*appsv1.DaemonSet); ok {
		c.queue.Add(keyOf(ds))
	}
}

func (c *Controller) enqueueAll() {
	for _, obj := range c.dsInformer.GetStore().List() {
		c.enqueue(obj)
	}
}

// Run reconciles until ctx ends and returns after its informers, workers
// and event writer have stopped.
func (c *Controller) Run(ctx context.Context) error {
	return c.informers.RunController(ctx, c.queue, c.events, workers, c.processNext, c.dsInformer, c.podInformer, c.nodeInformer, c.revInformer)
}

func (c *Controller) processNext(ctx context.Context) bool {
	return kubeclient.ProcessNext(ctx, c.queue, c.Sync, "syncing DaemonSet", "daemonset")
}

// Sync reconciles the DaemonSet with key namespace/name once, and says
// when it wants to see it again regardless of events.
func (c *Controller) Sync(ctx context.Context, key string) (time.Duration, error) {
	ns, _, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	obj, exists, err := c.dsInformer.GetStore().GetByKey(key)
	if err != nil || !exists {
		return 0, err
	}
	ds := obj.(*appsv1.DaemonSet).DeepCopy()
	if ds.DeletionTimestamp != nil {
		return 0, nil // the garbage collector removes its pods
	}
	if !c.expect.satisfied(key) {
		// Writes of the last pass are not in the cache yet; their events
		// requeue the DaemonSet (or the TTL lets it through).
		return expectationTTL, nil
	}

	if adopted, err := history.AdoptFromCaches(ctx, c.client, c.podInformer.GetIndexer(), c.revInformer.GetIndexer(), ds, kind, ds.Spec.Selector, func(*corev1.Pod) bool { return true }); err != nil || adopted {
		// Look again once the cache shows the adopted objects.
		return adoptRecheck, err
	}
	revs := c.revisions(ds)
	collisions := int32(0)
	if ds.Status.CollisionCount != nil {
		collisions = *ds.Status.CollisionCount
	}
	data, err := history.TemplateData(&ds.Spec.Template)
	if err != nil {
		return 0, err
	}
	want := history.New(ds, kind, ds.Spec.Template.Labels, data, history.Next(revs), &collisions)
	cur, err := history.Ensure(ctx, c.client.ControllerRevisions(ns), revs, want, &collisions)
	if err != nil {
		return 0, err
	}
	hash := cur.Labels[history.HashLabel]

	pods := c.pods(ds)
	var nodes []*corev1.Node
	for _, o := range c.nodeInformer.GetStore().List() {
		nodes = append(nodes, o.(*corev1.Node))
	}
	backingOff := map[string]bool{}
	now := c.now()
	c.failed.GC() // forget back-offs long expired
	for _, n := range nodes {
		if c.failed.IsInBackOffSinceUpdate(backoffKey(ds, n.Name), now) {
			backingOff[n.Name] = true
		}
	}
	plan := Decide(Input{DS: ds, Nodes: nodes, Pods: pods, Hash: hash, Now: now, BackingOff: backingOff})
	if collisions != 0 || ds.Status.CollisionCount != nil {
		plan.Status.CollisionCount = &collisions
	}

	errs := c.apply(ctx, ds, hash, plan)

	// History: keep the revisions pods or the DaemonSet still use, and
	// revisionHistoryLimit others.
	live := map[string]bool{cur.Name: true}
	for _, p := range pods {
		if h := p.Labels[history.HashLabel]; h != "" {
			live[history.Name(ds.Name, h)] = true
		}
	}
	limit := int32(10)
	if ds.Spec.RevisionHistoryLimit != nil {
		limit = *ds.Spec.RevisionHistoryLimit
	}
	if err := history.Cleanup(ctx, c.client.ControllerRevisions(ns), revs, live, limit); err != nil {
		errs = append(errs, err)
	}

	if !equality.Semantic.DeepEqual(ds.Status, plan.Status) {
		if err := writeStatus(ctx, c.client.DaemonSets(ds.Namespace), ds.Name, plan.Status); err != nil {
			errs = append(errs, err)
		}
	}
	return plan.RequeueAfter, errors.Join(errs...)
}

func backoffKey(ds *appsv1.DaemonSet, node string) string { return string(ds.UID) + "/" + node }

func (c *Controller) revisions(ds *appsv1.DaemonSet) []*appsv1.ControllerRevision {
	objs, _ := c.revInformer.GetIndexer().ByIndex(kubeclient.IndexController, string(ds.UID))
	out := make([]*appsv1.ControllerRevision, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.(*appsv1.ControllerRevision))
	}
	return out
}

func (c *Controller) pods(ds *appsv1.DaemonSet) []*corev1.Pod {
	objs, _ := c.podInformer.GetIndexer().ByIndex(kubeclient.IndexController, string(ds.UID))
	out := make([]*corev1.Pod, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.(*corev1.Pod))
	}
	return out
}

// apply carries out plan's creations and deletions, recording each as
// Kubernetes' DaemonSet controller does.
func (c *Controller) apply(ctx context.Context, ds *appsv1.DaemonSet, hash string, plan Plan) []error {
	var errs []error
	key := keyOf(ds)
	podsClient := c.client.Pods(ds.Namespace)
	c.expect.expect(key, len(plan.Create), append(append([]*corev1.Pod(nil), plan.Delete...), plan.DeleteFailed...))
	for _, node := range plan.Create {
		pod, err := podsClient.Create(ctx, NewPod(ds, node, hash), metav1.CreateOptions{})
		if err != nil {
			c.expect.created(key)
			if apierrors.IsAlreadyExists(err) || apierrors.IsConflict(err) {
				continue
			}
			c.events.Eventf(ds, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
			errs = append(errs, err)
			continue
		}
		c.events.Eventf(ds, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %v", pod.Name)
	}
	now := c.now()
	for _, pod := range plan.DeleteFailed {
		node := TargetNode(pod)
		c.events.Eventf(ds, corev1.EventTypeWarning, "FailedDaemonPod", "Found failed daemon pod %v/%v on node %v, will try to kill it", pod.Namespace, pod.Name, node)
		c.failed.Next(backoffKey(ds, node), now)
	}
	for _, pod := range append(append([]*corev1.Pod(nil), plan.Delete...), plan.DeleteFailed...) {
		err := podsClient.Delete(ctx, pod.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &pod.UID}})
		if err != nil {
			c.expect.deleted(key, pod.UID)
			if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
				continue
			}
			c.events.Eventf(ds, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
			errs = append(errs, err)
			continue
		}
		c.events.Eventf(ds, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %v", pod.Name)
	}
	return errs
}

// writeStatus replaces the status with a JSON patch rather than an update:
// the cached object's resourceVersion is often behind this controller's
// own last status write, and a conflict would only cost a round trip.
func writeStatus[T any](ctx context.Context, c interface {
	Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (T, error)
}, name string, status any) error {
	patch, err := json.Marshal([]map[string]any{{"op": "replace", "path": "/status", "value": status}})
	if err != nil {
		return err
	}
	if _, err := c.Patch(ctx, name, types.JSONPatchType, patch, metav1.PatchOptions{}, "status"); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("update status of %s: %w", name, err)
	}
	return nil
}
