package namespace

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
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
)

const (
	// workers is how many namespaces are emptied at once.
	workers = 2
	// listPage bounds how many objects' metadata one list reads.
	listPage = 500
	// settle is how long after deletionTimestamp the last, verifying pass
	// must start. A create admitted just before the namespace turned
	// Terminating may still be on its way to the datastore; kube delays
	// the whole deletion by 5s for this, skiff starts at once and only
	// holds back the finalize. deletionTimestamp has whole seconds, so
	// the real margin is 0.5s to 1.5s.
	settle = 1500 * time.Millisecond
	// Backoff between passes while content remains (objects' own
	// finalizers, pods stopping) or a step failed.
	backoffBase = 200 * time.Millisecond
	backoffMax  = 5 * time.Second
)

// Controller empties and finalizes deleted namespaces.
type Controller struct {
	client   kubeclient.Interface
	metadata metadata.Interface
	// discover lists the server's preferred namespaced resources.
	discover func(ctx context.Context) ([]*metav1.APIResourceList, error)
	informer cache.SharedIndexInformer
	queue    workqueue.TypedRateLimitingInterface[string]
	now      func() time.Time
}

// NewForConfig builds the controller on a loopback client of the server.
func NewForConfig(cfg *rest.Config, client kubeclient.Interface) (*Controller, error) {
	md, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return New(client, md), nil
}

// New builds the controller from its clients.
func New(client kubeclient.Interface, md metadata.Interface) *Controller {
	c := &Controller{
		client:   client,
		metadata: md,
		discover: client.PreferredResources,
		informer: kubeclient.NewInformer(client.Namespaces(), &corev1.Namespace{}, nil, nil),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](backoffBase, backoffMax),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "namespace"}),
		now: time.Now,
	}
	enqueue := func(obj any) {
		if ns, ok := obj.(*corev1.Namespace); ok && ns.DeletionTimestamp != nil {
			c.queue.Add(ns.Name)
		}
	}
	_, _ = c.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
	})
	return c
}

// Run processes deleted namespaces until ctx ends, and returns after its
// informer and workers have stopped.
func (c *Controller) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	defer c.queue.ShutDown()
	if !kubeclient.StartInformers(ctx, &wg, c.informer) {
		return nil // ctx ended first
	}
	kubeclient.RunWorkers(ctx, &wg, workers, c.processNext)
	return nil
}

func (c *Controller) processNext(ctx context.Context) bool {
	name, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(name)
	res, err := c.Reconcile(ctx, name)
	switch {
	case err != nil:
		if ctx.Err() == nil {
			klog.ErrorS(err, "namespace deletion", "namespace", name)
		}
		c.queue.AddRateLimited(name)
	case res.Remaining:
		c.queue.AddRateLimited(name)
	case res.After > 0:
		c.queue.Forget(name)
		c.queue.AddAfter(name, res.After)
	default:
		c.queue.Forget(name)
	}
	return true
}

// Result says when Reconcile wants to see a namespace again.
type Result struct {
	// Remaining: content is still there (held by finalizers, pods
	// stopping); try again with backoff.
	Remaining bool
	// After: the namespace is empty but was deleted too recently to be
	// finalized; look again after this long.
	After time.Duration
}

// Reconcile brings one namespace closer to gone: if it is being deleted it
// deletes its content, records progress in its conditions and, once it is
// empty, removes the "kubernetes" finalizer.
func (c *Controller) Reconcile(ctx context.Context, name string) (Result, error) {
	nsc := c.client.Namespaces()
	ns, err := nsc.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return Result{}, nil
	}
	if err != nil {
		return Result{}, err
	}
	if ns.DeletionTimestamp == nil || !hasFinalizer(ns.Spec.Finalizers) {
		return Result{}, nil
	}
	if ns.Status.Phase != corev1.NamespaceTerminating {
		ns = ns.DeepCopy()
		ns.Status.Phase = corev1.NamespaceTerminating
		if ns, err = nsc.UpdateStatus(ctx, ns, metav1.UpdateOptions{}); err != nil {
			return Result{}, ignoreNotFound(err)
		}
	}

	rep := c.deleteContent(ctx, name)

	now := metav1.NewTime(c.now())
	updated := ns.DeepCopy()
	if updateConditions(&updated.Status, rep.conditions(now), now) {
		switch u, err := nsc.UpdateStatus(ctx, updated, metav1.UpdateOptions{}); {
		case err == nil:
			ns = u
		case apierrors.IsNotFound(err):
			return Result{}, nil
		default:
			// The conditions are a report; the next pass writes them again.
			klog.ErrorS(err, "namespace conditions", "namespace", name)
		}
	}
	if !rep.done() {
		if len(rep.deleteErrs) > 0 || rep.discoveryErr != nil || rep.gvParseErr != nil {
			return Result{}, errors.Join(append(rep.deleteErrs, rep.discoveryErr, rep.gvParseErr)...)
		}
		return Result{Remaining: true}, nil
	}
	if wait := ns.DeletionTimestamp.Add(settle).Sub(c.now()); wait > 0 {
		return Result{After: wait}, nil
	}
	return Result{}, c.finalize(ctx, ns)
}

// finalize removes the "kubernetes" entry from spec.finalizers through
// /finalize; the API deletes the namespace when nothing else holds it.
func (c *Controller) finalize(ctx context.Context, ns *corev1.Namespace) error {
	nsc := c.client.Namespaces()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		f := ns.DeepCopy()
		f.Spec.Finalizers = nil
		for _, x := range ns.Spec.Finalizers {
			if x != corev1.FinalizerKubernetes {
				f.Spec.Finalizers = append(f.Spec.Finalizers, x)
			}
		}
		_, err := nsc.Finalize(ctx, f, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			cur, gerr := nsc.Get(ctx, ns.Name, metav1.GetOptions{})
			if gerr != nil {
				return gerr
			}
			ns = cur
		}
		return err
	})
	return ignoreNotFound(err)
}

// deleteContent makes one pass: deletecollection on every namespaced
// resource that supports it, then a metadata-only list to see what is left.
func (c *Controller) deleteContent(ctx context.Context, ns string) *report {
	rep := &report{left: map[schema.GroupVersionResource]remaining{}}
	lists, err := c.discover(ctx)
	if err != nil {
		// Partial discovery still names resources to work on.
		rep.discoveryErr = err
	}
	// kube's rules: only resources that can be deleted, deleted as a
	// collection and listed; subresources are not content.
	for _, l := range lists {
		if _, err := schema.ParseGroupVersion(l.GroupVersion); err != nil {
			rep.gvParseErr = err
		}
	}
	var gvrs []schema.GroupVersionResource
	for _, l := range kubeclient.FilterResources(lists, func(_ schema.GroupVersion, r *metav1.APIResource) bool {
		return r.Namespaced && kubeclient.HasVerbs(r, "delete", "deletecollection", "list")
	}) {
		gv, _ := schema.ParseGroupVersion(l.GroupVersion) // FilterResources keeps only valid ones
		for _, r := range l.APIResources {
			gvrs = append(gvrs, gv.WithResource(r.Name))
		}
	}
	background := metav1.DeletePropagationBackground
	for _, gvr := range gvrs {
		if ctx.Err() != nil {
			rep.deleteErrs = append(rep.deleteErrs, ctx.Err())
			return rep
		}
		rc := c.metadata.Resource(gvr).Namespace(ns)
		if err := rc.DeleteCollection(ctx, metav1.DeleteOptions{PropagationPolicy: &background}, metav1.ListOptions{}); err != nil &&
			!apierrors.IsNotFound(err) && !apierrors.IsMethodNotSupported(err) {
			rep.deleteErrs = append(rep.deleteErrs, err)
			continue
		}
		var left remaining
		opts := metav1.ListOptions{Limit: listPage}
		for {
			page, err := rc.List(ctx, opts)
			if err != nil {
				rep.deleteErrs = append(rep.deleteErrs, err)
				break
			}
			left.tally(page.Items)
			if page.Continue == "" {
				break
			}
			opts.Continue = page.Continue
		}
		if left.count > 0 {
			rep.left[gvr] = left
		}
		if left.unexpected() {
			rep.deleteErrs = append(rep.deleteErrs, fmt.Errorf("unexpected items still remain in namespace: %s for gvr: %v", ns, gvr))
		}
	}
	return rep
}

func hasFinalizer(fs []corev1.FinalizerName) bool {
	for _, f := range fs {
		if f == corev1.FinalizerKubernetes {
			return true
		}
	}
	return false
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
