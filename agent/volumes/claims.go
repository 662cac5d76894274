package volumes

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// ClaimSource gives the PersistentVolumeClaims a node's pods use and the
// PersistentVolumes bound to them (nil when the node has no copy). The
// podspec.Sources given to Setup may implement it; persistentVolumeClaim
// and ephemeral volumes need it.
type ClaimSource interface {
	PersistentVolumeClaim(namespace, name string) *corev1.PersistentVolumeClaim
	PersistentVolume(name string) *corev1.PersistentVolume
}

// claimName is the claim a volume uses ("" for other volumes): its own,
// or the <pod>-<volume> claim of a generic ephemeral volume.
func claimName(pod *corev1.Pod, v *corev1.Volume) (string, bool) {
	switch {
	case v.PersistentVolumeClaim != nil:
		return v.PersistentVolumeClaim.ClaimName, v.PersistentVolumeClaim.ReadOnly
	case v.Ephemeral != nil:
		return pod.Name + "-" + v.Name, false
	}
	return "", false
}

// ResolveClaim returns the volume bound to the claim namespace/name, with
// the kubelet's messages when it cannot be used yet.
func ResolveClaim(src any, namespace, name string) (*corev1.PersistentVolume, error) {
	cs, ok := src.(ClaimSource)
	if !ok {
		return nil, fmt.Errorf("persistentvolumeclaim %q not found", name)
	}
	claim := cs.PersistentVolumeClaim(namespace, name)
	if claim == nil {
		return nil, fmt.Errorf("persistentvolumeclaim %q not found", name)
	}
	if claim.DeletionTimestamp != nil {
		return nil, fmt.Errorf("persistentvolumeclaim %q is being deleted", name)
	}
	if claim.Spec.VolumeName == "" || claim.Status.Phase != corev1.ClaimBound {
		return nil, fmt.Errorf("PVC %s/%s has not been bound", namespace, name)
	}
	pv := cs.PersistentVolume(claim.Spec.VolumeName)
	if pv == nil {
		return nil, fmt.Errorf("persistentvolume %q not found", claim.Spec.VolumeName)
	}
	if ref := pv.Spec.ClaimRef; ref == nil || ref.UID != claim.UID {
		return nil, fmt.Errorf("persistentvolume %q is not bound to claim %s/%s", pv.Name, namespace, name)
	}
	if pv.Spec.VolumeMode != nil && *pv.Spec.VolumeMode == corev1.PersistentVolumeBlock {
		return nil, fmt.Errorf("persistentvolume %q: block volumes are not supported by skiff", pv.Name)
	}
	if pv.Spec.HostPath == nil && pv.Spec.Local == nil {
		return nil, fmt.Errorf("persistentvolume %q: unsupported volume type (skiff supports hostPath and local)", pv.Name)
	}
	return pv, nil
}

// ClaimsReady reports, for each claim-backed volume of pod, why it cannot
// be set up yet (nil: all can). The pod worker waits for the claims to
// bind before it builds the pod's sandbox.
func ClaimsReady(pod *corev1.Pod, src any) error {
	var errs []error
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		name, _ := claimName(pod, v)
		if name == "" {
			continue
		}
		if _, err := ResolveClaim(src, pod.Namespace, name); err != nil {
			errs = append(errs, fmt.Errorf("volume %q: %w", v.Name, err))
		}
	}
	return errors.Join(errs...)
}

// setupClaim makes the directory of a claim's volume ready. Local-path
// volumes (hostPath DirectoryOrCreate) are created world-writable, as the
// local-path provisioner does, so that pods running as any user can
// write to them; `local` volumes must already exist.
func setupClaim(pod *corev1.Pod, v *corev1.Volume, src any) (volume, error) {
	name, readOnly := claimName(pod, v)
	pv, err := ResolveClaim(src, pod.Namespace, name)
	if err != nil {
		return volume{}, err
	}
	if l := pv.Spec.Local; l != nil {
		if fi, err := os.Stat(l.Path); err != nil {
			return volume{}, err
		} else if !fi.IsDir() {
			return volume{}, fmt.Errorf("local volume %s is not a directory", l.Path)
		}
		return volume{path: l.Path, readOnly: readOnly}, nil
	}
	hp := pv.Spec.HostPath
	if hp.Type != nil && *hp.Type == corev1.HostPathDirectoryOrCreate {
		if _, err := os.Stat(hp.Path); errors.Is(err, fs.ErrNotExist) {
			if err := os.MkdirAll(hp.Path, 0o777); err != nil {
				return volume{}, err
			}
			if err := os.Chmod(hp.Path, 0o777); err != nil { // whatever the umask
				return volume{}, err
			}
		}
	}
	if err := checkHostPath(hp.Path, hp.Type); err != nil {
		return volume{}, err
	}
	return volume{path: hp.Path, readOnly: readOnly}, nil
}

// RemoveVolumeData removes the directory of a deleted local-path volume,
// provisioned for this node. It refuses paths that do not look like a
// provisioned volume's (<dir>/pvc-<uid>_<namespace>_<name>), so that a
// hand-made volume never loses its data here. A directory already gone is
// not an error.
func RemoveVolumeData(pv *corev1.PersistentVolume) error {
	if pv.Spec.HostPath == nil {
		return fmt.Errorf("persistentvolume %q has no hostPath", pv.Name)
	}
	p := filepath.Clean(pv.Spec.HostPath.Path)
	if !filepath.IsAbs(p) || !strings.HasPrefix(filepath.Base(p), pv.Name+"_") || !strings.HasPrefix(pv.Name, "pvc-") {
		return fmt.Errorf("persistentvolume %q: refusing to remove %q, not a provisioned volume's directory", pv.Name, p)
	}
	if err := os.RemoveAll(p); err != nil {
		return fmt.Errorf("removing %s: %w", p, err)
	}
	return nil
}
