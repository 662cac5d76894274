package network

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// NetNSPath is where the pod's network namespace is pinned: under
// NetNSDir, or under LegacyNetNSDir for a pod pinned there by an earlier
// agent.
func (n *Network) NetNSPath(podUID string) string {
	p := filepath.Join(n.cfg.NetNSDir, podUID)
	if n.cfg.LegacyNetNSDir != "" && !isNetNSMount(p) {
		if old := filepath.Join(n.cfg.LegacyNetNSDir, podUID); isNetNSMount(old) {
			return old
		}
	}
	return p
}

// CreateNetNS creates a network namespace for the pod and pins it with a
// bind mount at NetNSPath(podUID), which it returns; containers join it by
// that path. A namespace already pinned there (an agent restart) is
// returned as it is.
func (n *Network) CreateNetNS(podUID string) (string, error) {
	if err := checkPodUID(podUID); err != nil {
		return "", err
	}
	p := n.NetNSPath(podUID)
	if isNetNSMount(p) {
		return p, nil
	}
	if err := os.MkdirAll(n.cfg.NetNSDir, 0o755); err != nil {
		return "", fmt.Errorf("network: netns dir: %w", err)
	}
	if err := pinNewNetNS(p); err != nil {
		return "", fmt.Errorf("network: netns for pod %s: %w", podUID, err)
	}
	return p, nil
}

// DeleteNetNS unpins the pod's network namespace; the kernel frees it
// once no process is left in it. A missing one is no error.
func (n *Network) DeleteNetNS(podUID string) error {
	if err := checkPodUID(podUID); err != nil {
		return err
	}
	return unpinNetNS(n.NetNSPath(podUID))
}

// isNetNSMount says whether p is a pinned namespace (nsfs), not a plain
// file left by a crash between creating the mount point and mounting.
func isNetNSMount(p string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		return false
	}
	return uint32(st.Type) == uint32(unix.NSFS_MAGIC)
}

// pinNewNetNS creates a network namespace and bind-mounts it on p.
func pinNewNetNS(p string) error {
	f, err := os.OpenFile(p, os.O_RDONLY|os.O_CREATE, 0o444)
	if err != nil {
		return fmt.Errorf("create mount point: %w", err)
	}
	f.Close()

	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread moves into the new namespace and must
		// end with this goroutine rather than run anything else.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare: %w", err)
			return
		}
		src := fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
		if err := unix.Mount(src, p, "none", unix.MS_BIND, ""); err != nil {
			errc <- fmt.Errorf("bind mount %s: %w", p, err)
			return
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		os.Remove(p)
		return err
	}
	return nil
}

// unpinNetNS unmounts and removes p; missing is fine.
func unpinNetNS(p string) error {
	// Loop: a namespace pinned twice over (stacked mounts) needs two.
	for i := 0; i < 8; i++ {
		err := unix.Unmount(p, unix.MNT_DETACH)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			break // not (or no longer) a mount point
		}
		if err != nil {
			return fmt.Errorf("network: unmount netns %s: %w", p, err)
		}
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("network: remove netns %s: %w", p, err)
	}
	return nil
}
