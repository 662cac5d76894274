package deployment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/skiff-io/skiff/server/controllers/events"
	"github.com/skiff-io/skiff/server/kubeclient"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// Tuning, kube-controller-manager's where it has one.
const (
	workers     = 5
	backoffBase = 5 * time.Millisecond
	backoffMax  = 30 * time.Second
)

// Options tune a Controller; the zero value is the default.
type Options struct {
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Informers are shared with the other controllers (its own when nil).
	Informers *kubeclient.Informers
}

// Controller rolls out Deployments through ReplicaSets.
type Controller struct {
	client      kubeclient.Interface
	now         func() time.Time
	informers   *kubeclient.Informers
	dInformer   cache.SharedIndexInformer
	rsInformer  cache.SharedIndexInformer
	podInformer cache.SharedIndexInformer
	queue       workqueue.TypedRateLimitingInterface[string]
	events      *events.Recorder
}

// New builds the controller.
func New(client kubeclient.Interface, opts Options) *Controller {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	inf := kubeclient.OrNew(opts.Informers, client)
	c := &Controller{
		client:      client,
		now:         opts.Now,
		informers:   inf,
		dInformer:   inf.Deployments(),
		rsInformer:  inf.ReplicaSets(),
		podInformer: inf.Pods(),
		events:      events.New(client, "deployment-controller", events.Options{Now: opts.Now}),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](backoffBase, backoffMax),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "deployment"}),
	}
	_, _ = c.dInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
		DeleteFunc: func(obj any) {
			if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
				c.queue.Add(key)
			}
		},
	})
	_, _ = c.rsInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { c.rsChanged(nil, obj.(*appsv1.ReplicaSet)) },
		UpdateFunc: func(old, obj any) {
			c.rsChanged(old.(*appsv1.ReplicaSet), obj.(*appsv1.ReplicaSet))
		},
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if rs, ok := obj.(*appsv1.ReplicaSet); ok {
				c.enqueueOwner(rs.Namespace, metav1.GetControllerOfNoCopy(rs))
			}
		},
	})
	_, _ = c.podInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if pod, ok := obj.(*corev1.Pod); ok {
				c.podGone(pod)
			}
		},
	})
	return c
}

// Run syncs Deployments until ctx ends, and returns after its informers,
// workers and event writer have stopped.
func (c *Controller) Run(ctx context.Context) error {
	return c.informers.RunController(ctx, c.queue, c.events, workers, c.processNext, c.dInformer, c.rsInformer, c.podInformer)
}

func (c *Controller) enqueue(obj any) {
	if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}

// enqueueOwner queues the Deployment ref names, if it is one.
func (c *Controller) enqueueOwner(ns string, ref *metav1.OwnerReference) *appsv1.Deployment {
	if ref == nil || ref.Kind != "Deployment" {
		return nil
	}
	obj, ok, _ := c.dInformer.GetIndexer().GetByKey(ns + "/" + ref.Name)
	if !ok || obj.(*appsv1.Deployment).UID != ref.UID {
		return nil
	}
	c.enqueue(obj)
	return obj.(*appsv1.Deployment)
}

func (c *Controller) rsChanged(old, rs *appsv1.ReplicaSet) {
	if old != nil && old.ResourceVersion == rs.ResourceVersion {
		return
	}
	ref := metav1.GetControllerOfNoCopy(rs)
	if old != nil {
		if oldRef := metav1.GetControllerOfNoCopy(old); oldRef != nil && (ref == nil || oldRef.UID != ref.UID) {
			c.enqueueOwner(old.Namespace, oldRef)
		}
	}
	if ref != nil {
		c.enqueueOwner(rs.Namespace, ref)
		return
	}
	// An orphan: the Deployments that match it may adopt it.
	objs, _ := c.dInformer.GetIndexer().ByIndex(cache.NamespaceIndex, rs.Namespace)
	for _, o := range objs {
		d := o.(*appsv1.Deployment)
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(rs.Labels)) {
			c.enqueue(d)
		}
	}
}

// podGone requeues a Recreate Deployment whose old pod went away: it may
// now start the new ones.
func (c *Controller) podGone(pod *corev1.Pod) {
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil || ref.Kind != "ReplicaSet" {
		return
	}
	obj, ok, _ := c.rsInformer.GetIndexer().GetByKey(pod.Namespace + "/" + ref.Name)
	if !ok {
		return
	}
	rs := obj.(*appsv1.ReplicaSet)
	dref := metav1.GetControllerOfNoCopy(rs)
	if dref == nil || dref.Kind != "Deployment" {
		return
	}
	dobj, ok, _ := c.dInformer.GetIndexer().GetByKey(pod.Namespace + "/" + dref.Name)
	if ok && dobj.(*appsv1.Deployment).Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		c.enqueue(dobj)
	}
}

func (c *Controller) processNext(ctx context.Context) bool {
	return kubeclient.ProcessNext(ctx, c.queue, c.Sync, "syncing Deployment", "deployment")
}

// Sync brings the Deployment key (namespace/name) one step closer to its
// spec. recheck > 0 asks to look again then.
func (c *Controller) Sync(ctx context.Context, key string) (recheck time.Duration, err error) {
	obj, exists, err := c.dInformer.GetIndexer().GetByKey(key)
	if err != nil || !exists {
		return 0, err
	}
	d := obj.(*appsv1.Deployment)
	rsObjs, _ := c.rsInformer.GetIndexer().ByIndex(cache.NamespaceIndex, d.Namespace)
	rss := make([]*appsv1.ReplicaSet, 0, len(rsObjs))
	for _, o := range rsObjs {
		rss = append(rss, o.(*appsv1.ReplicaSet))
	}
	owned, adopt, release := Claim(d, rss)
	if err := c.claim(ctx, d, adopt, release); err != nil {
		return 0, err
	}
	uids := map[types.UID]bool{}
	for _, rs := range owned {
		uids[rs.UID] = true
	}
	pods := map[types.UID][]*corev1.Pod{}
	ownedPod := func(m metav1.Object) bool {
		ref := metav1.GetControllerOfNoCopy(m)
		return ref != nil && uids[ref.UID]
	}
	for _, p := range kubeclient.PodsWhere(c.podInformer, cache.NamespaceIndex, d.Namespace, ownedPod) {
		ref := metav1.GetControllerOfNoCopy(p)
		pods[ref.UID] = append(pods[ref.UID], p)
	}

	plan := Decide(Input{Deployment: d, ReplicaSets: owned, Pods: pods, Now: c.now()})
	if plan.SelectingAll {
		c.events.Event(d, corev1.EventTypeWarning, EventSelectingAll, "This deployment is selecting all pods. A non-empty selector is required.")
		return 0, c.writeStatus(ctx, d, plan.Status)
	}
	if err := c.apply(ctx, d, plan.Actions); err != nil {
		return 0, err
	}
	if plan.Revision != "" {
		patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{
			"annotations": map[string]string{RevisionAnnotation: plan.Revision}, "resourceVersion": d.ResourceVersion}})
		nd, err := c.client.Deployments(d.Namespace).Patch(ctx, d.Name, types.MergePatchType, patch, metav1.PatchOptions{})
		if err != nil {
			return 0, ignoreNotFound(err)
		}
		d = nd
	}
	if err := c.writeStatus(ctx, d, plan.Status); err != nil {
		return 0, err
	}
	return plan.Recheck, nil
}

// claim adopts and releases ReplicaSets. It reads the Deployment afresh
// before adopting: one being deleted must not take back ReplicaSets the
// garbage collector has just orphaned.
func (c *Controller) claim(ctx context.Context, d *appsv1.Deployment, adopt, release []*appsv1.ReplicaSet) error {
	if len(adopt) > 0 {
		fresh, err := c.client.Deployments(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
		if err != nil {
			return ignoreNotFound(err)
		}
		if fresh.UID != d.UID || fresh.DeletionTimestamp != nil {
			return fmt.Errorf("%s/%s is being deleted: not adopting ReplicaSets", d.Namespace, d.Name)
		}
	}
	yes := true
	var errs []error
	for _, rs := range adopt {
		refs := append(append([]metav1.OwnerReference(nil), rs.OwnerReferences...), metav1.OwnerReference{
			APIVersion: appsv1.SchemeGroupVersion.String(), Kind: "Deployment",
			Name: d.Name, UID: d.UID, Controller: &yes, BlockOwnerDeletion: &yes,
		})
		errs = append(errs, c.patchOwners(ctx, rs, refs))
	}
	for _, rs := range release {
		var refs []metav1.OwnerReference
		for _, r := range rs.OwnerReferences {
			if r.UID != d.UID {
				refs = append(refs, r)
			}
		}
		errs = append(errs, c.patchOwners(ctx, rs, refs))
	}
	return errors.Join(errs...)
}

func (c *Controller) patchOwners(ctx context.Context, rs *appsv1.ReplicaSet, refs []metav1.OwnerReference) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"ownerReferences": refs, "uid": rs.UID, "resourceVersion": rs.ResourceVersion,
	}})
	if err != nil {
		return err
	}
	_, err = c.client.ReplicaSets(rs.Namespace).Patch(ctx, rs.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("setting owners of replica set %s/%s: %w", rs.Namespace, rs.Name, err)
	}
	return nil
}

// apply performs the plan's ReplicaSet writes in order, stopping at the
// first failure (the next sync starts again from what the API holds).
func (c *Controller) apply(ctx context.Context, d *appsv1.Deployment, actions []Action) error {
	rsc := c.client.ReplicaSets(d.Namespace)
	for _, a := range actions {
		switch a.Op {
		case Create:
			if err := c.createRS(ctx, d, a); err != nil {
				return err
			}
		case Update:
			rs, err := rsc.Update(ctx, a.RS, metav1.UpdateOptions{})
			if err != nil {
				return ignoreNotFound(err)
			}
			if a.From != a.To {
				dir := "up"
				if a.To < a.From {
					dir = "down"
				}
				c.events.Eventf(d, corev1.EventTypeNormal, EventScalingReplicaSet, "Scaled %s replica set %s from %d to %d", dir, rs.Name, a.From, a.To)
			}
		case Delete:
			uid := a.RS.UID
			err := rsc.Delete(ctx, a.RS.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				return err
			}
		}
	}
	return nil
}

// createRS creates the new ReplicaSet. A name already taken by another
// template is a hash collision: collisionCount goes up so that the next
// sync computes another name.
func (c *Controller) createRS(ctx context.Context, d *appsv1.Deployment, a Action) error {
	rsc := c.client.ReplicaSets(d.Namespace)
	rs, err := rsc.Create(ctx, a.RS, metav1.CreateOptions{})
	switch {
	case err == nil:
		if a.To > 0 {
			c.events.Eventf(d, corev1.EventTypeNormal, EventScalingReplicaSet, "Scaled up replica set %s from 0 to %d", rs.Name, a.To)
		}
		return nil
	case apierrors.IsAlreadyExists(err):
		existing, gerr := rsc.Get(ctx, a.RS.Name, metav1.GetOptions{})
		if gerr != nil {
			return gerr
		}
		if ref := metav1.GetControllerOfNoCopy(existing); ref != nil && ref.UID == d.UID &&
			EqualIgnoreHash(&existing.Spec.Template, &d.Spec.Template) {
			// Ours: the informer had not shown it yet.
			return fmt.Errorf("replica set %s/%s exists but is not in the cache yet", d.Namespace, a.RS.Name)
		}
		st := d.Status.DeepCopy()
		n := int32(1)
		if st.CollisionCount != nil {
			n = *st.CollisionCount + 1
		}
		st.CollisionCount = &n
		if werr := c.writeStatus(ctx, d, *st); werr != nil {
			return werr
		}
		return fmt.Errorf("pod template hash collision on replica set %s/%s: collisionCount now %d", d.Namespace, a.RS.Name, n)
	case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		return nil
	default:
		msg := fmt.Sprintf("Failed to create new replica set %q: %v", a.RS.Name, err)
		c.events.Event(d, corev1.EventTypeWarning, EventFailedRSCreate, msg)
		st := d.Status.DeepCopy()
		setCondition(st, newCondition(appsv1.DeploymentProgressing, corev1.ConditionFalse, ReasonFailedRSCreate, msg, c.now()))
		return errors.Join(err, c.writeStatus(ctx, d, *st))
	}
}

func (c *Controller) writeStatus(ctx context.Context, d *appsv1.Deployment, st appsv1.DeploymentStatus) error {
	if equality.Semantic.DeepEqual(d.Status, st) {
		return nil
	}
	cp := d.DeepCopy()
	cp.Status = st
	_, err := c.client.Deployments(d.Namespace).UpdateStatus(ctx, cp, metav1.UpdateOptions{})
	return ignoreNotFound(err)
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
