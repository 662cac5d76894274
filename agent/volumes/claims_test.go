package volumes

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skiff-io/skiff/agent/podspec"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

type claimSources struct {
	*podspec.StaticSources
	claims  map[string]*corev1.PersistentVolumeClaim
	volumes map[string]*corev1.PersistentVolume
}

func (s claimSources) PersistentVolumeClaim(ns, name string) *corev1.PersistentVolumeClaim {
	return s.claims[ns+"/"+name]
}
func (s claimSources) PersistentVolume(name string) *corev1.PersistentVolume { return s.volumes[name] }

func boundPair(claim, volume, path string) (*corev1.PersistentVolumeClaim, *corev1.PersistentVolume) {
	c := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: claim, UID: "uid-claim"},
		Spec: corev1.PersistentVolumeClaimSpec{VolumeName: volume}, Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound}}
	dirOrCreate := corev1.HostPathDirectoryOrCreate
	v := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: volume},
		Spec: corev1.PersistentVolumeSpec{ClaimRef: &corev1.ObjectReference{Namespace: "shop", Name: claim, UID: c.UID},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: path, Type: &dirOrCreate}}}}
	return c, v
}

func TestResolveClaim(t *testing.T) {
	c, v := boundPair("data", "pvc-1", "/srv/x")
	pending := c.DeepCopy()
	pending.Spec.VolumeName, pending.Status.Phase = "", corev1.ClaimPending
	other := v.DeepCopy()
	other.Spec.ClaimRef.UID = "someone-else"
	nfs := v.DeepCopy()
	nfs.Spec.HostPath, nfs.Spec.NFS = nil, &corev1.NFSVolumeSource{Server: "s", Path: "/"}
	tests := []struct {
		name  string
		claim *corev1.PersistentVolumeClaim
		vol   *corev1.PersistentVolume
		want  string // error substring, "" for success
	}{
		{"bound", c, v, ""},
		{"no claim", nil, v, `persistentvolumeclaim "data" not found`},
		{"not bound yet", pending, v, "PVC shop/data has not been bound"},
		{"no volume yet", c, nil, `persistentvolume "pvc-1" not found`},
		{"volume bound elsewhere", c, other, "is not bound to claim shop/data"},
		{"unsupported source", c, nfs, "unsupported volume type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := claimSources{claims: map[string]*corev1.PersistentVolumeClaim{}, volumes: map[string]*corev1.PersistentVolume{}}
			if tt.claim != nil {
				src.claims["shop/data"] = tt.claim
			}
			if tt.vol != nil {
				src.volumes["pvc-1"] = tt.vol
			}
			_, err := ResolveClaim(src, "shop", "data")
			switch {
			case tt.want == "" && err != nil:
				t.Fatal(err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := ResolveClaim(podspec.NewStaticSources(nil, nil), "shop", "data"); err == nil {
		t.Fatal("sources without claims resolved a claim")
	}
}

// TestClaimVolumeSetup: the claim's directory is created 0777 (whatever
// the umask), mounted read-only when the volume says so, and kept when
// the pod is torn down; RemoveVolumeData removes only provisioned
// volumes' directories.
func TestClaimVolumeSetup(t *testing.T) {
	old := unix.Umask(0o022)
	defer unix.Umask(old)
	m := newTestManager(t)
	storage := t.TempDir()
	dir := filepath.Join(storage, "pvc-1_shop_data")
	c, v := boundPair("data", "pvc-1", dir)
	src := claimSources{StaticSources: podspec.NewStaticSources(nil, nil),
		claims: map[string]*corev1.PersistentVolumeClaim{"shop/data": c}, volumes: map[string]*corev1.PersistentVolume{"pvc-1": v}}
	pod := podWith("claims", corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data", ReadOnly: true}}})
	ctr := corev1.Container{Name: "app", VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}
	pod.Spec.Containers = []corev1.Container{ctr}
	if err := ClaimsReady(pod, src); err != nil {
		t.Fatal(err)
	}
	pv, err := m.Setup(context.Background(), pod, src, nil, testNode)
	if err != nil {
		t.Fatal(err)
	}
	if got := mode(t, dir); got != 0o777 {
		t.Errorf("mode %v, want 0777", got)
	}
	mounts, err := pv.Mounts(&ctr, nil, []string{"10.42.0.7"})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mt := range mounts {
		if mt.ContainerPath == "/data" {
			found = true
			if mt.HostPath != dir || !mt.ReadOnly {
				t.Errorf("mount %+v", mt)
			}
		}
	}
	if !found {
		t.Fatalf("no /data mount in %+v", mounts)
	}
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := m.Teardown(string(pod.UID)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "f")); err != nil {
		t.Fatalf("pod teardown touched the volume: %v", err)
	}

	// Not ready: the claim is not bound.
	c.Status.Phase = corev1.ClaimPending
	if err := ClaimsReady(pod, src); err == nil || !strings.Contains(err.Error(), `volume "data"`) {
		t.Fatalf("ClaimsReady: %v", err)
	}

	// A hand-made volume's directory is never removed.
	hand := v.DeepCopy()
	hand.Name = "mine"
	if err := RemoveVolumeData(hand); err == nil {
		t.Fatal("removed a hand-made volume's directory")
	}
	if err := RemoveVolumeData(v); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("directory still there: %v", err)
	}
	if err := RemoveVolumeData(v); err != nil {
		t.Fatalf("second removal: %v", err)
	}
}
