package volumes

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// pinSubPath makes the checked subPath target (resolved, a path inside
// realRoot) immune to later swaps: it opens the target one component at
// a time from the volume root, refusing symlinks, and bind-mounts the
// opened file onto pin, a path under the pod directory that containers
// cannot reach. The runtime then mounts pin, so replacing a directory in
// the volume with a symlink after the check (a container can write to
// the volume) cannot redirect the mount to the node's files.
func pinSubPath(realRoot, resolved, pin string) error {
	rel, err := filepath.Rel(realRoot, resolved)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return fmt.Errorf("subPath target %s is outside its volume", resolved)
	}
	fd, err := unix.Open(realRoot, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening volume: %w", err)
	}
	defer func() { unix.Close(fd) }()
	if rel != "." {
		for _, part := range strings.Split(rel, "/") {
			next, err := unix.Openat(fd, part, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("opening subPath component %q: %w", part, err)
			}
			unix.Close(fd)
			fd = next
			var st unix.Stat_t
			if err := unix.Fstat(fd, &st); err != nil {
				return err
			}
			if st.Mode&unix.S_IFMT == unix.S_IFLNK {
				return fmt.Errorf("subPath component %q changed into a symlink", part)
			}
		}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}

	// An earlier run of the container left its pin: replace it.
	if err := unix.Unmount(pin, unix.MNT_DETACH); err != nil && err != unix.EINVAL && err != unix.ENOENT {
		return fmt.Errorf("unpinning %s: %w", pin, err)
	}
	if err := os.MkdirAll(filepath.Dir(pin), 0o750); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		err = os.Mkdir(pin, 0o750)
	} else {
		var f *os.File
		if f, err = os.OpenFile(pin, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640); err == nil {
			err = f.Close()
		}
	}
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	src := "/proc/self/fd/" + strconv.Itoa(fd)
	if err := unix.Mount(src, pin, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("pinning subPath: %w", err)
	}
	return nil
}
