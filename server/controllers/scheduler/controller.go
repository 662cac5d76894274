package scheduler

import (
	"context"
	"os"
	"sync"
	"time"

	"github.com/skiff-io/skiff/server/kubeclient"
	"github.com/skiff-io/skiff/server/scheduler"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// SchedulerName is the spec.schedulerName this scheduler answers to (an
// empty one means it too).
const SchedulerName = corev1.DefaultSchedulerName

// Tuning, kube-scheduler's where it has one.
const (
	// initialBackoff and maxBackoff bound the per-pod retry delay.
	initialBackoff = time.Second
	maxBackoff     = 10 * time.Second
	// flushInterval is how often pods left unschedulable for longer than
	// maxUnschedulable are retried even though nothing they wait for
	// changed (a missed event, or a change the scheduler does not watch).
	flushInterval    = 30 * time.Second
	maxUnschedulable = time.Minute
	// binders is how many bindings, status writes and events are in
	// flight at once: binding is a round trip to the datastore, scheduling
	// is not, so decisions go on while earlier pods are being bound. The
	// datastore commits concurrent writes together, so more in flight
	// means fewer, larger commits: at 16 the scheduler alone bound at
	// 0.75 of the rate 32 clients bind at.
	binders = 32
	// eventWriters write the Scheduled Events, off the binders' path: a
	// binding is what a pod waits for, its Event is not. scheduledBacklog
	// bounds the Events waiting; beyond it they are dropped, as client-go's
	// event broadcaster drops them when the API cannot keep up.
	eventWriters     = 2
	scheduledBacklog = 1000
)

// Options tune a Controller; the zero value is the default.
type Options struct {
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Instance names this scheduler in its Events (hostname when empty).
	Instance string
	// Informers are shared with the other controllers (its own when nil).
	Informers *kubeclient.Informers
}

// Controller schedules the pods of the default scheduler.
type Controller struct {
	client kubeclient.Interface
	now    func() time.Time
	// informers are shared with the other controllers.
	informers *kubeclient.Informers

	podInformer  cache.SharedIndexInformer
	nodeInformer cache.SharedIndexInformer
	// nsInformer feeds namespaces' labels, for affinity terms with a
	// namespaceSelector.
	nsInformer cache.SharedIndexInformer
	// Claims, volumes and classes feed the VolumeBinding filter.
	claimInformer, volumeInformer, classInformer cache.SharedIndexInformer
	lookup                                       scheduler.VolumeLookup
	queue                                        workqueue.TypedRateLimitingInterface[string]
	// backoff is the queue's per-pod rate limiter: waiting pods sent back
	// to the queue are delayed by it, more after each failed round.
	backoff workqueue.TypedRateLimiter[string]
	events  *recorder
	// effects carries bindings and failure reports to the binders.
	effects chan func(context.Context)
	// scheduled carries Scheduled Events to the event writers.
	scheduled chan func(context.Context)

	mu   sync.Mutex
	snap *scheduler.Snapshot
	// assumed holds pods bound (or being bound) by this scheduler that the
	// informer still shows unassigned: they are in snap already.
	assumed map[types.UID]string
	// unschedulable holds pods no node fitted, waiting for a change.
	unschedulable map[string]waiting
	// moves counts the cluster changes that sent waiting pods back to the
	// queue (podMoves those from assigned pods appearing, which only
	// pods waiting for other pods care about). A pod whose attempt began
	// before a move that concerns it goes back to the queue rather than
	// waiting: it may have missed what it waits for.
	moves, podMoves uint64
	// waitingOnPods counts the unschedulable entries with onPodAdd.
	waitingOnPods int
}

// attempt is the move counts when a scheduling attempt began.
type attempt struct{ moves, podMoves uint64 }

type waiting struct {
	since time.Time
	// onPodAdd: the pod waits for other pods (inter-pod affinity), so an
	// assigned pod appearing may help it.
	onPodAdd bool
}

// New builds the controller.
func New(client kubeclient.Interface, opts Options) *Controller {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Instance == "" {
		host, _ := os.Hostname()
		opts.Instance = SchedulerName + "-" + host
	}
	c := &Controller{
		client:        client,
		now:           opts.Now,
		events:        newRecorder(client, opts.Instance, opts.Now),
		effects:       make(chan func(context.Context), binders),
		scheduled:     make(chan func(context.Context), scheduledBacklog),
		snap:          scheduler.NewSnapshot(nil, nil),
		assumed:       map[types.UID]string{},
		unschedulable: map[string]waiting{},
	}
	// The pod informer is shared with the controllers, so it holds
	// finished pods too (kube-scheduler's own does not watch them): they
	// hold no resources, and podChanged treats them as gone.
	c.informers = kubeclient.OrNew(opts.Informers, client)
	c.podInformer, c.nodeInformer, c.nsInformer = c.informers.Pods(), c.informers.Nodes(), c.informers.Namespaces()
	c.snap.NamespaceLabels = map[string]map[string]string{}
	c.watchVolumes()

	pq := &priorityQueue{priority: c.priorityOf}
	c.backoff = workqueue.NewTypedItemExponentialFailureRateLimiter[string](initialBackoff, maxBackoff)
	c.queue = workqueue.NewTypedRateLimitingQueueWithConfig(c.backoff,
		workqueue.TypedRateLimitingQueueConfig[string]{
			Name: "scheduler",
			DelayingQueue: workqueue.NewTypedDelayingQueueWithConfig(workqueue.TypedDelayingQueueConfig[string]{
				Name:  "scheduler",
				Queue: workqueue.NewTypedWithConfig(workqueue.TypedQueueConfig[string]{Name: "scheduler", Queue: pq}),
			}),
		})

	_, _ = c.podInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.podChanged(nil, obj.(*corev1.Pod)) },
		UpdateFunc: func(old, obj any) { c.podChanged(old.(*corev1.Pod), obj.(*corev1.Pod)) },
		DeleteFunc: c.podDeleted,
	})
	_, _ = c.nodeInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.nodeChanged(nil, obj.(*corev1.Node)) },
		UpdateFunc: func(old, obj any) { c.nodeChanged(old.(*corev1.Node), obj.(*corev1.Node)) },
		DeleteFunc: c.nodeDeleted,
	})
	_, _ = c.nsInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.namespaceChanged(nil, obj.(*corev1.Namespace)) },
		UpdateFunc: func(old, obj any) { c.namespaceChanged(old.(*corev1.Namespace), obj.(*corev1.Namespace)) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if ns, ok := obj.(*corev1.Namespace); ok {
				c.mu.Lock()
				delete(c.snap.NamespaceLabels, ns.Name)
				c.mu.Unlock()
			}
		},
	})
	return c
}

func (c *Controller) namespaceChanged(old, ns *corev1.Namespace) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.snap.NamespaceLabels[ns.Name] = ns.Labels
	if old != nil && !equality.Semantic.DeepEqual(old.Labels, ns.Labels) {
		// Affinity terms selecting namespaces may now match other pods.
		c.podMoves++
		if c.waitingOnPods > 0 {
			c.moveLocked(func(w waiting) bool { return w.onPodAdd })
		}
	}
}

// Run schedules until ctx ends and returns after its informers, its
// scheduling loop and its binders have stopped.
func (c *Controller) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	defer c.queue.ShutDown()
	if !c.informers.Start(ctx, &wg, c.podInformer, c.nodeInformer, c.nsInformer,
		c.claimInformer, c.volumeInformer, c.classInformer) {
		return nil // ctx ended first
	}
	var binderWG sync.WaitGroup
	for i := 0; i < binders; i++ {
		binderWG.Add(1)
		go func() {
			defer binderWG.Done()
			for effect := range c.effects {
				effect(ctx)
			}
		}()
	}
	var writerWG sync.WaitGroup
	for i := 0; i < eventWriters; i++ {
		writerWG.Add(1)
		go func() {
			defer writerWG.Done()
			for write := range c.scheduled {
				write(ctx)
			}
		}()
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		// The binders end once the scheduling loop, their only sender,
		// has ended and every effect it sent has run; the event writers
		// end after the binders, theirs.
		defer writerWG.Wait()
		defer close(c.scheduled)
		defer binderWG.Wait()
		defer close(c.effects)
		for c.scheduleNext(ctx) {
		}
	}()
	go func() {
		defer wg.Done()
		t := time.NewTicker(flushInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				c.flushUnschedulable()
			}
		}
	}()
	<-ctx.Done()
	return nil
}

func keyOf(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }

// responsible reports whether pod is this scheduler's to place.
func responsible(pod *corev1.Pod) bool {
	return (pod.Spec.SchedulerName == "" || pod.Spec.SchedulerName == SchedulerName) && len(pod.Spec.SchedulingGates) == 0
}

func finished(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

func (c *Controller) priorityOf(key string) int32 {
	obj, ok, _ := c.podInformer.GetIndexer().GetByKey(key)
	if !ok {
		return 0
	}
	if p := obj.(*corev1.Pod).Spec.Priority; p != nil {
		return *p
	}
	return 0
}

func (c *Controller) podChanged(old, pod *corev1.Pod) {
	if finished(pod) {
		c.podDeleted(pod)
		return
	}
	if pod.Spec.NodeName != "" {
		c.mu.Lock()
		c.snap.AddPod(pod, pod.Spec.NodeName)
		delete(c.assumed, pod.UID)
		c.unparkLocked(keyOf(pod))
		// A new pod on a node only takes room, but it may be the one an
		// affinity term waits for.
		if old == nil || old.Spec.NodeName == "" || !equality.Semantic.DeepEqual(old.Labels, pod.Labels) {
			c.podMoves++
			if c.waitingOnPods > 0 {
				c.moveLocked(func(w waiting) bool { return w.onPodAdd })
			}
		}
		c.mu.Unlock()
		return
	}
	key := keyOf(pod)
	if pod.DeletionTimestamp != nil || !responsible(pod) {
		c.mu.Lock()
		c.unparkLocked(key)
		c.mu.Unlock()
		return
	}
	c.mu.Lock()
	_, assumed := c.assumed[pod.UID]
	c.mu.Unlock()
	if assumed {
		return
	}
	// Our own status writes come back as updates: only a new pod, or a
	// change to what scheduling reads, is worth another attempt.
	if old == nil || !responsible(old) || old.UID != pod.UID ||
		!equality.Semantic.DeepEqual(old.Spec, pod.Spec) || !equality.Semantic.DeepEqual(old.Labels, pod.Labels) {
		c.mu.Lock()
		c.unparkLocked(key)
		c.mu.Unlock()
		c.queue.Add(key)
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
	c.events.forget(pod.UID)
	c.mu.Lock()
	defer c.mu.Unlock()
	_, accounted := c.snap.NodeOf(pod)
	c.snap.RemovePod(pod)
	delete(c.assumed, pod.UID)
	c.unparkLocked(keyOf(pod))
	if accounted {
		// Room was freed.
		c.moves++
		c.moveLocked(func(waiting) bool { return true })
	}
}

func (c *Controller) nodeChanged(old, node *corev1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.snap.SetNode(node)
	if old == nil || nodeChangeMatters(old, node) {
		c.moves++
		c.moveLocked(func(waiting) bool { return true })
	}
}

// nodeChangeMatters reports whether an update can make a pod fit that did
// not: heartbeats (condition timestamps) alone cannot.
func nodeChangeMatters(old, node *corev1.Node) bool {
	ready := func(n *corev1.Node) corev1.ConditionStatus {
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				return c.Status
			}
		}
		return ""
	}
	return old.Spec.Unschedulable != node.Spec.Unschedulable ||
		!equality.Semantic.DeepEqual(old.Spec.Taints, node.Spec.Taints) ||
		!equality.Semantic.DeepEqual(old.Labels, node.Labels) ||
		!equality.Semantic.DeepEqual(old.Status.Allocatable, node.Status.Allocatable) ||
		!equality.Semantic.DeepEqual(old.Status.Images, node.Status.Images) ||
		ready(old) != ready(node)
}

func (c *Controller) nodeDeleted(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	node, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.snap.RemoveNode(node.Name)
	// Topology spreading and anti-affinity count domains: losing a node
	// can make room for a pod (kube-scheduler retries on node deletion
	// too).
	c.moves++
	c.moveLocked(func(waiting) bool { return true })
}

// moveLocked sends the waiting pods which may now fit back to the queue,
// each after its backoff. c.mu is held.
func (c *Controller) moveLocked(which func(waiting) bool) {
	for key, w := range c.unschedulable {
		if which(w) {
			c.unparkLocked(key)
			c.queue.AddAfter(key, c.backoff.When(key))
		}
	}
}

// parkLocked records key as waiting for a change. c.mu is held.
func (c *Controller) parkLocked(key string, w waiting) {
	c.unparkLocked(key)
	c.unschedulable[key] = w
	if w.onPodAdd {
		c.waitingOnPods++
	}
}

// unparkLocked forgets that key waits. c.mu is held.
func (c *Controller) unparkLocked(key string) {
	if w, ok := c.unschedulable[key]; ok {
		delete(c.unschedulable, key)
		if w.onPodAdd {
			c.waitingOnPods--
		}
	}
}

// flushUnschedulable retries pods that have waited too long for a change.
func (c *Controller) flushUnschedulable() {
	c.mu.Lock()
	defer c.mu.Unlock()
	cutoff := c.now().Add(-maxUnschedulable)
	c.moveLocked(func(w waiting) bool { return w.since.Before(cutoff) })
}
