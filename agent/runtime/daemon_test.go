package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func isTmpfs(t *testing.T, dir string) bool {
	t.Helper()
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		t.Fatal(err)
	}
	return fs.Type == unix.TMPFS_MAGIC
}

// mountsAt counts the mounts whose mount point is dir.
func mountsAt(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 4 && f[4] == dir {
			n++
		}
	}
	return n
}

// TestStateOnTmpfs: containerd's state directory gets a tmpfs when it is
// new or holds no task bundles, once, and stays on disk while bundles of
// tasks that may still run are there.
func TestStateOnTmpfs(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping mount test under -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("skipping mount test: needs root")
	}
	base := t.TempDir()
	if isTmpfs(t, base) {
		t.Skip("the temp dir is a tmpfs already")
	}
	unmount := func(dir string) {
		t.Cleanup(func() {
			for mountsAt(t, dir) > 0 {
				if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
					t.Errorf("unmount %s: %v", dir, err)
					return
				}
			}
		})
	}

	fresh := filepath.Join(base, "fresh", "state")
	unmount(fresh)
	stateOnTmpfs(fresh)
	if !isTmpfs(t, fresh) {
		t.Fatal("a new state directory is not a tmpfs")
	}
	stateOnTmpfs(fresh) // containerd started again: the same tmpfs
	if n := mountsAt(t, fresh); n != 1 {
		t.Fatalf("%d mounts on the state directory after a second start, want 1", n)
	}

	// What containerd leaves after removing dead tasks' bundles.
	emptied := filepath.Join(base, "emptied", "state")
	if err := os.MkdirAll(filepath.Join(emptied, "io.containerd.runtime.v2.task", "k8s.io"), 0o711); err != nil {
		t.Fatal(err)
	}
	unmount(emptied)
	stateOnTmpfs(emptied)
	if !isTmpfs(t, emptied) {
		t.Fatal("a state directory without bundles is not a tmpfs")
	}

	busy := filepath.Join(base, "busy", "state")
	bundle := filepath.Join(busy, "io.containerd.runtime.v2.task", "k8s.io", "ctr1")
	if err := os.MkdirAll(bundle, 0o711); err != nil {
		t.Fatal(err)
	}
	unmount(busy)
	stateOnTmpfs(busy)
	if isTmpfs(t, busy) {
		t.Fatal("a tmpfs was mounted over task bundles")
	}
	if _, err := os.Stat(bundle); err != nil {
		t.Fatalf("the bundle is not visible: %v", err)
	}
}
