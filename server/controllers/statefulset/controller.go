package statefulset

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
	"k8s.io/client-go/util/workqueue"
)

// Component names the controller in its Events.
const Component = "statefulset-controller"

const (
	workers   = 2
	retryBase = 100 * time.Millisecond
	retryMax  = 30 * time.Second
	// adoptRecheck is when a set that adopted orphans is looked at again.
	adoptRecheck = 200 * time.Millisecond
)

// Options tune a Controller; the zero value is the default.
type Options struct {
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Informers are shared with the other controllers (its own when nil).
	Informers *kubeclient.Informers
}

// Controller reconciles StatefulSets.
type Controller struct {
	client kubeclient.Interface
	now    func() time.Time
	events *events.Recorder
	// informers are shared with the other controllers.
	informers *kubeclient.Informers

	setInformer, podInformer, claimInformer, revInformer cache.SharedIndexInformer
	queue                                                workqueue.TypedRateLimitingInterface[string]
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
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "statefulset"}),
	}
	inf := kubeclient.OrNew(opts.Informers, client)
	c.informers = inf
	c.setInformer, c.podInformer, c.claimInformer, c.revInformer = inf.StatefulSets(), inf.Pods(), inf.PersistentVolumeClaims(), inf.ControllerRevisions()
	byController := cache.Indexers{kubeclient.IndexController: kubeclient.ControllerIndexFunc}
	kubeclient.AddIndexers(c.podInformer, byController)
	kubeclient.AddIndexers(c.revInformer, byController)
	_, _ = c.setInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
	})
	owned := func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		if key, ok := ownerKey(obj); ok {
			c.queue.Add(key)
		}
	}
	_, _ = c.podInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    owned,
		UpdateFunc: func(old, obj any) { owned(old); owned(obj) },
		DeleteFunc: owned,
	})
	_, _ = c.revInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{DeleteFunc: owned})
	// Claims name their set only through their name: a change (a claim
	// collected after a scale-down) wakes every set of its namespace.
	claimChanged := func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		m, ok := obj.(metav1.Object)
		if !ok {
			return
		}
		for _, key := range c.setInformer.GetIndexer().ListKeys() {
			if ns, _, _ := cache.SplitMetaNamespaceKey(key); ns == m.GetNamespace() {
				c.queue.Add(key)
			}
		}
	}
	_, _ = c.claimInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj any) { claimChanged(obj) },
		DeleteFunc: claimChanged,
	})
	return c
}

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

func (c *Controller) enqueue(obj any) {
	if set, ok := obj.(*appsv1.StatefulSet); ok {
		c.queue.Add(set.Namespace + "/" + set.Name)
	}
}

// Run reconciles until ctx ends and returns after its informers, workers
// and event writer have stopped.
func (c *Controller) Run(ctx context.Context) error {
	return c.informers.RunController(ctx, c.queue, c.events, workers, c.processNext, c.setInformer, c.podInformer, c.claimInformer, c.revInformer)
}

func (c *Controller) processNext(ctx context.Context) bool {
	return kubeclient.ProcessNext(ctx, c.queue, c.Sync, "syncing StatefulSet", "statefulset")
}

// Sync reconciles the set with key namespace/name once, and says when it
// wants to see it again regardless of events.
func (c *Controller) Sync(ctx context.Context, key string) (time.Duration, error) {
	obj, exists, err := c.setInformer.GetStore().GetByKey(key)
	if err != nil || !exists {
		return 0, err
	}
	set := obj.(*appsv1.StatefulSet).DeepCopy()
	if set.DeletionTimestamp != nil {
		return 0, nil // the garbage collector removes its pods
	}
	ns := set.Namespace
	revClient := c.client.ControllerRevisions(ns)

	if adopted, err := history.AdoptFromCaches(ctx, c.client, c.podInformer.GetIndexer(), c.revInformer.GetIndexer(), set, kind, set.Spec.Selector, func(p *corev1.Pod) bool { return ordinalOf(set, p) >= 0 }); err != nil || adopted {
		// Look again once the cache shows the adopted objects.
		return adoptRecheck, err
	}
	revs := c.revisions(set)
	collisions := int32(0)
	if set.Status.CollisionCount != nil {
		collisions = *set.Status.CollisionCount
	}
	data, err := history.TemplateData(&set.Spec.Template)
	if err != nil {
		return 0, err
	}
	want := history.New(set, kind, set.Spec.Template.Labels, data, history.Next(revs), &collisions)
	updateRev, err := history.Ensure(ctx, revClient, revs, want, &collisions)
	if err != nil {
		return 0, err
	}
	update := Revision{Name: updateRev.Name, Template: &set.Spec.Template}
	current := update
	for _, r := range revs {
		if r.Name == set.Status.CurrentRevision && r.Name != updateRev.Name {
			t, err := history.Template(r)
			if err != nil {
				return 0, err
			}
			current = Revision{Name: r.Name, Template: t}
		}
	}

	pods := c.pods(set)
	claims := map[string]*corev1.PersistentVolumeClaim{}
	objs, _ := c.claimInformer.GetIndexer().ByIndex(cache.NamespaceIndex, ns)
	for _, o := range objs {
		claim := o.(*corev1.PersistentVolumeClaim)
		claims[claim.Name] = claim
	}
	plan := Decide(Input{Set: set, Pods: pods, Claims: claims, Current: current, Update: update, Now: c.now()})
	if collisions != 0 || set.Status.CollisionCount != nil {
		plan.Status.CollisionCount = &collisions
	}

	var errs []error
	if err := c.apply(ctx, set, plan.Actions); err != nil {
		errs = append(errs, err)
	}

	live := map[string]bool{current.Name: true, update.Name: true}
	for _, p := range pods {
		live[p.Labels[history.HashLabel]] = true
	}
	limit := int32(10)
	if set.Spec.RevisionHistoryLimit != nil {
		limit = *set.Spec.RevisionHistoryLimit
	}
	if err := history.Cleanup(ctx, revClient, revs, live, limit); err != nil {
		errs = append(errs, err)
	}

	if !equality.Semantic.DeepEqual(set.Status, plan.Status) {
		if err := writeStatus(ctx, c.client.StatefulSets(set.Namespace), set.Name, plan.Status); err != nil {
			errs = append(errs, err)
		}
	}
	return plan.RequeueAfter, errors.Join(errs...)
}

func (c *Controller) revisions(set *appsv1.StatefulSet) []*appsv1.ControllerRevision {
	objs, _ := c.revInformer.GetIndexer().ByIndex(kubeclient.IndexController, string(set.UID))
	out := make([]*appsv1.ControllerRevision, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.(*appsv1.ControllerRevision))
	}
	return out
}

func (c *Controller) pods(set *appsv1.StatefulSet) []*corev1.Pod {
	objs, _ := c.podInformer.GetIndexer().ByIndex(kubeclient.IndexController, string(set.UID))
	out := make([]*corev1.Pod, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.(*corev1.Pod))
	}
	return out
}

// apply runs actions in order, stopping at the first failure; writes a
// stale cache repeats (already created, already gone) are not failures.
func (c *Controller) apply(ctx context.Context, set *appsv1.StatefulSet, actions []Action) error {
	for _, a := range actions {
		var err error
		switch a.Kind {
		case CreateClaim:
			_, err = c.client.PersistentVolumeClaims(set.Namespace).Create(ctx, a.Claim, metav1.CreateOptions{})
		case CreatePod:
			_, err = c.client.Pods(set.Namespace).Create(ctx, a.Pod, metav1.CreateOptions{})
		case DeletePod:
			err = c.client.Pods(set.Namespace).Delete(ctx, a.Pod.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &a.Pod.UID}})
		case SetClaimOwners:
			_, err = c.client.PersistentVolumeClaims(set.Namespace).Update(ctx, a.Claim, metav1.UpdateOptions{})
		}
		switch {
		case err == nil:
			reason, msg := eventMessage(set, a, nil)
			c.events.Event(set, corev1.EventTypeNormal, reason, msg)
		case apierrors.IsAlreadyExists(err) && a.Kind != SetClaimOwners,
			(apierrors.IsNotFound(err) || apierrors.IsConflict(err)) && a.Kind == DeletePod:
			// The cache was behind; the next pass sees the truth.
		default:
			reason, msg := eventMessage(set, a, err)
			c.events.Event(set, corev1.EventTypeWarning, reason, msg)
			return fmt.Errorf("%s: %w", a, err)
		}
	}
	return nil
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
