package volumes

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// mountEntry is one line of /proc/self/mountinfo.
type mountEntry struct {
	mountPoint string
	fsType     string
}

// readMountInfo parses /proc/self/mountinfo.
func readMountInfo() ([]mountEntry, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	return parseMountInfo(data)
}

func parseMountInfo(data []byte) ([]mountEntry, error) {
	var out []mountEntry
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		// id parent major:minor root mountpoint options [optional...] - fstype source superopts
		if len(fields) < 7 {
			continue
		}
		sep := -1
		for i := 6; i < len(fields); i++ {
			if fields[i] == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+1 >= len(fields) {
			return nil, fmt.Errorf("malformed mountinfo line %q", sc.Text())
		}
		out = append(out, mountEntry{mountPoint: unescapeMount(fields[4]), fsType: fields[sep+1]})
	}
	return out, sc.Err()
}

// unescapeMount decodes the octal escapes (\040 for space, ...) the
// kernel uses in mountinfo paths.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// mountsUnder returns the mount points at or below dir, deepest first.
func mountsUnder(dir string) ([]mountEntry, error) {
	all, err := readMountInfo()
	if err != nil {
		return nil, err
	}
	var out []mountEntry
	// Walk backwards so that, for mounts stacked on one point, the latest
	// comes first; then put the deepest first.
	for i := len(all) - 1; i >= 0; i-- {
		m := all[i]
		if m.mountPoint == dir || strings.HasPrefix(m.mountPoint, dir+"/") {
			out = append(out, m)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		return strings.Count(out[i].mountPoint, "/") > strings.Count(out[j].mountPoint, "/")
	})
	return out, nil
}

// isMountPoint reports whether dir is itself a mount point, and the file
// system type of the topmost mount there. statx says whether dir is the
// root of a mount and statfs whether that is a tmpfs, without reading
// mountinfo, whose size grows with every pod's mounts; mountinfo is read
// for a mount of another type (to name it) or a kernel without statx's
// mount-root attribute (before 5.8).
func isMountPoint(dir string) (bool, string, error) {
	var stx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, dir, unix.AT_SYMLINK_NOFOLLOW, 0, &stx); err == nil &&
		stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 {
		if stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT == 0 {
			return false, "", nil
		}
		var st unix.Statfs_t
		if err := unix.Statfs(dir, &st); err == nil && st.Type == unix.TMPFS_MAGIC {
			return true, "tmpfs", nil
		}
	}
	return isMountPointFromMountInfo(dir)
}

// isMountPointFromMountInfo is isMountPoint from /proc/self/mountinfo.
func isMountPointFromMountInfo(dir string) (bool, string, error) {
	all, err := readMountInfo()
	if err != nil {
		return false, "", err
	}
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].mountPoint == dir {
			return true, all[i].fsType, nil
		}
	}
	return false, "", nil
}

// mountTmpfs mounts a tmpfs on dir unless one is already there. size 0
// leaves the kernel's default.
func mountTmpfs(dir string, size int64, mode os.FileMode) error {
	dir = realPath(dir)
	mounted, fsType, err := isMountPoint(dir)
	if err != nil {
		return err
	}
	if mounted {
		if fsType != "tmpfs" {
			return fmt.Errorf("%s is already a %s mount", dir, fsType)
		}
		return nil
	}
	opts := fmt.Sprintf("mode=%#o", mode.Perm())
	if size > 0 {
		opts += ",size=" + strconv.FormatInt(size, 10)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, opts); err != nil {
		return fmt.Errorf("mounting tmpfs on %s: %w", dir, err)
	}
	return nil
}

// unmountAll unmounts everything at or below dir and checks that nothing
// is left: the caller is about to delete the tree, and a still-mounted
// bind mount would take the files it shows with it.
func unmountAll(dir string) error {
	mounts, err := mountsUnder(dir)
	if err != nil {
		return err
	}
	for _, m := range mounts {
		err := unix.Unmount(m.mountPoint, 0)
		if err == unix.EBUSY {
			// A container still holds it; detach so it goes away when
			// released.
			err = unix.Unmount(m.mountPoint, unix.MNT_DETACH)
		}
		if err != nil && err != unix.EINVAL && err != unix.ENOENT {
			return fmt.Errorf("unmounting %s: %w", m.mountPoint, err)
		}
	}
	left, err := mountsUnder(dir)
	if err != nil {
		return err
	}
	if len(left) > 0 {
		return fmt.Errorf("%s still has %d mounts (first %s)", dir, len(left), left[0].mountPoint)
	}
	return nil
}

// realPath resolves symlinks in p as far as it exists, so paths compare
// equal to what mountinfo shows.
func realPath(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	parent := filepath.Dir(p)
	if parent == p {
		return p
	}
	return filepath.Join(realPath(parent), filepath.Base(p))
}
