package tests

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	agentruntime "github.com/skiff-io/skiff/agent/runtime"
	"github.com/skiff-io/skiff/tests/testimage"
)

// TestImage is the image agent tests run, imported by the agent from its
// images directory (air gap): pods use it with imagePullPolicy Never or
// IfNotPresent.
const TestImage = "docker.io/library/busybox:latest"

// needAgent skips unless the machine can run pods: root, containerd, runc,
// iptables and busybox-static (CI installs them all).
func needAgent(t *testing.T) {
	t.Helper()
	needIntegration(t, "containerd", "runc", "iptables", "ip")
	if os.Geteuid() != 0 {
		t.Skip("running pods needs root")
	}
	if _, err := os.Stat(testimage.Busybox); err != nil {
		t.Skipf("busybox-static is not installed at %s (CI installs it)", testimage.Busybox)
	}
}

// testEvictionHard is the --eviction-hard of the tests' agents unless a
// test sets its own: the kubelet's memory threshold, and disk thresholds
// low enough that a shared machine's full disk (the default's 15% free is
// 38 GB of a 252 GB disk) does not taint the test node against its pods.
const testEvictionHard = "memory.available<100Mi,nodefs.available<1%,nodefs.inodesFree<1%,imagefs.available<1%,imagefs.inodesFree<1%"

// withTestEvictionHard adds testEvictionHard to args unless extra, the
// test's own flags, sets --eviction-hard (as "--eviction-hard v" or
// "--eviction-hard=v").
func withTestEvictionHard(args, extra []string) []string {
	for _, a := range extra {
		if a == "--eviction-hard" || strings.HasPrefix(a, "--eviction-hard=") {
			return args
		}
	}
	return append(args, "--eviction-hard", testEvictionHard)
}

// withAgent runs the server's local agent, with the test image ready to
// import from the agent's images directory.
func withAgent() serverOption {
	return func(s *server) { s.agent = true }
}

// prepareAgentDir puts the test image where an agent imports images at
// start, and registers the cleanup that leaves no containerd, container,
// mount, bridge or rule of the test behind.
func prepareAgentDir(t *testing.T, dataDir string) {
	t.Helper()
	images := filepath.Join(dataDir, "agent", "images")
	if err := os.MkdirAll(images, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := testimage.Build(filepath.Join(images, "busybox.tar"), TestImage); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanupAgent(t, dataDir) })
}

// cleanupAgent kills what an agent under dataDir left running (containerd
// and its shims outlive the agent on purpose) and removes the node's pod
// network.
func cleanupAgent(t *testing.T, dataDir string) {
	killMatching(dataDir)
	// Container processes live in skiff's pod cgroups.
	for _, ctl := range []string{"pids", "memory", "cpu", "freezer", "unified", ""} {
		root := filepath.Join("/sys/fs/cgroup", ctl, "skiff")
		_ = filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
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
	time.Sleep(200 * time.Millisecond) // let the kernel reap them before unmounting
	unmountUnder(dataDir)
	unmountUnder("/run/skiff")
	_ = exec.Command("ip", "link", "del", "skiff0").Run()
}

// killMatching SIGKILLs every process whose command line mentions s.
func killMatching(s string) {
	self := os.Getpid()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(b, []byte(s)) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func unmountUnder(dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var mounts []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && strings.HasPrefix(f[4], dir) {
			mounts = append(mounts, f[4])
		}
	}
	for i := len(mounts) - 1; i >= 0; i-- {
		_ = syscall.Unmount(mounts[i], syscall.MNT_DETACH)
	}
}

// procRunning reports whether a process whose command line contains marker
// runs on the host (a container's process, seen from outside).
func procRunning(marker string) bool {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(strings.ReplaceAll(string(b), "\x00", " "), marker) {
			return true
		}
	}
	return false
}

// agentProc is a `skiff agent` process of a test.
type agentProc struct {
	t       *testing.T
	bin     string // skiffBin or agentOnlyBin
	cmd     *exec.Cmd
	dataDir string
	args    []string
	wrap    []string // runs the agent through this command (nsenter into a test host)
	log     *lockedBuffer
	exited  chan struct{}
}

// startAgent runs `skiff agent` joining s, with its own data dir.
func startAgent(t *testing.T, s *server, dataDir string, extra ...string) *agentProc {
	t.Helper()
	return startAgentVia(t, s, s.url(), nil, dataDir, extra...)
}

// startAgentVia runs `skiff agent` through wrap (nil: directly), joining
// the server at url.
func startAgentVia(t *testing.T, s *server, url string, wrap []string, dataDir string, extra ...string) *agentProc {
	t.Helper()
	return startAgentBinVia(t, skiffBin, s, url, wrap, dataDir, extra...)
}

// startAgentBinVia is startAgentVia with the agent run from bin.
func startAgentBinVia(t *testing.T, bin string, s *server, url string, wrap []string, dataDir string, extra ...string) *agentProc {
	t.Helper()
	token, err := os.ReadFile(filepath.Join(s.dataDir, "server", "token"))
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"agent", "--data-dir", dataDir, "--server", url, "--token", strings.TrimSpace(string(token)), "--config", ""}
	args = withTestEvictionHard(args, extra)
	a := &agentProc{t: t, bin: bin, dataDir: dataDir, wrap: wrap, args: append(args, extra...)}
	a.start()
	t.Cleanup(func() {
		a.stop()
		if t.Failed() {
			t.Logf("agent log (%s):\n%s", dataDir, tail(a.log.String(), 6000))
		}
	})
	return a
}

func (a *agentProc) start() {
	a.t.Helper()
	argv := append(append(append([]string{}, a.wrap...), a.bin), a.args...)
	a.cmd = exec.Command(argv[0], argv[1:]...)
	a.log = &lockedBuffer{}
	a.cmd.Stdout, a.cmd.Stderr = a.log, a.log
	if err := a.cmd.Start(); err != nil {
		a.t.Fatal(err)
	}
	a.exited = make(chan struct{})
	go func(c *exec.Cmd, ch chan struct{}) { _ = c.Wait(); close(ch) }(a.cmd, a.exited)
}

func (a *agentProc) stop() {
	select {
	case <-a.exited:
		return
	default:
	}
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.exited:
	case <-time.After(15 * time.Second):
		_ = a.cmd.Process.Kill()
		<-a.exited
		a.t.Errorf("skiff agent did not stop within 15s of SIGTERM")
	}
}

func (a *agentProc) kill() {
	_ = a.cmd.Process.Kill()
	<-a.exited
}

// waitNodeReady waits until kubectl shows the node Ready.
func waitNodeReady(t *testing.T, s *server, node string, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, "node "+node+" Ready", func() bool {
		out, err := s.kubectl("get", "node", node, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
		return err == nil && strings.TrimSpace(out) == "True"
	})
}

// podField reads a pod's field with a jsonpath.
func podField(s *server, ns, name, path string) string {
	out, err := s.kubectl("get", "pod", name, "-n", ns, "-o", "jsonpath="+path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(out)
}

func waitPodPhase(t *testing.T, s *server, ns, name, phase string, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, "pod "+name+" "+phase, func() bool { return podField(s, ns, name, "{.status.phase}") == phase })
}

var _ = context.Background

// testHost makes a network namespace linked to the host by a veth pair:
// the host side gets hostIP/30, the namespace side nsIP/30. It is a second
// machine for a test, reachable only from this one.
func testHost(t *testing.T, name, hostIP, nsIP string) {
	t.Helper()
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	_ = exec.Command("ip", "netns", "del", name).Run()
	_ = exec.Command("ip", "link", "del", name+"-h").Run()
	run("ip", "netns", "add", name)
	t.Cleanup(func() {
		_ = exec.Command("ip", "netns", "del", name).Run()
		_ = exec.Command("ip", "link", "del", name+"-h").Run()
	})
	run("ip", "link", "add", name+"-h", "type", "veth", "peer", "name", name+"-n")
	run("ip", "link", "set", name+"-n", "netns", name)
	run("ip", "addr", "add", hostIP+"/30", "dev", name+"-h")
	run("ip", "link", "set", name+"-h", "up")
	run("ip", "-n", name, "addr", "add", nsIP+"/30", "dev", name+"-n")
	run("ip", "-n", name, "link", "set", name+"-n", "up")
	run("ip", "-n", name, "link", "set", "lo", "up")
	run("ip", "-n", name, "route", "add", "default", "via", hostIP)
}

// ociRuntimeOf names the OCI runtime that created a pod container's first
// attempt, from the state it keeps under the runc shim's root: runc writes
// state.json, crun a status file.
func ociRuntimeOf(t *testing.T, s *server, ns, pod, container string) string {
	t.Helper()
	uid := podField(s, ns, pod, "{.metadata.uid}")
	dir := filepath.Join("/run/containerd/runc", agentruntime.Namespace, agentruntime.ContainerID(uid, container, 0))
	if _, err := os.Stat(filepath.Join(dir, "state.json")); err == nil {
		return agentruntime.OCIRuntimeRunc
	}
	if _, err := os.Stat(filepath.Join(dir, "status")); err == nil {
		return agentruntime.OCIRuntimeCrun
	}
	ents, err := os.ReadDir(dir)
	t.Fatalf("neither runc's nor crun's state in %s: %v %v", dir, ents, err)
	return ""
}
