package runtime

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	containerd "github.com/containerd/containerd"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/remotes/docker"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

const (
	testImage  = "docker.io/skiff/busybox:test"
	pauseImage = "docker.io/skiff/pause:test"
)

func requireContainerd(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping containerd integration test under -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("skipping containerd integration test: needs root")
	}
	for _, bin := range []string{"containerd", "runc", "containerd-shim-runc-v2"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("skipping containerd integration test: %s not in PATH", bin)
		}
	}
}

// testDaemon stops the private containerd a test started, with every
// container it holds, when the test ends.
func cleanupDaemon(t *testing.T, r *Runtime) {
	t.Cleanup(func() {
		pid := r.childPID()
		ctx := context.Background()
		if !answers(ctx, r.address) {
			// A failed test may have left containerd dead: start it again
			// so that no shim or container outlives the test.
			if err := r.startDaemon(ctx); err != nil {
				t.Logf("cleanup: %v", err)
			}
			pid = r.childPID()
		}
		c, err := containerd.New(r.address, containerd.WithDefaultNamespace(Namespace))
		if err == nil {
			ctrs, _ := c.Containers(ctx)
			for _, ctr := range ctrs {
				if task, err := ctr.Task(ctx, nil); err == nil {
					task.Delete(ctx, containerd.WithProcessKill)
				}
				ctr.Delete(ctx, containerd.WithSnapshotCleanup)
			}
			c.Close()
		}
		if pid != 0 {
			syscall.Kill(pid, syscall.SIGTERM)
			var ws syscall.WaitStatus
			syscall.Wait4(pid, &ws, 0, nil)
		}
		// containerd's state is a tmpfs Start mounted (stateOnTmpfs).
		syscall.Unmount(filepath.Join(r.ctrDir, "state"), syscall.MNT_DETACH)
	})
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		<-tick.C
	}
}

func readLog(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return string(b)
}

// logText returns the text of the log's complete entries of one stream.
func logText(t *testing.T, path, stream string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(readLog(t, path)))
	for sc.Scan() {
		_, s, _, text, err := ParseCRILine(sc.Bytes())
		if err != nil {
			t.Fatalf("log %s: %v", path, err)
		}
		if s == stream {
			out = append(out, string(text))
		}
	}
	return out
}

func TestContainerd(t *testing.T) {
	requireContainerd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "images"), 0o755))
	buildBusyboxImage(t, filepath.Join(dir, "images", "busybox.tar"), testImage)
	buildBusyboxImage(t, filepath.Join(dir, "images", "pause.tar"), pauseImage, "sleep", "2147483647")
	opts := Options{Dir: dir}

	top := t
	r, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	cleanupDaemon(t, r)
	if r.childPID() == 0 {
		t.Fatal("Start did not start a private containerd")
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(filepath.Join(dir, "containerd", "state"), &fs); err != nil || fs.Type != unix.TMPFS_MAGIC {
		t.Fatalf("containerd's state directory is not a tmpfs (statfs type %#x, %v)", fs.Type, err)
	}
	// In its own process group, so signals to the agent's group spare it.
	if pgid, err := syscall.Getpgid(r.childPID()); err != nil || pgid != r.childPID() {
		t.Fatalf("containerd's process group is %d (%v), want its own", pgid, err)
	}

	runCtx, stopRun := context.WithCancel(ctx)
	var runWG sync.WaitGroup
	runWG.Add(1)
	go func() { defer runWG.Done(); r.Run(runCtx) }()
	defer func() { stopRun(); runWG.Wait() }()

	evCtx, stopEvents := context.WithCancel(ctx)
	defer stopEvents()
	events := r.Events(evCtx)
	waitEvent := func(t *testing.T, id string, typ EventType) ContainerEvent {
		t.Helper()
		timeout := time.After(30 * time.Second)
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					t.Fatal("events channel closed")
				}
				if ev.ID == id && ev.Type == typ {
					return ev
				}
			case <-timeout:
				t.Fatalf("no %s event for %s", typ, id)
			}
		}
	}

	// Unique per run: runc keeps its state under one root per namespace for
	// every containerd on the host, so ids must not repeat between runs.
	podUID := randomUID(t)
	logDir := filepath.Join(dir, "pods", podUID)
	cfg := func(name string, cmd ...string) ContainerConfig {
		return ContainerConfig{
			PodUID: podUID, PodNamespace: "default", PodName: "p1", Name: name,
			Image: testImage, Command: cmd, Hostname: "p1",
			LogPath: filepath.Join(logDir, name, "0.log"),
		}
	}

	t.Run("Version", func(t *testing.T) {
		v, err := r.Version(ctx)
		must(t, err)
		if !regexp.MustCompile(`^containerd://\d+\.\d+\.\d+$`).MatchString(v) {
			t.Fatalf("Version = %q", v)
		}
	})

	t.Run("Import", func(t *testing.T) {
		imgs, err := r.Images(ctx)
		must(t, err)
		found := false
		for _, im := range imgs {
			for _, n := range im.Names {
				found = found || n == testImage
			}
			if found && im.Size < 100000 {
				t.Errorf("image size %d, want busybox's", im.Size)
			}
		}
		if !found {
			t.Fatalf("imported image %s not in Images(): %+v", testImage, imgs)
		}
		id, _, err := r.EnsureImage(ctx, testImage, corev1.PullNever, nil, nil)
		must(t, err)
		if !strings.HasPrefix(id, "docker.io/skiff/busybox@sha256:") {
			t.Fatalf("image id %q", id)
		}
		// A tarball whose image went missing is imported again, even though
		// the record says it was imported.
		if b, _ := os.ReadFile(filepath.Join(dir, "imported-images.json")); !strings.Contains(string(b), pauseImage) {
			t.Errorf("import record %s lacks %s", b, pauseImage)
		}
		must(t, r.client.ImageService().Delete(ctx, pauseImage))
		must(t, r.ImportImages(ctx, filepath.Join(dir, "images")))
		if _, _, err := r.EnsureImage(ctx, pauseImage, corev1.PullNever, nil, nil); err != nil {
			t.Fatalf("deleted image not imported again: %v", err)
		}
	})

	t.Run("ExitAndLogs", func(t *testing.T) {
		c := cfg("exit", "sh", "-c", "echo out; echo err >&2; echo; exit 3")
		before := time.Now()
		id, err := r.CreateContainer(ctx, c)
		must(t, err)
		ev := waitEvent(t, id, EventExited)
		if ev.ExitCode != 3 || ev.PodUID != podUID || ev.Name != "exit" {
			t.Errorf("exit event %+v", ev)
		}
		st, err := r.ContainerStatus(ctx, id)
		must(t, err)
		if st.State != StateExited || st.ExitCode != 3 || st.Reason != "Error" {
			t.Errorf("status %+v, want Exited with code 3 (Error)", st)
		}
		if st.StartedAt.Before(before.Add(-time.Second)) || st.FinishedAt.Before(st.StartedAt) || time.Since(st.FinishedAt) > time.Minute {
			t.Errorf("timestamps started %v finished %v", st.StartedAt, st.FinishedAt)
		}
		// Idempotent: the same attempt is not started again.
		id2, err := r.CreateContainer(ctx, c)
		must(t, err)
		if id2 != id {
			t.Errorf("second create returned %s, want %s", id2, id)
		}
		waitFor(t, "log lines", 10*time.Second, func() (bool, error) {
			return len(logText(t, c.LogPath, "stdout")) == 2 && len(logText(t, c.LogPath, "stderr")) == 1, nil
		})
		line := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z (stdout|stderr) F .*$`)
		for _, l := range strings.Split(strings.TrimSuffix(readLog(t, c.LogPath), "\n"), "\n") {
			if !line.MatchString(l) {
				t.Errorf("log line %q is not in CRI format", l)
			}
		}
		if got := logText(t, c.LogPath, "stdout"); got[0] != "out" || got[1] != "" {
			t.Errorf("stdout entries %q", got)
		}
		if got := logText(t, c.LogPath, "stderr"); got[0] != "err" {
			t.Errorf("stderr entries %q", got)
		}
	})

	t.Run("StopWithGrace", func(t *testing.T) {
		polite, err := r.CreateContainer(ctx, cfg("polite", "sh", "-c", `trap "exit 0" TERM; echo ready; while true; do sleep 0.1; done`))
		must(t, err)
		stubborn, err := r.CreateContainer(ctx, cfg("stubborn", "sh", "-c", `trap "" TERM; echo ready; while true; do sleep 0.1; done`))
		must(t, err)
		for _, n := range []string{"polite", "stubborn"} {
			p := cfg(n).LogPath
			waitFor(t, n+" ready", 10*time.Second, func() (bool, error) { return strings.Contains(readLog(t, p), "ready"), nil })
		}
		start := time.Now()
		must(t, r.StopContainer(ctx, polite, 10*time.Second))
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("a container exiting on TERM took %s to stop", d)
		}
		st, _ := r.ContainerStatus(ctx, polite)
		if st.State != StateExited || st.ExitCode != 0 || st.Reason != "Completed" {
			t.Errorf("polite status %+v", st)
		}
		start = time.Now()
		must(t, r.StopContainer(ctx, stubborn, 1500*time.Millisecond))
		if d := time.Since(start); d < 1500*time.Millisecond || d > 10*time.Second {
			t.Errorf("a container ignoring TERM stopped after %s, want the 1.5s grace", d)
		}
		st, _ = r.ContainerStatus(ctx, stubborn)
		if st.State != StateExited || st.ExitCode != 137 {
			t.Errorf("stubborn status %+v, want exit 137 (KILL)", st)
		}
	})

	t.Run("Exec", func(t *testing.T) {
		id, err := r.CreateContainer(ctx, cfg("exec", "sleep", "1000"))
		must(t, err)
		var out, errb bytes.Buffer
		code, err := r.Exec(ctx, id, []string{"sh", "-c", "echo hello; echo oops >&2; exit 7"}, Streams{Stdout: &out, Stderr: &errb})
		must(t, err)
		if code != 7 || out.String() != "hello\n" || errb.String() != "oops\n" {
			t.Fatalf("exec: code %d stdout %q stderr %q", code, out.String(), errb.String())
		}
		out.Reset()
		code, err = r.Exec(ctx, id, []string{"cat"}, Streams{Stdin: strings.NewReader("piped\n"), Stdout: &out})
		must(t, err)
		if code != 0 || out.String() != "piped\n" {
			t.Fatalf("exec with stdin: code %d stdout %q", code, out.String())
		}
		must(t, r.RemoveContainer(ctx, id))
	})

	t.Run("ConfigVisibleInside", func(t *testing.T) {
		hostDir := t.TempDir()
		must(t, os.WriteFile(filepath.Join(hostDir, "hello"), []byte("from host"), 0o644))
		c := cfg("config", "sh", "-c", `echo "env=$FOO"; echo "pwd=$(pwd)"; echo "file=$(cat hello)"; echo "uid=$(id -u) gid=$(id -g) groups=$(id -G)"; `+
			`if touch /rootfs-probe 2>/dev/null; then echo root=rw; else echo root=ro; fi; `+
			`if touch /data/probe 2>/dev/null; then echo data=rw; else echo data=ro; fi; echo "host=$(hostname)"; echo done; sleep 1000`)
		c.Env = []string{"FOO=bar baz"}
		c.Mounts = []Mount{{HostPath: hostDir, ContainerPath: "/data", ReadOnly: true}}
		c.WorkingDir = "/data"
		uid, gid := int64(1234), int64(2345)
		c.SecurityContext = &corev1.SecurityContext{RunAsUser: &uid, RunAsGroup: &gid, ReadOnlyRootFilesystem: ptr(true)}
		c.PodSecurityContext = &corev1.PodSecurityContext{SupplementalGroups: []int64{3456}}
		c.Resources = corev1.ResourceRequirements{
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi"), corev1.ResourceCPU: resource.MustParse("500m")},
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")},
		}
		id, err := r.CreateContainer(ctx, c)
		must(t, err)
		waitFor(t, "config output", 10*time.Second, func() (bool, error) {
			return strings.Contains(readLog(t, c.LogPath), "stdout F done"), nil
		})
		got := strings.Join(logText(t, c.LogPath, "stdout"), "\n")
		for _, want := range []string{"env=bar baz", "pwd=/data", "file=from host", "uid=1234 gid=2345 groups=2345 3456", "root=ro", "data=ro", "host=p1"} {
			if !strings.Contains(got, want) {
				t.Errorf("container output lacks %q:\n%s", want, got)
			}
		}
		cg := cgroupParent(podUID) + "/" + id
		checkCgroup(t, cg, "memory", "memory.limit_in_bytes", "memory.max", "67108864")
		checkCgroup(t, cg, "cpu", "cpu.cfs_quota_us", "cpu.max", "50000")
		checkCgroup(t, cg, "cpu", "cpu.shares", "", "256")
		must(t, r.RemoveContainer(ctx, id))
	})

	t.Run("HostNetwork", func(t *testing.T) {
		c := cfg("hostnet", "sh", "-c", "echo net=$(readlink /proc/self/ns/net) host=$(hostname)")
		c.HostNetwork = true
		id, err := r.CreateContainer(ctx, c)
		must(t, err)
		waitEvent(t, id, EventExited)
		hostNet, _ := os.Readlink("/proc/self/ns/net")
		hostname, _ := os.Hostname()
		waitFor(t, "output", 10*time.Second, func() (bool, error) { return len(logText(t, c.LogPath, "stdout")) == 1, nil })
		if got, want := logText(t, c.LogPath, "stdout")[0], "net="+hostNet+" host="+hostname; got != want {
			t.Errorf("host network container printed %q, want %q", got, want)
		}
		must(t, r.RemoveContainer(ctx, id))
	})

	t.Run("OOMKilled", func(t *testing.T) {
		c := cfg("oom", "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1")
		c.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("16Mi")}
		id, err := r.CreateContainer(ctx, c)
		must(t, err)
		waitEvent(t, id, EventExited)
		st, err := r.ContainerStatus(ctx, id)
		must(t, err)
		if st.State != StateExited || st.ExitCode != 137 || st.Reason != "OOMKilled" {
			t.Errorf("status %+v, want Exited 137 OOMKilled", st)
		}
		must(t, r.RemoveContainer(ctx, id))
	})

	t.Run("AttachTTYStdin", func(t *testing.T) {
		c := cfg("tty", "sh")
		c.TTY, c.Stdin, c.StdinOnce = true, true, true
		id, err := r.CreateContainer(ctx, c)
		must(t, err)
		// A user types a command, reads its output, then exits the shell.
		out := &signalWriter{want: "attached-42", found: make(chan struct{})}
		inR, inW := io.Pipe()
		resize := make(chan TermSize, 1)
		resize <- TermSize{Width: 100, Height: 30}
		errc := make(chan error, 1)
		go func() {
			errc <- r.Attach(ctx, id, Streams{Stdin: inR, Stdout: out, TTY: true, Resize: resize})
		}()
		io.WriteString(inW, "stty size; echo attached-$((6*7))\n")
		select {
		case <-out.found:
		case <-time.After(10 * time.Second):
			t.Fatalf("no command output through attach: %q", out.String())
		}
		io.WriteString(inW, "exit 5\n")
		must(t, <-errc)
		inW.Close()
		if !strings.Contains(out.String(), "attached-42") {
			t.Errorf("attach output %q lacks the command's output", out.String())
		}
		st, err := r.ContainerStatus(ctx, id)
		must(t, err)
		if st.State != StateExited || st.ExitCode != 5 {
			t.Errorf("status %+v, want Exited 5", st)
		}
		if !strings.Contains(out.String(), "30 100") {
			t.Errorf("terminal size not applied: %q", out.String())
		}
		if !strings.Contains(readLog(t, c.LogPath), "stdout F attached-42") {
			t.Errorf("tty log lacks the output:\n%s", readLog(t, c.LogPath))
		}
		must(t, r.RemoveContainer(ctx, id))
	})

	t.Run("SandboxSharesIPCAndNetwork", func(t *testing.T) {
		netns := newNetNS(t)
		o := opts
		o.Endpoint = r.address
		o.PauseImage = pauseImage
		rp, err := Start(ctx, o)
		must(t, err)
		defer rp.Close()
		uid := randomUID(t)
		for range 2 { // idempotent
			must(t, rp.EnsureSandbox(ctx, uid, "default", "p2", netns))
		}
		nsOf := func(id, ns string) string {
			t.Helper()
			ctr, err := rp.client.LoadContainer(ctx, id)
			must(t, err)
			task, err := ctr.Task(ctx, nil)
			must(t, err)
			l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", task.Pid(), ns))
			must(t, err)
			return l
		}
		var ids []string
		for _, n := range []string{"a", "b"} {
			c := cfg(n, "sleep", "1000")
			c.PodUID, c.PodName, c.NetNSPath, c.Hostname = uid, "p2", netns, "p2"
			id, err := rp.CreateContainer(ctx, c)
			must(t, err)
			ids = append(ids, id)
		}
		var st syscall.Stat_t
		must(t, syscall.Stat(netns, &st))
		wantNet := fmt.Sprintf("net:[%d]", st.Ino)
		sbIPC := nsOf(SandboxID(uid), "ipc")
		for _, id := range append([]string{SandboxID(uid)}, ids...) {
			if got := nsOf(id, "net"); got != wantNet {
				t.Errorf("%s network namespace %s, want the pod's %s", id, got, wantNet)
			}
			if got := nsOf(id, "ipc"); got != sbIPC {
				t.Errorf("%s IPC namespace %s, want the sandbox's %s", id, got, sbIPC)
			}
		}
		if self, _ := os.Readlink("/proc/self/ns/ipc"); self == sbIPC {
			t.Error("the sandbox shares the host's IPC namespace")
		}
		// One shim hosts the pod: every task's parent is the same process,
		// and a container of another pod has another.
		shimOf := func(rt *Runtime, id string) int {
			t.Helper()
			ctr, err := rt.client.LoadContainer(ctx, id)
			must(t, err)
			task, err := ctr.Task(ctx, nil)
			must(t, err)
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", task.Pid()))
			must(t, err)
			var ppid int
			fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
			ppid, err = strconv.Atoi(fields[1])
			must(t, err)
			return ppid
		}
		shim := shimOf(rp, SandboxID(uid))
		for _, id := range ids {
			if got := shimOf(rp, id); got != shim {
				t.Errorf("container %s runs under shim %d, the sandbox under %d", id, got, shim)
			}
		}
		other := cfg("other", "sleep", "1000")
		other.PodUID = randomUID(t)
		otherID, err := r.CreateContainer(ctx, other) // r runs pods without sandboxes
		must(t, err)
		if got := shimOf(r, otherID); got == shim {
			t.Errorf("a container of another pod shares the pod's shim %d", shim)
		}
		must(t, r.RemoveContainer(ctx, otherID))
		must(t, r.RemoveSandbox(ctx, other.PodUID))
		all, err := rp.Containers(ctx)
		must(t, err)
		for _, c := range all {
			if c.ID == SandboxID(uid) {
				t.Error("Containers() lists the sandbox")
			}
		}
		// A finished pod: its containers have exited and stay for their
		// status and logs, and its sandbox is released. Their cgroups are
		// still in the pod's, which stays until the final removal.
		for _, id := range ids {
			must(t, rp.StopContainer(ctx, id, 0))
		}
		for range 2 { // idempotent
			must(t, rp.ReleaseSandbox(ctx, uid))
		}
		if _, err := rp.client.LoadContainer(ctx, SandboxID(uid)); !errdefs.IsNotFound(err) {
			t.Errorf("sandbox still there after its release: %v", err)
		}
		for _, id := range ids {
			if st, err := rp.ContainerStatus(ctx, id); err != nil || st.State != StateExited {
				t.Errorf("container %s after the sandbox's release: %+v, %v", id, st, err)
			}
		}
		for _, id := range ids {
			must(t, rp.RemoveContainer(ctx, id))
		}
		must(t, rp.RemoveSandbox(ctx, uid))
		checkNoPodCgroup(t, uid)
		must(t, rp.RemoveSandbox(ctx, uid))
	})

	t.Run("SupervisorRestartsContainerd", func(t *testing.T) {
		id, err := r.CreateContainer(ctx, cfg("survivor", "sleep", "1000"))
		must(t, err)
		old := r.childPID()
		must(t, syscall.Kill(old, syscall.SIGKILL))
		waitFor(t, "containerd restarted", 30*time.Second, func() (bool, error) {
			if pid := r.childPID(); pid == 0 || pid == old {
				return false, nil
			}
			ok, _ := r.client.IsServing(ctx)
			return ok, nil
		})
		st, err := r.ContainerStatus(ctx, id)
		must(t, err)
		if st.State != StateRunning {
			t.Errorf("container after a containerd restart: %+v", st)
		}
		// Events resubscribe after the restart.
		must(t, r.StopContainer(ctx, id, 0))
		if ev := waitEvent(t, id, EventExited); ev.ExitCode != 137 {
			t.Errorf("exit event %+v", ev)
		}
		must(t, r.RemoveContainer(ctx, id))
	})

	t.Run("AdoptionAfterAgentRestart", func(t *testing.T) {
		c := cfg("ticker", "sh", "-c", `i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done`)
		c.Attempt = 2
		id, err := r.CreateContainer(ctx, c)
		must(t, err)
		waitFor(t, "ticks", 10*time.Second, func() (bool, error) { return len(logText(t, c.LogPath, "stdout")) > 2, nil })

		// The agent goes away: its supervisor and connection end.
		stopRun()
		runWG.Wait()
		must(t, r.Close())
		// While no agent runs the output waits in the FIFO; the container
		// is not blocked (it writes far less than the FIFO holds).
		n := len(logText(t, c.LogPath, "stdout"))
		time.Sleep(2 * time.Second) // the agent's downtime, not a wait for a condition
		if got := len(logText(t, c.LogPath, "stdout")); got != n {
			t.Errorf("%d lines were written while no agent ran", got-n)
		}

		r2, err := Start(ctx, opts)
		must(t, err)
		top.Cleanup(func() { r2.Close() })
		if r2.childPID() != 0 {
			t.Fatal("a second Start started another containerd instead of reusing the running one")
		}
		// The restarted agent drains what the container wrote meanwhile
		// (about 20 ticks) at once, and the output flows on.
		waitFor(t, "ticks written while no agent ran", 3*time.Second, func() (bool, error) {
			return len(logText(t, c.LogPath, "stdout")) >= n+15, nil
		})
		m := len(logText(t, c.LogPath, "stdout"))
		waitFor(t, "ticks after the restart", 10*time.Second, func() (bool, error) {
			return len(logText(t, c.LogPath, "stdout")) > m+5, nil
		})
		assertTicksInOrder(t, c.LogPath)
		all, err := r2.Containers(ctx)
		must(t, err)
		var st *ContainerStatus
		for i := range all {
			if all[i].ID == id {
				st = &all[i]
			}
		}
		if st == nil {
			t.Fatalf("Containers() after restart lacks %s: %+v", id, all)
		}
		if st.State != StateRunning || st.PodUID != podUID || st.PodName != "p1" || st.PodNamespace != "default" ||
			st.Name != "ticker" || st.Attempt != 2 || st.Image != testImage || st.LogPath != c.LogPath || st.StartedAt.IsZero() {
			t.Errorf("adopted status %+v", *st)
		}

		// Attach follows the live output.
		actx, acancel := context.WithCancel(ctx)
		w := &signalWriter{want: "tick", found: make(chan struct{})}
		errc := make(chan error, 1)
		go func() { errc <- r2.Attach(actx, id, Streams{Stdout: w}) }()
		select {
		case <-w.found:
		case <-time.After(10 * time.Second):
			t.Error("attach saw no output")
		}
		acancel()
		<-errc

		r = r2 // later subtests use the new connection
	})

	t.Run("Remove", func(t *testing.T) {
		id := ContainerID(podUID, "ticker", 2)
		must(t, r.RemoveContainer(ctx, id))
		if _, err := r.client.LoadContainer(ctx, id); !errdefs.IsNotFound(err) {
			t.Errorf("container still there: %v", err)
		}
		tasks, err := r.client.TaskService().List(ctx, nil)
		must(t, err)
		for _, tk := range tasks.Tasks {
			if tk.ID == id {
				t.Errorf("task %s still there", id)
			}
		}
		if _, err := r.client.SnapshotService(r.snapshotter()).Stat(ctx, id); !errdefs.IsNotFound(err) {
			t.Errorf("snapshot %s still there: %v", id, err)
		}
		must(t, r.RemoveContainer(ctx, id)) // idempotent
		all, err := r.Containers(ctx)
		must(t, err)
		for _, c := range all {
			if c.ID == id {
				t.Errorf("Containers() still lists %s", id)
			}
		}
	})

	t.Run("NeverPull", func(t *testing.T) {
		_, _, err := r.EnsureImage(ctx, "example.invalid/absent:1", corev1.PullNever, nil, nil)
		if !errors.Is(err, ErrImageNeverPull) {
			t.Fatalf("err = %v, want ErrImageNeverPull", err)
		}
	})

	t.Run("PullUnreachable", func(t *testing.T) {
		port := freePort(t)
		ref := fmt.Sprintf("127.0.0.1:%d/absent/image:1", port)
		_, _, err := r.EnsureImage(ctx, ref, corev1.PullIfNotPresent, nil, nil)
		if !errors.Is(err, ErrImagePull) || !strings.Contains(err.Error(), "failed to pull image \""+ref) {
			t.Fatalf("err = %v, want ErrImagePull naming %s", err, ref)
		}
	})

	t.Run("PullFromLocalRegistryMirror", func(t *testing.T) {
		addr := startRegistry(t)
		img, err := r.client.GetImage(ctx, testImage)
		must(t, err)
		resolver := docker.NewResolver(docker.ResolverOptions{Hosts: docker.ConfigureDefaultRegistries(docker.WithPlainHTTP(docker.MatchAllHosts))})
		must(t, r.client.Push(ctx, addr+"/library/busybox:pushed", img.Target(), containerd.WithResolver(resolver)))

		regFile := filepath.Join(t.TempDir(), "registries.yaml")
		must(t, os.WriteFile(regFile, []byte("mirrors:\n  docker.io:\n    endpoint:\n      - \"http://"+addr+"\"\n"), 0o644))
		o := opts
		o.RegistriesFile = regFile
		r3, err := Start(ctx, o)
		must(t, err)
		defer r3.Close()
		pulls := 0
		onPull := func() { pulls++ }
		id, pulled, err := r3.EnsureImage(ctx, "busybox:pushed", corev1.PullIfNotPresent, nil, onPull)
		if err != nil || !pulled || pulls != 1 {
			t.Fatalf("pull through the mirror: pulled %v (onPull called %d times), %v", pulled, pulls, err)
		}
		// Present now: IfNotPresent asks no registry again.
		if _, pulled, err := r3.EnsureImage(ctx, "busybox:pushed", corev1.PullIfNotPresent, nil, onPull); err != nil || pulled || pulls != 1 {
			t.Fatalf("second EnsureImage: pulled %v (onPull called %d times in all), %v", pulled, pulls, err)
		}
		if id != "docker.io/library/busybox@"+img.Target().Digest.String() {
			t.Errorf("image id %q", id)
		}
		if _, err := r3.client.GetImage(ctx, "docker.io/library/busybox:pushed"); err != nil {
			t.Fatalf("pulled image not stored: %v", err)
		}
		c := cfg("pulled", "echo", "pulled ok")
		c.Image = "busybox:pushed"
		cid, err := r3.CreateContainer(ctx, c)
		must(t, err)
		waitFor(t, "pulled image runs", 10*time.Second, func() (bool, error) {
			return strings.Contains(readLog(t, c.LogPath), "pulled ok"), nil
		})
		must(t, r3.RemoveContainer(ctx, cid))

	})

	t.Run("RemovePod", func(t *testing.T) {
		all, err := r.Containers(ctx)
		must(t, err)
		for _, c := range all {
			if c.PodUID == podUID {
				must(t, r.RemoveContainer(ctx, c.ID))
			}
		}
		must(t, r.RemoveSandbox(ctx, podUID))
		checkNoPodCgroup(t, podUID)

	})
}

func ptr[T any](v T) *T { return &v }

// checkCgroup reads a container cgroup file, v1 (under the controller) or v2.
func checkCgroup(t *testing.T, cg, controller, v1File, v2File, want string) {
	t.Helper()
	if b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", controller, cg, v1File)); err == nil {
		if got := strings.TrimSpace(string(b)); got != want {
			t.Errorf("%s = %s, want %s", v1File, got, want)
		}
		return
	}
	if v2File == "" {
		return
	}
	b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", cg, v2File))
	if err != nil {
		t.Errorf("container cgroup %s not found (v1 or v2): %v", cg, err)
		return
	}
	if got := strings.Fields(string(b))[0]; got != want {
		t.Errorf("%s = %s, want %s", v2File, got, want)
	}
}

type signalWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	want  string
	found chan struct{}
	once  sync.Once
}

func (w *signalWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.want) {
		w.once.Do(func() { close(w.found) })
	}
	return len(p), nil
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startRegistry runs Debian's docker-registry on a free loopback port.
func startRegistry(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Skip("skipping registry test: docker-registry not installed (apt-get install docker-registry)")
	}
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n", filepath.Join(dir, "data"), addr)
	must(t, os.WriteFile(filepath.Join(dir, "config.yml"), []byte(cfg), 0o644))
	cmd := exec.Command(bin, "serve", filepath.Join(dir, "config.yml"))
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	must(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitFor(t, "registry at "+addr, 20*time.Second, func() (bool, error) {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	return addr
}

// newNetNS creates a named network namespace for the test.
func newNetNS(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("skipping: needs iproute2's ip to create a network namespace")
	}
	name := fmt.Sprintf("skiff-rt-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "delete", name).Run() })
	return "/run/netns/" + name
}

func randomUID(t *testing.T) string {
	var b [16]byte
	_, err := rand.Read(b[:])
	must(t, err)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func checkNoPodCgroup(t *testing.T, podUID string) {
	t.Helper()
	for _, d := range []string{"memory", "cpu", "pids", "unified", ""} {
		p := filepath.Join("/sys/fs/cgroup", d, cgroupParent(podUID))
		if _, err := os.Stat(p); err == nil {
			t.Errorf("pod cgroup %s left behind", p)
		}
	}
}

// assertTicksInOrder checks that a ticker's log holds "tick 0", "tick 1", …
// with none missing or repeated.
func assertTicksInOrder(t *testing.T, path string) {
	t.Helper()
	for i, l := range logText(t, path, "stdout") {
		if want := fmt.Sprintf("tick %d", i); l != want {
			t.Fatalf("line %d is %q, want %q", i, l, want)
		}
	}
}
