package synchub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/skiff-io/skiff/protocol"
	"github.com/skiff-io/skiff/server/errdefs"
	"github.com/skiff-io/skiff/server/storage"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
)

// LeaseDuration is the leaseDurationSeconds of node Leases: agents make
// contact at least once a minute (a long poll), so three missed contacts
// make a node's Lease stale.
const LeaseDuration = 180 * time.Second

// renewEvery bounds how often a busy node's Lease is written.
const renewEvery = 10 * time.Second

// API is what the hub writes through: the server's own API over loopback.
type API interface {
	Pods(namespace string) PodClient
	Nodes() NodeClient
	Events(namespace string) EventClient
	Leases(namespace string) LeaseClient
	PersistentVolumes() VolumeClient
}

// PodClient, NodeClient, EventClient and LeaseClient are the typed client
// methods the hub uses (kubeclient's have them, or its Clientset's
// Write* methods for the writes whose answers the hub does not read).
type (
	PodClient interface {
		Get(ctx context.Context, name string, opts metav1.GetOptions) (*corev1.Pod, error)
		// WriteStatus is UpdateStatus without the pod the server
		// answers with, which the hub does not read.
		WriteStatus(ctx context.Context, obj *corev1.Pod, opts metav1.UpdateOptions) error
		Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
	}
	NodeClient interface {
		Get(ctx context.Context, name string, opts metav1.GetOptions) (*corev1.Node, error)
		UpdateStatus(ctx context.Context, obj *corev1.Node, opts metav1.UpdateOptions) (*corev1.Node, error)
	}
	EventClient interface {
		// Write is Create without the Event the server answers with.
		Write(ctx context.Context, obj *corev1.Event, opts metav1.CreateOptions) error
		Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (*corev1.Event, error)
	}
	VolumeClient interface {
		Get(ctx context.Context, name string, opts metav1.GetOptions) (*corev1.PersistentVolume, error)
		Update(ctx context.Context, obj *corev1.PersistentVolume, opts metav1.UpdateOptions) (*corev1.PersistentVolume, error)
	}
	LeaseClient interface {
		Get(ctx context.Context, name string, opts metav1.GetOptions) (*coordinationv1.Lease, error)
		Create(ctx context.Context, obj *coordinationv1.Lease, opts metav1.CreateOptions) (*coordinationv1.Lease, error)
		Update(ctx context.Context, obj *coordinationv1.Lease, opts metav1.UpdateOptions) (*coordinationv1.Lease, error)
	}
)

// Hub implements protocol.Hub.
type Hub struct {
	store *storage.Store
	api   API
	now   func() time.Time
	idx   *index
	ready chan struct{}

	mu      sync.Mutex
	renewed map[string]time.Time
}

var _ protocol.Hub = (*Hub)(nil)

// New returns a hub over the datastore (for reading) and the API (for
// writing). Run feeds it.
func New(store *storage.Store, api API) *Hub {
	return &Hub{store: store, api: api, now: time.Now, idx: newIndex(), ready: make(chan struct{}), renewed: map[string]time.Time{}}
}

// Run lists and then watches pods, ConfigMaps and Secrets until ctx ends,
// listing again after any datastore error (a compaction, say).
func (h *Hub) Run(ctx context.Context) error {
	once := sync.Once{}
	for ctx.Err() == nil {
		rev, err := h.list(ctx)
		if err == nil {
			once.Do(func() { close(h.ready) })
			err = h.watch(ctx, rev)
		}
		if ctx.Err() != nil {
			return nil
		}
		klog.V(2).InfoS("node sync hub: listing again", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return nil
}

func (h *Hub) list(ctx context.Context) (int64, error) {
	rev, err := h.store.Revision(ctx)
	if err != nil {
		return 0, err
	}
	h.idx.reset(rev)
	get := h.fetcher(ctx)
	// Pods first: ConfigMaps and Secrets are then read as pods need them.
	err = h.each(ctx, podsPrefix, rev, func(kv storage.KV) error {
		return h.idx.applyPod(kv.Key, kv.Value, rev, get)
	})
	if err != nil {
		return rev, err
	}
	// Deleted local-path volumes go to their nodes whether pods use them
	// or not.
	err = h.each(ctx, volumesPrefix, rev, func(kv storage.KV) error {
		return h.idx.applyObj(protocol.KindPersistentVolume, kv.Key, kv.Value, rev, get)
	})
	return rev, err
}

// listPage bounds one list request of the hub's start. A full listing
// costs kine pages × keys (a query and a count of the rest per page):
// with 15,000 pods, pages of 500 take 2.8 s, of 2,000 1.0 s
// (storage's BenchmarkListPages).
const listPage = 2000

func (h *Hub) each(ctx context.Context, prefix string, rev int64, f func(storage.KV) error) error {
	start, end := prefix, prefix[:len(prefix)-1]+"0"
	for {
		page, err := h.store.List(ctx, start, end, listPage, rev)
		if err != nil {
			return err
		}
		for _, kv := range page.KVs {
			if err := f(kv); err != nil {
				klog.ErrorS(err, "node sync hub: skipping an object it cannot read", "key", kv.Key)
			}
		}
		if !page.More || len(page.KVs) == 0 {
			return nil
		}
		start = page.KVs[len(page.KVs)-1].Key + "\x00"
	}
}

func (h *Hub) fetcher(ctx context.Context) fetch {
	return func(key string, rev int64) ([]byte, error) {
		page, err := h.store.List(ctx, key, key+"\x00", 1, rev)
		if err != nil {
			return nil, err
		}
		if len(page.KVs) == 0 {
			return nil, nil
		}
		return page.KVs[0].Value, nil
	}
}

func (h *Hub) watch(ctx context.Context, rev int64) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	get := h.fetcher(ctx)
	for ev := range h.store.Watch(wctx, "/registry/", rev) {
		if ev.Err != nil {
			return ev.Err
		}
		if ev.Type == storage.Progress {
			continue
		}
		var value []byte
		if ev.Type == storage.Put {
			value = ev.KV.Value
		}
		var err error
		switch k := ev.KV.Key; {
		case strings.HasPrefix(k, podsPrefix):
			err = h.idx.applyPod(k, value, ev.Revision, get)
		case strings.HasPrefix(k, configMapsPrefix):
			err = h.idx.applyObj(protocol.KindConfigMap, k, value, ev.Revision, get)
		case strings.HasPrefix(k, secretsPrefix):
			err = h.idx.applyObj(protocol.KindSecret, k, value, ev.Revision, get)
		case strings.HasPrefix(k, claimsPrefix):
			err = h.idx.applyObj(protocol.KindPersistentVolumeClaim, k, value, ev.Revision, get)
		case strings.HasPrefix(k, volumesPrefix):
			err = h.idx.applyObj(protocol.KindPersistentVolume, k, value, ev.Revision, get)
		}
		if err != nil {
			klog.ErrorS(err, "node sync hub: skipping a change it cannot read", "key", ev.KV.Key)
		}
	}
	return fmt.Errorf("%w: watch ended", errdefs.ErrUnavailable)
}

// Desired implements protocol.Hub.
func (h *Hub) Desired(ctx context.Context, node string, since int64, wait time.Duration) (*protocol.Desired, error) {
	select {
	case <-h.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	h.renew(ctx, node)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		doc, changed := h.idx.document(node, since)
		if doc != nil {
			return doc, nil
		}
		select {
		case <-changed:
		case <-timer.C:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// MayRead reports whether node runs a pod that uses the object (a pod
// bound to it, or a ConfigMap or Secret one of its pods uses): what the
// node authorizer lets a node read.
func (h *Hub) MayRead(node string, r protocol.Ref) bool { return h.idx.mayRead(node, r) }

// Report implements protocol.Hub: the ack names the last item of the
// longest run of items, from the first, that is stored. An item about an
// object that no longer exists, or that is not the node's, is dropped and
// acknowledged.
//
// Items about one object (a pod's status, its removal and its events; the
// node's status) are applied in order; items about different objects are
// applied reportParallel at a time, since each is an API write and the
// datastore commits concurrent writes together (a node starting 50 pods
// reports some 250 items, which one at a time waited on one commit each).
// After an item fails, the later items of its object are not tried; those
// of other objects may be stored though not acknowledged, and are applied
// again when the agent sends them again, which changes nothing.
func (h *Hub) Report(ctx context.Context, node string, b *protocol.StatusBatch) (*protocol.StatusAck, error) {
	h.renew(ctx, node)
	errs := h.applyAll(ctx, node, b.Items)
	ack := &protocol.StatusAck{APIVersion: protocol.APIVersion}
	for i, it := range b.Items {
		if errs[i] != nil {
			if ack.Seq == 0 {
				return nil, errs[i]
			}
			break
		}
		ack.Seq = it.Seq
	}
	return ack, nil
}

// reportParallel bounds the items of one status batch applied at once.
const reportParallel = 8

// errNotTried marks the items of an object after one that failed.
var errNotTried = errors.New("not applied: an earlier item about the same object failed")

// applyAll applies items, each object's in order, and returns each
// item's result.
func (h *Hub) applyAll(ctx context.Context, node string, items []protocol.StatusItem) []error {
	errs := make([]error, len(items))
	var order []string
	queues := map[string][]int{}
	for i, it := range items {
		k := itemObject(it)
		if _, ok := queues[k]; !ok {
			order = append(order, k)
		}
		queues[k] = append(queues[k], i)
	}
	run := func(q []int) {
		for n, i := range q {
			if errs[i] = h.apply(ctx, node, items[i]); errs[i] != nil {
				for _, j := range q[n+1:] {
					errs[j] = errNotTried
				}
				return
			}
		}
	}
	if len(order) == 1 {
		run(queues[order[0]])
		return errs
	}
	work := make(chan []int)
	var wg sync.WaitGroup
	for range min(reportParallel, len(order)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for q := range work {
				run(q)
			}
		}()
	}
	for _, k := range order {
		work <- queues[k]
	}
	close(work)
	wg.Wait()
	return errs
}

// itemObject names the object a status item is about, for ordering: a
// pod's events go with its status.
func itemObject(it protocol.StatusItem) string {
	switch it.Kind {
	case protocol.ItemPodStatus, protocol.ItemPodGone:
		return "Pod/" + it.Namespace + "/" + it.Name
	case protocol.ItemEvent:
		if it.Event != nil {
			o := it.Event.InvolvedObject
			return o.Kind + "/" + o.Namespace + "/" + o.Name
		}
	case protocol.ItemVolumeGone:
		return "PersistentVolume//" + it.Name
	}
	return it.Kind + "/" + it.Namespace + "/" + it.Name
}

func (h *Hub) apply(ctx context.Context, node string, it protocol.StatusItem) error {
	switch it.Kind {
	case protocol.ItemPodStatus:
		if it.PodStatus == nil {
			return nil
		}
		return h.podStatus(ctx, node, it)
	case protocol.ItemPodGone:
		return h.podGone(ctx, node, it)
	case protocol.ItemVolumeGone:
		return h.volumeGone(ctx, node, it)
	case protocol.ItemNodeStatus:
		if it.NodeStatus == nil {
			return nil
		}
		return h.nodeStatus(ctx, node, it.NodeStatus)
	case protocol.ItemEvent:
		if it.Event == nil {
			return nil
		}
		return h.event(ctx, node, it.Event)
	}
	klog.InfoS("node sync hub: dropping a status item of unknown kind", "node", node, "kind", it.Kind)
	return nil
}

func (h *Hub) podStatus(ctx context.Context, node string, it protocol.StatusItem) error {
	pods := h.api.Pods(it.Namespace)
	cur, err := h.idx.pod(it.Namespace, it.Name)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		if cur == nil || cur.Spec.NodeName != node || cur.UID != it.UID {
			return nil // gone, replaced, or not this node's
		}
		p := cur.DeepCopy()
		p.Status = protocol.MergePodStatus(cur.Status, *it.PodStatus)
		err := pods.WriteStatus(ctx, p, metav1.UpdateOptions{FieldManager: "skiff-agent"})
		switch {
		case err == nil, apierrors.IsNotFound(err):
			return nil
		case apierrors.IsConflict(err) && attempt < 5:
			if cur, err = pods.Get(ctx, it.Name, metav1.GetOptions{}); err != nil {
				if apierrors.IsNotFound(err) {
					return nil
				}
				return err
			}
		case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
			klog.InfoS("node sync hub: dropping a pod status the API refuses", "node", node, "pod", it.Namespace+"/"+it.Name, "err", err)
			return nil
		default:
			return err
		}
	}
}

func (h *Hub) podGone(ctx context.Context, node string, it protocol.StatusItem) error {
	if !h.idx.podOn(it.Namespace, it.Name, node, it.UID) {
		return nil
	}
	uid := it.UID
	err := h.api.Pods(it.Namespace).Delete(ctx, it.Name, metav1.DeleteOptions{
		GracePeriodSeconds: ptr.To[int64](0),
		Preconditions:      &metav1.Preconditions{UID: &uid},
	})
	if err == nil || apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}

func (h *Hub) nodeStatus(ctx context.Context, node string, st *corev1.NodeStatus) error {
	nodes := h.api.Nodes()
	for attempt := 0; ; attempt++ {
		cur, err := nodes.Get(ctx, node, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			klog.InfoS("node sync hub: node status for a Node that does not exist; the agent registers it again when it next joins", "node", node)
			return nil
		}
		if err != nil {
			return err
		}
		n := cur.DeepCopy()
		n.Status = *st
		_, err = nodes.UpdateStatus(ctx, n, metav1.UpdateOptions{FieldManager: "skiff-agent"})
		switch {
		case err == nil, apierrors.IsNotFound(err):
			return nil
		case apierrors.IsConflict(err) && attempt < 5:
			continue
		case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
			klog.InfoS("node sync hub: dropping a node status the API refuses", "node", node, "err", err)
			return nil
		default:
			return err
		}
	}
}

func (h *Hub) event(ctx context.Context, node string, ev *corev1.Event) error {
	ev = ev.DeepCopy()
	if ev.Namespace == "" {
		ev.Namespace = metav1.NamespaceDefault
	}
	if ev.Source.Host == "" {
		ev.Source.Host = node
	}
	events := h.api.Events(ev.Namespace)
	err := events.Write(ctx, ev, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		// A repeat the agent aggregated: the same Event with a higher count.
		patch, _ := json.Marshal(map[string]any{"count": ev.Count, "lastTimestamp": ev.LastTimestamp, "message": ev.Message})
		_, err = events.Patch(ctx, ev.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	}
	switch {
	case err == nil:
		return nil
	case apierrors.IsNotFound(err), apierrors.IsForbidden(err):
		// The namespace is gone or terminating: keeping the event would
		// block the outbox behind it.
		klog.V(2).InfoS("node sync hub: dropping an event", "node", node, "err", err)
		return nil
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err):
		// Malformed: dropped too, but where it can be seen, since a pod
		// whose failure event is lost unseen is left without a word.
		klog.InfoS("node sync hub: dropping an event the API refuses", "node", node,
			"object", ev.InvolvedObject.Namespace+"/"+ev.InvolvedObject.Name, "reason", ev.Reason, "message", ev.Message, "err", err)
		return nil
	}
	return err
}

// renew writes the node's Lease in kube-node-lease: every contact is a
// heartbeat, at most one write per renewEvery.
func (h *Hub) renew(ctx context.Context, node string) {
	now := h.now()
	h.mu.Lock()
	if t, ok := h.renewed[node]; ok && now.Sub(t) < renewEvery {
		h.mu.Unlock()
		return
	}
	h.renewed[node] = now
	h.mu.Unlock()
	if err := h.writeLease(ctx, node, now); err != nil && !errors.Is(err, context.Canceled) {
		klog.InfoS("node sync hub: cannot renew the node's Lease", "node", node, "err", err)
		h.mu.Lock()
		delete(h.renewed, node)
		h.mu.Unlock()
	}
}

func (h *Hub) writeLease(ctx context.Context, node string, now time.Time) error {
	leases := h.api.Leases(corev1.NamespaceNodeLease)
	renew := metav1.NewMicroTime(now)
	for attempt := 0; attempt < 3; attempt++ {
		l, err := leases.Get(ctx, node, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			l = &coordinationv1.Lease{
				ObjectMeta: metav1.ObjectMeta{Name: node, Namespace: corev1.NamespaceNodeLease},
				Spec: coordinationv1.LeaseSpec{
					HolderIdentity:       ptr.To(node),
					LeaseDurationSeconds: ptr.To(int32(LeaseDuration / time.Second)),
					RenewTime:            &renew,
				},
			}
			if n, err := h.api.Nodes().Get(ctx, node, metav1.GetOptions{}); err == nil {
				l.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: n.Name, UID: n.UID}}
			}
			if _, err = leases.Create(ctx, l, metav1.CreateOptions{}); apierrors.IsAlreadyExists(err) {
				continue
			}
			return err
		}
		if err != nil {
			return err
		}
		l.Spec.RenewTime = &renew
		l.Spec.HolderIdentity = ptr.To(node)
		l.Spec.LeaseDurationSeconds = ptr.To(int32(LeaseDuration / time.Second))
		if _, err = leases.Update(ctx, l, metav1.UpdateOptions{}); apierrors.IsConflict(err) {
			continue
		}
		return err
	}
	return nil
}

// volumeGone drops the cleanup finalizer of a deleted local-path volume
// whose directory node has removed: only the volume's own node may.
func (h *Hub) volumeGone(ctx context.Context, node string, it protocol.StatusItem) error {
	pvs := h.api.PersistentVolumes()
	for attempt := 0; ; attempt++ {
		pv, err := pvs.Get(ctx, it.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if pv.UID != it.UID || pv.DeletionTimestamp == nil || pv.Annotations[protocol.LocalPathNodeAnnotation] != node {
			return nil
		}
		var keep []string
		for _, f := range pv.Finalizers {
			if f != protocol.LocalPathCleanupFinalizer {
				keep = append(keep, f)
			}
		}
		if len(keep) == len(pv.Finalizers) {
			return nil
		}
		pv.Finalizers = keep
		_, err = pvs.Update(ctx, pv, metav1.UpdateOptions{FieldManager: "skiff-agent"})
		switch {
		case err == nil, apierrors.IsNotFound(err):
			return nil
		case apierrors.IsConflict(err) && attempt < 5:
			continue
		}
		return err
	}
}
