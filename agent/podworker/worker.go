package podworker

import (
	"context"
	"sync"
	"time"

	"github.com/skiff-io/skiff/agent/plan"
	"github.com/skiff-io/skiff/agent/podspec"
	"github.com/skiff-io/skiff/agent/runtime"
	"github.com/skiff-io/skiff/agent/store"
	"github.com/skiff-io/skiff/agent/volumes"
	"github.com/skiff-io/skiff/protocol"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
)

// resync is how often every pod is compared with the runtime even when no
// event said so (events can be missed while containerd restarts).
const resync = 30 * time.Second

// Config is what the pod worker needs to know about its node.
type Config struct {
	NodeName string
	NodeIP   string
	// LogDir holds container logs: <LogDir>/<ns>_<pod>_<uid>/<container>/<attempt>.log.
	LogDir string
	// Allocatable is the node's allocatable resources (resourceFieldRef
	// without a limit falls back to it).
	Allocatable corev1.ResourceList
}

// Worker runs the node's pods.
type Worker struct {
	cfg    Config
	rt     Runtime
	net    Network
	vols   Volumes
	out    Outbox
	rep    Reports
	tokens volumes.TokenSource
	load   func(context.Context) (*store.Desired, error)
	now    func() time.Time

	mu      sync.Mutex
	desired *store.Desired
	pods    map[types.UID]*pod
	kick    chan struct{}
	wg      sync.WaitGroup
	gcDone  bool
}

// New returns a Worker; load reads the desired document from the store.
func New(cfg Config, rt Runtime, net Network, vols Volumes, out Outbox, rep Reports, tokens volumes.TokenSource, load func(context.Context) (*store.Desired, error)) *Worker {
	return &Worker{cfg: cfg, rt: rt, net: net, vols: vols, out: out, rep: rep, tokens: tokens, load: load, now: time.Now,
		pods: map[types.UID]*pod{}, kick: make(chan struct{}, 1)}
}

// Changed tells the worker that the stored desired document changed.
func (w *Worker) Changed() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Run runs pods until ctx ends. Ending it leaves containers running.
func (w *Worker) Run(ctx context.Context) error {
	events := w.rt.Events(ctx)
	t := time.NewTicker(resync)
	defer t.Stop()
	defer w.wg.Wait()
	w.reconcile(ctx, true)
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				events = w.rt.Events(ctx)
				if ctx.Err() != nil {
					return nil
				}
				continue
			}
			w.mu.Lock()
			if p := w.pods[types.UID(ev.PodUID)]; p != nil {
				p.poke()
			}
			w.mu.Unlock()
		case <-w.kick:
			w.reconcile(ctx, false)
		case <-t.C:
			w.reconcile(ctx, true)
		}
	}
}

// reconcile starts a worker for every desired pod and for every pod the
// runtime still has containers of, and tells each what it should do.
//
// all (at start and every resync) lists the runtime's containers and
// pokes every pod. Otherwise (the desired document changed) only pods
// whose object changed are poked, unless a ConfigMap, Secret, claim or
// volume changed, which any pod may use; and containers are listed only
// when there is a new pod to adopt them. A node starting n pods gets
// O(n) document changes (and got O(n) more while the server sent each
// status report back), so poking them all each time made it sync each
// pod O(n) times.
func (w *Worker) reconcile(ctx context.Context, all bool) {
	d, err := w.load(ctx)
	if err != nil {
		klog.ErrorS(err, "reading the desired state")
		return
	}
	w.cleanVolumes(ctx, d)
	w.mu.Lock()
	want := map[types.UID]*corev1.Pod{}
	var fresh []*corev1.Pod
	for _, p := range d.Pods {
		want[p.UID] = p
		if w.pods[p.UID] == nil {
			fresh = append(fresh, p)
		}
	}
	listContainers := all || len(fresh) > 0
	pokeAll := all || w.desired == nil || !sameSources(w.desired, d)
	var keep map[string]bool
	if all {
		keep = make(map[string]bool, len(want)+len(w.pods))
		for uid := range w.pods {
			keep[string(uid)] = true
		}
		for uid := range want {
			keep[string(uid)] = true
		}
	}
	w.mu.Unlock()
	if keep != nil {
		if err := w.rep.PruneReported(ctx, keep); err != nil {
			klog.ErrorS(err, "forgetting the status of pods gone from the node")
		}
	}
	// A pod new to the worker that this node reported on before (it ran
	// it before the agent restarted) starts from the status reported
	// last: the server does not send the node its own reports back, so
	// the stored pod may have an older one.
	first := make(map[types.UID]*corev1.Pod, len(fresh))
	for _, p := range fresh {
		first[p.UID] = p
		st, err := w.rep.Reported(ctx, string(p.UID))
		if err != nil {
			klog.ErrorS(err, "reading the status last reported", "pod", klog.KObj(p))
			return
		}
		if st != nil {
			c := *p
			c.Status = protocol.MergePodStatus(p.Status, *st)
			first[p.UID] = &c
		}
	}
	var ctrs []runtime.ContainerStatus
	if listContainers {
		if ctrs, err = w.rt.Containers(ctx); err != nil {
			klog.ErrorS(err, "listing containers")
			return
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.desired = d
	ids := map[types.UID][]string{}
	for _, c := range ctrs {
		ids[types.UID(c.PodUID)] = append(ids[types.UID(c.PodUID)], c.ID)
	}
	for uid, p := range want {
		if w.pods[uid] == nil && first[uid] == nil {
			first[uid] = p // its worker ended since the first look
		}
	}
	rejected := w.admit(first, ids)
	for uid, p := range want {
		if w.pods[uid] == nil {
			// Its containers are known before its first sync, so running
			// ones are adopted, never started again.
			var rej *plan.Rejection
			if r, ok := rejected[uid]; ok {
				rej = &r
			}
			// first[uid] is p unless it carries the reported status;
			// setDesired below then hands the worker p itself.
			w.start(ctx, first[uid], false, ids[uid], rej)
		}
		w.pods[uid].setDesired(p, p.DeletionTimestamp != nil, pokeAll)
	}
	for uid, p := range w.pods {
		if want[uid] == nil {
			p.setDesired(nil, true, pokeAll)
		}
	}
	live := map[string]bool{}
	for uid := range want {
		live[string(uid)] = true
	}
	for _, c := range ctrs {
		uid := types.UID(c.PodUID)
		live[c.PodUID] = true
		if w.pods[uid] == nil {
			// Left over from a pod this node no longer has: stop it.
			orphan := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: uid, Namespace: c.PodNamespace, Name: c.PodName}}
			w.start(ctx, orphan, true, ids[uid], nil)
			w.pods[uid].setDesired(nil, true, true)
		}
		w.pods[uid].adopt([]string{c.ID})
	}
	if !w.gcDone {
		// Once, at start: network state of pods that are neither desired
		// nor running any more (the agent died while tearing them down).
		for uid := range w.pods {
			live[string(uid)] = true
		}
		if err := w.net.GC(ctx, live); err != nil {
			klog.ErrorS(err, "cleaning up the network of vanished pods")
		}
		w.gcDone = true
	}
}

// sameSources says whether two loads of the desired document hold the
// same ConfigMaps, Secrets, claims and volumes: the same objects, which
// store.Load hands out again for rows that did not change.
func sameSources(a, b *store.Desired) bool {
	return samePointers(a.ConfigMaps, b.ConfigMaps) && samePointers(a.Secrets, b.Secrets) &&
		samePointers(a.Claims, b.Claims) && samePointers(a.Volumes, b.Volumes)
}

func samePointers[T any](a, b map[string]*T) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// admit decides which of the desired pods new to the worker (fresh) may
// run (plan.Admit), against the pods it runs already. Called with w.mu
// held.
func (w *Worker) admit(fresh map[types.UID]*corev1.Pod, ids map[types.UID][]string) map[types.UID]plan.Rejection {
	var cands []plan.Candidate
	for uid, p := range fresh {
		if w.pods[uid] == nil {
			cands = append(cands, plan.Candidate{Pod: p, HasContainers: len(ids[uid]) > 0})
		}
	}
	if len(cands) == 0 {
		return nil
	}
	var held []*corev1.Pod
	for _, p := range w.pods {
		if p.holdsPorts() {
			held = append(held, p.current())
		}
	}
	return plan.Admit(w.cfg.Allocatable, held, cands)
}

// start runs a worker for pod p; rej, when not nil, is why admission
// refused it.
func (w *Worker) start(ctx context.Context, p *corev1.Pod, orphan bool, ids []string, rej *plan.Rejection) {
	pw := newPod(w, p, orphan)
	pw.adopt(ids)
	if rej != nil {
		pw.reject(*rej)
	}
	w.pods[p.UID] = pw
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		pw.run(ctx)
		w.mu.Lock()
		if w.pods[p.UID] == pw {
			delete(w.pods, p.UID)
		}
		w.mu.Unlock()
	}()
}

// sources gives ConfigMaps, Secrets, claims and volumes from the desired
// document.
func (w *Worker) sources() podspec.Sources {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.desired == nil {
		return desiredSources{StaticSources: podspec.NewStaticSources(nil, nil)}
	}
	return desiredSources{StaticSources: &podspec.StaticSources{ConfigMaps: w.desired.ConfigMaps, Secrets: w.desired.Secrets},
		claims: w.desired.Claims, volumes: w.desired.Volumes}
}

// desiredSources adds the node's claims and volumes (volumes.ClaimSource)
// to its ConfigMaps and Secrets.
type desiredSources struct {
	*podspec.StaticSources
	claims  map[string]*corev1.PersistentVolumeClaim
	volumes map[string]*corev1.PersistentVolume
}

func (s desiredSources) PersistentVolumeClaim(namespace, name string) *corev1.PersistentVolumeClaim {
	return s.claims[namespace+"/"+name]
}

func (s desiredSources) PersistentVolume(name string) *corev1.PersistentVolume {
	return s.volumes[name]
}

func (w *Worker) nodeInfo() podspec.NodeInfo {
	return podspec.NodeInfo{Allocatable: w.cfg.Allocatable, HostIPs: []string{w.cfg.NodeIP}}
}

// find returns the worker of the pod namespace/name.
func (w *Worker) find(namespace, name string) *pod {
	w.mu.Lock()
	defer w.mu.Unlock()
	var found *pod
	for _, p := range w.pods {
		pp := p.current()
		if pp.Namespace == namespace && pp.Name == name {
			// A pod being replaced under the same name: prefer the live one.
			if found == nil || (!p.isDeleting() && found.isDeleting()) {
				found = p
			}
		}
	}
	return found
}
