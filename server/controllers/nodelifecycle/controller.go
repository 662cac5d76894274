package nodelifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/skiff-io/skiff/server/controllers/events"
	"github.com/skiff-io/skiff/server/kubeclient"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
)

// Component names this controller in its Events.
const Component = "node-controller"

const (
	workers = 2
	// resync looks at every node this often even without a change, in
	// case a wake-up computed from the clock was lost.
	resync = time.Minute
)

// Options tune a Controller; the zero value is the default.
type Options struct {
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// GracePeriod applies to nodes without a Lease (DefaultGracePeriod
	// when zero); a node with a Lease gets its leaseDurationSeconds.
	GracePeriod time.Duration
	// Informers are shared with the other controllers (its own when nil).
	Informers *kubeclient.Informers
}

// Controller watches nodes' heartbeats, taints silent nodes and evicts
// their pods.
type Controller struct {
	client kubeclient.Interface
	now    func() time.Time
	grace  time.Duration
	start  time.Time
	events *events.Recorder
	// informers are shared with the other controllers.
	informers *kubeclient.Informers

	nodes, leases, pods cache.SharedIndexInformer
	queue               workqueue.TypedRateLimitingInterface[string]
}

// New builds the controller.
func New(client kubeclient.Interface, opts Options) *Controller {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.GracePeriod <= 0 {
		opts.GracePeriod = DefaultGracePeriod
	}
	inf := kubeclient.OrNew(opts.Informers, client)
	c := &Controller{
		client:    client,
		now:       opts.Now,
		grace:     opts.GracePeriod,
		events:    events.New(client, Component, events.Options{Now: opts.Now}),
		informers: inf,
		nodes:     inf.Nodes(),
		// Only this controller reads node Leases.
		leases: kubeclient.NewInformer(client.Leases(corev1.NamespaceNodeLease), &coordinationv1.Lease{}, nil, nil),
		pods:   inf.Pods(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "nodelifecycle"}),
	}
	_ = c.leases.SetTransform(kubeclient.DropManagedFields)
	kubeclient.AddIndexers(c.pods, cache.Indexers{kubeclient.IndexNodeName: kubeclient.NodeNameIndexFunc})
	_, _ = c.nodes.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			n := obj.(*corev1.Node)
			c.events.Eventf(n, corev1.EventTypeNormal, "RegisteredNode", "Node %s event: Registered Node %s in Controller", n.Name, n.Name)
			c.queue.Add(n.Name)
		},
		UpdateFunc: func(_, obj any) { c.queue.Add(obj.(*corev1.Node).Name) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if n, ok := obj.(*corev1.Node); ok {
				c.events.Eventf(n, corev1.EventTypeNormal, "RemovingNode", "Node %s event: Removing Node %s from Controller", n.Name, n.Name)
			}
		},
	})
	leaseChanged := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			if _, name, err := cache.SplitMetaNamespaceKey(key); err == nil {
				c.queue.Add(name)
			}
		}
	}
	_, _ = c.leases.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: leaseChanged, UpdateFunc: func(_, obj any) { leaseChanged(obj) }, DeleteFunc: leaseChanged,
	})
	podChanged := func(obj any) {
		p, ok := obj.(*corev1.Pod)
		if !ok || p.Spec.NodeName == "" {
			return
		}
		// Only a node in trouble has something to do with its pods.
		if o, ok, _ := c.nodes.GetIndexer().GetByKey(p.Spec.NodeName); ok {
			n := o.(*corev1.Node)
			if r := ReadyCondition(&n.Status); r != nil && r.Status == corev1.ConditionTrue && !hasNoExecute(n) {
				return
			}
			c.queue.Add(n.Name)
		}
	}
	_, _ = c.pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: podChanged, UpdateFunc: func(_, obj any) { podChanged(obj) },
	})
	return c
}

func hasNoExecute(n *corev1.Node) bool {
	for _, t := range n.Spec.Taints {
		if t.Effect == corev1.TaintEffectNoExecute {
			return true
		}
	}
	return false
}

// Run watches nodes until ctx ends and returns after its informers,
// workers and event writer have stopped.
func (c *Controller) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	defer c.queue.ShutDown()
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = c.events.Run(ctx)
	}()
	c.start = c.now()
	if !c.informers.Start(ctx, &wg, c.nodes, c.leases, c.pods) {
		return nil
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(resync)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				for _, name := range c.nodes.GetIndexer().ListKeys() {
					c.queue.Add(name)
				}
			}
		}
	}()
	kubeclient.RunWorkers(ctx, &wg, workers, c.processNext)
	return nil
}

func (c *Controller) processNext(ctx context.Context) bool {
	return kubeclient.ProcessNext(ctx, c.queue, c.Sync, "node lifecycle", "node")
}

// Sync looks at one node: its health, taints, pods' readiness and
// evictions. It returns when the node should be looked at again (0: on
// the next change).
func (c *Controller) Sync(ctx context.Context, name string) (time.Duration, error) {
	obj, ok, err := c.nodes.GetIndexer().GetByKey(name)
	if err != nil || !ok {
		return 0, err
	}
	node := obj.(*corev1.Node).DeepCopy()
	var lease *coordinationv1.Lease
	if o, ok, _ := c.leases.GetIndexer().GetByKey(corev1.NamespaceNodeLease + "/" + name); ok {
		lease = o.(*coordinationv1.Lease)
	}
	now := c.now()
	var next time.Duration
	soonest := func(d time.Duration) {
		if d > 0 && (next == 0 || d < next) {
			next = d
		}
	}

	stale, after := Health(node, lease, c.start, now, c.grace)
	soonest(after)
	ready := ReadyCondition(&node.Status)
	switch {
	case stale && (ready == nil || ready.Status != corev1.ConditionUnknown):
		if node, err = c.markUnknown(ctx, node, now); err != nil {
			return 0, err
		}
	case !stale && ready != nil && ready.Reason == ReasonUnknown && renewedSince(lease, ready.LastTransitionTime.Time):
		if node, err = c.restore(ctx, node, now); err != nil {
			return 0, err
		}
	case ready != nil && ready.Status != corev1.ConditionUnknown && node.Annotations[StashAnnotation] != "":
		// The agent reported before the Lease brought the node back: the
		// stash is stale.
		patch := []byte(`{"metadata":{"annotations":{"` + StashAnnotation + `":null}}}`)
		if node, err = c.client.Nodes().Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: Component}); err != nil {
			return 0, fmt.Errorf("dropping node %s's stashed conditions: %w", name, err)
		}
	}

	if _, changed := Taints(node, now); changed {
		if node, err = c.setTaints(ctx, node.Name, now); err != nil {
			return 0, err
		}
	}

	var pods []*corev1.Pod
	objs, _ := c.pods.GetIndexer().ByIndex(kubeclient.IndexNodeName, name)
	for _, o := range objs {
		pods = append(pods, o.(*corev1.Pod))
	}
	var errs []error
	r := ReadyCondition(&node.Status)
	unknown := r != nil && r.Status == corev1.ConditionUnknown
	for _, p := range pods {
		if cond, ok := PodReadiness(unknown, p, now); ok {
			if err := c.setPodReady(ctx, p, cond); err != nil {
				errs = append(errs, err)
			}
		}
	}

	policy, err := NodePolicy(node)
	if err != nil {
		klog.InfoS("node lifecycle: ignoring a bad annotation", "err", err)
	}
	due, after := Evictions(node, pods, policy, now)
	soonest(after)
	for _, p := range due {
		c.events.Eventf(p, corev1.EventTypeNormal, "TaintManagerEviction", "Marking for deletion Pod %s/%s", p.Namespace, p.Name)
		uid := p.UID
		err := c.client.Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			errs = append(errs, fmt.Errorf("evicting pod %s/%s: %w", p.Namespace, p.Name, err))
		}
	}
	return next, errors.Join(errs...)
}

// renewedSince reports whether the Lease was renewed after t.
func renewedSince(lease *coordinationv1.Lease, t time.Time) bool {
	return lease != nil && lease.Spec.RenewTime != nil && lease.Spec.RenewTime.Time.After(t)
}

// markUnknown stashes the node's conditions, then sets them Unknown.
func (c *Controller) markUnknown(ctx context.Context, node *corev1.Node, now time.Time) (*corev1.Node, error) {
	nodes := c.client.Nodes()
	if len(node.Status.Conditions) > 0 {
		stash, err := json.Marshal(node.Status.Conditions)
		if err != nil {
			return nil, err
		}
		patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{
			"annotations":     map[string]string{StashAnnotation: string(stash)},
			"resourceVersion": node.ResourceVersion,
		}})
		patched, err := nodes.Patch(ctx, node.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: Component})
		if err != nil {
			return nil, fmt.Errorf("stashing node %s's conditions: %w", node.Name, err)
		}
		node = patched
	}
	node = node.DeepCopy()
	if !MarkUnknown(&node.Status, node.CreationTimestamp.Time, now) {
		return node, nil
	}
	updated, err := nodes.UpdateStatus(ctx, node, metav1.UpdateOptions{FieldManager: Component})
	if err != nil {
		return nil, fmt.Errorf("setting node %s Unknown: %w", node.Name, err)
	}
	c.events.Eventf(updated, corev1.EventTypeNormal, "NodeNotReady", "Node %s status is now: NodeNotReady", node.Name)
	return updated, nil
}

// restore puts back the conditions stashed by markUnknown.
func (c *Controller) restore(ctx context.Context, node *corev1.Node, now time.Time) (*corev1.Node, error) {
	var stash []corev1.NodeCondition
	if v := node.Annotations[StashAnnotation]; v != "" {
		if err := json.Unmarshal([]byte(v), &stash); err != nil {
			klog.InfoS("node lifecycle: unreadable stashed conditions", "node", node.Name, "err", err)
		}
	}
	if !Restore(&node.Status, stash, now) {
		return node, nil
	}
	nodes := c.client.Nodes()
	updated, err := nodes.UpdateStatus(ctx, node, metav1.UpdateOptions{FieldManager: Component})
	if err != nil {
		return nil, fmt.Errorf("restoring node %s's conditions: %w", node.Name, err)
	}
	patch := []byte(`{"metadata":{"annotations":{"` + StashAnnotation + `":null}}}`)
	if out, err := nodes.Patch(ctx, node.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: Component}); err == nil {
		updated = out
	}
	c.events.Eventf(updated, corev1.EventTypeNormal, "NodeReady", "Node %s is in contact again", node.Name)
	return updated, nil
}

// setTaints writes the taints Taints computes on the node as stored.
func (c *Controller) setTaints(ctx context.Context, name string, now time.Time) (*corev1.Node, error) {
	nodes := c.client.Nodes()
	for attempt := 0; ; attempt++ {
		cur, err := nodes.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		taints, changed := Taints(cur, now)
		if !changed {
			return cur, nil
		}
		cur.Spec.Taints = taints
		out, err := nodes.Update(ctx, cur, metav1.UpdateOptions{FieldManager: Component})
		if apierrors.IsConflict(err) && attempt < 3 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("tainting node %s: %w", name, err)
		}
		return out, nil
	}
}

// setPodReady writes the pod's Ready condition (a strategic merge patch
// of status.conditions, merged by type).
func (c *Controller) setPodReady(ctx context.Context, p *corev1.Pod, cond corev1.PodCondition) error {
	// Fields left out of a merged list item keep their old values:
	// reason and message are cleared explicitly.
	item := map[string]any{"type": cond.Type, "status": cond.Status, "lastTransitionTime": cond.LastTransitionTime,
		"reason": nil, "message": nil}
	if cond.Reason != "" {
		item["reason"], item["message"] = cond.Reason, cond.Message
	}
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"uid": p.UID},
		"status":   map[string]any{"conditions": []any{item}},
	})
	if err != nil {
		return err
	}
	_, err = c.client.Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{FieldManager: Component}, "status")
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("setting pod %s/%s Ready=%s: %w", p.Namespace, p.Name, cond.Status, err)
	}
	return nil
}
