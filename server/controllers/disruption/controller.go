package disruption

import (
	"context"
	"time"

	"github.com/skiff-io/skiff/server/controllers/events"
	"github.com/skiff-io/skiff/server/kubeclient"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

const (
	// workers is how many budgets are computed at once.
	workers = 2
	// Backoff of a budget whose write failed.
	backoffBase = 100 * time.Millisecond
	backoffMax  = 10 * time.Second
	// component is the source of the controller's Events, as in kube.
	component = "controllermanager"
)

// Options tune a Controller; the zero value is the default.
type Options struct {
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Informers are shared with the other controllers (its own when nil).
	Informers *kubeclient.Informers
}

// Controller keeps the status of every PodDisruptionBudget.
type Controller struct {
	client kubeclient.Interface
	now    func() time.Time
	events *events.Recorder
	// informers are shared with the other controllers.
	informers *kubeclient.Informers

	pdbs, pods, replicaSets, deployments, statefulSets cache.SharedIndexInformer
	queue                                              workqueue.TypedRateLimitingInterface[string]
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
		events:       events.New(client, component, events.Options{Now: opts.Now}),
		informers:    inf,
		pdbs:         inf.PodDisruptionBudgets(),
		pods:         inf.Pods(),
		replicaSets:  inf.ReplicaSets(),
		deployments:  inf.Deployments(),
		statefulSets: inf.StatefulSets(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](backoffBase, backoffMax),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "disruption"}),
	}

	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			c.queue.Add(key)
		}
	}
	_, _ = c.pdbs.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
	})
	_, _ = c.pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { c.podChanged(obj) },
		UpdateFunc: func(old, obj any) {
			c.podChanged(obj)
			if !equality.Semantic.DeepEqual(old.(*corev1.Pod).Labels, obj.(*corev1.Pod).Labels) {
				c.podChanged(old)
			}
		},
		DeleteFunc: func(obj any) { c.podChanged(obj) },
	})
	// A workload's new size changes the budgets relative to it.
	scaled := cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(old, obj any) {
			if replicas(old) != replicas(obj) {
				c.namespaceChanged(obj)
			}
		},
		DeleteFunc: c.namespaceChanged,
	}
	for _, inf := range []cache.SharedIndexInformer{c.replicaSets, c.deployments, c.statefulSets} {
		_, _ = inf.AddEventHandler(scaled)
	}
	return c
}

// Run keeps budgets' status until ctx ends, and returns after its
// informers, workers and event writer have stopped.
func (c *Controller) Run(ctx context.Context) error {
	return c.informers.RunController(ctx, c.queue, c.events, workers, c.processNext, c.pdbs, c.pods, c.replicaSets, c.deployments, c.statefulSets)
}

func (c *Controller) processNext(ctx context.Context) bool {
	return kubeclient.ProcessNext(ctx, c.queue, c.Reconcile, "syncing PodDisruptionBudget", "key")
}

// Reconcile computes the status of the budget with key (namespace/name)
// from the informers' view and writes it if it changed. It returns when
// the budget must be looked at again even if nothing changes.
func (c *Controller) Reconcile(ctx context.Context, key string) (time.Duration, error) {
	obj, exists, err := c.pdbs.GetIndexer().GetByKey(key)
	if err != nil || !exists {
		return 0, err
	}
	pdb := obj.(*policyv1.PodDisruptionBudget)
	pods, err := c.selectedPods(pdb)
	var res Result
	switch {
	case err != nil:
		res = Failed(pdb, err, c.now())
		c.events.Eventf(pdb, corev1.EventTypeWarning, "NoPods", "Failed to get pods: %v", err)
	default:
		res = Status(pdb, pods, c, c.now())
		if len(pods) == 0 {
			c.events.Event(pdb, corev1.EventTypeNormal, "NoPods", "No matching pods found")
		}
	}
	switch {
	case err != nil:
	case res.Err != nil:
		c.events.Eventf(pdb, corev1.EventTypeWarning, "CalculateExpectedPodCountFailed", "Failed to calculate the number of expected pods: %v", res.Err)
	case len(res.Unmanaged) > 0:
		c.events.Eventf(pdb, corev1.EventTypeWarning, "UnmanagedPods", "Pods selected by this PodDisruptionBudget (selector: %v) were found "+
			"to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result in undefined behavior. "+
			"To account for these pods please set \".spec.minAvailable\" field of the PDB to an integer value.", pdb.Spec.Selector)
	}
	for _, name := range res.NotDeleted {
		for _, pod := range pods {
			if pod.Name == name {
				c.events.Eventf(pod, corev1.EventTypeWarning, "NotDeleted", "Pod was expected by PDB %s/%s to be deleted but it wasn't", pdb.Namespace, pdb.Name)
			}
		}
	}
	if !Changed(pdb, &res.Status) {
		return res.RecheckAfter, nil
	}
	updated := pdb.DeepCopy()
	updated.Status = res.Status
	if _, err := c.client.PodDisruptionBudgets(pdb.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return 0, nil
		}
		return 0, err
	}
	return res.RecheckAfter, nil
}

// selectedPods are the pods in the budget's namespace its selector matches
// (a missing selector matches none).
func (c *Controller) selectedPods(pdb *policyv1.PodDisruptionBudget) ([]*corev1.Pod, error) {
	sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if err != nil {
		return nil, err
	}
	return kubeclient.PodsWhere(c.pods, cache.NamespaceIndex, pdb.Namespace, func(m metav1.Object) bool {
		return sel.Matches(labels.Set(m.GetLabels()))
	}), nil
}

// podChanged queues the budgets selecting the pod.
func (c *Controller) podChanged(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	objs, _ := c.pdbs.GetIndexer().ByIndex(cache.NamespaceIndex, pod.Namespace)
	for _, o := range objs {
		pdb := o.(*policyv1.PodDisruptionBudget)
		if sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector); err == nil && sel.Matches(labels.Set(pod.Labels)) {
			c.queue.Add(pdb.Namespace + "/" + pdb.Name)
		}
	}
}

// namespaceChanged queues every budget in the object's namespace.
func (c *Controller) namespaceChanged(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	m, ok := obj.(metav1.Object)
	if !ok {
		return
	}
	objs, _ := c.pdbs.GetIndexer().ByIndex(cache.NamespaceIndex, m.GetNamespace())
	for _, o := range objs {
		pdb := o.(*policyv1.PodDisruptionBudget)
		c.queue.Add(pdb.Namespace + "/" + pdb.Name)
	}
}

// Scale implements Scales over the informers' caches: ReplicaSets (or the
// Deployment owning one) and StatefulSets.
func (c *Controller) Scale(ns string, ref metav1.OwnerReference) (types.UID, int32, bool) {
	switch {
	case ref.Kind == "ReplicaSet" && isApps(ref.APIVersion):
		o, ok, _ := c.replicaSets.GetIndexer().GetByKey(ns + "/" + ref.Name)
		if !ok || o.(*appsv1.ReplicaSet).UID != ref.UID {
			return "", 0, false
		}
		rs := o.(*appsv1.ReplicaSet)
		owner := metav1.GetControllerOf(rs)
		if owner == nil || owner.Kind != "Deployment" {
			return rs.UID, deref(rs.Spec.Replicas), true
		}
		if !isApps(owner.APIVersion) {
			return "", 0, false
		}
		o, ok, _ = c.deployments.GetIndexer().GetByKey(ns + "/" + owner.Name)
		if !ok || o.(*appsv1.Deployment).UID != owner.UID {
			return "", 0, false
		}
		d := o.(*appsv1.Deployment)
		return d.UID, deref(d.Spec.Replicas), true
	case ref.Kind == "StatefulSet" && isApps(ref.APIVersion):
		o, ok, _ := c.statefulSets.GetIndexer().GetByKey(ns + "/" + ref.Name)
		if !ok || o.(*appsv1.StatefulSet).UID != ref.UID {
			return "", 0, false
		}
		ss := o.(*appsv1.StatefulSet)
		return ss.UID, deref(ss.Spec.Replicas), true
	}
	return "", 0, false
}

func isApps(apiVersion string) bool {
	return apiVersion == "apps/v1" || apiVersion == "extensions/v1beta1" || apiVersion == "apps/v1beta1" || apiVersion == "apps/v1beta2"
}

func deref(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

func replicas(obj any) int32 {
	switch o := obj.(type) {
	case *appsv1.ReplicaSet:
		return deref(o.Spec.Replicas)
	case *appsv1.Deployment:
		return deref(o.Spec.Replicas)
	case *appsv1.StatefulSet:
		return deref(o.Spec.Replicas)
	}
	return 0
}
