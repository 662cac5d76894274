package tests

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

// setsKubelet plays the kubelet of API-only nodes for the DaemonSet and
// StatefulSet tests: pods bound to a node turn Running and Ready after
// readyDelay, pods being deleted go away after the same delay. It logs,
// in the order its watch saw them, "add <pod>", "ready <pod>",
// "terminating <pod>" and "gone <pod>", and calls observe (if set) with
// its cache after every change.
type setsKubelet struct {
	c          kubernetes.Interface
	readyDelay time.Duration
	informer   cache.SharedIndexInformer

	mu      sync.Mutex
	log     []string
	ready   map[types.UID]bool
	term    map[types.UID]bool
	started map[types.UID]bool
	observe func(pods []*corev1.Pod)
}

func startSetsKubelet(t *testing.T, c kubernetes.Interface, readyDelay time.Duration) *setsKubelet {
	t.Helper()
	k := &setsKubelet{c: c, readyDelay: readyDelay, ready: map[types.UID]bool{}, term: map[types.UID]bool{}, started: map[types.UID]bool{}}
	lw := cache.NewListWatchFromClient(c.CoreV1().RESTClient(), "pods", metav1.NamespaceAll, fields.Everything())
	k.informer = cache.NewSharedIndexInformer(lw, &corev1.Pod{}, 0, cache.Indexers{})
	_, _ = k.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { k.changed(obj.(*corev1.Pod), true) },
		UpdateFunc: func(_, obj any) { k.changed(obj.(*corev1.Pod), false) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			k.mu.Lock()
			k.log = append(k.log, "gone "+obj.(*corev1.Pod).Name)
			k.mu.Unlock()
			k.notify()
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); k.informer.Run(ctx.Done()) }()
	t.Cleanup(func() { cancel(); <-done })
	if !cache.WaitForCacheSync(ctx.Done(), k.informer.HasSynced) {
		t.Fatal("fake kubelet: cache did not sync")
	}
	return k
}

func (k *setsKubelet) changed(p *corev1.Pod, added bool) {
	k.mu.Lock()
	if added {
		k.log = append(k.log, "add "+p.Name+" "+p.Spec.NodeName+" rv "+p.ResourceVersion)
	}
	if podReady(p) && !k.ready[p.UID] {
		k.ready[p.UID] = true
		k.log = append(k.log, "ready "+p.Name+" "+p.Spec.NodeName+" rv "+p.ResourceVersion)
	}
	startTerm := p.DeletionTimestamp != nil && !k.term[p.UID]
	if startTerm {
		k.term[p.UID] = true
		k.log = append(k.log, "terminating "+p.Name+" "+p.Spec.NodeName+" rv "+p.ResourceVersion)
	}
	start := p.DeletionTimestamp == nil && p.Spec.NodeName != "" && p.Status.Phase != corev1.PodRunning && !k.started[p.UID]
	if start {
		k.started[p.UID] = true
	}
	k.mu.Unlock()
	k.notify()
	ctx := context.Background()
	pods := k.c.CoreV1().Pods(p.Namespace)
	switch {
	case startTerm:
		name, uid := p.Name, p.UID
		time.AfterFunc(k.readyDelay, func() {
			zero := int64(0)
			_ = pods.Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &uid}})
		})
	case start:
		name, uid := p.Name, p.UID
		time.AfterFunc(k.readyDelay, func() {
			cur, err := pods.Get(ctx, name, metav1.GetOptions{})
			if err != nil || cur.UID != uid || cur.DeletionTimestamp != nil {
				return
			}
			now := metav1.Now()
			cur.Status.Phase = corev1.PodRunning
			cur.Status.StartTime = &now
			cur.Status.Conditions = []corev1.PodCondition{
				{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
				{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
				{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
				{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
			}
			for _, c := range cur.Spec.Containers {
				cur.Status.ContainerStatuses = append(cur.Status.ContainerStatuses, corev1.ContainerStatus{
					Name: c.Name, Image: c.Image, Ready: true, Started: ptr.To(true),
					State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}})
			}
			if _, err := pods.UpdateStatus(ctx, cur, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				fmt.Printf("fake kubelet: status of %s: %v\n", name, err)
			}
		})
	}
}

func (k *setsKubelet) notify() {
	k.mu.Lock()
	obs := k.observe
	k.mu.Unlock()
	if obs == nil {
		return
	}
	var pods []*corev1.Pod
	for _, o := range k.informer.GetStore().List() {
		pods = append(pods, o.(*corev1.Pod))
	}
	obs(pods)
}

// setObserve installs (or with nil removes) the observer.
func (k *setsKubelet) setObserve(f func(pods []*corev1.Pod)) {
	k.mu.Lock()
	k.observe = f
	k.mu.Unlock()
}

// events returns a copy of the log.
func (k *setsKubelet) events() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.log...)
}

// taintedNode is schedNode with labels and taints.
func taintedNode(t *testing.T, c kubernetes.Interface, name string, labels map[string]string, taints ...corev1.Taint) {
	t.Helper()
	schedNode(t, c, name, "4", "8Gi")
	ctx := context.Background()
	n, err := c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range labels {
		n.Labels[k] = v
	}
	n.Spec.Taints = taints
	if _, err := c.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}
