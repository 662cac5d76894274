// Command pod-start measures a skiff node (issue 14's benchmark): how fast
// one agent starts and deletes pods whose image is present, how much
// memory the agent takes idle and with pods running, how many bytes an
// idle node sends and receives over the sync, and how much the agent
// writes to disk while nothing changes.
//
// It starts a `skiff server --disable-agent` and a separate `skiff agent`
// (with its own containerd) that joins it through a byte-counting TCP
// proxy in this process. It needs root, containerd, runc, iptables and
// busybox-static, and the machine to itself as a node (no other agent
// with the bridge skiff0).
//
// It prints figures and ratios to the targets, never pass/fail.
// See hack/bench/README.md.
//
//	go run ./hack/bench/pod-start [-n 50] [-idle 3m] [-skiff path] [-out results.md]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/skiff-io/skiff/hack/bench/internal/skiffproc"
	"github.com/skiff-io/skiff/tests/testimage"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// The node's pod network, as the agent sets it up (agent/app).
const (
	bridge   = "skiff0"
	netnsDir = "/run/skiff/netns/" + nodeName
	nodeName = "bench-node"
)

// config is every flag, parsed in one place.
type config struct {
	n            int
	conc         int
	rate         float64
	pacedRate    float64
	rssPods      int
	settle       time.Duration
	idle         time.Duration
	syncInterval time.Duration
	skiff        string
	overlay      string
	out          string
	agentDebug   bool
	agentLog     string
	noScheduled  bool
	agentBin     string
	agentArgs    []string
	profile      string
	profileFor   time.Duration
	srvProfile   string
}

// argList is a repeatable string flag.
type argList []string

func (a *argList) String() string     { return strings.Join(*a, " ") }
func (a *argList) Set(v string) error { *a = append(*a, v); return nil }

func main() {
	var cfg config
	flag.IntVar(&cfg.n, "n", 50, "pods per start round")
	flag.IntVar(&cfg.conc, "conc", 10, "client goroutines creating and deleting pods")
	flag.Float64Var(&cfg.rate, "rate", 0, "pods created per second in the first two start rounds, all goroutines together (0: as fast as the API takes them)")
	flag.Float64Var(&cfg.pacedRate, "paced-rate", 5, "pods created per second in a third round (agent alone), as Kubernetes' pod-startup SLO is measured (0: no third round)")
	flag.IntVar(&cfg.rssPods, "rss-pods", 20, "pods running when the agent's RSS is read the second time")
	flag.DurationVar(&cfg.settle, "settle", 30*time.Second, "wait after the node is Ready before the idle RSS is read and the idle window starts")
	flag.DurationVar(&cfg.idle, "idle", 3*time.Minute, "idle window over which sync bytes and disk writes are counted")
	flag.DurationVar(&cfg.syncInterval, "sync-interval", time.Minute, "the agent's --sync-interval")
	flag.StringVar(&cfg.skiff, "skiff", "", "path to the skiff binary (default: go build the module into a temp dir)")
	flag.StringVar(&cfg.overlay, "overlay", "", "passed to `go build -overlay` when building skiff")
	flag.StringVar(&cfg.out, "out", "", "also write the results as Markdown to this file")
	flag.StringVar(&cfg.agentBin, "agent-skiff", "", "run the agent from this binary instead of -skiff (e.g. a build without the server, to see what its code costs the agent)")
	flag.BoolVar(&cfg.noScheduled, "no-scheduled", false, "skip the second round (through the scheduler)")
	flag.BoolVar(&cfg.agentDebug, "agent-debug", false, "start the agent with --debug")
	flag.StringVar(&cfg.agentLog, "agent-log", "", "copy the agent's log to this file at the end")
	flag.StringVar(&cfg.profile, "agent-cpuprofile", "", "write a CPU profile of the agent to this file, taken from the first create of the first start round for -agent-cpuprofile-for (the agent runs with --pprof-address)")
	flag.DurationVar(&cfg.profileFor, "agent-cpuprofile-for", 20*time.Second, "how long the agent's CPU profile runs")
	flag.StringVar(&cfg.srvProfile, "server-cpuprofile", "", "write a CPU profile of the server to this file, over the same window as -agent-cpuprofile (the server runs with --enable-pprof)")
	flag.Var((*argList)(&cfg.agentArgs), "agent-arg", "one more argument for `skiff agent` (repeat the flag for more, e.g. -agent-arg=--default-runtime=runc)")
	flag.Parse()
	if cfg.n < 1 || cfg.conc < 1 || cfg.rssPods < 1 || cfg.idle <= 0 || cfg.profileFor < time.Second {
		fmt.Fprintln(os.Stderr, "pod-start: -n, -conc, -rss-pods and -idle must be positive, -agent-cpuprofile-for at least 1s")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, cfg)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pod-start:", err)
		os.Exit(1)
	}
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", a...)
}

// preflight refuses early, with one line, what would fail later.
func preflight() error {
	if os.Geteuid() != 0 {
		return errors.New("running pods needs root")
	}
	for _, tool := range []string{"containerd", "runc", "iptables", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is not installed (apt-get install -y containerd runc iptables iproute2)", tool)
		}
	}
	if _, err := os.Stat(testimage.Busybox); err != nil {
		return fmt.Errorf("the pods' image is built from busybox-static at %s (apt-get install -y busybox-static)", testimage.Busybox)
	}
	// Agents on one host share the bridge and the pinned namespaces, and
	// each removes what it does not know: the node must be ours alone.
	if _, err := net.InterfaceByName(bridge); err == nil {
		return fmt.Errorf("bridge %s exists: another skiff agent runs on this machine (or one left it behind); the benchmark needs the node to itself", bridge)
	}
	return nil
}

func run(ctx context.Context, cfg config) (err error) {
	if err := preflight(); err != nil {
		return err
	}
	res := results{cfg: cfg, cpus: runtime.NumCPU(), started: time.Now(), loadBefore: loadAvg()}
	root, err := os.MkdirTemp("", "skiff-podstart-bench-")
	if err != nil {
		return err
	}
	defer func() {
		if rmErr := os.RemoveAll(root); rmErr != nil && err == nil {
			err = rmErr
		}
	}()
	bin := cfg.skiff
	if bin == "" {
		logf("building skiff …")
		if bin, err = skiffproc.Build(ctx, root, cfg.overlay); err != nil {
			return err
		}
	}
	res.binary = bin
	if err := skiffproc.SyncBinary(bin); err != nil {
		return err
	}

	var srvArgs []string
	if cfg.srvProfile != "" {
		srvArgs = append(srvArgs, "--enable-pprof")
	}
	srv, err := skiffproc.Start(ctx, bin, filepath.Join(root, "server"), srvArgs...)
	if err != nil {
		return err
	}
	defer srv.Stop()
	token, err := srv.Token()
	if err != nil {
		return err
	}
	u, err := url.Parse(srv.URL)
	if err != nil {
		return err
	}
	proxy, err := listenProxy(u.Host)
	if err != nil {
		return err
	}
	pctx, stopProxy := context.WithCancel(context.Background())
	proxyDone := make(chan error, 1)
	go func() { proxyDone <- proxy.Run(pctx) }()
	defer func() {
		stopProxy()
		<-proxyDone
	}()

	wire, err := newWireCounter(proxy.Port(), fmt.Sprintf("skiff-podstart-bench-%d", os.Getpid()))
	if err != nil {
		logf("%v: wire bytes are not shown", err)
		wire = nil
	} else {
		defer wire.remove()
	}

	// The agent's data dir, with the image it imports at start.
	agentDir := filepath.Join(root, "node")
	images := filepath.Join(agentDir, "agent", "images")
	if err := os.MkdirAll(images, 0o755); err != nil {
		return err
	}
	if err := testimage.Build(filepath.Join(images, "busybox.tar"), testImage); err != nil {
		return err
	}
	args := []string{"--sync-interval", cfg.syncInterval.String()}
	if cfg.agentDebug {
		args = append(args, "--debug")
	}
	var pprofAddr string
	if cfg.profile != "" {
		if pprofAddr, err = freeLoopbackAddr(); err != nil {
			return err
		}
		args = append(args, "--pprof-address", pprofAddr)
	}
	args = append(args, cfg.agentArgs...)
	logf("starting skiff agent %s through the counting proxy %s …", nodeName, proxy.Addr())
	agentBin := bin
	if cfg.agentBin != "" {
		agentBin = cfg.agentBin
	}
	// On its node the agent is the only process that maps the binary.
	// Here the server runs the same file: pages both touch would count in
	// both RSS figures, and the kernel keeps those resident when either
	// hands its start-up pages back (a page another process maps is not
	// reclaimed). The agent runs a copy of its own.
	if agentBin, err = copyExecutable(agentBin, filepath.Join(root, "skiff-agent-copy")); err != nil {
		return err
	}
	agent, err := skiffproc.StartAgent(agentBin, agentDir, filepath.Join(root, "agent.log"), "https://"+proxy.Addr(), token, nodeName, args...)
	if err != nil {
		return err
	}
	uids := &uidSet{}
	defer func() {
		agent.Stop()
		if cerr := skiffproc.CleanupNode(agentDir, bridge, netnsDir, uids.all()); cerr != nil {
			logf("cleanup: %v", cerr)
		}
		if err != nil {
			logf("%s", agent.LogTail(30))
		}
		if cfg.agentLog != "" {
			if b, rerr := os.ReadFile(agent.LogPath); rerr == nil {
				if werr := os.WriteFile(cfg.agentLog, b, 0o644); werr != nil {
					logf("agent log: %v", werr)
				}
			}
		}
	}()

	api, err := newClient(srv.Kubeconfig)
	if err != nil {
		return err
	}
	if err := waitNodeReady(ctx, api, agent, 3*time.Minute); err != nil {
		return err
	}
	res.nodeReady = time.Since(agent.StartedAt)
	res.ociRuntime = "?"
	if b, rerr := os.ReadFile(agent.LogPath); rerr == nil {
		if m := regexp.MustCompile(`ociRuntime="([^"]*)"`).FindSubmatch(b); m != nil {
			res.ociRuntime = string(m[1])
		}
	}
	// The node's CPU beyond the agent and containerd (shims, runc, log
	// writers) is counted in a cgroup of its own; containers are not in it.
	nodeCPU, err := skiffproc.NewCPUGroup(fmt.Sprintf("skiff-podstart-bench-%d", os.Getpid()))
	if err != nil {
		logf("%v: the node's total CPU is not shown", err)
	} else {
		defer func() {
			if rerr := nodeCPU.Remove(); rerr != nil {
				logf("cpu accounting cgroup: %v", rerr)
			}
		}()
		if err := nodeCPU.Add(agent.PID()); err != nil {
			return err
		}
		if err := nodeCPU.Add(skiffproc.ContainerdPID(agent.DataDir)); err != nil {
			return err
		}
	}
	logf("node Ready after %s; leaving it alone for %s …", res.nodeReady.Round(time.Millisecond), cfg.settle)
	if err := skiffproc.Pause(ctx, cfg.settle); err != nil {
		return err
	}
	if res.idleMem, err = readMemories(srv, agent); err != nil {
		return err
	}

	logf("idle window: %s …", cfg.idle)
	if res.idleWin, err = idleWindow(ctx, cfg.idle, proxy, wire, agent); err != nil {
		return err
	}

	logf("memory with %d pods …", cfg.rssPods)
	cpu := func() cpuSample { return readCPU(srv, agent, nodeCPU) }
	if res.podsMem, res.podsCPU, err = memoryWithPods(ctx, api, cfg, srv, agent, uids, cpu); err != nil {
		return err
	}

	var profiled, srvProfiled <-chan error
	pace := "all at once"
	if cfg.rate > 0 {
		pace = fmt.Sprintf("paced at %g pods/s", cfg.rate)
	}
	for _, r := range []struct {
		ns, node, name string
		rate           float64
	}{
		{"podstart-bound", nodeName, "spec.nodeName set (agent alone), " + pace, cfg.rate},
		{"podstart-scheduled", "", "scheduled (scheduler + agent), " + pace, cfg.rate},
		{"podstart-paced", nodeName, fmt.Sprintf("spec.nodeName set (agent alone), paced at %g pods/s", cfg.pacedRate), cfg.pacedRate},
	} {
		if r.node == "" && cfg.noScheduled || r.ns == "podstart-paced" && cfg.pacedRate <= 0 {
			continue
		}
		logf("round %q: %d pods …", r.name, cfg.n)
		before := func() {}
		if (pprofAddr != "" && profiled == nil) || (cfg.srvProfile != "" && srvProfiled == nil) {
			before = func() {
				if pprofAddr != "" {
					profiled = cpuProfile(ctx, pprofAddr, cfg.profileFor, cfg.profile)
				}
				if cfg.srvProfile != "" {
					srvProfiled = serverCPUProfile(ctx, api, cfg.profileFor, cfg.srvProfile)
				}
			}
		}
		rr, err := startRound(ctx, api, cfg, r.ns, r.node, r.rate, uids, cpu, before)
		if err != nil {
			return fmt.Errorf("round %s: %w", r.name, err)
		}
		rr.name = r.name
		res.rounds = append(res.rounds, rr)
	}
	if profiled != nil {
		if err := <-profiled; err != nil {
			logf("agent CPU profile: %v", err)
		} else {
			logf("wrote the agent's CPU profile to %s", cfg.profile)
		}
	}
	if srvProfiled != nil {
		if err := <-srvProfiled; err != nil {
			logf("server CPU profile: %v", err)
		} else {
			logf("wrote the server's CPU profile to %s", cfg.srvProfile)
		}
	}
	res.elapsed = time.Since(res.started)
	res.loadAfter = loadAvg()

	res.printText(os.Stdout)
	if cfg.out != "" {
		f, err := os.Create(cfg.out)
		if err != nil {
			return err
		}
		res.writeMarkdown(f)
		if err := f.Close(); err != nil {
			return err
		}
		logf("wrote %s", cfg.out)
	}
	return nil
}

func newClient(kubeconfig string) (*kubernetes.Clientset, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	rc.QPS, rc.Burst = 10000, 10000
	rc.UserAgent = "pod-start-bench"
	return kubernetes.NewForConfig(rc)
}

// waitNodeReady waits until the node's Ready condition is True.
func waitNodeReady(ctx context.Context, api kubernetes.Interface, agent *skiffproc.Agent, timeout time.Duration) error {
	return until(ctx, timeout, "node "+agent.Node+" Ready", func() (bool, error) {
		select {
		case <-agent.Exited():
			return false, errors.New("skiff agent exited")
		default:
		}
		n, err := api.CoreV1().Nodes().Get(ctx, agent.Node, metav1.GetOptions{})
		if err != nil {
			return false, nil // not registered yet
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				return c.Status == corev1.ConditionTrue, nil
			}
		}
		return false, nil
	})
}

// memories is the node's processes' memory at one moment.
type memories struct {
	agent, containerd, server skiffproc.Memory
	// The sums over the processes containers bring along besides
	// containerd, and how many there are: runc shims, log writers
	// (skiff-cri-log) and any other process naming the data dir.
	shims, logWriters, others    skiffproc.Memory
	nShims, nLogWriters, nOthers int
}

func readMemories(srv *skiffproc.Server, agent *skiffproc.Agent) (memories, error) {
	var m memories
	var err error
	if m.agent, err = skiffproc.ReadMemory(agent.PID()); err != nil {
		return m, fmt.Errorf("agent memory: %w", err)
	}
	if m.server, err = skiffproc.ReadMemory(srv.PID()); err != nil {
		return m, fmt.Errorf("server memory: %w", err)
	}
	ctrd := skiffproc.ContainerdPID(agent.DataDir)
	if ctrd == 0 {
		return m, errors.New("the agent's containerd is not running")
	}
	if m.containerd, err = skiffproc.ReadMemory(ctrd); err != nil {
		return m, fmt.Errorf("containerd memory: %w", err)
	}
	for _, p := range skiffproc.FindProcs(agent.DataDir) {
		if p.PID == agent.PID() || p.PID == ctrd {
			continue
		}
		pm, err := skiffproc.ReadMemory(p.PID)
		if err != nil {
			continue // exited meanwhile
		}
		sum, n := &m.others, &m.nOthers
		argv0, _, _ := strings.Cut(p.Cmdline, " ")
		switch filepath.Base(argv0) {
		case "containerd-shim-runc-v2":
			sum, n = &m.shims, &m.nShims
		case "skiff-cri-log":
			sum, n = &m.logWriters, &m.nLogWriters
		}
		sum.RSS += pm.RSS
		sum.Anon += pm.Anon
		sum.File += pm.File
		*n++
	}
	return m, nil
}

// idleResult is what the idle window counted.
type idleResult struct {
	window        time.Duration
	before, after sample
	agentIO       [2]skiffproc.IO
	containerdIO  [2]skiffproc.IO
	db, wal       [2]int64
	// IP bytes between the agent and the proxy, up and down; wireOK is
	// false when they could not be counted.
	wireUp, wireDown [2]int64
	wireOK           bool
}

func idleWindow(ctx context.Context, d time.Duration, proxy *countingProxy, wire *wireCounter, agent *skiffproc.Agent) (idleResult, error) {
	var r idleResult
	r.wireOK = wire != nil
	ctrd := skiffproc.ContainerdPID(agent.DataDir)
	read := func(i int) error {
		var err error
		if r.agentIO[i], err = skiffproc.ReadIO(agent.PID()); err != nil {
			return fmt.Errorf("agent io: %w", err)
		}
		if r.containerdIO[i], err = skiffproc.ReadIO(ctrd); err != nil {
			return fmt.Errorf("containerd io: %w", err)
		}
		if r.wireOK {
			var err error
			if r.wireUp[i], r.wireDown[i], err = wire.read(); err != nil {
				logf("%v", err)
				r.wireOK = false
			}
		}
		r.db[i] = fileSize(agent.StateDB())
		r.wal[i] = fileSize(agent.StateDB() + "-wal")
		return nil
	}
	start := time.Now()
	r.before = proxy.sample()
	if err := read(0); err != nil {
		return r, err
	}
	if err := skiffproc.Pause(ctx, d); err != nil {
		return r, err
	}
	r.after = proxy.sample()
	r.window = time.Since(start)
	return r, read(1)
}

// memoryWithPods starts rssPods pods on the node, reads the memories once
// they have run for a while, and deletes them.
// Between the last pod Running and the read, the CPU the node uses to
// keep the pods running is sampled too.
func memoryWithPods(ctx context.Context, api kubernetes.Interface, cfg config, srv *skiffproc.Server, agent *skiffproc.Agent, uids *uidSet, cpu func() cpuSample) (memories, [2]cpuSample, error) {
	var c [2]cpuSample
	set, err := newPodSet(ctx, api, "podstart-rss", cfg.rssPods, cfg.conc, nodeName, uids)
	if err != nil {
		return memories{}, c, err
	}
	defer set.close()
	if err := set.create(ctx, 5*time.Minute); err != nil {
		return memories{}, c, err
	}
	// Let the pods' first status reports settle.
	if err := skiffproc.Pause(ctx, 5*time.Second); err != nil {
		return memories{}, c, err
	}
	c[0] = cpu()
	if err := skiffproc.Pause(ctx, podsCPUWindow); err != nil {
		return memories{}, c, err
	}
	c[1] = cpu()
	m, err := readMemories(srv, agent)
	if err != nil {
		return m, c, err
	}
	return m, c, set.delete(ctx, 3*time.Minute)
}

// podsCPUWindow is how long the CPU of a node with rssPods pods running
// and nothing changing is sampled.
const podsCPUWindow = 20 * time.Second

// roundResult is one round of pods started and deleted.
type roundResult struct {
	name  string
	start startStats
	del   deleteStats
	cpu   [4]cpuSample // before the first create, once the last pod runs, before the first delete, once the last is gone
}

// startRound starts cfg.n pods, rate a second (0: as fast as the API
// takes them), and deletes them; before runs just before the first create.
func startRound(ctx context.Context, api kubernetes.Interface, cfg config, ns, node string, rate float64, uids *uidSet, cpu func() cpuSample, before func()) (roundResult, error) {
	set, err := newPodSet(ctx, api, ns, cfg.n, cfg.conc, node, uids)
	if err != nil {
		return roundResult{}, err
	}
	defer set.close()
	if rate > 0 {
		set.interval = time.Duration(float64(time.Second) / rate)
	}
	var r roundResult
	sample := func() cpuSample {
		c := cpu()
		c.rev = revision(ctx, api)
		return c
	}
	r.cpu[0] = sample()
	before()
	if err := set.create(ctx, 5*time.Minute); err != nil {
		return roundResult{}, err
	}
	r.cpu[1] = sample()
	r.start = set.startStats()
	r.cpu[2] = sample()
	if err := set.delete(ctx, 3*time.Minute); err != nil {
		return r, err
	}
	r.cpu[3] = sample()
	r.del = set.deleteStats()
	return r, nil
}

// cpuSample is the CPU time the node's processes and the whole machine
// have used so far.
type cpuSample struct {
	agent, containerd, server time.Duration
	node                      time.Duration // agent, containerd, shims, runc, log writers; -1: unknown
	// The node's processes besides the agent and containerd, by kind:
	// shims (their own CPU), what the shims started and waited for (runc),
	// containers' log writers, and what containerd started and waited
	// for (the shims' short-lived first instance). The first three count
	// only live shims, so they are the pods running now.
	shims, runc, logWriters, shimStarts time.Duration
	busy, total                         time.Duration // machine, all CPUs, from /proc/stat
	// rev is the datastore's revision (0: unknown): the writes between
	// two samples, of every writer.
	rev int64
	// pods is the CPU charged to the pods' cgroups (skiff's parent
	// cgroup): the containers' processes, and the OCI runtime's init
	// process from the moment it joined the container's cgroup until it
	// ran the container's command. -1: unknown.
	pods time.Duration
}

func readCPU(srv *skiffproc.Server, agent *skiffproc.Agent, node *skiffproc.CPUGroup) cpuSample {
	c := cpuSample{node: -1, pods: -1}
	if node != nil {
		if u, err := node.Usage(); err == nil {
			c.node = u
		}
	}
	if u, err := skiffproc.PodsCPU(); err == nil {
		c.pods = u
	}
	c.agent, _ = skiffproc.ProcessCPU(agent.PID())
	c.server, _ = skiffproc.ProcessCPU(srv.PID())
	ctrd := skiffproc.ContainerdPID(agent.DataDir)
	if ctrd != 0 {
		c.containerd, _ = skiffproc.ProcessCPU(ctrd)
		c.shimStarts, _ = skiffproc.ChildrenCPU(ctrd)
	}
	for _, p := range skiffproc.FindProcs(agent.DataDir) {
		argv0, _, _ := strings.Cut(p.Cmdline, " ")
		switch filepath.Base(argv0) {
		case "containerd-shim-runc-v2":
			own, _ := skiffproc.ProcessCPU(p.PID)
			children, _ := skiffproc.ChildrenCPU(p.PID)
			c.shims += own
			c.runc += children
		case "skiff-cri-log":
			own, _ := skiffproc.ProcessCPU(p.PID)
			c.logWriters += own
		}
	}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return c
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal …
	for i, v := range f[1:] {
		var n int64
		fmt.Sscan(v, &n)
		d := time.Duration(n) * 10 * time.Millisecond // USER_HZ is 100
		c.total += d
		if i != 3 && i != 4 { // idle, iowait
			c.busy += d
		}
	}
	return c
}

// revision is the datastore's current revision, as a list answers it
// (0 when it cannot be read).
func revision(ctx context.Context, api kubernetes.Interface) int64 {
	l, err := api.CoreV1().Namespaces().List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		return 0
	}
	rev, _ := strconv.ParseInt(l.ResourceVersion, 10, 64)
	return rev
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// copyExecutable copies the executable at src to dst and returns dst. The
// copy is synced, as an installed binary is long written back: the kernel
// does not reclaim dirty pages, so a fresh copy's would stay resident.
func copyExecutable(src, dst string) (string, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		return "", err
	}
	return dst, skiffproc.SyncBinary(dst)
}
