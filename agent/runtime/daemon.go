package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	containerd "github.com/containerd/containerd"
	contentapi "github.com/containerd/containerd/api/services/content/v1"
	contentproxy "github.com/containerd/containerd/content/proxy"
	"golang.org/x/sys/unix"
	"k8s.io/klog/v2"
)

// Namespace is the containerd namespace skiff's containers and images live in.
const Namespace = "k8s.io"

// Options configure Start.
type Options struct {
	// Endpoint is the containerd socket to use. Empty means: start and
	// supervise `containerd` from PATH with its config, root and state under
	// Dir/containerd and its socket at Dir/containerd/containerd.sock.
	Endpoint string
	// Dir is the agent's directory (<data-dir>/agent). Image tarballs in
	// Dir/images are imported at start.
	Dir string
	// RegistriesFile is a k3s-format registries.yaml; a missing file means
	// no mirrors and no registry credentials.
	RegistriesFile string
	// PauseImage, when set, runs as each pod's sandbox container whose IPC
	// namespace the pod's containers join.
	PauseImage string
	// Snapshotter overrides containerd's default snapshotter (overlayfs).
	Snapshotter string
	// OCIRuntime is the binary containerd's runc v2 shim runs new
	// containers with (ChooseOCIRuntime): "runc" or "" for the shim's
	// default, runc; "crun"; or a path to either.
	OCIRuntime string
}

// Runtime is a connection to containerd carrying out the agent's container
// work. It is safe for concurrent use.
type Runtime struct {
	opts    Options
	client  *containerd.Client
	address string
	managed bool // address is the socket of a containerd skiff starts
	regs    *registries
	logs    logCopies // containers' output into their logs
	mu      sync.Mutex
	child   int // pid of the containerd this Runtime started, 0 if none
	closed  bool
	ctrDir  string
}

// Start connects to containerd (starting it when o.Endpoint is empty and no
// containerd answers on the managed socket) and imports every image tarball
// in Dir/images.
func Start(ctx context.Context, o Options) (*Runtime, error) {
	if o.Dir == "" {
		return nil, errors.New("runtime: Options.Dir is required")
	}
	regs, err := loadRegistries(o.RegistriesFile)
	if err != nil {
		return nil, err
	}
	r := &Runtime{opts: o, regs: regs, ctrDir: filepath.Join(o.Dir, "containerd")}
	if o.Endpoint != "" {
		r.address = strings.TrimPrefix(o.Endpoint, "unix://")
	} else {
		r.managed = true
		r.address = filepath.Join(r.ctrDir, "containerd.sock")
	}
	if r.managed && !answers(ctx, r.address) {
		if err := r.startDaemon(ctx); err != nil {
			return nil, err
		}
	}
	// Image manifests and configs are read once (blobCache); the cache
	// reads through the client's own connection.
	blobs := &blobCache{blobs: map[string][]byte{}}
	client, err := containerd.New(r.address, containerd.WithDefaultNamespace(Namespace), containerd.WithTimeout(10*time.Second),
		containerd.WithServices(containerd.WithContentStore(blobs)))
	if err != nil {
		return nil, fmt.Errorf("runtime: connect to containerd at %s: %w", r.address, err)
	}
	blobs.Store = contentproxy.NewContentStore(contentapi.NewContentClient(client.Conn()))
	r.client = client
	if _, err := r.Version(ctx); err != nil {
		client.Close()
		return nil, err
	}
	// First, before the images: containers that wrote while no agent ran
	// may be blocked on a full FIFO.
	ctrs, err := r.skiffContainers(ctx)
	if err != nil {
		client.Close()
		return nil, err
	}
	r.reattachLogs(ctrs)
	if err := r.ImportImages(ctx, filepath.Join(o.Dir, "images")); err != nil {
		client.Close()
		return nil, err
	}
	return r, nil
}

// answers reports whether a containerd serves on the socket at address.
func answers(ctx context.Context, address string) bool {
	if _, err := os.Stat(address); err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	c, err := containerd.New(address, containerd.WithTimeout(2*time.Second))
	if err != nil {
		return false
	}
	defer c.Close()
	ok, err := c.IsServing(ctx)
	return err == nil && ok
}

// daemonConfig is containerd's config for a skiff-managed daemon: everything
// under Dir/containerd, and no CRI plugin (skiff is the only client).
func (r *Runtime) daemonConfig() string {
	q := func(s string) string { return fmt.Sprintf("%q", s) }
	return strings.Join([]string{
		"version = 2",
		"root = " + q(filepath.Join(r.ctrDir, "root")),
		"state = " + q(filepath.Join(r.ctrDir, "state")),
		`disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]`,
		"[grpc]",
		"  address = " + q(r.address),
		"[ttrpc]",
		"  address = " + q(r.address+".ttrpc"),
		`[plugins."io.containerd.internal.v1.opt"]`,
		"  path = " + q(filepath.Join(r.ctrDir, "opt")),
		"",
	}, "\n")
}

// startDaemon starts containerd in its own process group, so that stopping
// the agent (or a signal to the agent's group) leaves containerd and the
// containers running, and waits until its socket answers.
func (r *Runtime) startDaemon(ctx context.Context) error {
	if err := os.MkdirAll(r.ctrDir, 0o711); err != nil {
		return fmt.Errorf("runtime: %w", err)
	}
	stateOnTmpfs(filepath.Join(r.ctrDir, "state"))
	cfg := filepath.Join(r.ctrDir, "config.toml")
	if err := os.WriteFile(cfg, []byte(r.daemonConfig()), 0o600); err != nil {
		return fmt.Errorf("runtime: write containerd config: %w", err)
	}
	bin, err := exec.LookPath("containerd")
	if err != nil {
		return fmt.Errorf("runtime: containerd not found in PATH: %w", err)
	}
	logf, err := os.OpenFile(filepath.Join(r.ctrDir, "containerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("runtime: %w", err)
	}
	defer logf.Close()
	// A stale socket from a dead daemon would make containerd fail to listen.
	os.Remove(r.address)
	os.Remove(r.address + ".ttrpc")
	// Not exec.CommandContext: the daemon must outlive ctx and the agent.
	cmd := exec.Command(bin, "--config", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = r.ctrDir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("runtime: start containerd: %w", err)
	}
	pid := cmd.Process.Pid
	cmd.Process.Release() // reaped by reap, never by cmd.Wait
	r.mu.Lock()
	r.child = pid
	r.mu.Unlock()

	deadline := time.NewTimer(60 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if answers(ctx, r.address) {
			return nil
		}
		if exited, status := r.reap(); exited {
			return fmt.Errorf("runtime: containerd exited at start (%s); see %s", status, logf.Name())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("runtime: containerd did not answer on %s within 60s; see %s", r.address, logf.Name())
		case <-tick.C:
		}
	}
}

// reap collects the started containerd if it has exited.
func (r *Runtime) reap() (exited bool, status string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.child == 0 {
		return false, ""
	}
	var ws unix.WaitStatus
	pid, err := unix.Wait4(r.child, &ws, unix.WNOHANG, nil)
	if pid == 0 || (err != nil && !errors.Is(err, unix.ECHILD)) {
		return false, ""
	}
	r.child = 0
	if err != nil {
		return true, "gone"
	}
	if ws.Signaled() {
		return true, "signal " + ws.Signal().String()
	}
	return true, fmt.Sprintf("exit status %d", ws.ExitStatus())
}

// Run supervises the containerd this Runtime manages: when it dies (or stops
// answering) it is started again, with backoff. It returns when ctx ends,
// leaving containerd running. With an external Endpoint it only waits for ctx.
func (r *Runtime) Run(ctx context.Context) error {
	if !r.managed {
		<-ctx.Done()
		return nil
	}
	const (
		minBackoff = time.Second
		maxBackoff = 30 * time.Second
		stableFor  = time.Minute
	)
	backoff := minBackoff
	upSince := time.Now()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		exited, status := r.reap()
		if !exited && answers(ctx, r.address) {
			if time.Since(upSince) > stableFor {
				backoff = minBackoff
			}
			continue
		}
		if ctx.Err() != nil {
			return nil
		}
		if !exited {
			status = "not answering"
		}
		fmt.Fprintf(os.Stderr, "runtime: containerd %s; restarting in %s\n", status, backoff)
		wait := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			wait.Stop()
			return nil
		case <-wait.C:
		}
		backoff = min(backoff*2, maxBackoff)
		if answers(ctx, r.address) {
			continue
		}
		if pid := r.childPID(); pid != 0 {
			// Hung, not dead: replace it.
			unix.Kill(pid, unix.SIGKILL)
			r.reapBlocking()
		}
		if err := r.startDaemon(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			fmt.Fprintf(os.Stderr, "runtime: %v\n", err)
			continue
		}
		// The connection would otherwise wait out its dial backoff, and
		// calls made meanwhile fail.
		r.client.Conn().ResetConnectBackoff()
		upSince = time.Now()
	}
}

func (r *Runtime) childPID() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.child
}

func (r *Runtime) reapBlocking() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.child != 0 {
		var ws unix.WaitStatus
		unix.Wait4(r.child, &ws, 0, nil)
		r.child = 0
	}
}

// Close stops copying container output (it waits in the containers' FIFOs
// for the next agent) and closes the connection to containerd. It never
// stops containerd or the containers.
func (r *Runtime) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	r.logs.closeAll()
	return r.client.Close()
}

// skiffContainers lists the ids and labels of skiff's pod containers.
func (r *Runtime) skiffContainers(ctx context.Context) ([]containerLabels, error) {
	ctrs, err := r.client.Containers(ctx, `labels."`+labelKind+`"==`+kindContainer)
	if err != nil {
		return nil, fmt.Errorf("runtime: list containers: %w", err)
	}
	out := make([]containerLabels, 0, len(ctrs))
	for _, ctr := range ctrs {
		info, err := ctr.Info(ctx, containerd.WithoutRefreshedMetadata)
		if err != nil {
			continue
		}
		out = append(out, containerLabels{id: ctr.ID(), labels: info.Labels})
	}
	return out, nil
}

// Version returns the runtime version as the node status reports it, e.g.
// "containerd://1.6.20".
func (r *Runtime) Version(ctx context.Context) (string, error) {
	v, err := r.client.Version(ctx)
	if err != nil {
		return "", fmt.Errorf("runtime: containerd version: %w", err)
	}
	ver := strings.TrimPrefix(v.Version, "v")
	// Distribution builds append their packaging suffix ("1.6.20~ds1").
	if i := strings.IndexAny(ver, "~+"); i > 0 {
		ver = ver[:i]
	}
	return "containerd://" + ver, nil
}

// stateOnTmpfs mounts a tmpfs at dir, the managed containerd's state
// directory, unless it is on one already. containerd keeps there what
// lives only as long as its tasks: each task's bundle (its OCI spec, the
// rootfs mount point, the shim's address, pid and options files, the
// runtime's log); it expects a tmpfs there (its default is /run/containerd)
// and cleans up after a reboot what it finds left. On disk every container
// start and removal created and deleted a dozen files through the
// filesystem's journal: CPU on every pod start and writes to the node's
// storage (an SD card, often) for nothing that outlives a reboot.
//
// A directory that holds bundles stays on disk: containers may still run
// from them (containerd died and its shims did not, or an agent before
// this one started it), and a mount over them would hide them from the
// containerd started now. containerd removes the bundles of tasks it finds
// dead at its start, so such a directory moves to a tmpfs at the next
// start after a reboot. A tmpfs that cannot be mounted (no CAP_SYS_ADMIN)
// leaves the state on disk, as before.
func stateOnTmpfs(dir string) {
	if err := os.MkdirAll(dir, 0o711); err != nil {
		klog.ErrorS(err, "containerd's state stays where it is")
		return
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err == nil && fs.Type == unix.TMPFS_MAGIC {
		return
	}
	for _, runtime := range []string{"io.containerd.runtime.v2.task", "io.containerd.runtime.v1.linux"} {
		if bundles, _ := filepath.Glob(filepath.Join(dir, runtime, "*", "*")); len(bundles) > 0 {
			klog.InfoS("containerd's state stays on disk: it holds task bundles", "dir", dir, "bundles", len(bundles))
			return
		}
	}
	// 64 MiB bounds a leak; a task's bundle takes ~20 KiB.
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0711,size=64m"); err != nil {
		klog.ErrorS(err, "containerd's state stays on disk: mounting a tmpfs failed", "dir", dir)
	}
}
