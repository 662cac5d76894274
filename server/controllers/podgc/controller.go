package podgc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/skiff-io/skiff/server/kubeclient"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
)

// checkEvery is how often every pod is looked at, as Kubernetes' pod GC
// does (changes that matter also trigger a pass at once).
const checkEvery = 20 * time.Second

// key is the queue's one item: every pass looks at all pods.
const key = "pods"

// Options tune a Controller; the zero value is the default.
type Options struct {
	// Threshold is how many finished pods are kept: 0 means
	// DefaultThreshold, negative keeps them all.
	Threshold int
	// Quarantine is DefaultQuarantine when zero.
	Quarantine time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Informers are shared with the other controllers (its own when nil).
	Informers *kubeclient.Informers
}

// Controller deletes orphaned, excess finished and unscheduled
// terminating pods.
type Controller struct {
	client  kubeclient.Interface
	opts    Options
	inf     *kubeclient.Informers
	pods    cache.SharedIndexInformer
	nodes   cache.SharedIndexInformer
	queue   workqueue.TypedRateLimitingInterface[string]
	mu      sync.Mutex
	missing map[string]time.Time
}

// New builds the controller.
func New(client kubeclient.Interface, opts Options) *Controller {
	if opts.Threshold == 0 {
		opts.Threshold = DefaultThreshold
	}
	if opts.Quarantine <= 0 {
		opts.Quarantine = DefaultQuarantine
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	inf := kubeclient.OrNew(opts.Informers, client)
	c := &Controller{
		client:  client,
		opts:    opts,
		inf:     inf,
		pods:    inf.Pods(),
		nodes:   inf.Nodes(),
		missing: map[string]time.Time{},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "podgc"}),
	}
	_, _ = c.nodes.AddEventHandler(cache.ResourceEventHandlerFuncs{DeleteFunc: func(any) { c.queue.Add(key) }})
	podChanged := func(obj any) {
		p, ok := obj.(*corev1.Pod)
		if !ok {
			return
		}
		finished := p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
		if finished || (p.Spec.NodeName == "" && p.DeletionTimestamp != nil) {
			c.queue.Add(key)
		}
	}
	_, _ = c.pods.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: podChanged, UpdateFunc: func(_, obj any) { podChanged(obj) }})
	return c
}

// Run collects pods until ctx ends and returns after its informers and
// worker have stopped.
func (c *Controller) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	defer c.queue.ShutDown()
	if !c.inf.Start(ctx, &wg, c.pods, c.nodes) {
		return nil
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(checkEvery)
		defer t.Stop()
		for {
			c.queue.Add(key)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	kubeclient.RunWorkers(ctx, &wg, 1, c.processNext)
	return nil
}

func (c *Controller) processNext(ctx context.Context) bool {
	k, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(k)
	next, err := c.Sync(ctx)
	if err != nil {
		if ctx.Err() == nil {
			klog.ErrorS(err, "pod garbage collection")
		}
		c.queue.AddRateLimited(k)
		return true
	}
	c.queue.Forget(k)
	if next > 0 {
		c.queue.AddAfter(k, next)
	}
	return true
}

// Sync makes one pass over all pods.
func (c *Controller) Sync(ctx context.Context) (time.Duration, error) {
	now := c.opts.Now()
	var pods []*corev1.Pod
	for _, o := range c.pods.GetIndexer().List() {
		pods = append(pods, o.(*corev1.Pod))
	}
	exists := func(name string) bool {
		_, ok, _ := c.nodes.GetIndexer().GetByKey(name)
		return ok
	}
	c.mu.Lock()
	seen := map[string]bool{}
	for _, p := range pods {
		if n := p.Spec.NodeName; n != "" && !exists(n) {
			seen[n] = true
			if _, ok := c.missing[n]; !ok {
				c.missing[n] = now
			}
		}
	}
	for n := range c.missing {
		if !seen[n] {
			delete(c.missing, n)
		}
	}
	missing := make(map[string]time.Time, len(c.missing))
	for n, t := range c.missing {
		missing[n] = t
	}
	c.mu.Unlock()

	dels, next := Decide(Input{
		Pods: pods, NodeExists: exists,
		MissingSince: func(n string) (time.Time, bool) { t, ok := missing[n]; return t, ok },
		Threshold:    c.opts.Threshold, Quarantine: c.opts.Quarantine, Now: now,
	})
	var errs []error
	confirmed := map[string]bool{}
	for _, d := range dels {
		p := d.Pod
		if d.Reason == Orphaned {
			gone, ok := confirmed[p.Spec.NodeName]
			if !ok {
				// The informer may lag: ask the API before deleting.
				_, err := c.client.Nodes().Get(ctx, p.Spec.NodeName, metav1.GetOptions{})
				gone = apierrors.IsNotFound(err)
				if err != nil && !gone {
					errs = append(errs, err)
				}
				confirmed[p.Spec.NodeName] = gone
			}
			if !gone {
				continue
			}
		}
		klog.InfoS("pod gc: deleting pod", "pod", klog.KObj(p), "reason", string(d.Reason))
		uid := p.UID
		err := c.client.Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{
			GracePeriodSeconds: ptr.To[int64](0), Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			errs = append(errs, fmt.Errorf("deleting pod %s/%s (%s): %w", p.Namespace, p.Name, d.Reason, err))
		}
	}
	return next, errors.Join(errs...)
}
