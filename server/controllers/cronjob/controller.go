package cronjob

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/skiff-io/skiff/server/controllers/events"
	"github.com/skiff-io/skiff/server/kubeclient"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// Name is the controller's name in Events.
const Name = "cronjob-controller"

const (
	workers    = 2
	retryBase  = 100 * time.Millisecond
	retryMax   = 30 * time.Second
	byCronJob  = "owner-cronjob" // shared informer: a name of its own
	jobAPIKind = "Job"
)

// Options tune a Controller; the zero value is the default.
type Options struct {
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Informers are shared with the other controllers (its own when nil).
	Informers *kubeclient.Informers
}

// Controller starts CronJobs' Jobs on schedule.
type Controller struct {
	client kubeclient.Interface
	now    func() time.Time
	events *events.Recorder
	// informers are shared with the other controllers.
	informers *kubeclient.Informers

	cronInformer cache.SharedIndexInformer
	jobInformer  cache.SharedIndexInformer
	queue        workqueue.TypedRateLimitingInterface[string]
}

// New builds the controller.
func New(client kubeclient.Interface, opts Options) *Controller {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &Controller{
		client: client,
		now:    opts.Now,
		events: events.New(client, Name, events.Options{Now: opts.Now}),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](retryBase, retryMax),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "cronjob"}),
	}
	c.informers = kubeclient.OrNew(opts.Informers, client)
	c.cronInformer, c.jobInformer = c.informers.CronJobs(), c.informers.Jobs()
	kubeclient.AddIndexers(c.jobInformer, cache.Indexers{byCronJob: func(obj any) ([]string, error) {
		if key := ownerKey(obj.(*batchv1.Job)); key != "" {
			return []string{key}, nil
		}
		return nil, nil
	}})
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			c.queue.Add(key)
		}
	}
	_, _ = c.cronInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
	})
	jobChanged := func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		if j, ok := obj.(*batchv1.Job); ok {
			if key := ownerKey(j); key != "" {
				c.queue.Add(key)
			}
		}
	}
	_, _ = c.jobInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    jobChanged,
		UpdateFunc: func(_, obj any) { jobChanged(obj) },
		DeleteFunc: jobChanged,
	})
	return c
}

// ownerKey is "namespace/name" of the CronJob controlling j, or "".
func ownerKey(j *batchv1.Job) string {
	ref := metav1.GetControllerOf(j)
	if ref == nil || ref.Kind != "CronJob" || !strings.HasPrefix(ref.APIVersion, "batch/") {
		return ""
	}
	return j.Namespace + "/" + ref.Name
}

// Run starts Jobs until ctx ends, and returns after its informers,
// workers and event writer have stopped.
func (c *Controller) Run(ctx context.Context) error {
	return c.informers.RunController(ctx, c.queue, c.events, workers, c.processNext, c.cronInformer, c.jobInformer)
}

func (c *Controller) processNext(ctx context.Context) bool {
	return kubeclient.ProcessNext(ctx, c.queue, c.Sync, "syncing CronJob", "cronjob")
}

// Sync runs one pass over the CronJob named key ("namespace/name") and
// says when to look at it again.
func (c *Controller) Sync(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	cj, err := c.client.CronJobs(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	jobs, err := c.jobsOf(ctx, key, cj)
	if err != nil {
		return 0, err
	}
	in := Input{CronJob: cj, Jobs: jobs, Now: c.now(), Location: time.UTC}
	if cj.DeletionTimestamp == nil && (cj.Spec.Suspend == nil || !*cj.Spec.Suspend) {
		in.Schedule, in.Location = c.parse(cj)
	}
	d := Decide(in)

	for _, j := range d.Delete {
		bg := metav1.DeletePropagationBackground
		uid := j.UID
		err := c.client.Jobs(ns).Delete(ctx, j.Name, metav1.DeleteOptions{PropagationPolicy: &bg, Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			c.events.Eventf(cj, corev1.EventTypeWarning, "FailedDelete", "Deleted job: %v", err)
			return 0, fmt.Errorf("cronjob %s: deleting job %s: %w", key, j.Name, err)
		}
		c.events.Eventf(cj, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted job %v", j.Name)
	}
	var createErr error
	if d.Create != nil {
		created, err := c.client.Jobs(ns).Create(ctx, d.Create, metav1.CreateOptions{})
		switch {
		case apierrors.IsAlreadyExists(err):
			// Created in an earlier pass whose status write was lost.
			existing, gerr := c.client.Jobs(ns).Get(ctx, d.Create.Name, metav1.GetOptions{})
			if gerr != nil {
				return 0, gerr
			}
			if !metav1.IsControlledBy(existing, cj) {
				d.Status.LastScheduleTime = cj.Status.LastScheduleTime
				break
			}
			if activeIndex(&d.Status, existing.UID) < 0 {
				if _, done := finished(existing); !done {
					d.Status.Active = append(d.Status.Active, reference(existing))
				}
			}
		case err != nil:
			c.events.Eventf(cj, corev1.EventTypeWarning, "FailedCreate", "Error creating job: %v", err)
			d.Status.LastScheduleTime = cj.Status.LastScheduleTime
			createErr = fmt.Errorf("cronjob %s: creating job: %w", key, err)
		default:
			c.events.Eventf(cj, corev1.EventTypeNormal, "SuccessfulCreate", "Created job %v", created.Name)
			d.Status.Active = append(d.Status.Active, reference(created))
		}
	}
	if !equality.Semantic.DeepEqual(cj.Status, d.Status) {
		cj = cj.DeepCopy()
		cj.Status = d.Status
		if cj, err = c.client.CronJobs(ns).UpdateStatus(ctx, cj, metav1.UpdateOptions{}); err != nil {
			return 0, fmt.Errorf("cronjob %s: writing status: %w", key, err)
		}
	}
	for _, e := range d.Events {
		c.events.Event(cj, e.Type, e.Reason, e.Message)
	}
	if createErr != nil {
		return 0, createErr
	}
	return d.Requeue, nil
}

// parse reads the CronJob's schedule in its time zone; problems are
// reported as Events (kube's) and leave the schedule nil.
func (c *Controller) parse(cj *batchv1.CronJob) (cron.Schedule, *time.Location) {
	spec, loc := cj.Spec.Schedule, time.UTC
	switch {
	case strings.Contains(spec, "TZ"):
		c.events.Eventf(cj, corev1.EventTypeWarning, "UnsupportedSchedule",
			"CRON_TZ or TZ used in schedule %q is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details", spec)
	case cj.Spec.TimeZone != nil:
		l, err := time.LoadLocation(*cj.Spec.TimeZone)
		if err != nil {
			c.events.Eventf(cj, corev1.EventTypeWarning, "UnknownTimeZone", "invalid timeZone: %q: %s", *cj.Spec.TimeZone, err)
			return nil, loc
		}
		spec, loc = "TZ="+*cj.Spec.TimeZone+" "+spec, l
	}
	s, err := cron.ParseStandard(spec)
	if err != nil {
		c.events.Eventf(cj, corev1.EventTypeWarning, "UnparseableSchedule", "unparseable schedule: %q : %s", cj.Spec.Schedule, err)
		return nil, loc
	}
	return s, loc
}

// jobsOf lists the CronJob's Jobs from the cache, plus the ones its
// active list names that the cache does not show yet (read from the API,
// so that a slow watch does not make an active Job look missing).
func (c *Controller) jobsOf(ctx context.Context, key string, cj *batchv1.CronJob) ([]*batchv1.Job, error) {
	objs, _ := c.jobInformer.GetIndexer().ByIndex(byCronJob, key)
	var out []*batchv1.Job
	seen := map[string]bool{}
	for _, o := range objs {
		j := o.(*batchv1.Job)
		if ref := metav1.GetControllerOf(j); ref != nil && ref.UID == cj.UID {
			out = append(out, j)
			seen[string(j.UID)] = true
		}
	}
	for _, ref := range cj.Status.Active {
		if seen[string(ref.UID)] {
			continue
		}
		j, err := c.client.Jobs(cj.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if j.UID == ref.UID {
			out = append(out, j)
		}
	}
	return out, nil
}

func reference(j *batchv1.Job) corev1.ObjectReference {
	return corev1.ObjectReference{Kind: jobAPIKind, APIVersion: batchv1.SchemeGroupVersion.String(),
		Namespace: j.Namespace, Name: j.Name, UID: j.UID, ResourceVersion: j.ResourceVersion}
}
