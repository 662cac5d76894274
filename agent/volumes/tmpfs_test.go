package volumes

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-io/skiff/agent/podspec"
)

// needRoot skips tests that mount (tmpfs, subPath pins).
func needRoot(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("mounts tmpfs and bind mounts: skipped under -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("mounts tmpfs and bind mounts: needs root (CAP_SYS_ADMIN)")
	}
}

func fsTypeOf(t *testing.T, p string) string {
	t.Helper()
	ok, typ, err := isMountPoint(realPath(p))
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return ""
	}
	return typ
}

type fakeTokens struct{ calls []string }

func (f *fakeTokens) Token(_ context.Context, pod *corev1.Pod, audience string, exp int64) (string, error) {
	f.calls = append(f.calls, fmt.Sprintf("%s/%s aud=%s exp=%d", pod.Namespace, pod.Name, audience, exp))
	return fmt.Sprintf("token-%d", len(f.calls)), nil
}

func TestSecretAndMemoryVolumesOnTmpfs(t *testing.T) {
	needRoot(t)
	m := newTestManager(t)
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "creds"},
		Data: map[string][]byte{"password": []byte("hunter2"), "user": []byte("admin")}}
	src := podspec.NewStaticSources([]*corev1.ConfigMap{configMap("cfg", map[string]string{"a": "1"})}, []*corev1.Secret{secret})
	tokens := &fakeTokens{}
	pod := podWith("tmpfs",
		corev1.Volume{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: "creds", DefaultMode: ptr(int32(0o400)), Items: []corev1.KeyToPath{{Key: "password", Path: "pw"}}}}},
		corev1.Volume{Name: "optional", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "gone", Optional: ptr(true)}}},
		corev1.Volume{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
			Medium: corev1.StorageMediumMemory, SizeLimit: ptr(resource.MustParse("8Mi"))}}},
		corev1.Volume{Name: "api", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", Audience: "skiff"}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}},
		}}}},
	)
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{FSGroup: ptr(int64(2000))}
	pv, err := m.Setup(context.Background(), pod, src, tokens, testNode)
	if err != nil {
		t.Fatal(err)
	}
	// Tear down even if an assertion fails, so no tmpfs outlives the test.
	t.Cleanup(func() { m.Teardown("uid-tmpfs") })

	for _, v := range []string{"creds", "optional", "cache", "api"} {
		if typ := fsTypeOf(t, pv.vols[v].path); typ != "tmpfs" {
			t.Errorf("volume %s is on %q, want tmpfs", v, typ)
		}
	}
	creds := pv.vols["creds"].path
	if got := readFile(t, filepath.Join(creds, "pw")); got != "hunter2" {
		t.Errorf("pw = %q", got)
	}
	// 0400 plus group read for the fsGroup.
	fi, err := os.Stat(filepath.Join(creds, "pw"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o440 || fi.Sys().(*syscall.Stat_t).Gid != 2000 {
		t.Errorf("pw mode %o gid %d, want 440 gid 2000", fi.Mode().Perm(), fi.Sys().(*syscall.Stat_t).Gid)
	}
	if _, err := os.Lstat(filepath.Join(creds, "user")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unlisted key projected")
	}

	// A new emptyDir belongs to the fsGroup, setgid so new files do too.
	if fi, err := os.Stat(pv.vols["cache"].path); err != nil || fi.Sys().(*syscall.Stat_t).Gid != 2000 || fi.Mode()&os.ModeSetgid == 0 || fi.Mode().Perm() != 0o777 {
		t.Errorf("memory emptyDir root: %v %v", fi.Mode(), err)
	}

	var st syscall.Statfs_t
	if err := syscall.Statfs(pv.vols["cache"].path, &st); err != nil {
		t.Fatal(err)
	}
	if size := int64(st.Blocks) * int64(st.Bsize); size != 8<<20 {
		t.Errorf("memory emptyDir size %d, want %d", size, 8<<20)
	}

	api := pv.vols["api"].path
	for f, want := range map[string]string{"token": "token-1", "a": "1", "namespace": "shop"} {
		if got := readFile(t, filepath.Join(api, f)); got != want {
			t.Errorf("projected %s = %q, want %q", f, got, want)
		}
	}
	if got := mode(t, filepath.Join(api, "token")); got != 0o640 {
		t.Errorf("token mode %o, want 640 (0600 + fsGroup read)", got)
	}
	if len(tokens.calls) != 1 || tokens.calls[0] != "shop/web-0 aud=skiff exp=3600" {
		t.Errorf("token calls %q", tokens.calls)
	}

	// Refresh for a running pod: new secret value and token, same mounts.
	secret.Data["password"] = []byte("correct horse")
	if _, err := m.Setup(context.Background(), pod, src, tokens, testNode); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(creds, "pw")); got != "correct horse" {
		t.Errorf("pw after update = %q", got)
	}
	if got := readFile(t, filepath.Join(api, "token")); got != "token-2" {
		t.Errorf("token after refresh = %q", got)
	}
	mounts, err := mountsUnder(realPath(filepath.Join(m.dir, "uid-tmpfs")))
	if err != nil {
		t.Fatal(err)
	}
	if len(mounts) != 4 {
		t.Errorf("%d mounts after a second Setup, want 4 (no stacking): %+v", len(mounts), mounts)
	}

	// Teardown by a fresh Manager, as after an agent restart.
	restarted := New(m.dir)
	if err := restarted.Teardown("uid-tmpfs"); err != nil {
		t.Fatal(err)
	}
	if left, err := mountsUnder(realPath(m.dir)); err != nil || len(left) != 0 {
		t.Fatalf("mounts left: %+v %v", left, err)
	}
	if _, err := os.Lstat(filepath.Join(m.dir, "uid-tmpfs")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("pod dir left: %v", err)
	}
	if err := restarted.Teardown("uid-tmpfs"); err != nil {
		t.Fatalf("second teardown: %v", err)
	}
}

func TestRequiredSecretMissing(t *testing.T) {
	needRoot(t)
	m := newTestManager(t)
	pod := podWith("nosecret", corev1.Volume{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "gone"}}})
	_, err := m.Setup(context.Background(), pod, podspec.NewStaticSources(nil, nil), nil, testNode)
	t.Cleanup(func() { m.Teardown("uid-nosecret") })
	if err == nil || !strings.Contains(err.Error(), `volume "creds": secret "gone" not found`) {
		t.Fatalf("err = %v", err)
	}
}

func TestTeardownUnmountsBindMountsBeforeDeleting(t *testing.T) {
	needRoot(t)
	m := newTestManager(t)
	pod := podWith("bind", corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	pv, err := m.Setup(context.Background(), pod, nil, nil, testNode)
	if err != nil {
		t.Fatal(err)
	}
	// Something (a subPath pin, a runtime) bind-mounted a host directory
	// under the pod: Teardown must unmount it, not delete through it.
	precious := t.TempDir()
	if err := os.WriteFile(filepath.Join(precious, "keep"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(pv.vols["scratch"].path, "pinned")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount(precious, target, "", syscall.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Unmount(target, syscall.MNT_DETACH) })
	if err := m.Teardown("uid-bind"); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(precious, "keep")); got != "x" {
		t.Fatalf("host file damaged: %q", got)
	}
	if _, err := os.Lstat(filepath.Join(m.dir, "uid-bind")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("pod dir left: %v", err)
	}
}

func TestMountsSubPath(t *testing.T) {
	needRoot(t)
	m := newTestManager(t)
	hostDir := t.TempDir()
	pod := podWith("subpath",
		corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		cmVolume("cfg", "cfg", nil, nil, nil),
		corev1.Volume{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: hostDir}}},
	)
	c := corev1.Container{Name: "app", VolumeMounts: []corev1.VolumeMount{
		{Name: "scratch", MountPath: "/data/logs", SubPathExpr: "logs/$(POD_NAME)"},
		{Name: "cfg", MountPath: "/etc/app.conf", SubPath: "a"},
		{Name: "host", MountPath: "/mnt/x", SubPath: "x"},
	}}
	src := podspec.NewStaticSources([]*corev1.ConfigMap{configMap("cfg", map[string]string{"a": "config-a"})}, nil)
	pv, err := m.Setup(context.Background(), pod, src, nil, testNode)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Teardown("uid-subpath") })
	mounts, err := pv.Mounts(&c, []string{"POD_NAME=web-0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Mount{}
	for _, mt := range mounts {
		got[mt.ContainerPath] = mt
	}
	podDir := filepath.Join(m.dir, "uid-subpath")
	pins := map[string]string{
		"/data/logs":    filepath.Join(podDir, "volume-subpaths/scratch/app/0"),
		"/etc/app.conf": filepath.Join(podDir, "volume-subpaths/cfg/app/1"),
		"/mnt/x":        filepath.Join(podDir, "volume-subpaths/host/app/2"),
	}
	for cp, pin := range pins {
		if got[cp].HostPath != pin {
			t.Errorf("%s from %s, want pin %s", cp, got[cp].HostPath, pin)
		}
	}
	if !got["/etc/app.conf"].ReadOnly || got["/data/logs"].ReadOnly {
		t.Errorf("read-only flags: %+v", got)
	}
	// The pins show the subPath targets.
	if fi, err := os.Stat(filepath.Join(pv.vols["scratch"].path, "logs/web-0")); err != nil || !fi.IsDir() {
		t.Errorf("subPathExpr dir not created: %v", err)
	}
	if err := os.WriteFile(filepath.Join(pv.vols["scratch"].path, "logs/web-0/f"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	if s := readFile(t, filepath.Join(pins["/data/logs"], "f")); s != "hello" {
		t.Errorf("pin shows %q", s)
	}
	if s := readFile(t, pins["/etc/app.conf"]); s != "config-a" {
		t.Errorf("file pin shows %q", s)
	}
	if fi, err := os.Stat(filepath.Join(hostDir, "x")); err != nil || !fi.IsDir() {
		t.Errorf("hostPath subPath not created: %v", err)
	}

	// After the check, the directory is swapped for a symlink to the node's
	// /etc (what a malicious container could do in a shared volume): the
	// pin still shows the original directory, and a new run refuses.
	logs := filepath.Join(pv.vols["scratch"].path, "logs")
	if err := os.Rename(filepath.Join(logs, "web-0"), filepath.Join(logs, "moved")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc", filepath.Join(logs, "web-0")); err != nil {
		t.Fatal(err)
	}
	if s := readFile(t, filepath.Join(pins["/data/logs"], "f")); s != "hello" {
		t.Errorf("pin followed the swap: %q", s)
	}
	if _, err := pv.Mounts(&c, []string{"POD_NAME=web-0"}, nil); err == nil || !strings.Contains(err.Error(), "leaves its volume") {
		t.Errorf("escaping subPath accepted: %v", err)
	}

	// Restarting the container re-pins instead of stacking mounts.
	if err := os.Remove(filepath.Join(logs, "web-0")); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if _, err := pv.Mounts(&c, []string{"POD_NAME=web-0"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	mounted, err := mountsUnder(realPath(filepath.Join(podDir, "volume-subpaths")))
	if err != nil {
		t.Fatal(err)
	}
	if len(mounted) != 3 {
		t.Errorf("%d subpath mounts, want 3: %+v", len(mounted), mounted)
	}
	if err := m.Teardown("uid-subpath"); err != nil {
		t.Fatal(err)
	}
	if left, _ := mountsUnder(realPath(m.dir)); len(left) != 0 {
		t.Errorf("mounts left: %+v", left)
	}
}

// TestIsMountPointAgreesWithMountInfo: the statx path of isMountPoint
// answers as mountinfo does, for a plain directory, a tmpfs, a tmpfs
// stacked on a bind mount, a bind mount of another file system, and a
// path that does not exist.
func TestIsMountPointAgreesWithMountInfo(t *testing.T) {
	needRoot(t)
	base := realPath(t.TempDir())
	plain := filepath.Join(base, "plain")
	tmp := filepath.Join(base, "tmp")
	bind := filepath.Join(base, "bind")
	stacked := filepath.Join(base, "stacked")
	for _, d := range []string{plain, tmp, bind, stacked} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mount := func(src, dst, fstype string, flags uintptr) {
		t.Helper()
		if err := syscall.Mount(src, dst, fstype, flags, ""); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { syscall.Unmount(dst, syscall.MNT_DETACH) })
	}
	mount("tmpfs", tmp, "tmpfs", 0)
	mount("/proc", bind, "", syscall.MS_BIND) // a proc mount: neither tmpfs nor the temp dir's type
	mount(plain, stacked, "", syscall.MS_BIND)
	mount("tmpfs", stacked, "tmpfs", 0)
	for _, c := range []struct {
		dir     string
		mounted bool
		fsType  string
	}{
		{plain, false, ""},
		{tmp, true, "tmpfs"},
		{bind, true, "proc"},
		{stacked, true, "tmpfs"},
		{filepath.Join(base, "missing"), false, ""},
	} {
		ok, typ, err := isMountPoint(c.dir)
		wantOK, wantTyp, wantErr := isMountPointFromMountInfo(c.dir)
		if err != nil || wantErr != nil || ok != wantOK || typ != wantTyp {
			t.Errorf("%s: isMountPoint %v %q %v, mountinfo %v %q %v", filepath.Base(c.dir), ok, typ, err, wantOK, wantTyp, wantErr)
		}
		if ok != c.mounted || typ != c.fsType {
			t.Errorf("%s: %v %q, want %v %q", filepath.Base(c.dir), ok, typ, c.mounted, c.fsType)
		}
	}
}
