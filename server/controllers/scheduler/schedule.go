package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/skiff-io/skiff/server/scheduler"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
)

// scheduleNext takes one pod off the queue and decides for it; the binding
// or failure report runs on a binder, which marks the key done. It returns
// false when the queue has shut down.
func (c *Controller) scheduleNext(ctx context.Context) bool {
	key, quit := c.queue.Get()
	if quit {
		return false
	}
	if ctx.Err() != nil {
		// Shutting down: the queue would hand out what it still holds.
		c.queue.Done(key)
		return false
	}
	pod, attempt, ok := c.pending(key)
	if !ok {
		c.queue.Forget(key)
		c.queue.Done(key)
		return true
	}
	c.mu.Lock()
	res, err := scheduler.Schedule(c.snap, pod)
	if err == nil {
		// Assume: count the pod on its node now, so the next decision sees
		// it, whatever the informer has caught up with.
		c.snap.AddPod(pod, res.NodeName)
		c.assumed[pod.UID] = res.NodeName
	}
	c.mu.Unlock()
	if err == nil {
		c.effects <- func(ctx context.Context) { c.bind(ctx, key, pod, res.NodeName) }
	} else {
		c.effects <- func(ctx context.Context) { c.failed(ctx, key, pod, attempt, err) }
	}
	return true
}

// pending returns the pod behind key if it still waits for this scheduler,
// and the move counts its attempt starts at.
func (c *Controller) pending(key string) (*corev1.Pod, attempt, bool) {
	obj, exists, err := c.podInformer.GetIndexer().GetByKey(key)
	if err != nil || !exists {
		return nil, attempt{}, false
	}
	pod := obj.(*corev1.Pod)
	if pod.Spec.NodeName != "" || pod.DeletionTimestamp != nil || finished(pod) || !responsible(pod) {
		return nil, attempt{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, assumed := c.assumed[pod.UID]; assumed {
		return nil, attempt{}, false
	}
	return pod, attempt{c.moves, c.podMoves}, true
}

// bind assigns pod to node through pods/binding.
func (c *Controller) bind(ctx context.Context, key string, pod *corev1.Pod, node string) {
	defer c.queue.Done(key)
	b := &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: node},
	}
	err := c.selectNode(ctx, pod, node)
	if err == nil {
		err = c.client.Pods(pod.Namespace).Bind(ctx, b, metav1.CreateOptions{})
	}
	if err != nil {
		c.mu.Lock()
		if c.assumed[pod.UID] == node {
			delete(c.assumed, pod.UID)
			c.snap.RemovePod(pod)
		}
		c.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		if apierrors.IsNotFound(err) {
			c.queue.Forget(key) // deleted meanwhile
			return
		}
		if apierrors.IsConflict(err) {
			// Assigned by someone else, or replaced: the informer will
			// tell, and the retry (after backoff) then finds nothing to do.
			klog.V(2).InfoS("binding refused", "pod", key, "node", node, "err", err)
			c.queue.AddRateLimited(key)
			return
		}
		klog.ErrorS(err, "binding pod", "pod", key, "node", node)
		c.queue.AddRateLimited(key)
		return
	}
	c.queue.Forget(key)
	klog.V(2).InfoS("pod bound", "pod", key, "node", node)
	msg := fmt.Sprintf("Successfully assigned %s/%s to %s", pod.Namespace, pod.Name, node)
	write := func(ctx context.Context) {
		if err := c.events.emit(ctx, pod, corev1.EventTypeNormal, "Scheduled", "Binding", msg); err != nil && ctx.Err() == nil {
			klog.V(2).InfoS("recording event", "pod", key, "err", err)
		}
		c.events.forget(pod.UID) // a pod is scheduled once: nothing to aggregate
	}
	select {
	case c.scheduled <- write:
	default:
		klog.V(2).InfoS("Scheduled event dropped: too many waiting", "pod", key)
		c.events.forget(pod.UID)
	}
}

// failed reports that no node fits pod, then parks it until the cluster
// changes (or sends it back to the queue, if it already has).
func (c *Controller) failed(ctx context.Context, key string, pod *corev1.Pod, began attempt, schedErr error) {
	defer c.queue.Done(key)
	msg := schedErr.Error()
	klog.V(2).InfoS("pod unschedulable", "pod", key, "reason", msg)
	if err := c.setUnschedulable(ctx, pod, msg); err != nil && ctx.Err() == nil && !apierrors.IsNotFound(err) {
		klog.ErrorS(err, "updating pod status", "pod", key)
	}
	if err := c.events.emit(ctx, pod, corev1.EventTypeWarning, "FailedScheduling", "Scheduling", msg); err != nil && ctx.Err() == nil {
		klog.V(2).InfoS("recording event", "pod", key, "err", err)
	}
	var fe *scheduler.FitError
	onPodAdd := errors.As(schedErr, &fe) && waitsForPods(fe)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.moves != began.moves || (onPodAdd && c.podMoves != began.podMoves) {
		// Something changed while this attempt ran: try again (after the
		// pod's backoff) instead of waiting for a change already past.
		c.queue.AddRateLimited(key)
		return
	}
	c.parkLocked(key, waiting{since: c.now(), onPodAdd: onPodAdd})
}

func waitsForPods(fe *scheduler.FitError) bool {
	for r := range fe.Reasons {
		if r == scheduler.ReasonAffinity || strings.HasPrefix(r, scheduler.ReasonTopologySpread) {
			return true
		}
	}
	return false
}

// setUnschedulable sets the PodScheduled=False condition, as
// kube-scheduler does, unless the pod already says the same.
func (c *Controller) setUnschedulable(ctx context.Context, pod *corev1.Pod, msg string) error {
	cond := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
		Reason: corev1.PodReasonUnschedulable, Message: msg, LastTransitionTime: metav1.NewTime(c.now())}
	for _, have := range pod.Status.Conditions {
		if have.Type != corev1.PodScheduled {
			continue
		}
		if have.Status == cond.Status && have.Reason == cond.Reason && have.Message == cond.Message {
			return nil
		}
		if have.Status == cond.Status {
			cond.LastTransitionTime = have.LastTransitionTime
		}
	}
	patch, err := json.Marshal(map[string]any{
		"status": map[string]any{"conditions": []corev1.PodCondition{cond}},
	})
	if err != nil {
		return err
	}
	_, err = c.client.Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	return err
}
