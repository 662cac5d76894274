package scheduler

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
)

// Reasons of the VolumeBinding plugin, in kube-scheduler's words.
const (
	ReasonUnboundImmediateClaims = "pod has unbound immediate PersistentVolumeClaims"
	ReasonVolumeNodeAffinity     = "node(s) had volume node affinity conflict"
	reasonBoundToMissingVolume   = "pvc(s) bound to non-existent pv(s)"
)

// AnnSelectedNode is the annotation through which the scheduler tells a
// provisioner which node a WaitForFirstConsumer claim's first pod goes to.
const AnnSelectedNode = "volume.kubernetes.io/selected-node"

// PodVolumes is what the VolumeBinding filter knows of one pod's claims.
type PodVolumes struct {
	// PreFilterMsg, when set, refuses every node for that reason (a
	// missing claim, an unbound claim of Immediate binding).
	PreFilterMsg string
	// Bound are the volumes the pod's bound claims use: a node must
	// satisfy each one's node affinity.
	Bound []*corev1.PersistentVolume
	// Delayed are the pod's unbound WaitForFirstConsumer claims: they bind
	// on whatever node the pod goes to, which the runner records on them
	// (AnnSelectedNode) before binding the pod.
	Delayed []*corev1.PersistentVolumeClaim
}

// VolumeLookup gives the objects VolumeBinding reads; each returns nil
// when the object does not exist.
type VolumeLookup struct {
	Claim  func(namespace, name string) *corev1.PersistentVolumeClaim
	Volume func(name string) *corev1.PersistentVolume
	Class  func(name string) *storagev1.StorageClass
}

// ClaimVolumes gathers PodVolumes for pod's persistentVolumeClaim volumes.
func ClaimVolumes(pod *corev1.Pod, l VolumeLookup) PodVolumes {
	var out PodVolumes
	unboundImmediate := false
	for i := range pod.Spec.Volumes {
		src := pod.Spec.Volumes[i].PersistentVolumeClaim
		if src == nil {
			continue
		}
		claim := l.Claim(pod.Namespace, src.ClaimName)
		switch {
		case claim == nil:
			out.PreFilterMsg = fmt.Sprintf("persistentvolumeclaim %q not found", src.ClaimName)
			return out
		case claim.DeletionTimestamp != nil:
			out.PreFilterMsg = fmt.Sprintf("persistentvolumeclaim %q is being deleted", src.ClaimName)
			return out
		case claim.Spec.VolumeName != "":
			pv := l.Volume(claim.Spec.VolumeName)
			if pv == nil {
				out.PreFilterMsg = reasonBoundToMissingVolume
				return out
			}
			out.Bound = append(out.Bound, pv)
		default:
			if sc := l.Class(ClaimClass(claim)); sc != nil && sc.VolumeBindingMode != nil &&
				*sc.VolumeBindingMode == storagev1.VolumeBindingWaitForFirstConsumer {
				out.Delayed = append(out.Delayed, claim)
			} else {
				unboundImmediate = true
			}
		}
	}
	if unboundImmediate {
		out.PreFilterMsg = ReasonUnboundImmediateClaims
	}
	return out
}

// ClaimClass is the class a claim asks for: spec.storageClassName, or the
// beta annotation that predates it.
func ClaimClass(c *corev1.PersistentVolumeClaim) string {
	if a, ok := c.Annotations[corev1.BetaStorageClassAnnotation]; ok {
		return a
	}
	if c.Spec.StorageClassName != nil {
		return *c.Spec.StorageClassName
	}
	return ""
}

// VolumeFitsNode reports whether pv's required node affinity admits node
// (a volume without one is reachable from every node).
func VolumeFitsNode(pv *corev1.PersistentVolume, node *corev1.Node) bool {
	na := pv.Spec.NodeAffinity
	if na == nil || na.Required == nil {
		return true
	}
	return matchesAnyTerm(na.Required.NodeSelectorTerms, node)
}

func (v *PodVolumes) fits(node *corev1.Node) bool {
	for _, pv := range v.Bound {
		if !VolumeFitsNode(pv, node) {
			return false
		}
	}
	return true
}
