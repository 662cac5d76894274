package volumes

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiff-io/skiff/agent/podspec"
)

// Paths of the pod's managed files under its directory.
const (
	hostsFile    = "etc-hosts"
	hostnameFile = "etc-hostname"
	resolvFile   = "resolv.conf"
)

// maxTerminationMessage is how much of a termination log Kubernetes
// reports (its tail).
const maxTerminationMessage = 4096

// Hostname is the hostname the pod's containers should get in their UTS
// namespace; "" for a host-network pod (it keeps the node's).
func (pv *PodVolumes) Hostname() string { return pv.uts }

// Dir is the pod's directory.
func (pv *PodVolumes) Dir() string { return pv.dir }

// writePodFiles writes etc-hostname and resolv.conf. They are bind-mounted
// as single files, so they are rewritten in place (a rename would leave
// running containers on the old inode).
func (pv *PodVolumes) writePodFiles() error {
	m := pv.m
	uts, err := podspec.UTSHostname(pv.pod, m.clusterDomain)
	if err != nil {
		return err
	}
	pv.uts = uts
	hostname := uts
	if pv.pod.Spec.HostNetwork {
		if hostname, err = os.Hostname(); err != nil {
			return err
		}
	}
	if err := writeInPlace(filepath.Join(pv.dir, hostnameFile), []byte(hostname+"\n")); err != nil {
		return err
	}
	var host []byte
	if m.resolvConf != "" {
		if host, err = os.ReadFile(m.resolvConf); err != nil {
			return fmt.Errorf("reading the node's resolv.conf: %w", err)
		}
		if host == nil {
			host = []byte{}
		}
	}
	resolv, err := podspec.ResolvConf(pv.pod, host, m.clusterDNS, m.clusterDomain)
	if err != nil {
		return err
	}
	return writeInPlace(filepath.Join(pv.dir, resolvFile), resolv)
}

// writeHosts writes etc-hosts for the pod's current IPs.
func (pv *PodVolumes) writeHosts(podIPs []string) error {
	var node []byte
	if pv.pod.Spec.HostNetwork {
		var err error
		if node, err = os.ReadFile(pv.m.hostsFile); err != nil {
			return fmt.Errorf("reading the node's hosts file: %w", err)
		}
	}
	return writeInPlace(filepath.Join(pv.dir, hostsFile), podspec.Hosts(pv.pod, podIPs, node, pv.m.clusterDomain))
}

func writeInPlace(p string, data []byte) error {
	if err := os.WriteFile(p, data, 0o644); err != nil {
		return err
	}
	return os.Chmod(p, 0o644)
}

// Mounts returns container c's bind mounts: its volumeMounts (subPath
// and subPathExpr resolved, subPathExpr against env, the container's
// resolved environment from podspec.Env), then /etc/hosts (when the pod
// has IPs or is on the host network), /etc/hostname and /etc/resolv.conf
// unless the container mounts something there itself, then a writable
// termination-message file at c.TerminationMessagePath, emptied for this
// run. configMap, secret, downwardAPI and projected volumes are always
// read-only. A subPath is bind-mounted ("pinned") under
// <uid>/volume-subpaths/<volume>/<container>/<index>, which needs
// CAP_SYS_ADMIN; Teardown removes the pins. The list is ordered parents
// before children, the order the mounts must be made in.
func (pv *PodVolumes) Mounts(c *corev1.Container, env []string, podIPs []string) ([]Mount, error) {
	if c.Name == "" || strings.ContainsAny(c.Name, "/\x00") || strings.HasPrefix(c.Name, ".") {
		return nil, fmt.Errorf("invalid container name %q", c.Name)
	}
	defer pv.m.lock(string(pv.pod.UID))()
	var out []Mount
	mounted := map[string]bool{}
	for i := range c.VolumeMounts {
		vm := &c.VolumeMounts[i]
		mounted[filepath.Clean(vm.MountPath)] = true
		vol, ok := pv.vols[vm.Name]
		if !ok {
			return nil, fmt.Errorf("cannot find volume %q to mount into container %q", vm.Name, c.Name)
		}
		sub := vm.SubPath
		if vm.SubPathExpr != "" {
			var err error
			if sub, err = podspec.SubPath(vm.SubPathExpr, env); err != nil {
				return nil, err
			}
		}
		host := vol.path
		if sub != "" {
			var err error
			if host, err = subPath(vol.path, sub); err != nil {
				return nil, err
			}
			pin := filepath.Join(pv.dir, "volume-subpaths", vm.Name, c.Name, strconv.Itoa(i))
			if err := pinSubPath(realPath(vol.path), host, pin); err != nil {
				return nil, fmt.Errorf("failed to prepare subPath for volumeMount %q of container %q: %w", vm.Name, c.Name, err)
			}
			host = pin
		}
		prop, err := propagation(vm.MountPropagation)
		if err != nil {
			return nil, err
		}
		cp := vm.MountPath
		if !filepath.IsAbs(cp) {
			cp = "/" + cp
		}
		out = append(out, Mount{HostPath: host, ContainerPath: cp, ReadOnly: vm.ReadOnly || vol.readOnly, Propagation: prop})
	}

	roRoot := c.SecurityContext != nil && c.SecurityContext.ReadOnlyRootFilesystem != nil && *c.SecurityContext.ReadOnlyRootFilesystem
	if !mounted["/etc/hosts"] && (len(podIPs) > 0 || pv.pod.Spec.HostNetwork) {
		if err := pv.writeHosts(podIPs); err != nil {
			return nil, err
		}
		out = append(out, Mount{HostPath: filepath.Join(pv.dir, hostsFile), ContainerPath: "/etc/hosts", Propagation: "rprivate"})
	}
	if !mounted["/etc/hostname"] {
		out = append(out, Mount{HostPath: filepath.Join(pv.dir, hostnameFile), ContainerPath: "/etc/hostname", ReadOnly: roRoot, Propagation: "rprivate"})
	}
	if !mounted["/etc/resolv.conf"] {
		out = append(out, Mount{HostPath: filepath.Join(pv.dir, resolvFile), ContainerPath: "/etc/resolv.conf", ReadOnly: roRoot, Propagation: "rprivate"})
	}
	if c.TerminationMessagePath != "" {
		p, err := pv.m.terminationLogPath(string(pv.pod.UID), c.Name)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			return nil, err
		}
		// Any user in the container must be able to write its message.
		if err := writeInPlace(p, nil); err != nil {
			return nil, err
		}
		if err := os.Chmod(p, 0o666); err != nil {
			return nil, err
		}
		out = append(out, Mount{HostPath: p, ContainerPath: c.TerminationMessagePath, Propagation: "rprivate"})
	}
	sort.SliceStable(out, func(i, j int) bool { return depth(out[i].ContainerPath) < depth(out[j].ContainerPath) })
	return out, nil
}

func depth(p string) int { return strings.Count(filepath.Clean(p), "/") }

func propagation(mode *corev1.MountPropagationMode) (string, error) {
	if mode == nil {
		return "rprivate", nil
	}
	switch *mode {
	case corev1.MountPropagationNone:
		return "rprivate", nil
	case corev1.MountPropagationHostToContainer:
		return "rslave", nil
	case corev1.MountPropagationBidirectional:
		return "rshared", nil
	}
	return "", fmt.Errorf("invalid MountPropagation mode: %q", *mode)
}

// subPath resolves sub inside the volume at root, creating missing
// directories (with the volume root's mode), and refuses any path that
// leaves the volume, through ".." or through symlinks. The returned path
// has its symlinks resolved; pinSubPath then fixes it against later
// changes.
func subPath(root, sub string) (string, error) {
	if filepath.IsAbs(sub) {
		return "", fmt.Errorf("error SubPath `%s` must not be an absolute path", sub)
	}
	for _, part := range strings.Split(sub, "/") {
		if part == ".." {
			return "", fmt.Errorf("unable to provision SubPath `%s`: must not contain '..'", sub)
		}
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(realRoot)
	if err != nil {
		return "", err
	}
	inside := func(p string) bool { return p == realRoot || strings.HasPrefix(p, realRoot+"/") }
	cur := realRoot
	for _, part := range strings.Split(sub, "/") {
		if part == "" || part == "." {
			continue
		}
		next := filepath.Join(cur, part)
		if _, err := os.Lstat(next); errors.Is(err, fs.ErrNotExist) {
			if err := os.Mkdir(next, fi.Mode().Perm()); err != nil && !errors.Is(err, fs.ErrExist) {
				return "", fmt.Errorf("creating subPath %q: %w", sub, err)
			}
			if err := os.Chmod(next, fi.Mode().Perm()); err != nil {
				return "", err
			}
		} else if err != nil {
			return "", err
		}
		resolved, err := filepath.EvalSymlinks(next)
		if err != nil {
			return "", err
		}
		if !inside(resolved) {
			return "", fmt.Errorf("subPath %q leaves its volume", sub)
		}
		cur = resolved
	}
	return cur, nil
}

func (m *Manager) terminationLogPath(uid, container string) (string, error) {
	dir, err := m.podDir(uid)
	if err != nil {
		return "", err
	}
	if container == "" || strings.ContainsAny(container, "/\x00") || strings.HasPrefix(container, ".") {
		return "", fmt.Errorf("invalid container name %q", container)
	}
	return filepath.Join(dir, "containers", container, "termination-log"), nil
}

// TerminationMessage returns what container wrote to its termination
// message file during its last run (at most its last 4096 bytes), or ""
// when there is none.
func (m *Manager) TerminationMessage(podUID, container string) string {
	p, err := m.terminationLogPath(podUID, container)
	if err != nil {
		return ""
	}
	f, err := os.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return ""
	}
	if off := fi.Size() - maxTerminationMessage; off > 0 {
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return ""
		}
	}
	data, _ := io.ReadAll(io.LimitReader(f, maxTerminationMessage))
	return string(data)
}

// Teardown unmounts every mount under the pod's directory (found in
// /proc/self/mountinfo, so it works after an agent restart) and removes
// the directory. It is idempotent, and refuses to delete anything while a
// mount remains.
func (m *Manager) Teardown(podUID string) error {
	dir, err := m.podDir(podUID)
	if err != nil {
		return err
	}
	defer m.lock(podUID)()
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	real := realPath(dir)
	if err := unmountAll(real); err != nil {
		return fmt.Errorf("tearing down pod %s: %w", podUID, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("tearing down pod %s: %w", podUID, err)
	}
	return nil
}
