package cliconfig

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"

	"golang.org/x/sys/unix"
)

// ReleaseStartupMemory hands back to the kernel what start-up touched and
// the running process no longer needs: the heap that start-up left free
// (debug.FreeOSMemory) and the pages of skiff's own binary.
//
// Start-up runs code and reads tables that serve it once: every API
// group's scheme, defaulting and conversion registration, the OpenAPI
// models, flag parsing, containerd's and kine's set-up. The kernel
// also maps neighbours of every page touched (fault-around), and on
// kernels whose page cache holds the binary in large folios it maps
// whole 2 MiB blocks. Left alone, some 30 MiB of a ~40 MB binary stay
// resident in an idle server although a few MiB of it run afterwards.
// MADV_PAGEOUT on the binary's read-only mappings reclaims those pages
// now rather than when the node runs short of memory; what the process
// still runs faults back in from the page cache or the disk (reads, not
// writes, so no wear on an SD card). Pages another process maps (a
// second skiff on the same host) are left as they are.
//
// It returns the bytes of binary mappings advised; an error means the
// kernel (before 5.4) or the platform does not support it, which costs
// memory and nothing else.
func ReleaseStartupMemory() (int64, error) {
	debug.FreeOSMemory()
	var exe unix.Stat_t
	if err := unix.Stat("/proc/self/exe", &exe); err != nil {
		return 0, err
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return 0, err
	}
	var advised int64
	sc := bufio.NewScanner(bytes.NewReader(maps))
	for sc.Scan() {
		m, ok := parseMapping(sc.Bytes())
		if !ok || m.inode != exe.Ino || m.writable || m.major != unix.Major(exe.Dev) || m.minor != unix.Minor(exe.Dev) {
			continue
		}
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, m.start, m.end-m.start, unix.MADV_PAGEOUT); errno != 0 {
			return advised, fmt.Errorf("madvise(MADV_PAGEOUT): %w", errno)
		}
		advised += int64(m.end - m.start)
	}
	return advised, sc.Err()
}

// mapping is one line of /proc/self/maps, as far as ReleaseStartupMemory
// needs it: "start-end perms offset major:minor inode path".
type mapping struct {
	start, end   uintptr
	writable     bool
	major, minor uint32
	inode        uint64
}

func parseMapping(line []byte) (mapping, bool) {
	f := bytes.Fields(line)
	if len(f) < 5 {
		return mapping{}, false
	}
	lo, hi, ok := bytes.Cut(f[0], []byte("-"))
	if !ok {
		return mapping{}, false
	}
	start, err1 := strconv.ParseUint(string(lo), 16, 64)
	end, err2 := strconv.ParseUint(string(hi), 16, 64)
	maj, min, ok := bytes.Cut(f[3], []byte(":"))
	if !ok {
		return mapping{}, false
	}
	major, err3 := strconv.ParseUint(string(maj), 16, 32)
	minor, err4 := strconv.ParseUint(string(min), 16, 32)
	inode, err5 := strconv.ParseUint(string(f[4]), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || err5 != nil || end <= start {
		return mapping{}, false
	}
	return mapping{
		start: uintptr(start), end: uintptr(end),
		writable: bytes.IndexByte(f[1], 'w') >= 0,
		major:    uint32(major), minor: uint32(minor), inode: inode,
	}, true
}
