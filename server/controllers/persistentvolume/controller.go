package persistentvolume

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/skiff-io/skiff/server/controllers/events"
	"github.com/skiff-io/skiff/server/kubeclient"
	"github.com/skiff-io/skiff/server/scheduler"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
)

const (
	workers     = 2
	backoffBase = 200 * time.Millisecond
	backoffMax  = 30 * time.Second
)

// Options configure a Controller.
type Options struct {
	// StorageDir is where local-path volumes' directories go on their
	// nodes (k3s: <data-dir>/storage).
	StorageDir string
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Informers are shared with the other controllers (its own when nil).
	Informers *kubeclient.Informers
}

// Controller binds claims to volumes, provisions local-path volumes and
// reclaims released ones.
type Controller struct {
	client kubeclient.Interface
	dir    string
	events *events.Recorder
	// informers are shared with the other controllers.
	informers *kubeclient.Informers

	claims, volumes, classes, nodes cache.SharedIndexInformer
	queue                           workqueue.TypedRateLimitingInterface[string]
}

// Queue keys: "c/<namespace>/<name>" for claims, "v/<name>" for volumes.
func claimKey(ns, name string) string { return "c/" + ns + "/" + name }
func volumeKey(name string) string    { return "v/" + name }

// New builds the controller.
func New(client kubeclient.Interface, opts Options) *Controller {
	c := &Controller{
		client: client,
		dir:    opts.StorageDir,
		events: events.New(client, "persistentvolume-controller", events.Options{Now: opts.Now}),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](backoffBase, backoffMax),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "persistentvolume"}),
	}
	c.informers = kubeclient.OrNew(opts.Informers, client)
	c.claims, c.volumes = c.informers.PersistentVolumeClaims(), c.informers.PersistentVolumes()
	c.classes, c.nodes = c.informers.StorageClasses(), c.informers.Nodes()
	_, _ = c.claims.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.claimChanged(obj) },
		UpdateFunc: func(_, obj any) { c.claimChanged(obj) },
		DeleteFunc: c.claimDeleted,
	})
	_, _ = c.volumes.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.volumeChanged,
		UpdateFunc: func(_, obj any) { c.volumeChanged(obj) },
		DeleteFunc: c.volumeChanged,
	})
	_, _ = c.classes.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { c.enqueuePending("") },
		UpdateFunc: func(_, _ any) { c.enqueuePending("") },
	})
	_, _ = c.nodes.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.enqueuePending(obj.(*corev1.Node).Name) },
		DeleteFunc: c.nodeDeleted,
	})
	return c
}

// Run binds and provisions until ctx ends, and returns after its
// informers, workers and event recorder have stopped.
func (c *Controller) Run(ctx context.Context) error {
	return c.informers.RunController(ctx, c.queue, c.events, workers, c.processNext, c.claims, c.volumes, c.classes, c.nodes)
}

func unwrap(obj any) any {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		return d.Obj
	}
	return obj
}

func (c *Controller) claimChanged(obj any) {
	if claim, ok := unwrap(obj).(*corev1.PersistentVolumeClaim); ok {
		c.queue.Add(claimKey(claim.Namespace, claim.Name))
	}
}

// claimDeleted looks at the volumes the claim held: they are released.
func (c *Controller) claimDeleted(obj any) {
	claim, ok := unwrap(obj).(*corev1.PersistentVolumeClaim)
	if !ok {
		return
	}
	for _, o := range c.volumes.GetStore().List() {
		pv := o.(*corev1.PersistentVolume)
		if ref := pv.Spec.ClaimRef; ref != nil && ref.Namespace == claim.Namespace && ref.Name == claim.Name {
			c.queue.Add(volumeKey(pv.Name))
		}
	}
}

func (c *Controller) volumeChanged(obj any) {
	pv, ok := unwrap(obj).(*corev1.PersistentVolume)
	if !ok {
		return
	}
	c.queue.Add(volumeKey(pv.Name))
	if ref := pv.Spec.ClaimRef; ref != nil {
		c.queue.Add(claimKey(ref.Namespace, ref.Name))
	} else {
		// A new free volume may be what a pending claim waits for.
		c.enqueuePending("")
	}
}

// enqueuePending queues the unbound claims (those that selected node, if
// set).
func (c *Controller) enqueuePending(node string) {
	for _, o := range c.claims.GetStore().List() {
		claim := o.(*corev1.PersistentVolumeClaim)
		if claim.Spec.VolumeName != "" {
			continue
		}
		if node != "" && claim.Annotations[scheduler.AnnSelectedNode] != node {
			continue
		}
		c.queue.Add(claimKey(claim.Namespace, claim.Name))
	}
}

// nodeDeleted queues the volumes waiting for that node's cleanup.
func (c *Controller) nodeDeleted(obj any) {
	node, ok := unwrap(obj).(*corev1.Node)
	if !ok {
		return
	}
	for _, o := range c.volumes.GetStore().List() {
		pv := o.(*corev1.PersistentVolume)
		if pv.Annotations[AnnLocalPathNode] == node.Name {
			c.queue.Add(volumeKey(pv.Name))
		}
	}
}

func (c *Controller) processNext(ctx context.Context) bool {
	key, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(key)
	var err error
	if rest, ok := strings.CutPrefix(key, "c/"); ok {
		ns, name, _ := strings.Cut(rest, "/")
		err = c.syncClaim(ctx, ns, name)
	} else {
		err = c.syncVolume(ctx, strings.TrimPrefix(key, "v/"))
	}
	switch {
	case err == nil:
		c.queue.Forget(key)
	case ctx.Err() != nil:
	default:
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			klog.V(2).InfoS("persistentvolume: retrying", "key", key, "err", err)
		} else {
			klog.ErrorS(err, "persistentvolume: sync failed", "key", key)
		}
		c.queue.AddRateLimited(key)
	}
	return true
}

func (c *Controller) claim(ns, name string) *corev1.PersistentVolumeClaim {
	o, ok, _ := c.claims.GetStore().GetByKey(ns + "/" + name)
	if !ok {
		return nil
	}
	return o.(*corev1.PersistentVolumeClaim)
}

func (c *Controller) volume(name string) *corev1.PersistentVolume {
	o, ok, _ := c.volumes.GetStore().GetByKey(name)
	if !ok {
		return nil
	}
	return o.(*corev1.PersistentVolume)
}

func (c *Controller) class(name string) *storagev1.StorageClass {
	if name == "" {
		return nil
	}
	o, ok, _ := c.classes.GetStore().GetByKey(name)
	if !ok {
		return nil
	}
	return o.(*storagev1.StorageClass)
}

func (c *Controller) node(name string) *corev1.Node {
	if name == "" {
		return nil
	}
	o, ok, _ := c.nodes.GetStore().GetByKey(name)
	if !ok {
		return nil
	}
	return o.(*corev1.Node)
}

func (c *Controller) allVolumes() []*corev1.PersistentVolume {
	objs := c.volumes.GetStore().List()
	out := make([]*corev1.PersistentVolume, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.(*corev1.PersistentVolume))
	}
	return out
}

// syncClaim brings one claim closer to Bound.
func (c *Controller) syncClaim(ctx context.Context, ns, name string) error {
	claim := c.claim(ns, name)
	if claim == nil || claim.DeletionTimestamp != nil {
		return nil
	}
	if claim.Spec.VolumeName != "" {
		return c.syncBoundClaim(ctx, claim)
	}
	class := c.class(scheduler.ClaimClass(claim))
	step := NextStep(claim, class, c.node(claim.Annotations[scheduler.AnnSelectedNode]), c.allVolumes())
	switch step.Kind {
	case Bind:
		return c.bind(ctx, claim, step.Volume)
	case Provision:
		if err := c.markProvisioner(ctx, claim, class.Provisioner); err != nil {
			return err
		}
		pv := ProvisionVolume(claim, class, step.Node, c.dir)
		c.events.Eventf(claim, corev1.EventTypeNormal, "Provisioning", "External provisioner is provisioning volume for claim %q", ns+"/"+name)
		_, err := c.client.PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{FieldManager: "persistentvolume-controller"})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			c.events.Eventf(claim, corev1.EventTypeWarning, "ProvisioningFailed", "failed to provision volume with StorageClass %q: %v", class.Name, err)
			return err
		}
		if err == nil {
			c.events.Eventf(claim, corev1.EventTypeNormal, "ProvisioningSucceeded", "Successfully provisioned volume %s", pv.Name)
		}
		return nil // the new volume's event brings the claim back to bind it
	case External:
		if err := c.markProvisioner(ctx, claim, class.Provisioner); err != nil {
			return err
		}
	}
	c.pendingEvent(claim, step)
	return c.setClaimPhase(ctx, claim, corev1.ClaimPending)
}

func (c *Controller) pendingEvent(claim *corev1.PersistentVolumeClaim, step ClaimStep) {
	if step.Reason == "" {
		return
	}
	t := corev1.EventTypeNormal
	if step.Warning {
		t = corev1.EventTypeWarning
	}
	c.events.Event(claim, t, step.Reason, step.Message)
}

// markProvisioner records on the claim which provisioner is to make its
// volume, as Kubernetes does.
func (c *Controller) markProvisioner(ctx context.Context, claim *corev1.PersistentVolumeClaim, provisioner string) error {
	if claim.Annotations[AnnStorageProvisioner] == provisioner {
		return nil
	}
	claim = claim.DeepCopy()
	if claim.Annotations == nil {
		claim.Annotations = map[string]string{}
	}
	claim.Annotations[AnnStorageProvisioner] = provisioner
	claim.Annotations[AnnBetaStorageProvisioner] = provisioner
	_, err := c.client.PersistentVolumeClaims(claim.Namespace).Update(ctx, claim, metav1.UpdateOptions{FieldManager: "persistentvolume-controller"})
	return err
}

// syncBoundClaim handles a claim that names its volume.
func (c *Controller) syncBoundClaim(ctx context.Context, claim *corev1.PersistentVolumeClaim) error {
	pv := c.volume(claim.Spec.VolumeName)
	switch {
	case pv == nil:
		if claim.Status.Phase == corev1.ClaimBound || claim.Status.Phase == corev1.ClaimLost {
			if claim.Status.Phase != corev1.ClaimLost {
				c.events.Event(claim, corev1.EventTypeWarning, "ClaimLost", "Bound claim has lost its PersistentVolume. Data on the volume is lost!")
			}
			return c.setClaimPhase(ctx, claim, corev1.ClaimLost)
		}
		return c.setClaimPhase(ctx, claim, corev1.ClaimPending) // waits for the volume it names
	case pv.Spec.ClaimRef == nil || claimedBy(pv, claim):
		if why := Mismatch(claim, pv); why != "" && !claimedBy(pv, claim) {
			c.events.Eventf(claim, corev1.EventTypeWarning, "FailedBinding", "Cannot bind to requested volume %q: %s", pv.Name, why)
			return c.setClaimPhase(ctx, claim, corev1.ClaimPending)
		}
		return c.bind(ctx, claim, pv)
	}
	if claim.Annotations[AnnBindCompleted] != "" {
		c.events.Event(claim, corev1.EventTypeWarning, "ClaimMisbound", "Two claims are bound to the same volume, this one is bound incorrectly")
		return c.setClaimPhase(ctx, claim, corev1.ClaimLost)
	}
	c.events.Eventf(claim, corev1.EventTypeWarning, "FailedBinding", "volume %q already bound to a different claim.", pv.Name)
	return c.setClaimPhase(ctx, claim, corev1.ClaimPending)
}

// bind writes a binding in Kubernetes' order, each step only if needed:
// the volume's claimRef, the volume's phase, the claim's volumeName and
// annotations, the claim's status. A restart between steps resumes.
func (c *Controller) bind(ctx context.Context, claim *corev1.PersistentVolumeClaim, pv *corev1.PersistentVolume) error {
	opts := metav1.UpdateOptions{FieldManager: "persistentvolume-controller"}
	ref := pv.Spec.ClaimRef
	if ref == nil || ref.UID != claim.UID || ref.Namespace != claim.Namespace || ref.Name != claim.Name {
		pv = pv.DeepCopy()
		if ref == nil {
			if pv.Annotations == nil {
				pv.Annotations = map[string]string{}
			}
			pv.Annotations[AnnBoundByController] = "yes"
		}
		pv.Spec.ClaimRef = &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1",
			Namespace: claim.Namespace, Name: claim.Name, UID: claim.UID, ResourceVersion: claim.ResourceVersion}
		var err error
		if pv, err = c.client.PersistentVolumes().Update(ctx, pv, opts); err != nil {
			return fmt.Errorf("binding volume %s to claim %s/%s: %w", pv.Name, claim.Namespace, claim.Name, err)
		}
	}
	if pv.Status.Phase != corev1.VolumeBound {
		pv = pv.DeepCopy()
		pv.Status.Phase, pv.Status.Message, pv.Status.Reason = corev1.VolumeBound, "", ""
		if _, err := c.client.PersistentVolumes().UpdateStatus(ctx, pv, opts); err != nil {
			return fmt.Errorf("volume %s status: %w", pv.Name, err)
		}
	}
	if claim.Spec.VolumeName != pv.Name || claim.Annotations[AnnBindCompleted] != "yes" {
		claim = claim.DeepCopy()
		if claim.Annotations == nil {
			claim.Annotations = map[string]string{}
		}
		if claim.Spec.VolumeName == "" {
			claim.Annotations[AnnBoundByController] = "yes"
		}
		claim.Annotations[AnnBindCompleted] = "yes"
		claim.Spec.VolumeName = pv.Name
		var err error
		if claim, err = c.client.PersistentVolumeClaims(claim.Namespace).Update(ctx, claim, opts); err != nil {
			return fmt.Errorf("binding claim %s/%s: %w", claim.Namespace, claim.Name, err)
		}
	}
	want := claim.Status.DeepCopy()
	want.Phase = corev1.ClaimBound
	want.AccessModes = pv.Spec.AccessModes
	want.Capacity = pv.Spec.Capacity
	if !equality.Semantic.DeepEqual(*want, claim.Status) {
		claim = claim.DeepCopy()
		claim.Status = *want
		if _, err := c.client.PersistentVolumeClaims(claim.Namespace).UpdateStatus(ctx, claim, opts); err != nil {
			return fmt.Errorf("claim %s/%s status: %w", claim.Namespace, claim.Name, err)
		}
	}
	return nil
}

func (c *Controller) setClaimPhase(ctx context.Context, claim *corev1.PersistentVolumeClaim, phase corev1.PersistentVolumeClaimPhase) error {
	if claim.Status.Phase == phase {
		return nil
	}
	claim = claim.DeepCopy()
	claim.Status.Phase = phase
	_, err := c.client.PersistentVolumeClaims(claim.Namespace).UpdateStatus(ctx, claim, metav1.UpdateOptions{FieldManager: "persistentvolume-controller"})
	return err
}

// syncVolume keeps one volume's phase and reclaims it once released.
func (c *Controller) syncVolume(ctx context.Context, name string) error {
	pv := c.volume(name)
	if pv == nil {
		return nil
	}
	opts := metav1.UpdateOptions{FieldManager: "persistentvolume-controller"}
	if pv.DeletionTimestamp != nil {
		return c.finishDeletion(ctx, pv)
	}
	var claim *corev1.PersistentVolumeClaim
	if ref := pv.Spec.ClaimRef; ref != nil {
		claim = c.claim(ref.Namespace, ref.Name)
	}
	step := DecideVolume(pv, claim)
	switch step.Action {
	case SetPhase:
		pv = pv.DeepCopy()
		pv.Status.Phase, pv.Status.Message = step.Phase, step.Message
		if step.Phase == corev1.VolumeFailed {
			c.events.Event(pv, corev1.EventTypeWarning, "VolumeFailedRecycle", step.Message)
		}
		_, err := c.client.PersistentVolumes().UpdateStatus(ctx, pv, opts)
		return err
	case SyncClaim:
		c.queue.Add(claimKey(pv.Spec.ClaimRef.Namespace, pv.Spec.ClaimRef.Name))
	case Unbind:
		pv = pv.DeepCopy()
		pv.Spec.ClaimRef = nil
		delete(pv.Annotations, AnnBoundByController)
		_, err := c.client.PersistentVolumes().Update(ctx, pv, opts)
		return err
	case Delete:
		uid := pv.UID
		err := c.client.PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) {
			c.events.Eventf(pv, corev1.EventTypeWarning, "VolumeFailedDelete", "deleting volume: %v", err)
			return err
		}
	}
	return nil
}

// finishDeletion releases a deleted local-path volume whose node is gone:
// nobody is left to remove its directory.
func (c *Controller) finishDeletion(ctx context.Context, pv *corev1.PersistentVolume) error {
	node := pv.Annotations[AnnLocalPathNode]
	if node == "" || c.node(node) != nil || !hasFinalizer(pv, CleanupFinalizer) {
		return nil
	}
	klog.InfoS("persistentvolume: node is gone, dropping the cleanup finalizer", "volume", pv.Name, "node", node)
	return RemoveCleanupFinalizer(ctx, c.client.PersistentVolumes(), pv)
}

func hasFinalizer(pv *corev1.PersistentVolume, f string) bool {
	for _, have := range pv.Finalizers {
		if have == f {
			return true
		}
	}
	return false
}

// VolumeUpdater is what RemoveCleanupFinalizer writes through.
type VolumeUpdater interface {
	Update(ctx context.Context, pv *corev1.PersistentVolume, opts metav1.UpdateOptions) (*corev1.PersistentVolume, error)
}

// RemoveCleanupFinalizer drops CleanupFinalizer from pv.
func RemoveCleanupFinalizer(ctx context.Context, c VolumeUpdater, pv *corev1.PersistentVolume) error {
	pv = pv.DeepCopy()
	var keep []string
	for _, f := range pv.Finalizers {
		if f != CleanupFinalizer {
			keep = append(keep, f)
		}
	}
	pv.Finalizers = keep
	_, err := c.Update(ctx, pv, metav1.UpdateOptions{FieldManager: "persistentvolume-controller"})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
