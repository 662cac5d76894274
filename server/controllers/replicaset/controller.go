package replicaset

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
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
	// slowStartInitialBatch is the first batch of pod creations; each
	// successful batch doubles the next, a failing one stops the sync.
	slowStartInitialBatch = 1
)

// Event reasons, Kubernetes' words.
const (
	EventSuccessfulCreate = "SuccessfulCreate"
	EventSuccessfulDelete = "SuccessfulDelete"
	EventFailedCreate     = "FailedCreate"
	EventFailedDelete     = "FailedDelete"
)

// Options tune a Controller; the zero value is the default.
type Options struct {
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Informers are shared with the other controllers (its own when nil).
	Informers *kubeclient.Informers
}

// Controller keeps ReplicaSets' pods.
type Controller struct {
	client       kubeclient.Interface
	now          func() time.Time
	informers    *kubeclient.Informers
	rsInformer   cache.SharedIndexInformer
	podInformer  cache.SharedIndexInformer
	queue        workqueue.TypedRateLimitingInterface[string]
	expectations *Expectations
	events       *events.Recorder
}

// New builds the controller.
func New(client kubeclient.Interface, opts Options) *Controller {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	inf := kubeclient.OrNew(opts.Informers, client)
	c := &Controller{
		client:       client,
		now:          opts.Now,
		informers:    inf,
		rsInformer:   inf.ReplicaSets(),
		podInformer:  inf.Pods(),
		expectations: NewExpectations(),
		events:       events.New(client, "replicaset-controller", events.Options{Now: opts.Now}),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](backoffBase, backoffMax),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "replicaset"}),
	}
	_, _ = c.rsInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
		DeleteFunc: func(obj any) {
			if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
				c.expectations.Forget(key)
				c.queue.Add(key)
			}
		},
	})
	_, _ = c.podInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.podChanged(nil, obj.(*corev1.Pod)) },
		UpdateFunc: func(old, obj any) { c.podChanged(old.(*corev1.Pod), obj.(*corev1.Pod)) },
		DeleteFunc: c.podDeleted,
	})
	return c
}

// Run syncs ReplicaSets until ctx ends, and returns after its informers,
// workers and event writer have stopped.
func (c *Controller) Run(ctx context.Context) error {
	return c.informers.RunController(ctx, c.queue, c.events, workers, c.processNext, c.rsInformer, c.podInformer)
}

func (c *Controller) enqueue(obj any) {
	if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}

// owner returns the key of the ReplicaSet that controls pod, if it is one
// this controller knows.
func (c *Controller) owner(pod *corev1.Pod) (string, bool) {
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil || ref.Kind != "ReplicaSet" {
		return "", false
	}
	key := pod.Namespace + "/" + ref.Name
	obj, ok, _ := c.rsInformer.GetIndexer().GetByKey(key)
	if !ok || obj.(*appsv1.ReplicaSet).UID != ref.UID {
		return "", false
	}
	return key, true
}

// enqueueMatching queues every ReplicaSet of pod's namespace whose
// selector matches it (an orphan some may adopt).
func (c *Controller) enqueueMatching(pod *corev1.Pod) {
	objs, _ := c.rsInformer.GetIndexer().ByIndex(cache.NamespaceIndex, pod.Namespace)
	for _, o := range objs {
		rs := o.(*appsv1.ReplicaSet)
		sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(pod.Labels)) {
			c.enqueue(rs)
		}
	}
}

func podKey(p *corev1.Pod) string { return p.Namespace + "/" + p.Name }

func (c *Controller) podChanged(old, pod *corev1.Pod) {
	if old != nil && old.ResourceVersion == pod.ResourceVersion {
		return // a resync
	}
	key, owned := c.owner(pod)
	if pod.DeletionTimestamp != nil {
		// A pod being deleted no longer counts: treat it as gone.
		if owned {
			c.expectations.DeletionObserved(key, podKey(pod))
			c.queue.Add(key)
		}
		return
	}
	if old != nil {
		oldRef, newRef := metav1.GetControllerOfNoCopy(old), metav1.GetControllerOfNoCopy(pod)
		if oldRef != nil && (newRef == nil || oldRef.UID != newRef.UID) {
			if k, ok := c.owner(old); ok {
				c.queue.Add(k)
			}
		}
	}
	if owned {
		if old == nil {
			c.expectations.CreationObserved(key)
		}
		c.queue.Add(key)
		return
	}
	if metav1.GetControllerOfNoCopy(pod) == nil &&
		(old == nil || !equality.Semantic.DeepEqual(old.Labels, pod.Labels) || metav1.GetControllerOfNoCopy(old) != nil) {
		c.enqueueMatching(pod)
	}
}

func (c *Controller) podDeleted(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if key, owned := c.owner(pod); owned {
		c.expectations.DeletionObserved(key, podKey(pod))
		c.queue.Add(key)
	}
}

func (c *Controller) processNext(ctx context.Context) bool {
	return kubeclient.ProcessNext(ctx, c.queue, c.Sync, "syncing ReplicaSet", "replicaset")
}

// Sync brings the ReplicaSet key (namespace/name) one step closer to its
// spec, from the informers' view. recheck > 0 asks to look again then
// (pods becoming available after minReadySeconds).
func (c *Controller) Sync(ctx context.Context, key string) (recheck time.Duration, err error) {
	obj, exists, err := c.rsInformer.GetIndexer().GetByKey(key)
	if err != nil || !exists {
		c.expectations.Forget(key)
		return 0, err
	}
	rs := obj.(*appsv1.ReplicaSet)
	now := c.now()
	siblings := c.siblings(rs)
	sel, selErr := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	// Decide looks at the pods rs or its siblings control and at orphans
	// its selector matches; the namespace's other pods are not built.
	pods := kubeclient.PodsWhere(c.podInformer, cache.NamespaceIndex, rs.Namespace, func(m metav1.Object) bool {
		if ref := metav1.GetControllerOfNoCopy(m); ref != nil {
			return ref.UID == rs.UID || siblings[ref.UID]
		}
		return selErr == nil && sel.Matches(labels.Set(m.GetLabels()))
	})
	plan := Decide(Input{RS: rs, Pods: pods, Siblings: siblings, Manage: c.expectations.Satisfied(key, now), Now: now})

	if err := c.claim(ctx, rs, plan); err != nil {
		return 0, err
	}
	var manageErr error
	if plan.Create > 0 {
		manageErr = c.create(ctx, key, rs, plan.Create)
	} else if len(plan.Delete) > 0 {
		manageErr = c.delete(ctx, key, rs, plan.Delete)
	}

	st, recheck := Status(rs, plan.Owned, manageErr, c.now())
	if !equality.Semantic.DeepEqual(rs.Status, st) {
		if err := c.writeStatus(ctx, rs, st); err != nil {
			return 0, errors.Join(manageErr, err)
		}
	}
	if manageErr != nil {
		return 0, manageErr
	}
	return recheck, nil
}

// siblings are the UIDs of the ReplicaSets with rs's controller owner.
func (c *Controller) siblings(rs *appsv1.ReplicaSet) map[types.UID]bool {
	ref := metav1.GetControllerOfNoCopy(rs)
	if ref == nil {
		return nil
	}
	out := map[types.UID]bool{}
	objs, _ := c.rsInformer.GetIndexer().ByIndex(cache.NamespaceIndex, rs.Namespace)
	for _, o := range objs {
		other := o.(*appsv1.ReplicaSet)
		if r := metav1.GetControllerOfNoCopy(other); r != nil && r.UID == ref.UID && other.UID != rs.UID {
			out[other.UID] = true
		}
	}
	return out
}

// claim adopts and releases pods. Before adopting it reads the
// ReplicaSet afresh: a ReplicaSet being deleted must not take pods the
// garbage collector has just orphaned.
func (c *Controller) claim(ctx context.Context, rs *appsv1.ReplicaSet, plan Plan) error {
	if len(plan.Adopt) > 0 {
		fresh, err := c.client.ReplicaSets(rs.Namespace).Get(ctx, rs.Name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("checking %s/%s before adopting pods: %w", rs.Namespace, rs.Name, err)
		}
		if fresh.UID != rs.UID || fresh.DeletionTimestamp != nil {
			return fmt.Errorf("%s/%s is being deleted: not adopting pods", rs.Namespace, rs.Name)
		}
	}
	var errs []error
	yes := true
	for _, pod := range plan.Adopt {
		refs := append(append([]metav1.OwnerReference(nil), pod.OwnerReferences...), metav1.OwnerReference{
			APIVersion: appsv1.SchemeGroupVersion.String(), Kind: "ReplicaSet",
			Name: rs.Name, UID: rs.UID, Controller: &yes, BlockOwnerDeletion: &yes,
		})
		errs = append(errs, c.patchOwners(ctx, pod, refs))
	}
	for _, pod := range plan.Release {
		var refs []metav1.OwnerReference
		for _, r := range pod.OwnerReferences {
			if r.UID != rs.UID {
				refs = append(refs, r)
			}
		}
		errs = append(errs, c.patchOwners(ctx, pod, refs))
	}
	return errors.Join(errs...)
}

// patchOwners sets pod's ownerReferences, on the condition that the pod
// is still the one (uid) and unchanged (resourceVersion) since the
// informer saw it.
func (c *Controller) patchOwners(ctx context.Context, pod *corev1.Pod, refs []metav1.OwnerReference) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"ownerReferences": refs, "uid": pod.UID, "resourceVersion": pod.ResourceVersion,
	}})
	if err != nil {
		return err
	}
	_, err = c.client.Pods(pod.Namespace).Patch(ctx, pod.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("setting owners of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// create makes n pods from rs's template in slow-start batches: 1, 2, 4,
// ... so that a template the API refuses costs one failed request, not n.
func (c *Controller) create(ctx context.Context, key string, rs *appsv1.ReplicaSet, n int) error {
	c.expectations.ExpectCreations(key, n, c.now())
	created, err := slowStart(n, slowStartInitialBatch, func() error {
		pod, err := c.client.Pods(rs.Namespace).Create(ctx, PodFromTemplate(rs), metav1.CreateOptions{})
		if err != nil {
			if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				return nil // the namespace goes, and its pods with it
			}
			c.events.Eventf(rs, corev1.EventTypeWarning, EventFailedCreate, "Error creating: %v", err)
			return err
		}
		c.events.Eventf(rs, corev1.EventTypeNormal, EventSuccessfulCreate, "Created pod: %v", pod.Name)
		return nil
	})
	for i := created; i < n; i++ {
		c.expectations.CreationObserved(key)
	}
	return err
}

// slowStart calls fn count times in batches that double while they
// succeed; it returns how many calls succeeded and the first error.
func slowStart(count, initial int, fn func() error) (int, error) {
	done := 0
	for batch := min(count, initial); batch > 0; batch = min(2*batch, count-done) {
		errs := make(chan error, batch)
		var wg sync.WaitGroup
		for i := 0; i < batch; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := fn(); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		done += batch - len(errs)
		if err, failed := <-errs; failed {
			return done, err
		}
	}
	return done, nil
}

func (c *Controller) delete(ctx context.Context, key string, rs *appsv1.ReplicaSet, pods []*corev1.Pod) error {
	keys := make([]string, len(pods))
	for i, p := range pods {
		keys[i] = podKey(p)
	}
	c.expectations.ExpectDeletions(key, keys, c.now())
	errs := make([]error, len(pods))
	var wg sync.WaitGroup
	for i, pod := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := c.client.Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &pod.UID}})
			switch {
			case err == nil:
				c.events.Eventf(rs, corev1.EventTypeNormal, EventSuccessfulDelete, "Deleted pod: %v", pod.Name)
			case apierrors.IsNotFound(err):
				c.expectations.DeletionObserved(key, keys[i])
			default:
				c.expectations.DeletionObserved(key, keys[i])
				c.events.Eventf(rs, corev1.EventTypeWarning, EventFailedDelete, "Error deleting: %v", err)
				errs[i] = err
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// writeStatus writes st, reading the ReplicaSet again once on a conflict.
func (c *Controller) writeStatus(ctx context.Context, rs *appsv1.ReplicaSet, st appsv1.ReplicaSetStatus) error {
	rsc := c.client.ReplicaSets(rs.Namespace)
	cp := rs.DeepCopy()
	cp.Status = st
	_, err := rsc.UpdateStatus(ctx, cp, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		fresh, gerr := rsc.Get(ctx, rs.Name, metav1.GetOptions{})
		if gerr != nil {
			return gerr
		}
		if fresh.UID != rs.UID {
			return nil
		}
		// observedGeneration must not claim a generation this sync did not see.
		st.ObservedGeneration = rs.Generation
		fresh.Status = st
		_, err = rsc.UpdateStatus(ctx, fresh, metav1.UpdateOptions{})
	}
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
