package job

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/skiff-io/skiff/server/controllers/events"
	"github.com/skiff-io/skiff/server/kubeclient"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// Name is the controller's name in Events and in spec.managedBy.
const Name = "job-controller"

const (
	workers = 4
	// expectationsTTL bounds how long a Job waits to see its own pod
	// creations and deletions in the cache (kube's 5 minutes).
	expectationsTTL = 5 * time.Minute
	retryBase       = 50 * time.Millisecond
	retryMax        = 30 * time.Second
	byJobIndex      = "owner-job" // shared informer: a name of its own
)

// Options tune a Controller; the zero value is the default.
type Options struct {
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Informers are shared with the other controllers (its own when nil).
	Informers *kubeclient.Informers
}

// Controller runs Jobs' pods and deletes finished Jobs after their TTL.
type Controller struct {
	client kubeclient.Interface
	now    func() time.Time
	events *events.Recorder
	// informers are shared with the other controllers.
	informers *kubeclient.Informers

	jobInformer cache.SharedIndexInformer
	podInformer cache.SharedIndexInformer
	queue       workqueue.TypedRateLimitingInterface[string]

	mu sync.Mutex
	// expecting holds, per Job key, the pods this controller created or
	// deleted that the pod cache does not show yet.
	expecting map[string]*expectation
}

type expectation struct {
	created map[types.UID]bool
	deleted map[types.UID]bool
	since   time.Time
}

// New builds the controller.
func New(client kubeclient.Interface, opts Options) *Controller {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &Controller{
		client:    client,
		now:       opts.Now,
		events:    events.New(client, Name, events.Options{Now: opts.Now}),
		expecting: map[string]*expectation{},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](retryBase, retryMax),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "job"}),
	}
	c.informers = kubeclient.OrNew(opts.Informers, client)
	c.jobInformer, c.podInformer = c.informers.Jobs(), c.informers.Pods()
	kubeclient.AddIndexers(c.podInformer, cache.Indexers{byJobIndex: func(obj any) ([]string, error) {
		if key := ownerJobKey(obj.(*corev1.Pod)); key != "" {
			return []string{key}, nil
		}
		return nil, nil
	}})
	_, _ = c.jobInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueJob,
		UpdateFunc: func(_, obj any) { c.enqueueJob(obj) },
		DeleteFunc: c.enqueueJob,
	})
	podChanged := func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		if p, ok := obj.(*corev1.Pod); ok {
			if key := ownerJobKey(p); key != "" {
				c.queue.Add(key)
			} else if metav1.GetControllerOfNoCopy(p) == nil {
				c.enqueueMatching(p)
			}
		}
	}
	_, _ = c.podInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    podChanged,
		UpdateFunc: func(_, obj any) { podChanged(obj) },
		DeleteFunc: podChanged,
	})
	return c
}

// enqueueMatching queues the Jobs of an orphan pod's namespace whose
// selector matches it (one may adopt it).
func (c *Controller) enqueueMatching(pod *corev1.Pod) {
	objs, _ := c.jobInformer.GetIndexer().ByIndex(cache.NamespaceIndex, pod.Namespace)
	for _, o := range objs {
		job := o.(*batchv1.Job)
		sel, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(pod.Labels)) {
			c.enqueueJob(job)
		}
	}
}

func (c *Controller) enqueueJob(obj any) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}

// ownerJobKey is "namespace/name" of the Job controlling p, or "".
func ownerJobKey(p *corev1.Pod) string {
	ref := metav1.GetControllerOf(p)
	if ref == nil || ref.Kind != "Job" || !strings.HasPrefix(ref.APIVersion, "batch/") {
		return ""
	}
	return p.Namespace + "/" + ref.Name
}

// Run manages Jobs until ctx ends, and returns after its informers,
// workers and event writer have stopped.
func (c *Controller) Run(ctx context.Context) error {
	return c.informers.RunController(ctx, c.queue, c.events, workers, c.processNext, c.jobInformer, c.podInformer)
}

func (c *Controller) processNext(ctx context.Context) bool {
	return kubeclient.ProcessNext(ctx, c.queue, c.Sync, "syncing Job", "job")
}

// Sync brings the Job named key ("namespace/name") one step closer to
// what it asks for, and says when to look at it again.
func (c *Controller) Sync(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	// The Job is read from the API, not the cache: the uncounted pods in
	// its status must be the ones last written.
	job, err := c.client.Jobs(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		c.forget(key)
		return 0, c.releaseAll(ctx, c.podsOf(key, ""))
	}
	if err != nil {
		return 0, err
	}
	own, orphans := c.podsOf(key, job.UID), c.podsNotOf(key, job.UID)
	if err := c.releaseAll(ctx, orphans); err != nil {
		return 0, err
	}
	if job.DeletionTimestamp != nil {
		// Its pods go with it (garbage collector): let them.
		return 0, c.releaseAll(ctx, own)
	}
	if m := job.Spec.ManagedBy; m != nil && *m != batchv1.JobControllerName {
		return 0, nil
	}
	now := c.now()
	if _, _, done := Finished(job); done {
		if err := c.releaseAll(ctx, own); err != nil {
			return 0, err
		}
		return c.expire(ctx, job, now)
	}

	if adopt, release := Claim(job, append(own[:len(own):len(own)], c.orphans(ns)...)); len(adopt)+len(release) > 0 {
		if own, err = c.claim(ctx, job, own, adopt, release); err != nil {
			return 0, err
		}
	}

	d := Decide(Input{Job: job, Pods: own, Now: now, Settled: c.settled(key, own, now)})

	for _, p := range d.Delete {
		if err := c.deletePod(ctx, key, job, p); err != nil {
			return 0, err
		}
	}
	var createErr error
	for _, p := range d.Create {
		created, err := c.client.Pods(ns).Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			d.Status.Active--
			if createErr == nil {
				createErr = err
				c.events.Eventf(job, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
			}
			continue
		}
		c.expect(key, created.UID, true, now)
		c.events.Eventf(job, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %s", created.Name)
	}

	if !equality.Semantic.DeepEqual(job.Status, d.Status) {
		job = job.DeepCopy()
		job.Status = d.Status
		updated, err := c.client.Jobs(ns).UpdateStatus(ctx, job, metav1.UpdateOptions{})
		if err != nil {
			return 0, fmt.Errorf("job %s: writing status: %w", key, err)
		}
		job = updated
	}
	// Only now that the uncounted pods are stored may their finalizers go.
	if err := c.releaseAll(ctx, d.Release); err != nil {
		return 0, err
	}
	for _, e := range d.Events {
		c.events.Event(job, e.Type, e.Reason, e.Message)
	}
	if createErr != nil {
		return 0, createErr
	}
	if _, _, done := Finished(job); done {
		return c.expire(ctx, job, now)
	}
	return d.Requeue, nil
}

// expire deletes a finished Job whose ttlSecondsAfterFinished has passed
// (with its pods, in the foreground, as kube's ttl-after-finished
// controller does), or says when it will have.
func (c *Controller) expire(ctx context.Context, job *batchv1.Job, now time.Time) (time.Duration, error) {
	left, ok := TTLLeft(job, now)
	if !ok {
		return 0, nil
	}
	if left > 0 {
		return left, nil
	}
	fg := metav1.DeletePropagationForeground
	err := c.client.Jobs(job.Namespace).Delete(ctx, job.Name, metav1.DeleteOptions{
		PropagationPolicy: &fg, Preconditions: &metav1.Preconditions{UID: &job.UID}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return 0, nil
	}
	return 0, err
}

// TTLLeft is the time left before a finished Job with
// ttlSecondsAfterFinished is to be deleted; ok is false when it is not
// finished or has no TTL.
func TTLLeft(job *batchv1.Job, now time.Time) (time.Duration, bool) {
	if job.Spec.TTLSecondsAfterFinished == nil {
		return 0, false
	}
	_, at, done := Finished(job)
	if !done {
		return 0, false
	}
	return at.Add(time.Duration(*job.Spec.TTLSecondsAfterFinished) * time.Second).Sub(now), true
}

func (c *Controller) deletePod(ctx context.Context, key string, job *batchv1.Job, p *corev1.Pod) error {
	if err := c.release(ctx, p); err != nil {
		return err
	}
	uid := p.UID
	err := c.client.Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	if err != nil {
		c.events.Eventf(job, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
		return fmt.Errorf("job %s: deleting pod %s: %w", key, p.Name, err)
	}
	c.expect(key, uid, false, c.now())
	c.events.Eventf(job, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %s", p.Name)
	return nil
}

// release removes the tracking finalizer from p (a no-op when it is gone).
func (c *Controller) release(ctx context.Context, p *corev1.Pod) error {
	if !hasFinalizer(p) {
		return nil
	}
	patch := fmt.Sprintf(`{"metadata":{"$deleteFromPrimitiveList/finalizers":[%q],"uid":%q}}`, batchv1.JobTrackingFinalizer, p.UID)
	_, err := c.client.Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("removing the tracking finalizer of pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	return nil
}

func (c *Controller) releaseAll(ctx context.Context, pods []*corev1.Pod) error {
	for _, p := range pods {
		if err := c.release(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// podsOf lists the cached pods controlled by the Job key with uid (any
// uid when uid is empty).
func (c *Controller) podsOf(key string, uid types.UID) []*corev1.Pod {
	return c.pods(key, func(ref types.UID) bool { return uid == "" || ref == uid })
}

// podsNotOf lists pods controlled by an earlier Job of the same name.
func (c *Controller) podsNotOf(key string, uid types.UID) []*corev1.Pod {
	return c.pods(key, func(ref types.UID) bool { return ref != uid })
}

func (c *Controller) pods(key string, match func(types.UID) bool) []*corev1.Pod {
	objs, _ := c.podInformer.GetIndexer().ByIndex(byJobIndex, key)
	out := make([]*corev1.Pod, 0, len(objs))
	for _, o := range objs {
		p := o.(*corev1.Pod)
		if ref := metav1.GetControllerOf(p); ref != nil && match(ref.UID) {
			out = append(out, p)
		}
	}
	return out
}

// orphans lists the cached pods of namespace ns that have no controller.
func (c *Controller) orphans(ns string) []*corev1.Pod {
	return kubeclient.PodsWhere(c.podInformer, cache.NamespaceIndex, ns, func(m metav1.Object) bool {
		return metav1.GetControllerOfNoCopy(m) == nil
	})
}

// claim adopts and releases pods (Claim's choice) and returns the Job's
// pods once it has. The Job was just read from the API, so it is not
// being deleted: it may adopt.
func (c *Controller) claim(ctx context.Context, job *batchv1.Job, own, adopt, release []*corev1.Pod) ([]*corev1.Pod, error) {
	gone := map[types.UID]bool{}
	for _, p := range release {
		if _, err := c.patchOwners(ctx, Released(job, p)); err != nil {
			return nil, err
		}
		gone[p.UID] = true
	}
	var out []*corev1.Pod
	for _, p := range own {
		if !gone[p.UID] {
			out = append(out, p)
		}
	}
	for _, p := range adopt {
		adopted, err := c.patchOwners(ctx, Adopted(job, p))
		if err != nil {
			return nil, err
		}
		if adopted != nil {
			out = append(out, adopted)
		}
	}
	return out, nil
}

// patchOwners writes pod's ownerReferences and finalizers, on the
// condition that the pod is still the one (uid) and unchanged
// (resourceVersion) since the cache saw it. It returns the pod as
// written, nil when it is gone.
func (c *Controller) patchOwners(ctx context.Context, pod *corev1.Pod) (*corev1.Pod, error) {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"ownerReferences": pod.OwnerReferences, "finalizers": pod.Finalizers,
		"uid": pod.UID, "resourceVersion": pod.ResourceVersion,
	}})
	if err != nil {
		return nil, err
	}
	updated, err := c.client.Pods(pod.Namespace).Patch(ctx, pod.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("setting the owners of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return updated, nil
}

func (c *Controller) expect(key string, uid types.UID, created bool, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.expecting[key]
	if e == nil {
		e = &expectation{created: map[types.UID]bool{}, deleted: map[types.UID]bool{}}
		c.expecting[key] = e
	}
	e.since = now
	if created {
		e.created[uid] = true
	} else {
		e.deleted[uid] = true
	}
}

// settled reports whether the cache shows every pod creation and deletion
// this controller made for the Job.
func (c *Controller) settled(key string, pods []*corev1.Pod, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.expecting[key]
	if e == nil {
		return true
	}
	byUID := make(map[types.UID]*corev1.Pod, len(pods))
	for _, p := range pods {
		byUID[p.UID] = p
	}
	for uid := range e.created {
		if byUID[uid] != nil {
			delete(e.created, uid)
		}
	}
	for uid := range e.deleted {
		if p := byUID[uid]; p == nil || p.DeletionTimestamp != nil {
			delete(e.deleted, uid)
		}
	}
	if len(e.created)+len(e.deleted) == 0 || now.Sub(e.since) > expectationsTTL {
		delete(c.expecting, key)
		return true
	}
	return false
}

func (c *Controller) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.expecting, key)
}
