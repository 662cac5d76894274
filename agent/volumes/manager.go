package volumes

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/skiff-io/skiff/agent/podspec"
)

// Plugin directory names, as on any Kubernetes node (tools that inspect
// /var/lib/kubelet/pods find the same shape).
const (
	pluginEmptyDir  = "kubernetes.io~empty-dir"
	pluginConfigMap = "kubernetes.io~configmap"
	pluginSecret    = "kubernetes.io~secret"
	pluginDownward  = "kubernetes.io~downward-api"
	pluginProjected = "kubernetes.io~projected"
)

// TokenSource issues service account tokens for projected volumes.
// Setup asks for the token on every run, so an implementation should
// return its cached token until that is due for renewal (Kubernetes
// renews at 80% of the token's lifetime, or after 24 hours); every new
// token means a rewrite of the volume.
type TokenSource interface {
	Token(ctx context.Context, pod *corev1.Pod, audience string, expirationSeconds int64) (string, error)
}

// Mount is one bind mount for a container. Propagation is the OCI
// rootfs propagation option: "rprivate" (the default, and
// mountPropagation None), "rslave" (HostToContainer) or "rshared"
// (Bidirectional).
type Mount struct {
	HostPath      string
	ContainerPath string
	ReadOnly      bool
	Propagation   string
}

// Manager materializes pod volumes under one directory
// (<data-dir>/agent/pods).
type Manager struct {
	dir           string
	clusterDNS    []string
	clusterDomain string
	resolvConf    string
	hostsFile     string
	now           func() time.Time

	mu    sync.Mutex
	locks map[string]*podLock
}

type podLock struct {
	mu   sync.Mutex
	refs int
}

// Option configures a Manager.
type Option func(*Manager)

// WithClusterDNS sets the cluster DNS servers and domain pods resolve
// through. Without servers, ClusterFirst pods use the node's resolvers.
func WithClusterDNS(servers []string, domain string) Option {
	return func(m *Manager) { m.clusterDNS, m.clusterDomain = servers, domain }
}

// WithNodeFiles sets the node's resolv.conf (default NodeResolvConf(); ""
// means none, and pods of dnsPolicy Default then resolve through
// 127.0.0.1) and hosts file (default /etc/hosts) that host-DNS and
// host-network pods inherit.
func WithNodeFiles(resolvConf, hosts string) Option {
	return func(m *Manager) { m.resolvConf, m.hostsFile = resolvConf, hosts }
}

// New returns a Manager keeping pods under dir.
func New(dir string, opts ...Option) *Manager {
	m := &Manager{
		dir:           dir,
		clusterDomain: "cluster.local",
		resolvConf:    NodeResolvConf(),
		hostsFile:     "/etc/hosts",
		now:           time.Now,
		locks:         map[string]*podLock{},
	}
	for _, o := range opts {
		o(m)
	}
	return m
}

// lock serializes work on one pod's directory; the returned func
// unlocks.
func (m *Manager) lock(uid string) func() {
	m.mu.Lock()
	l, ok := m.locks[uid]
	if !ok {
		l = &podLock{}
		m.locks[uid] = l
	}
	l.refs++
	m.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		m.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(m.locks, uid)
		}
		m.mu.Unlock()
	}
}

func (m *Manager) podDir(uid string) (string, error) {
	if uid == "" || uid == "." || uid == ".." || strings.ContainsAny(uid, "/\x00") {
		return "", fmt.Errorf("invalid pod uid %q", uid)
	}
	return filepath.Join(m.dir, uid), nil
}

// volume is a set-up volume.
type volume struct {
	path     string
	readOnly bool // mounted read-only whatever the volumeMount says
}

// PodVolumes is a pod's set-up volumes and managed files.
type PodVolumes struct {
	m    *Manager
	pod  *corev1.Pod
	dir  string
	vols map[string]volume
	uts  string
}

// Setup creates or refreshes every volume of pod under
// dir/<uid>/volumes/<plugin>/<name>, and the pod's /etc/hostname and
// /etc/resolv.conf. It is idempotent: run again for a running pod (after
// a ConfigMap or Secret changed, or for a token refresh) it rewrites
// changed configMap, secret, downwardAPI and projected volumes in place,
// atomically, and leaves emptyDir contents alone.
//
// Every volume is attempted; the error joins each failure, prefixed with
// the volume's name, and carries the kubelet's text
// (`configmap "x" not found`). On error the returned PodVolumes still
// holds the volumes that succeeded (a running pod keeps working with its
// last good files), but a pod must not be started from it. Setup of secret, projected and Memory
// emptyDir volumes mounts tmpfs and so needs CAP_SYS_ADMIN.
func (m *Manager) Setup(ctx context.Context, pod *corev1.Pod, src podspec.Sources, tokens TokenSource, node podspec.NodeInfo) (*PodVolumes, error) {
	uid := string(pod.UID)
	dir, err := m.podDir(uid)
	if err != nil {
		return nil, err
	}
	defer m.lock(uid)()

	if err := os.MkdirAll(filepath.Join(dir, "volumes"), 0o750); err != nil {
		return nil, err
	}
	pv := &PodVolumes{m: m, pod: pod.DeepCopy(), dir: dir, vols: map[string]volume{}}
	var errs []error
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		vol, err := m.setupVolume(ctx, dir, pod, v, src, tokens, node)
		if err != nil {
			errs = append(errs, fmt.Errorf("volume %q: %w", v.Name, err))
			continue
		}
		pv.vols[v.Name] = vol
	}

	if err := pv.writePodFiles(); err != nil {
		errs = append(errs, err)
	}
	return pv, errors.Join(errs...)
}

func (m *Manager) setupVolume(ctx context.Context, podDir string, pod *corev1.Pod, v *corev1.Volume, src podspec.Sources, tokens TokenSource, node podspec.NodeInfo) (volume, error) {
	if v.Name == "" || strings.ContainsAny(v.Name, "/\x00") || strings.HasPrefix(v.Name, ".") {
		return volume{}, fmt.Errorf("invalid volume name")
	}
	path := func(plugin string) string { return filepath.Join(podDir, "volumes", plugin, v.Name) }
	gid := fsGroup(pod)
	vs := &v.VolumeSource
	switch {
	case vs.HostPath != nil:
		if err := checkHostPath(vs.HostPath.Path, vs.HostPath.Type); err != nil {
			return volume{}, err
		}
		return volume{path: vs.HostPath.Path}, nil

	case vs.EmptyDir != nil:
		p := path(pluginEmptyDir)
		created, err := makeDir(p, 0o777)
		if err != nil {
			return volume{}, err
		}
		switch vs.EmptyDir.Medium {
		case corev1.StorageMediumDefault:
		case corev1.StorageMediumMemory:
			if err := mountTmpfs(p, memoryVolumeSize(pod, node, vs.EmptyDir.SizeLimit), 0o777); err != nil {
				return volume{}, err
			}
		default:
			return volume{}, fmt.Errorf("emptyDir medium %q is not supported by skiff", vs.EmptyDir.Medium)
		}
		// Only a new volume: the pod's own files keep whatever owners and
		// modes it gives them.
		if gid != nil && created {
			if err := setOwnership(p, *gid, false); err != nil {
				return volume{}, err
			}
		}
		return volume{path: p}, nil

	case vs.ConfigMap != nil:
		c := vs.ConfigMap
		optional := isTrue(c.Optional)
		cm, err := podspec.GetConfigMap(src, pod.Namespace, c.Name)
		if err != nil {
			if !(podspec.IsNotFound(err) && optional) {
				return volume{}, err
			}
			cm = &corev1.ConfigMap{}
		}
		payload, err := configMapPayload(cm, c.Items, c.DefaultMode, optional)
		if err != nil {
			return volume{}, err
		}
		return m.writeVolume(path(pluginConfigMap), payload, false, pod, node)

	case vs.Secret != nil:
		s := vs.Secret
		optional := isTrue(s.Optional)
		sec, err := podspec.GetSecret(src, pod.Namespace, s.SecretName)
		if err != nil {
			if !(podspec.IsNotFound(err) && optional) {
				return volume{}, err
			}
			sec = &corev1.Secret{}
		}
		payload, err := secretPayload(sec, s.Items, s.DefaultMode, optional)
		if err != nil {
			return volume{}, err
		}
		return m.writeVolume(path(pluginSecret), payload, true, pod, node)

	case vs.DownwardAPI != nil:
		payload, err := downwardPayload(pod, vs.DownwardAPI.Items, vs.DownwardAPI.DefaultMode, node)
		if err != nil {
			return volume{}, err
		}
		return m.writeVolume(path(pluginDownward), payload, false, pod, node)

	case vs.PersistentVolumeClaim != nil, vs.Ephemeral != nil:
		return setupClaim(pod, v, src)

	case vs.Projected != nil:
		payload, err := projectedPayload(ctx, pod, vs.Projected, src, tokens, node)
		if err != nil {
			return volume{}, err
		}
		return m.writeVolume(path(pluginProjected), payload, true, pod, node)
	}
	return volume{}, fmt.Errorf("unsupported volume type (skiff supports emptyDir, hostPath, configMap, secret, downwardAPI, projected, persistentVolumeClaim and ephemeral)")
}

// writeVolume writes an atomic-writer volume, on tmpfs when it may hold
// secrets.
func (m *Manager) writeVolume(p string, payload map[string]file, inMemory bool, pod *corev1.Pod, node podspec.NodeInfo) (volume, error) {
	if _, err := makeDir(p, 0o755); err != nil {
		return volume{}, err
	}
	if inMemory {
		if err := mountTmpfs(p, memoryVolumeSize(pod, node, nil), 0o755); err != nil {
			return volume{}, err
		}
	}
	changed, err := writeAtomic(p, payload, m.now())
	if err != nil {
		return volume{}, err
	}
	if gid := fsGroup(pod); gid != nil && changed {
		if err := setOwnership(p, *gid, true); err != nil {
			return volume{}, err
		}
	}
	return volume{path: p, readOnly: true}, nil
}

// makeDir creates p with exactly perm (whatever the umask) if missing,
// and reports whether it did.
func makeDir(p string, perm os.FileMode) (bool, error) {
	if fi, err := os.Stat(p); err == nil {
		if !fi.IsDir() {
			return false, fmt.Errorf("%s is not a directory", p)
		}
		return false, nil
	}
	if err := os.MkdirAll(p, perm); err != nil {
		return false, err
	}
	return true, os.Chmod(p, perm)
}

// setOwnership gives a volume to the pod's fsGroup as the kubelet does:
// group ownership of everything, group read (and write unless the volume
// is read-only) on files, setgid and group search on directories.
func setOwnership(root string, gid int64, readOnly bool) error {
	mask := os.FileMode(0o660)
	if readOnly {
		mask = 0o440
	}
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(p, -1, int(gid)); err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		mode := fi.Mode().Perm() | mask
		if d.IsDir() {
			mode |= os.ModeSetgid | 0o110
		}
		return os.Chmod(p, mode|fi.Mode()&(os.ModeSticky))
	})
}

// memoryVolumeSize is the tmpfs size for a memory-backed volume: the
// node's allocatable memory, lowered to the pod's memory limit when every
// container declares one, lowered to sizeLimit when that is smaller.
// 0 means no size option (the kernel default).
func memoryVolumeSize(pod *corev1.Pod, node podspec.NodeInfo, sizeLimit *resource.Quantity) int64 {
	var size int64
	if q, ok := node.Allocatable[corev1.ResourceMemory]; ok {
		size = q.Value()
	}
	if l, ok := podMemoryLimit(pod); ok && l > 0 && (size == 0 || l <= size) {
		size = l
	}
	if sizeLimit != nil {
		if v := sizeLimit.Value(); v > 0 && (size == 0 || v <= size) {
			size = v
		}
	}
	return size
}

// podMemoryLimit is the pod's effective memory limit (what its cgroup
// gets) when every container has one: the larger of the regular
// containers plus sidecars, and each init container plus the sidecars
// started before it; a pod-level limit wins.
func podMemoryLimit(pod *corev1.Pod) (int64, bool) {
	if pod.Spec.Resources != nil {
		if q, ok := pod.Spec.Resources.Limits[corev1.ResourceMemory]; ok && !q.IsZero() {
			return q.Value(), true
		}
	}
	limit := func(c *corev1.Container) (int64, bool) {
		q, ok := c.Resources.Limits[corev1.ResourceMemory]
		if !ok || q.IsZero() {
			return 0, false
		}
		return q.Value(), true
	}
	var sidecars, peakInit int64
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		l, ok := limit(c)
		if !ok {
			return 0, false
		}
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars += l
			continue
		}
		peakInit = max(peakInit, sidecars+l)
	}
	sum := sidecars
	for i := range pod.Spec.Containers {
		l, ok := limit(&pod.Spec.Containers[i])
		if !ok {
			return 0, false
		}
		sum += l
	}
	return max(sum, peakInit), true
}
