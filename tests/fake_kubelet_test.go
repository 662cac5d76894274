package tests

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

// neverReady is an image name the fake kubelet never starts.
const neverReady = "never-ready"

// outcomeLabel tells the fake kubelet what a pod does once running:
// "succeed" or "fail" (exit 1) after runFor; without it the pod runs on.
const outcomeLabel = "test.skiff.io/outcome"

const runFor = 300 * time.Millisecond

// fakeKubelet plays the kubelet of the Node objects an API-only test
// makes (controllers and scheduler against the real API, no agent):
//   - a pod bound to a node turns Running and Ready after delay, with an
//     IP and a running state for each container, unless an image names
//     neverReady; then Succeeded or Failed, runFor later, if its
//     outcomeLabel says so;
//   - a pod being deleted goes away after delay (a zero grace period,
//     with its UID as precondition), as a kubelet confirms a graceful
//     deletion.
//
// It logs, in the order its watch saw them, "add <pod> <node> rv <rv>",
// "ready <pod> ...", "terminating <pod> ..." and "gone <pod>", calls
// observe (when set) with its cache after every change, and counts the
// most pods of each Job that ran at once. It runs until the test ends.
type fakeKubelet struct {
	c        kubernetes.Interface
	delay    time.Duration
	informer cache.SharedIndexInformer
	ctx      context.Context

	mu      sync.Mutex
	log     []string
	ready   map[types.UID]bool
	term    map[types.UID]bool
	started map[types.UID]bool
	running map[string]map[types.UID]bool // Job name -> its pods running
	maxRun  map[string]int
	observe func(pods []*corev1.Pod)
}

func startFakeKubelet(t *testing.T, c kubernetes.Interface, delay time.Duration) *fakeKubelet {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	k := &fakeKubelet{c: c, delay: delay, ctx: ctx, ready: map[types.UID]bool{}, term: map[types.UID]bool{}, started: map[types.UID]bool{},
		running: map[string]map[types.UID]bool{}, maxRun: map[string]int{}}
	lw := cache.NewListWatchFromClient(c.CoreV1().RESTClient(), "pods", metav1.NamespaceAll, fields.Everything())
	k.informer = cache.NewSharedIndexInformer(lw, &corev1.Pod{}, 0, cache.Indexers{})
	_, _ = k.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { k.changed(obj.(*corev1.Pod), true) },
		UpdateFunc: func(_, obj any) { k.changed(obj.(*corev1.Pod), false) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			p := obj.(*corev1.Pod)
			k.mu.Lock()
			k.log = append(k.log, "gone "+p.Name)
			k.mu.Unlock()
			k.stopped(p)
			k.notify()
		},
	})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); k.informer.Run(ctx.Done()) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	if !cache.WaitForCacheSync(ctx.Done(), k.informer.HasSynced) {
		t.Fatal("fake kubelet: cache did not sync")
	}
	return k
}

func (k *fakeKubelet) changed(p *corev1.Pod, added bool) {
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
	start := p.DeletionTimestamp == nil && p.Spec.NodeName != "" && !k.started[p.UID] && p.Status.Phase != corev1.PodRunning &&
		p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed && !hasImage(p, neverReady)
	if start {
		k.started[p.UID] = true
	}
	k.mu.Unlock()
	k.notify()
	pods := k.c.CoreV1().Pods(p.Namespace)
	name, uid := p.Name, p.UID
	switch {
	case startTerm:
		k.stopped(p)
		time.AfterFunc(k.delay, func() {
			_ = pods.Delete(k.ctx, name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0), Preconditions: &metav1.Preconditions{UID: &uid}})
		})
	case start:
		time.AfterFunc(k.delay, func() { k.run(name, p.Namespace, uid) })
	}
}

// run starts the pod, and ends it if its outcomeLabel says so.
func (k *fakeKubelet) run(name, namespace string, uid types.UID) {
	now := metav1.Now()
	cur := k.setStatus(name, namespace, uid, func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodRunning
		p.Status.StartTime = &now
		p.Status.PodIP = "10.42.0.1"
		p.Status.Conditions = nil
		for _, ct := range []corev1.PodConditionType{corev1.PodScheduled, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
			p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: ct, Status: corev1.ConditionTrue, LastTransitionTime: now})
		}
		p.Status.ContainerStatuses = nil
		for _, c := range p.Spec.Containers {
			p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{
				Name: c.Name, Image: c.Image, Ready: true, Started: ptr.To(true),
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}})
		}
	})
	if cur == nil {
		return
	}
	job := cur.Labels[batchv1.JobNameLabel]
	k.mu.Lock()
	if k.running[job] == nil {
		k.running[job] = map[types.UID]bool{}
	}
	k.running[job][uid] = true
	k.maxRun[job] = max(k.maxRun[job], len(k.running[job]))
	k.mu.Unlock()
	outcome := cur.Labels[outcomeLabel]
	if outcome != "succeed" && outcome != "fail" {
		return
	}
	select {
	case <-k.ctx.Done():
		return
	case <-time.After(runFor):
	}
	code, phase := int32(0), corev1.PodSucceeded
	if outcome == "fail" {
		code, phase = 1, corev1.PodFailed
	}
	k.stopped(cur)
	end := metav1.Now()
	k.setStatus(name, namespace, uid, func(p *corev1.Pod) {
		p.Status.Phase = phase
		for i := range p.Status.Conditions {
			if c := &p.Status.Conditions[i]; c.Type == corev1.PodReady || c.Type == corev1.ContainersReady {
				c.Status, c.LastTransitionTime = corev1.ConditionFalse, end
			}
		}
		for i := range p.Status.ContainerStatuses {
			cs := &p.Status.ContainerStatuses[i]
			cs.Ready, cs.Started = false, ptr.To(false)
			cs.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, StartedAt: now, FinishedAt: end}}
		}
	})
}

// setStatus applies change to the current pod's status and writes it,
// again on a conflict. It returns the pod written, or nil when the pod
// is gone, replaced or being deleted.
func (k *fakeKubelet) setStatus(name, namespace string, uid types.UID, change func(*corev1.Pod)) *corev1.Pod {
	pods := k.c.CoreV1().Pods(namespace)
	for k.ctx.Err() == nil {
		cur, err := pods.Get(k.ctx, name, metav1.GetOptions{})
		if err != nil || cur.UID != uid || cur.DeletionTimestamp != nil {
			return nil
		}
		change(cur)
		out, err := pods.UpdateStatus(k.ctx, cur, metav1.UpdateOptions{})
		switch {
		case err == nil:
			return out
		case apierrors.IsConflict(err):
			continue
		case !apierrors.IsNotFound(err) && k.ctx.Err() == nil:
			fmt.Printf("fake kubelet: status of %s: %v\n", name, err)
		}
		return nil
	}
	return nil
}

func (k *fakeKubelet) stopped(p *corev1.Pod) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.running[p.Labels[batchv1.JobNameLabel]], p.UID)
}

// max is the most pods of a Job that ran at once.
func (k *fakeKubelet) max(job string) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.maxRun[job]
}

func (k *fakeKubelet) notify() {
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
func (k *fakeKubelet) setObserve(f func(pods []*corev1.Pod)) {
	k.mu.Lock()
	k.observe = f
	k.mu.Unlock()
}

// events returns a copy of the log.
func (k *fakeKubelet) events() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.log...)
}

func hasImage(p *corev1.Pod, s string) bool {
	for _, c := range p.Spec.Containers {
		if strings.Contains(c.Image, s) {
			return true
		}
	}
	return false
}
