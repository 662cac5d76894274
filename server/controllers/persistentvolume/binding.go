package persistentvolume

import (
	"fmt"
	"path/filepath"
	"sort"

	"github.com/skiff-io/skiff/protocol"
	"github.com/skiff-io/skiff/server/scheduler"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"
)

// The built-in class and its provisioner. The provisioner keeps the name
// of the local-path provisioner k3s ships, so classes, volumes and charts
// written for k3s keep working on skiff unchanged.
const (
	LocalPathClass       = "local-path"
	LocalPathProvisioner = "rancher.io/local-path"
	// CleanupFinalizer holds a provisioned volume until its node has
	// removed the volume's directory.
	CleanupFinalizer = protocol.LocalPathCleanupFinalizer
)

// Annotations Kubernetes' PV controller and provisioners set.
const (
	AnnBindCompleted          = "pv.kubernetes.io/bind-completed"
	AnnBoundByController      = "pv.kubernetes.io/bound-by-controller"
	AnnProvisionedBy          = "pv.kubernetes.io/provisioned-by"
	AnnStorageProvisioner     = "volume.kubernetes.io/storage-provisioner"
	AnnBetaStorageProvisioner = "volume.beta.kubernetes.io/storage-provisioner"
	// AnnLocalPathNode names the node a provisioned volume's directory
	// lives on.
	AnnLocalPathNode = protocol.LocalPathNodeAnnotation
)

// VolumeClass is the class a volume belongs to (the beta annotation wins,
// as in Kubernetes).
func VolumeClass(pv *corev1.PersistentVolume) string {
	if a, ok := pv.Annotations[corev1.BetaStorageClassAnnotation]; ok {
		return a
	}
	return pv.Spec.StorageClassName
}

// claimedBy reports whether pv's claimRef names claim (a claimRef without
// UID is a user's pre-binding to whatever claim has that name).
func claimedBy(pv *corev1.PersistentVolume, claim *corev1.PersistentVolumeClaim) bool {
	ref := pv.Spec.ClaimRef
	return ref != nil && ref.Namespace == claim.Namespace && ref.Name == claim.Name && (ref.UID == "" || ref.UID == claim.UID)
}

// Mismatch says why pv cannot serve claim, "" when it can. The volume's
// claimRef and phase are not looked at.
func Mismatch(claim *corev1.PersistentVolumeClaim, pv *corev1.PersistentVolume) string {
	if VolumeClass(pv) != scheduler.ClaimClass(claim) {
		return "storage class differs"
	}
	if pvMode, cMode := volumeMode(pv.Spec.VolumeMode), volumeMode(claim.Spec.VolumeMode); pvMode != cMode {
		return "volume mode differs"
	}
	for _, want := range claim.Spec.AccessModes {
		found := false
		for _, have := range pv.Spec.AccessModes {
			found = found || have == want
		}
		if !found {
			return fmt.Sprintf("access mode %s not offered", want)
		}
	}
	req := claim.Spec.Resources.Requests[corev1.ResourceStorage]
	capacity := pv.Spec.Capacity[corev1.ResourceStorage]
	if capacity.Cmp(req) < 0 {
		return "too small"
	}
	if claim.Spec.Selector != nil {
		sel, err := metav1.LabelSelectorAsSelector(claim.Spec.Selector)
		if err != nil || !sel.Matches(labels.Set(pv.Labels)) {
			return "selector does not match"
		}
	}
	return ""
}

func volumeMode(m *corev1.PersistentVolumeMode) corev1.PersistentVolumeMode {
	if m == nil {
		return corev1.PersistentVolumeFilesystem
	}
	return *m
}

// FindVolume picks the volume for an unbound claim, as Kubernetes does: a
// volume pre-bound to the claim (claimRef) if it matches; otherwise the
// smallest matching volume not claimed by anyone (ties: name order). With
// node set (delayed binding), only volumes whose node affinity admits the
// node qualify. Volumes being deleted never do. Nil when none fits.
func FindVolume(claim *corev1.PersistentVolumeClaim, volumes []*corev1.PersistentVolume, node *corev1.Node) *corev1.PersistentVolume {
	var candidates []*corev1.PersistentVolume
	for _, pv := range volumes {
		if pv.DeletionTimestamp != nil || Mismatch(claim, pv) != "" {
			continue
		}
		if node != nil && !scheduler.VolumeFitsNode(pv, node) {
			continue
		}
		if claimedBy(pv, claim) {
			return pv
		}
		if pv.Spec.ClaimRef != nil || pv.Status.Phase == corev1.VolumeReleased || pv.Status.Phase == corev1.VolumeFailed {
			continue
		}
		candidates = append(candidates, pv)
	}
	if len(candidates) == 0 {
		return nil
	}
	sort.Slice(candidates, func(i, j int) bool {
		a, b := candidates[i].Spec.Capacity[corev1.ResourceStorage], candidates[j].Spec.Capacity[corev1.ResourceStorage]
		if c := a.Cmp(b); c != 0 {
			return c < 0
		}
		return candidates[i].Name < candidates[j].Name
	})
	return candidates[0]
}

// StepKind is what to do next for an unbound claim.
type StepKind int

const (
	// Wait: nothing to do until something changes (Reason says why).
	Wait StepKind = iota
	// Bind the claim to Volume.
	Bind
	// Provision a local-path volume on Node, then bind.
	Provision
	// External: another provisioner is responsible; mark the claim.
	External
)

// ClaimStep is the decision for an unbound claim.
type ClaimStep struct {
	Kind   StepKind
	Volume *corev1.PersistentVolume
	Node   string
	// Reason and Message, for a Wait, are the Event Kubernetes records.
	Reason, Message string
	// Warning: the Event is a Warning.
	Warning bool
}

// NextStep decides for a claim with no spec.volumeName. class is the
// claim's class (nil if it names none or a missing one); node is the node
// its AnnSelectedNode names (nil if none, or not found).
func NextStep(claim *corev1.PersistentVolumeClaim, class *storagev1.StorageClass, node *corev1.Node, volumes []*corev1.PersistentVolume) ClaimStep {
	delayed := class != nil && class.VolumeBindingMode != nil && *class.VolumeBindingMode == storagev1.VolumeBindingWaitForFirstConsumer
	selected := claim.Annotations[scheduler.AnnSelectedNode]
	if delayed && selected == "" {
		return ClaimStep{Kind: Wait, Reason: "WaitForFirstConsumer", Message: "waiting for first consumer to be created before binding"}
	}
	if delayed && node == nil {
		return ClaimStep{Kind: Wait, Warning: true, Reason: "ProvisioningFailed", Message: fmt.Sprintf("selected node %q not found", selected)}
	}
	if pv := FindVolume(claim, volumes, node); pv != nil {
		return ClaimStep{Kind: Bind, Volume: pv}
	}
	switch {
	case class == nil && scheduler.ClaimClass(claim) == "":
		return ClaimStep{Kind: Wait, Reason: "FailedBinding", Message: "no persistent volumes available for this claim and no storage class is set"}
	case class == nil:
		return ClaimStep{Kind: Wait, Warning: true, Reason: "ProvisioningFailed", Message: fmt.Sprintf("storageclass.storage.k8s.io %q not found", scheduler.ClaimClass(claim))}
	case class.Provisioner == LocalPathProvisioner && node == nil:
		return ClaimStep{Kind: Wait, Warning: true, Reason: "ProvisioningFailed",
			Message: "local-path volumes need volumeBindingMode WaitForFirstConsumer: no node was selected"}
	case class.Provisioner == LocalPathProvisioner:
		return ClaimStep{Kind: Provision, Node: node.Name}
	case class.Provisioner == "kubernetes.io/no-provisioner":
		return ClaimStep{Kind: Wait, Reason: "WaitForPodScheduled", Message: "waiting for a volume to be created, either by external provisioner or manually"}
	}
	return ClaimStep{Kind: External, Reason: "ExternalProvisioning",
		Message: fmt.Sprintf("Waiting for a volume to be created either by the external provisioner '%s' or manually by the system administrator.", class.Provisioner)}
}

// VolumeName is the name Kubernetes provisioners give a claim's volume.
func VolumeName(claim *corev1.PersistentVolumeClaim) string { return "pvc-" + string(claim.UID) }

// ProvisionVolume is the local-path volume for claim on node: a hostPath
// directory <dir>/pvc-<uid>_<namespace>_<name>, pinned to the node,
// pre-bound to the claim, of the class's reclaim policy.
func ProvisionVolume(claim *corev1.PersistentVolumeClaim, class *storagev1.StorageClass, node, dir string) *corev1.PersistentVolume {
	name := VolumeName(claim)
	reclaim := corev1.PersistentVolumeReclaimDelete
	if class.ReclaimPolicy != nil {
		reclaim = *class.ReclaimPolicy
	}
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{
			Name: name,
			Annotations: map[string]string{
				AnnProvisionedBy: LocalPathProvisioner,
				AnnLocalPathNode: node,
			},
			Finalizers: []string{CleanupFinalizer},
		},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: claim.Spec.Resources.Requests[corev1.ResourceStorage]},
			AccessModes:                   claim.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: reclaim,
			StorageClassName:              class.Name,
			VolumeMode:                    claim.Spec.VolumeMode,
			MountOptions:                  class.MountOptions,
			ClaimRef: &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1",
				Namespace: claim.Namespace, Name: claim.Name, UID: claim.UID, ResourceVersion: claim.ResourceVersion},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{
				Path: filepath.Join(dir, fmt.Sprintf("%s_%s_%s", name, claim.Namespace, claim.Name)),
				Type: ptr.To(corev1.HostPathDirectoryOrCreate),
			}},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
			}}}},
		},
	}
	return pv
}

// VolumeAction is what to do with a volume.
type VolumeAction int

const (
	// Keep: phase is right, nothing to do.
	Keep VolumeAction = iota
	// SetPhase: write Phase to the volume's status.
	SetPhase
	// SyncClaim: the volume is pre-bound or half bound; the claim's sync
	// finishes the job.
	SyncClaim
	// Unbind: the volume was bound by the controller to a claim that took
	// another volume; clear its claimRef.
	Unbind
	// Delete the released volume (reclaim policy Delete).
	Delete
)

// VolumeStep is the decision for one volume.
type VolumeStep struct {
	Action VolumeAction
	Phase  corev1.PersistentVolumePhase
	// Message for a Failed phase.
	Message string
}

// DecideVolume decides for pv given the claim its claimRef names (nil
// when the volume has no claimRef or the claim does not exist).
func DecideVolume(pv *corev1.PersistentVolume, claim *corev1.PersistentVolumeClaim) VolumeStep {
	if pv.DeletionTimestamp != nil {
		return VolumeStep{Action: Keep}
	}
	phase := func(p corev1.PersistentVolumePhase) VolumeStep {
		if pv.Status.Phase == p {
			return VolumeStep{Action: Keep}
		}
		return VolumeStep{Action: SetPhase, Phase: p}
	}
	ref := pv.Spec.ClaimRef
	if ref == nil {
		return phase(corev1.VolumeAvailable)
	}
	if ref.UID == "" {
		// Pre-bound by a user: the claim's sync binds it, if the claim
		// exists and matches.
		if claim != nil && claim.Spec.VolumeName == "" {
			if st := phase(corev1.VolumeAvailable); st.Action != Keep {
				return st
			}
			return VolumeStep{Action: SyncClaim}
		}
		return phase(corev1.VolumeAvailable)
	}
	if claim == nil || claim.UID != ref.UID {
		// The claim is gone: released, then reclaimed.
		if pv.Status.Phase != corev1.VolumeReleased && pv.Status.Phase != corev1.VolumeFailed {
			return VolumeStep{Action: SetPhase, Phase: corev1.VolumeReleased}
		}
		switch pv.Spec.PersistentVolumeReclaimPolicy {
		case corev1.PersistentVolumeReclaimDelete:
			return VolumeStep{Action: Delete}
		case corev1.PersistentVolumeReclaimRecycle:
			if pv.Status.Phase == corev1.VolumeFailed {
				return VolumeStep{Action: Keep}
			}
			return VolumeStep{Action: SetPhase, Phase: corev1.VolumeFailed, Message: "skiff does not recycle volumes; use Retain or Delete"}
		}
		return VolumeStep{Action: Keep} // Retain
	}
	switch claim.Spec.VolumeName {
	case pv.Name:
		if st := phase(corev1.VolumeBound); st.Action != Keep {
			return st
		}
		if claim.Status.Phase != corev1.ClaimBound {
			return VolumeStep{Action: SyncClaim}
		}
		return VolumeStep{Action: Keep}
	case "":
		// Half bound (the controller stopped between its writes).
		return VolumeStep{Action: SyncClaim}
	}
	// The claim is bound to another volume.
	if pv.Annotations[AnnBoundByController] == "yes" {
		return VolumeStep{Action: Unbind}
	}
	return phase(corev1.VolumeAvailable)
}
