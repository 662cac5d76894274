package skiffproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Agent is one `skiff agent` process started by the benchmark. The
// containerd it starts under DataDir outlives it on purpose: CleanupNode
// removes that.
type Agent struct {
	cmd       *exec.Cmd
	done      chan struct{} // closed when the process has exited
	DataDir   string
	LogPath   string
	Node      string
	StartedAt time.Time
}

// Token is the server's join token, as an agent passes it with --token.
func (s *Server) Token() (string, error) {
	b, err := os.ReadFile(filepath.Join(s.DataDir, "server", "token"))
	if err != nil {
		return "", fmt.Errorf("join token: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// StartAgent starts `skiff agent` joining server (https://host:port) as
// node, with dataDir as its data dir and its log at logPath. extra flags
// are appended. It does not wait for the node to be Ready. On success the
// caller must call Stop and then CleanupNode(dataDir).
func StartAgent(bin, dataDir, logPath, server, token, node string, extra ...string) (*Agent, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child keeps its own descriptor
	a := &Agent{DataDir: dataDir, LogPath: logPath, Node: node, done: make(chan struct{})}
	args := append([]string{"agent",
		"--config=",
		"--data-dir", dataDir,
		"--server", server,
		"--token", token,
		"--node-name", node,
	}, extra...)
	a.cmd = exec.Command(bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SKIFF_") {
			a.cmd.Env = append(a.cmd.Env, kv)
		}
	}
	a.cmd.Stdout, a.cmd.Stderr = logFile, logFile
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	a.StartedAt = time.Now()
	if err := a.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s agent: %w", bin, err)
	}
	go func() {
		_ = a.cmd.Wait()
		close(a.done)
	}()
	return a, nil
}

func (a *Agent) PID() int { return a.cmd.Process.Pid }

// Exited is closed once the agent process has exited.
func (a *Agent) Exited() <-chan struct{} { return a.done }

// Stop sends SIGTERM, then SIGKILL if the agent has not exited after 15s.
func (a *Agent) Stop() { StopProcess("skiff agent", a.cmd.Process, a.done, 15*time.Second) }

// StateDB is the agent's SQLite store.
func (a *Agent) StateDB() string { return filepath.Join(a.DataDir, "agent", "state.db") }

// LogTail is the end of the agent's log, for error messages.
func (a *Agent) LogTail(lines int) string { return LogTail("agent", a.LogPath, lines) }

// Proc is a running process and its command line (arguments joined by
// spaces).
type Proc struct {
	PID     int
	Cmdline string
}

// FindProcs lists the processes whose command line contains s, this
// process excluded.
func FindProcs(s string) []Proc {
	self := os.Getpid()
	ents, _ := os.ReadDir("/proc")
	var out []Proc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(b, []byte(s)) {
			continue
		}
		out = append(out, Proc{PID: pid, Cmdline: strings.TrimSpace(string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})))})
	}
	return out
}

// ContainerdPID is the containerd an agent with dataDir started (found by
// its command line, which names its config under dataDir), or 0.
func ContainerdPID(dataDir string) int {
	for _, p := range FindProcs(dataDir) {
		if argv0, _, _ := strings.Cut(p.Cmdline, " "); filepath.Base(argv0) == "containerd" {
			return p.PID
		}
	}
	return 0
}

// IO is a process's counters from /proc/<pid>/io and its CPU time.
type IO struct {
	WriteBytes int64 // bytes sent toward the disk (counted when pages are dirtied)
	WChar      int64 // bytes passed to write(2) and friends, sockets included
	CPU        time.Duration
}

// ReadIO reads write_bytes and wchar from /proc/<pid>/io and the user +
// system CPU time from /proc/<pid>/stat.
func ReadIO(pid int) (IO, error) {
	fields, err := ProcFields(pid, "io")
	if err != nil {
		return IO{}, err
	}
	var s IO
	if s.WriteBytes, err = strconv.ParseInt(fields["write_bytes"], 10, 64); err != nil {
		return s, fmt.Errorf("write_bytes: %w", err)
	}
	if s.WChar, err = strconv.ParseInt(fields["wchar"], 10, 64); err != nil {
		return s, fmt.Errorf("wchar: %w", err)
	}
	s.CPU, err = ProcessCPU(pid)
	return s, err
}

// ProcessCPU is a process's user+system CPU time from /proc/<pid>/stat.
func ProcessCPU(pid int) (time.Duration, error) {
	own, _, err := processCPU(pid)
	return own, err
}

// ChildrenCPU is the user+system CPU time of a process's children that
// have exited and been waited for (cutime + cstime in /proc/<pid>/stat).
func ChildrenCPU(pid int) (time.Duration, error) {
	_, children, err := processCPU(pid)
	return children, err
}

func processCPU(pid int) (own, children time.Duration, err error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, 0, err
	}
	// The command name may hold spaces; the fields follow its ')'.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 15 {
		return 0, 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	var ticks [4]int64 // utime, stime, cutime, cstime
	for i := range ticks {
		if ticks[i], err = strconv.ParseInt(fields[11+i], 10, 64); err != nil {
			return 0, 0, fmt.Errorf("parsing /proc/%d/stat: %w", pid, err)
		}
	}
	// USER_HZ is 100 on every Linux architecture Go supports.
	return time.Duration(ticks[0]+ticks[1]) * 10 * time.Millisecond, time.Duration(ticks[2]+ticks[3]) * 10 * time.Millisecond, nil
}

// CleanupNode removes what an agent with dataDir left on the machine once
// it has stopped: containerd, its shims and log writers (their command
// lines name dataDir), the processes of the given pods (found in skiff's
// pod cgroups, /sys/fs/cgroup/*/skiff/pod<uid>), mounts under dataDir and
// the pods' pinned network namespaces. The node's bridge is deleted only
// when no other agent's containerd runs on the machine, because agents
// on one host share it. It returns what it could not remove.
func CleanupNode(dataDir, bridge, netnsDir string, podUIDs []string) error {
	var errs []error
	for _, p := range FindProcs(dataDir) {
		_ = syscall.Kill(p.PID, syscall.SIGKILL)
	}
	var cgroups []string
	for _, uid := range podUIDs {
		m, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", "skiff", "pod"+uid))
		cgroups = append(cgroups, m...)
		m, _ = filepath.Glob(filepath.Join("/sys/fs/cgroup", "skiff", "pod"+uid)) // cgroup v2
		cgroups = append(cgroups, m...)
	}
	for _, cg := range cgroups {
		_ = filepath.Walk(cg, func(p string, info os.FileInfo, err error) error {
			if err != nil || info.Name() != "cgroup.procs" {
				return nil
			}
			b, _ := os.ReadFile(p)
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			return nil
		})
	}
	// The kernel reaps the killed processes asynchronously; mounts they
	// hold unmount lazily (MNT_DETACH) either way.
	waitGone(dataDir, 5*time.Second)
	errs = append(errs, unmountUnder(dataDir))
	for _, uid := range podUIDs {
		p := filepath.Join(netnsDir, uid)
		if _, err := os.Stat(p); err == nil {
			errs = append(errs, unmountUnder(p))
			_ = os.Remove(p)
		}
	}
	// Empty pod cgroups, deepest first; a cgroup still holding a process
	// refuses and stays.
	for _, cg := range cgroups {
		var dirs []string
		_ = filepath.Walk(cg, func(p string, info os.FileInfo, err error) error {
			if err == nil && info.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			_ = os.Remove(dirs[i])
		}
	}
	// skiff's parent cgroups go too once no other agent's pod is in them.
	parents, _ := filepath.Glob("/sys/fs/cgroup/*/skiff")
	for _, p := range parents {
		_ = os.Remove(p)
	}
	_ = os.Remove("/sys/fs/cgroup/skiff")
	if len(FindProcs("/agent/containerd")) == 0 {
		if out, err := exec.Command("ip", "link", "del", bridge).CombinedOutput(); err != nil && !strings.Contains(string(out), "Cannot find device") {
			errs = append(errs, fmt.Errorf("ip link del %s: %v: %s", bridge, err, bytes.TrimSpace(out)))
		}
	} else {
		errs = append(errs, fmt.Errorf("another agent's containerd runs on this machine; bridge %s left in place", bridge))
	}
	return errors.Join(errs...)
}

// waitGone waits until no process's command line contains s, or d passed.
func waitGone(s string, d time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for len(FindProcs(s)) > 0 {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// unmountUnder lazily unmounts every mount point under dir, deepest first.
func unmountUnder(dir string) error {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	var mounts []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			mounts = append(mounts, f[4])
		}
	}
	var errs []error
	for i := len(mounts) - 1; i >= 0; i-- {
		if err := syscall.Unmount(mounts[i], syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", mounts[i], err))
		}
	}
	return errors.Join(errs...)
}

// CPUGroup is a cgroup that counts the CPU time of the processes moved
// into it and of the children they start afterwards (for an agent's
// containerd: its shims, runc and the containers' log writers; containers
// themselves go to their pods' cgroups). It uses the cpuacct hierarchy of
// cgroup v1, or cgroup v2.
type CPUGroup struct {
	dir string
	v2  bool
}

// NewCPUGroup creates the cgroup name at the root of the hierarchy.
func NewCPUGroup(name string) (*CPUGroup, error) {
	g := &CPUGroup{dir: filepath.Join("/sys/fs/cgroup/cpuacct", name)}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		g = &CPUGroup{dir: filepath.Join("/sys/fs/cgroup", name), v2: true}
	}
	if err := os.Mkdir(g.dir, 0o755); err != nil {
		return nil, fmt.Errorf("cpu accounting cgroup: %w", err)
	}
	return g, nil
}

// Add moves pid into the group.
func (g *CPUGroup) Add(pid int) error {
	if pid <= 0 { // 0 would move the caller
		return fmt.Errorf("cpu accounting cgroup: no process %d", pid)
	}
	return os.WriteFile(filepath.Join(g.dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644)
}

// Usage is the CPU time the group's processes have used so far.
func (g *CPUGroup) Usage() (time.Duration, error) { return cgroupCPU(g.dir, g.v2) }

// PodsCPU is the CPU time charged so far to the cgroup skiff's agents put
// every pod's cgroup under (/skiff): the containers' processes, and the OCI
// runtime's init process once it has joined its container's cgroup. A
// removed pod's cgroup leaves its usage in the parent. Before the first
// pod the cgroup does not exist: 0.
func PodsCPU() (time.Duration, error) {
	dir, v2 := "/sys/fs/cgroup/cpuacct/skiff", false
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		dir, v2 = "/sys/fs/cgroup/skiff", true
	}
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	return cgroupCPU(dir, v2)
}

func cgroupCPU(dir string, v2 bool) (time.Duration, error) {
	if !v2 {
		b, err := os.ReadFile(filepath.Join(dir, "cpuacct.usage"))
		if err != nil {
			return 0, err
		}
		ns, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		return time.Duration(ns), err
	}
	fields, err := os.ReadFile(filepath.Join(dir, "cpu.stat"))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(fields), "\n") {
		if v, ok := strings.CutPrefix(l, "usage_usec "); ok {
			us, err := strconv.ParseInt(v, 10, 64)
			return time.Duration(us) * time.Microsecond, err
		}
	}
	return 0, errors.New("cpu.stat has no usage_usec")
}

// Remove moves what still runs in the group back to the root and removes
// the group.
func (g *CPUGroup) Remove() error {
	b, _ := os.ReadFile(filepath.Join(g.dir, "cgroup.procs"))
	for _, pid := range strings.Fields(string(b)) {
		_ = os.WriteFile(filepath.Join(filepath.Dir(g.dir), "cgroup.procs"), []byte(pid), 0o644)
	}
	return os.Remove(g.dir)
}
