package podworker

import (
	"context"

	"github.com/skiff-io/skiff/agent/store"
	"github.com/skiff-io/skiff/agent/volumes"
	"github.com/skiff-io/skiff/protocol"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
)

// cleanVolumes removes the directories of this node's deleted local-path
// volumes (the server sends them until they are cleaned) and reports each
// with ItemVolumeGone, upon which the server drops the volume's cleanup
// finalizer. A volume a pod of this node still uses is left for later.
func (w *Worker) cleanVolumes(ctx context.Context, d *store.Desired) {
	var todo []*corev1.PersistentVolume
	for _, pv := range d.Volumes {
		if pv.DeletionTimestamp == nil || pv.Annotations[protocol.LocalPathNodeAnnotation] != w.cfg.NodeName || !hasFinalizer(pv, protocol.LocalPathCleanupFinalizer) {
			continue
		}
		if w.volumeInUse(d, pv) {
			continue
		}
		todo = append(todo, pv)
	}
	for _, pv := range todo {
		if err := volumes.RemoveVolumeData(pv); err != nil {
			klog.ErrorS(err, "removing a deleted volume's data", "volume", pv.Name)
			continue
		}
		klog.InfoS("removed a deleted volume's data", "volume", pv.Name, "path", pv.Spec.HostPath.Path)
		if err := w.out.Put(ctx, "volumegone/"+pv.Name, protocol.StatusItem{Kind: protocol.ItemVolumeGone, Name: pv.Name, UID: pv.UID}); err != nil {
			klog.ErrorS(err, "queueing a volume's cleanup", "volume", pv.Name)
		}
	}
}

// volumeInUse reports whether a pod of this node, desired or still
// running, mounts the claim pv was bound to.
func (w *Worker) volumeInUse(d *store.Desired, pv *corev1.PersistentVolume) bool {
	ref := pv.Spec.ClaimRef
	if ref == nil {
		return false
	}
	uses := func(p *corev1.Pod) bool {
		if p == nil || p.Namespace != ref.Namespace {
			return false
		}
		for _, v := range p.Spec.Volumes {
			if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == ref.Name {
				return true
			}
			if v.Ephemeral != nil && p.Name+"-"+v.Name == ref.Name {
				return true
			}
		}
		return false
	}
	for _, p := range d.Pods {
		if uses(p) {
			return true
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range w.pods {
		if uses(p.current()) {
			return true
		}
	}
	return false
}

func hasFinalizer(pv *corev1.PersistentVolume, f string) bool {
	for _, have := range pv.Finalizers {
		if have == f {
			return true
		}
	}
	return false
}
