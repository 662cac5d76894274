package volumes

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiff-io/skiff/agent/podspec"
)

func ptr[T any](v T) *T { return &v }

var testNode = podspec.NodeInfo{
	Allocatable: corev1.ResourceList{"cpu": resource.MustParse("4"), "memory": resource.MustParse("1Gi")},
	HostIPs:     []string{"192.168.1.10"},
}

func newTestManager(t *testing.T) *Manager {
	t.Helper()
	dir := t.TempDir()
	resolv := filepath.Join(dir, "host-resolv.conf")
	hosts := filepath.Join(dir, "host-hosts")
	if err := os.WriteFile(resolv, []byte("nameserver 192.168.1.1\nsearch lan\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hosts, []byte("127.0.0.1 localhost\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return New(filepath.Join(dir, "pods"), WithNodeFiles(resolv, hosts))
}

func podWith(uid string, vols ...corev1.Volume) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "shop", UID: types.UID("uid-" + uid), Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{
			Volumes:    vols,
			Containers: []corev1.Container{{Name: "app"}},
		},
	}
}

func cmVolume(name, cm string, items []corev1.KeyToPath, defaultMode *int32, optional *bool) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: cm}, Items: items, DefaultMode: defaultMode, Optional: optional}}}
}

func configMap(name string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name}, Data: data}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mode(t *testing.T, p string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func tsDirs(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "..") && e.Name() != dataLink {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestConfigMapVolumeItemsAndModes(t *testing.T) {
	m := newTestManager(t)
	pod := podWith("cm",
		cmVolume("all", "cfg", nil, ptr(int32(0o640)), nil),
		cmVolume("some", "cfg", []corev1.KeyToPath{{Key: "a", Path: "sub/dir/a.txt", Mode: ptr(int32(0o600))}, {Key: "bin", Path: "b.bin"}}, nil, nil),
	)
	cm := configMap("cfg", map[string]string{"a": "alpha", "b": "beta"})
	cm.BinaryData = map[string][]byte{"bin": {0, 1, 2}}
	src := podspec.NewStaticSources([]*corev1.ConfigMap{cm}, nil)
	pv, err := m.Setup(context.Background(), pod, src, nil, testNode)
	if err != nil {
		t.Fatal(err)
	}
	all := pv.vols["all"].path
	if want := filepath.Join(m.dir, "uid-cm", "volumes", pluginConfigMap, "all"); all != want {
		t.Fatalf("path %s, want %s", all, want)
	}
	for k, v := range map[string]string{"a": "alpha", "b": "beta", "bin": "\x00\x01\x02"} {
		if got := readFile(t, filepath.Join(all, k)); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
		if got := mode(t, filepath.Join(all, k)); got != 0o640 {
			t.Errorf("%s mode %o, want 640", k, got)
		}
		if target, err := os.Readlink(filepath.Join(all, k)); err != nil || target != "..data/"+k {
			t.Errorf("%s is not a link into ..data: %q %v", k, target, err)
		}
	}
	some := pv.vols["some"].path
	if got := readFile(t, filepath.Join(some, "sub/dir/a.txt")); got != "alpha" {
		t.Errorf("item a = %q", got)
	}
	if got := mode(t, filepath.Join(some, "sub/dir/a.txt")); got != 0o600 {
		t.Errorf("item mode %o, want 600", got)
	}
	if got := mode(t, filepath.Join(some, "b.bin")); got != 0o644 {
		t.Errorf("default mode %o, want 644", got)
	}
	if _, err := os.Lstat(filepath.Join(some, "b")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unlisted key b projected: %v", err)
	}
}

func TestConfigMapVolumeAtomicUpdate(t *testing.T) {
	m := newTestManager(t)
	pod := podWith("atomic", cmVolume("cfg", "cfg", nil, nil, nil))
	version := func(n int) *podspec.StaticSources {
		data := map[string]string{
			"a": fmt.Sprintf("a-%d-%s", n, strings.Repeat("x", 64<<10)),
			"b": fmt.Sprintf("b-%d", n),
		}
		if n%2 == 0 {
			data["even"] = "yes"
		}
		return podspec.NewStaticSources([]*corev1.ConfigMap{configMap("cfg", data)}, nil)
	}
	pv, err := m.Setup(context.Background(), pod, version(1), nil, testNode)
	if err != nil {
		t.Fatal(err)
	}
	dir := pv.vols["cfg"].path
	first, err := os.Readlink(filepath.Join(dir, dataLink))
	if err != nil {
		t.Fatal(err)
	}

	// A reader resolves ..data once and reads both files from that
	// generation: they must always belong to the same version, and every
	// file read through the visible path must be complete.
	var (
		stop    atomic.Bool
		wg      sync.WaitGroup
		reads   atomic.Int64
		failure atomic.Value
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			ts, err := os.Readlink(filepath.Join(dir, dataLink))
			if err != nil {
				failure.Store(fmt.Sprintf("..data missing: %v", err))
				return
			}
			a, errA := os.ReadFile(filepath.Join(dir, ts, "a"))
			b, errB := os.ReadFile(filepath.Join(dir, ts, "b"))
			if errA != nil || errB != nil {
				continue // that generation was already replaced and removed
			}
			va, _, _ := strings.Cut(strings.TrimPrefix(string(a), "a-"), "-")
			if vb := strings.TrimPrefix(string(b), "b-"); va != vb {
				failure.Store(fmt.Sprintf("mixed generation: a from %s, b from %s", va, vb))
				return
			}
			if vis, err := os.ReadFile(filepath.Join(dir, "a")); err == nil {
				parts := strings.SplitN(string(vis), "-", 3)
				if len(parts) != 3 || len(parts[2]) != 64<<10 {
					failure.Store(fmt.Sprintf("partial file through visible path: %d bytes", len(vis)))
					return
				}
			}
			reads.Add(1)
		}
	}()
	for n := 2; n <= 40; n++ {
		if _, err := m.Setup(context.Background(), pod, version(n), nil, testNode); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for reads.Load() < 10 && failure.Load() == nil && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	stop.Store(true)
	wg.Wait()
	if f := failure.Load(); f != nil {
		t.Fatal(f)
	}
	if reads.Load() < 10 {
		t.Fatalf("reader completed only %d reads", reads.Load())
	}

	if got := readFile(t, filepath.Join(dir, "b")); got != "b-40" {
		t.Errorf("b = %q after updates", got)
	}
	if got := readFile(t, filepath.Join(dir, "even")); got != "yes" {
		t.Errorf("even = %q", got)
	}
	cur, _ := os.Readlink(filepath.Join(dir, dataLink))
	if cur == first {
		t.Error("..data still points at the first generation")
	}
	if _, err := os.Stat(filepath.Join(dir, first)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("old generation %s not removed: %v", first, err)
	}
	if ts := tsDirs(t, dir); len(ts) != 1 || ts[0] != cur {
		t.Errorf("timestamped dirs %v, want only %s", ts, cur)
	}

	// A key that disappears loses its visible link; an unchanged payload
	// is not rewritten.
	if _, err := m.Setup(context.Background(), pod, version(41), nil, testNode); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "even")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("removed key still visible: %v", err)
	}
	before, _ := os.Readlink(filepath.Join(dir, dataLink))
	if _, err := m.Setup(context.Background(), pod, version(41), nil, testNode); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.Readlink(filepath.Join(dir, dataLink)); after != before {
		t.Errorf("unchanged payload rewritten: %s -> %s", before, after)
	}
}

func TestMissingSources(t *testing.T) {
	src := podspec.NewStaticSources([]*corev1.ConfigMap{configMap("cfg", map[string]string{"a": "1"})}, nil)
	tests := []struct {
		name    string
		vol     corev1.Volume
		wantErr string
	}{
		{"optional missing configmap", cmVolume("v", "nope", nil, nil, ptr(true)), ""},
		{"required missing configmap", cmVolume("v", "nope", nil, nil, nil), `volume "v": configmap "nope" not found`},
		{"required missing key", cmVolume("v", "cfg", []corev1.KeyToPath{{Key: "zz", Path: "zz"}}, nil, nil), `volume "v": configmap references non-existent config key: zz`},
		{"optional missing key", cmVolume("v", "cfg", []corev1.KeyToPath{{Key: "zz", Path: "zz"}, {Key: "a", Path: "a"}}, nil, ptr(true)), ""},
		{"unsupported type", corev1.Volume{Name: "v", VolumeSource: corev1.VolumeSource{NFS: &corev1.NFSVolumeSource{}}}, `volume "v": unsupported volume type`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newTestManager(t)
			pv, err := m.Setup(context.Background(), podWith("missing", tt.vol), src, nil, testNode)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(pv.vols["v"].path); err != nil {
				t.Fatalf("volume dir: %v", err)
			}
		})
	}
}

func TestHostPathTypes(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	block := findBlockDevice()

	tests := []struct {
		path    string
		typ     corev1.HostPathType
		wantErr string
		check   func(t *testing.T, p string)
	}{
		{filepath.Join(dir, "new/dir"), corev1.HostPathDirectoryOrCreate, "", func(t *testing.T, p string) {
			if fi, err := os.Stat(p); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o755 {
				t.Errorf("created dir: %v %v", fi, err)
			}
		}},
		{dir, corev1.HostPathDirectoryOrCreate, "", nil},
		{file, corev1.HostPathDirectoryOrCreate, "is not a directory", nil},
		{dir, corev1.HostPathDirectory, "", nil},
		{filepath.Join(dir, "absent"), corev1.HostPathDirectory, "is not a directory", nil},
		{file, corev1.HostPathDirectory, "is not a directory", nil},
		{filepath.Join(dir, "newfile"), corev1.HostPathFileOrCreate, "", func(t *testing.T, p string) {
			if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o644 {
				t.Errorf("created file: %v %v", fi, err)
			}
		}},
		{filepath.Join(dir, "noparent/newfile"), corev1.HostPathFileOrCreate, "no such file", nil},
		{dir, corev1.HostPathFileOrCreate, "is not a file", nil},
		{file, corev1.HostPathFile, "", nil},
		{dir, corev1.HostPathFile, "is not a file", nil},
		{sock, corev1.HostPathSocket, "", nil},
		{file, corev1.HostPathSocket, "is not a socket file", nil},
		{"/dev/null", corev1.HostPathCharDev, "", nil},
		{file, corev1.HostPathCharDev, "is not a character device", nil},
		{"/dev/null", corev1.HostPathBlockDev, "is not a block device", nil},
		{block, corev1.HostPathBlockDev, "", nil},
		{filepath.Join(dir, "anything"), corev1.HostPathUnset, "", nil},
		{dir, "Bogus", "Bogus is an invalid volume type", nil},
	}
	for _, tt := range tests {
		t.Run(string(tt.typ)+" "+tt.path, func(t *testing.T) {
			if tt.path == "" {
				t.Skip("no block device on this machine")
			}
			m := newTestManager(t)
			vol := corev1.Volume{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: tt.path, Type: ptr(tt.typ)}}}
			pv, err := m.Setup(context.Background(), podWith("hp", vol), nil, nil, testNode)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if pv.vols["h"].path != tt.path {
				t.Errorf("path %s", pv.vols["h"].path)
			}
			if tt.check != nil {
				tt.check(t, tt.path)
			}
		})
	}
}

func findBlockDevice() string {
	entries, _ := os.ReadDir("/dev")
	for _, e := range entries {
		p := "/dev/" + e.Name()
		if fi, err := os.Stat(p); err == nil && fi.Mode()&os.ModeDevice != 0 && fi.Mode()&os.ModeCharDevice == 0 {
			return p
		}
	}
	return ""
}

func TestDownwardAPIVolume(t *testing.T) {
	m := newTestManager(t)
	vol := corev1.Volume{Name: "info", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
		{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
		{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}, Mode: ptr(int32(0o400))},
		{Path: "mem", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "app", Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}},
	}}}}
	pod := podWith("dapi", vol)
	pv, err := m.Setup(context.Background(), pod, nil, nil, testNode)
	if err != nil {
		t.Fatal(err)
	}
	p := pv.vols["info"].path
	for f, want := range map[string]string{"labels": `app="web"`, "name": "web-0", "mem": "1024"} {
		if got := readFile(t, filepath.Join(p, f)); got != want {
			t.Errorf("%s = %q, want %q", f, got, want)
		}
	}
	if got := mode(t, filepath.Join(p, "name")); got != 0o400 {
		t.Errorf("mode %o", got)
	}
	// Labels change on a running pod: the file follows.
	pod.Labels["tier"] = "front"
	if _, err := m.Setup(context.Background(), pod, nil, nil, testNode); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(p, "labels")); got != "app=\"web\"\ntier=\"front\"" {
		t.Errorf("labels after update = %q", got)
	}
}

func TestMounts(t *testing.T) {
	m := newTestManager(t)
	hostDir := t.TempDir()
	if err := os.Symlink("/etc", filepath.Join(hostDir, "escape")); err != nil {
		t.Fatal(err)
	}
	pod := podWith("mounts",
		corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		cmVolume("cfg", "cfg", nil, nil, nil),
		corev1.Volume{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: hostDir}}},
	)
	pod.Spec.Hostname, pod.Spec.Subdomain = "db", "backend"
	c := corev1.Container{
		Name:                   "app",
		TerminationMessagePath: "/dev/termination-log",
		VolumeMounts: []corev1.VolumeMount{
			{Name: "scratch", MountPath: "/data"},
			{Name: "cfg", MountPath: "/etc/app"},
			{Name: "host", MountPath: "/host", ReadOnly: true, MountPropagation: ptr(corev1.MountPropagationHostToContainer)},
		},
	}
	pod.Spec.Containers = []corev1.Container{c}
	src := podspec.NewStaticSources([]*corev1.ConfigMap{configMap("cfg", map[string]string{"a": "1"})}, nil)
	pv, err := m.Setup(context.Background(), pod, src, nil, testNode)
	if err != nil {
		t.Fatal(err)
	}
	if pv.Hostname() != "db" {
		t.Errorf("hostname %q", pv.Hostname())
	}
	mounts, err := pv.Mounts(&c, []string{"POD_NAME=web-0"}, []string{"10.42.0.7"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Mount{}
	for _, mt := range mounts {
		got[mt.ContainerPath] = mt
	}
	scratch := pv.vols["scratch"].path
	podDir := filepath.Join(m.dir, "uid-mounts")
	want := map[string]Mount{
		"/data":                {HostPath: scratch, ContainerPath: "/data", Propagation: "rprivate"},
		"/etc/app":             {HostPath: pv.vols["cfg"].path, ContainerPath: "/etc/app", ReadOnly: true, Propagation: "rprivate"},
		"/host":                {HostPath: hostDir, ContainerPath: "/host", ReadOnly: true, Propagation: "rslave"},
		"/etc/hosts":           {HostPath: filepath.Join(podDir, hostsFile), ContainerPath: "/etc/hosts", Propagation: "rprivate"},
		"/etc/hostname":        {HostPath: filepath.Join(podDir, hostnameFile), ContainerPath: "/etc/hostname", Propagation: "rprivate"},
		"/etc/resolv.conf":     {HostPath: filepath.Join(podDir, resolvFile), ContainerPath: "/etc/resolv.conf", Propagation: "rprivate"},
		"/dev/termination-log": {HostPath: filepath.Join(podDir, "containers/app/termination-log"), ContainerPath: "/dev/termination-log", Propagation: "rprivate"},
	}
	if len(got) != len(want) || len(mounts) != len(want) {
		t.Errorf("got %d mounts, want %d: %+v", len(mounts), len(want), mounts)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s:\n got %+v\nwant %+v", k, got[k], w)
		}
	}
	for i := 1; i < len(mounts); i++ {
		if depth(mounts[i].ContainerPath) < depth(mounts[i-1].ContainerPath) {
			t.Errorf("mount %s comes after deeper %s", mounts[i].ContainerPath, mounts[i-1].ContainerPath)
		}
	}
	if got := readFile(t, filepath.Join(podDir, hostsFile)); !strings.Contains(got, "10.42.0.7\tdb.backend.shop.svc.cluster.local\tdb\n") {
		t.Errorf("hosts:\n%s", got)
	}
	if got := readFile(t, filepath.Join(podDir, hostnameFile)); got != "db\n" {
		t.Errorf("hostname file %q", got)
	}
	// No cluster DNS configured: ClusterFirst uses the node's resolvers.
	if got := readFile(t, filepath.Join(podDir, resolvFile)); got != "search lan\nnameserver 192.168.1.1\n" {
		t.Errorf("resolv.conf %q", got)
	}

	// The termination log is writable by anyone and read back (its tail).
	tl := got["/dev/termination-log"].HostPath
	if mode(t, tl) != 0o666 {
		t.Errorf("termination log mode %o", mode(t, tl))
	}
	msg := strings.Repeat("x", 5000) + "the end"
	if err := os.WriteFile(tl, []byte(msg), 0o666); err != nil {
		t.Fatal(err)
	}
	if got := m.TerminationMessage("uid-mounts", "app"); len(got) != maxTerminationMessage || !strings.HasSuffix(got, "the end") {
		t.Errorf("termination message: %d bytes, suffix %q", len(got), got[len(got)-7:])
	}
	if _, err := pv.Mounts(&c, []string{"POD_NAME=web-0"}, nil); err != nil {
		t.Fatal(err)
	}
	if got := m.TerminationMessage("uid-mounts", "app"); got != "" {
		t.Errorf("termination log not emptied for a new run: %q", got)
	}

	bad := []struct {
		vm      corev1.VolumeMount
		env     []string
		wantErr string
	}{
		{corev1.VolumeMount{Name: "nope", MountPath: "/x"}, nil, `cannot find volume "nope" to mount into container "app"`},
		{corev1.VolumeMount{Name: "scratch", MountPath: "/x", SubPath: "/abs"}, nil, "must not be an absolute path"},
		{corev1.VolumeMount{Name: "scratch", MountPath: "/x", SubPath: "a/../../b"}, nil, "must not contain '..'"},
		{corev1.VolumeMount{Name: "scratch", MountPath: "/x", SubPathExpr: "$(NOPE)"}, nil, "missing value for NOPE"},
		{corev1.VolumeMount{Name: "host", MountPath: "/x", SubPath: "escape/passwd"}, nil, "leaves its volume"},
		{corev1.VolumeMount{Name: "host", MountPath: "/x", MountPropagation: ptr(corev1.MountPropagationMode("Sideways"))}, nil, "invalid MountPropagation mode"},
	}
	for _, b := range bad {
		c2 := corev1.Container{Name: "app", VolumeMounts: []corev1.VolumeMount{b.vm}}
		if _, err := pv.Mounts(&c2, b.env, nil); err == nil || !strings.Contains(err.Error(), b.wantErr) {
			t.Errorf("%+v: err = %v, want %q", b.vm, err, b.wantErr)
		}
	}
}

func TestTeardownWithoutMounts(t *testing.T) {
	m := newTestManager(t)
	pod := podWith("td", cmVolume("cfg", "cfg", nil, nil, ptr(true)),
		corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	if _, err := m.Setup(context.Background(), pod, nil, nil, testNode); err != nil {
		t.Fatal(err)
	}
	if err := m.Teardown("uid-td"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(m.dir, "uid-td")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("pod dir left: %v", err)
	}
	if err := m.Teardown("uid-td"); err != nil {
		t.Fatalf("second teardown: %v", err)
	}
	if err := m.Teardown("../x"); err == nil {
		t.Fatal("teardown accepted a path as uid")
	}
}

func TestParseMountInfo(t *testing.T) {
	data := "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n" +
		"99 22 0:50 / /var/lib/skiff/agent/pods/u\\040x/volumes rw master:3 - tmpfs tmpfs rw,size=1024k\n"
	got, err := parseMountInfo([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	want := []mountEntry{{"/", "ext4"}, {"/var/lib/skiff/agent/pods/u x/volumes", "tmpfs"}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %+v", got)
	}
	if _, err := parseMountInfo([]byte("1 2 3 4 5 6 7 8\n")); err == nil {
		t.Fatal("malformed line accepted")
	}
}

func TestPodMemoryLimit(t *testing.T) {
	lim := func(s string) corev1.ResourceRequirements {
		return corev1.ResourceRequirements{Limits: corev1.ResourceList{"memory": resource.MustParse(s)}}
	}
	always := ptr(corev1.ContainerRestartPolicyAlways)
	tests := []struct {
		name string
		spec corev1.PodSpec
		want int64
		ok   bool
	}{
		{"all limited", corev1.PodSpec{Containers: []corev1.Container{{Resources: lim("100Mi")}, {Resources: lim("50Mi")}}}, 150 << 20, true},
		{"one unlimited", corev1.PodSpec{Containers: []corev1.Container{{Resources: lim("100Mi")}, {}}}, 0, false},
		{"big init", corev1.PodSpec{InitContainers: []corev1.Container{{Resources: lim("1Gi")}}, Containers: []corev1.Container{{Resources: lim("100Mi")}}}, 1 << 30, true},
		{"sidecar adds", corev1.PodSpec{InitContainers: []corev1.Container{{Resources: lim("10Mi"), RestartPolicy: always}}, Containers: []corev1.Container{{Resources: lim("100Mi")}}}, 110 << 20, true},
		{"pod level", corev1.PodSpec{Resources: &corev1.ResourceRequirements{Limits: corev1.ResourceList{"memory": resource.MustParse("64Mi")}}, Containers: []corev1.Container{{}}}, 64 << 20, true},
	}
	for _, tt := range tests {
		got, ok := podMemoryLimit(&corev1.Pod{Spec: tt.spec})
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: %d %v, want %d %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestOnlyLoopback(t *testing.T) {
	tests := []struct {
		conf string
		want bool
	}{
		{"nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n", true},
		{"nameserver ::1\nnameserver 127.0.0.1\n", true},
		{"nameserver 127.0.0.53\nnameserver 192.168.1.1\n", false},
		{"nameserver 192.168.1.1\n", false},
		{"search lan\n", false},
	}
	for _, tt := range tests {
		if got := onlyLoopback([]byte(tt.conf)); got != tt.want {
			t.Errorf("onlyLoopback(%q) = %v, want %v", tt.conf, got, tt.want)
		}
	}
}
