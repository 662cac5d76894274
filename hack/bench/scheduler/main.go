// Command scheduler measures skiff's scheduler and workload controllers at
// fleet scale (issue 15's benchmark), with Node objects and no agents:
//
//   - the pure decision: scheduler.Schedule on a snapshot of the nodes,
//     decisions per second in this process;
//   - binding through the API: pending pods bound by skiff's scheduler,
//     pods/s from the first binding to the last, against the same number
//     of bindings posted by this benchmark itself (no decisions, only the
//     API and the datastore) in the same run: the ratio says how much the
//     scheduler adds to the write path;
//   - a Deployment of many replicas: time from create until every pod is
//     bound;
//   - the server's RSS with all those pods.
//
// It prints figures and ratios, never pass/fail. See hack/bench/README.md.
//
//	go run ./hack/bench/scheduler [-nodes 1000] [-pods 10000] [-replicas 1000] [-skiff path] [-out results.md]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/skiff-io/skiff/hack/bench/internal/skiffproc"
	"github.com/skiff-io/skiff/server/scheduler"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
)

type config struct {
	nodes, pods, replicas, conc                int
	skiff, out, serverArgs, heap, cpu, baseCPU string
	bindCPU, deployCPU                         string
	bindCPUFor                                 int
	settle                                     time.Duration
}

func main() {
	var cfg config
	flag.IntVar(&cfg.nodes, "nodes", 1000, "Node objects (no agents behind them)")
	flag.IntVar(&cfg.pods, "pods", 10000, "pending pods bound by the scheduler, and bound directly for the baseline")
	flag.IntVar(&cfg.replicas, "replicas", 1000, "replicas of the Deployment timed until every pod is bound")
	flag.IntVar(&cfg.conc, "conc", 32, "client goroutines creating objects and posting the baseline's bindings")
	flag.StringVar(&cfg.skiff, "skiff", "", "path to the skiff binary (default: build it with hack/build into a temp dir)")
	flag.StringVar(&cfg.out, "out", "", "also write the results as Markdown to this file")
	flag.StringVar(&cfg.serverArgs, "server-args", "", "extra flags for skiff server, separated by spaces (e.g. --memory-limit=0)")
	flag.StringVar(&cfg.cpu, "cpuprofile", "", "write a CPU profile of the server's first 25 s in the \"scheduler alone\" phase to this file; the server runs with --enable-pprof")
	flag.StringVar(&cfg.baseCPU, "base-cpuprofile", "", "write a CPU profile of the server's first 5 s of the baseline's bindings to this file; the server runs with --enable-pprof")
	flag.StringVar(&cfg.bindCPU, "bind-cpuprofile", "", "write a CPU profile of the server in the \"scheduler alone\" phase, from its first binding, to this file (-bind-cpuprofile-for long); the server runs with --enable-pprof")
	flag.IntVar(&cfg.bindCPUFor, "bind-cpuprofile-for", 8, "seconds of the -bind-cpuprofile profile")
	flag.StringVar(&cfg.deployCPU, "deploy-cpuprofile", "", "write a CPU profile of the server's first 5 s of the Deployment phase (from its create) to this file; the server runs with --enable-pprof")
	flag.DurationVar(&cfg.settle, "settle", 20*time.Second, "how long the server idles after the Deployment phase before its RSS is read a second time (0: once only)")
	flag.StringVar(&cfg.heap, "heapprofile", "", "write the server's heap profile (after a GC) to this file at the end, its runtime.MemStats to <file>.memstats, its goroutines to <file>.goroutines and its /proc/<pid>/smaps to <file>.smaps; the server runs with --enable-pprof")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "scheduler bench:", err)
		os.Exit(1)
	}
}

// row is one line of the results table.
type row struct{ figure, value, note string }

func run(ctx context.Context, cfg config) error {
	var rows []row
	add := func(figure, value, note string) {
		rows = append(rows, row{figure, value, note})
		fmt.Printf("%-58s %s  %s\n", figure, value, note)
	}

	// The pure decision, in this process.
	rate, perNode := pureRate(cfg.nodes, 5*cfg.nodes, 3000)
	add(fmt.Sprintf("pure Schedule, %d nodes, %d pods running", cfg.nodes, 5*cfg.nodes), fmt.Sprintf("%.0f decisions/s", rate),
		fmt.Sprintf("%.1f µs per node per decision", perNode))

	dir, err := os.MkdirTemp("", "skiff-sched-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := cfg.skiff
	if bin == "" {
		fmt.Println("building skiff …")
		if bin, err = skiffproc.Build(ctx, dir, ""); err != nil {
			return err
		}
	}
	if err := skiffproc.SyncBinary(bin); err != nil {
		return err
	}
	extra := strings.Fields(cfg.serverArgs)
	if cfg.heap != "" || cfg.cpu != "" || cfg.baseCPU != "" || cfg.bindCPU != "" || cfg.deployCPU != "" {
		extra = append(extra, "--enable-pprof")
	}
	srv, err := skiffproc.Start(ctx, bin, filepath.Join(dir, "server"), extra...)
	if err != nil {
		return err
	}
	defer func() { srv.Stop() }()
	c, err := benchClient(srv)
	if err != nil {
		return err
	}

	start := time.Now()
	if err := parallel(ctx, cfg.conc, cfg.nodes, func(i int) error { return createNode(ctx, c, fmt.Sprintf("node-%04d", i)) }); err != nil {
		return fmt.Errorf("nodes: %w", err)
	}
	add(fmt.Sprintf("%d Ready nodes (with Leases) created", cfg.nodes), fmt.Sprintf("%.1f s", time.Since(start).Seconds()), "")

	// Baseline: the same number of bindings, posted by this benchmark to
	// pods no scheduler takes (spec.schedulerName names no scheduler).
	if err := createPods(ctx, c, "base", cfg.pods, cfg.conc, "bench-no-scheduler"); err != nil {
		return err
	}
	baseProfiled := profile(ctx, c, cfg.baseCPU, 5)
	cpu0 := serverCPU(srv)
	start = time.Now()
	if err := parallel(ctx, cfg.conc, cfg.pods, func(i int) error {
		return c.CoreV1().Pods("base").Bind(ctx, &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p-%05d", i)},
			Target:     corev1.ObjectReference{Kind: "Node", Name: fmt.Sprintf("node-%04d", i%cfg.nodes)},
		}, metav1.CreateOptions{})
	}); err != nil {
		return fmt.Errorf("baseline bindings: %w", err)
	}
	baseRate := float64(cfg.pods) / time.Since(start).Seconds()
	baseCPU := serverCPU(srv) - cpu0
	if err := <-baseProfiled; err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	add(fmt.Sprintf("baseline: %d bindings posted directly, %d at a time", cfg.pods, cfg.conc), fmt.Sprintf("%.0f pods/s", baseRate),
		"the API and datastore alone; server CPU "+perItem(baseCPU, cfg.pods)+" per binding")

	// The scheduler: pods created while it runs; the rate counts from the
	// first binding it makes to the last.
	bound := watchBound(ctx, c, "sched", cfg.pods, nil)
	start = time.Now()
	if err := createPods(ctx, c, "sched", cfg.pods, cfg.conc, ""); err != nil {
		return err
	}
	created := time.Since(start)
	res := <-bound
	if res.err != nil {
		return res.err
	}
	schedRate := float64(cfg.pods) / res.last.Sub(res.first).Seconds()
	add(fmt.Sprintf("scheduler: %d pods created (%.0f/s), all bound", cfg.pods, float64(cfg.pods)/created.Seconds()),
		fmt.Sprintf("%.0f pods/s", schedRate), fmt.Sprintf("first to last binding %.1f s; ÷ baseline %.2f", res.last.Sub(res.first).Seconds(), schedRate/baseRate))
	add("scheduler: create of the first pod → last pod bound", fmt.Sprintf("%.1f s", res.last.Sub(start).Seconds()), "creation and binding overlap")

	// A Deployment of many replicas, through the ReplicaSet controller.
	bound = watchBound(ctx, c, "deploy", cfg.replicas, nil)
	deployProfiled := profile(ctx, c, cfg.deployCPU, 5)
	cpu0 = serverCPU(srv)
	start = time.Now()
	if err := createDeployment(ctx, c, "deploy", int32(cfg.replicas)); err != nil {
		return err
	}
	res = <-bound
	if err := <-deployProfiled; err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	if res.err != nil {
		return res.err
	}
	deployCPU := serverCPU(srv) - cpu0
	add(fmt.Sprintf("Deployment of %d replicas: create → every pod bound", cfg.replicas), fmt.Sprintf("%.1f s", res.last.Sub(start).Seconds()),
		fmt.Sprintf("%.0f pods/s; server CPU %s per pod (created and bound)", float64(cfg.replicas)/res.last.Sub(start).Seconds(), perItem(deployCPU, cfg.replicas)))

	mem, err := skiffproc.ReadMemory(srv.PID())
	if err != nil {
		return err
	}
	total := 2*cfg.pods + cfg.replicas
	add(fmt.Sprintf("server RSS with %d nodes and %d pods (VmRSS; RssAnon)", cfg.nodes, total),
		fmt.Sprintf("%d MiB; %d MiB", mem.RSS>>20, mem.Anon>>20), fmt.Sprintf("peak %d MiB; read as the last pod is bound", mem.HWM>>20))
	if cfg.settle > 0 {
		// The same server holding the same pods once the burst is over:
		// the writes' goroutines have ended and the collector and the
		// scavenger have caught up, as a server that holds them does.
		select {
		case <-time.After(cfg.settle):
		case <-ctx.Done():
			return ctx.Err()
		}
		if mem, err = skiffproc.ReadMemory(srv.PID()); err != nil {
			return err
		}
		add(fmt.Sprintf("server RSS with those %d pods, %s later", total, cfg.settle),
			fmt.Sprintf("%d MiB; %d MiB", mem.RSS>>20, mem.Anon>>20), "the benchmark writes nothing meanwhile")
	}
	if cfg.heap != "" {
		// After the RSS is read: gc=1 collects first, so the profile shows
		// live objects.
		b, err := c.Discovery().RESTClient().Get().AbsPath("/debug/pprof/heap").Param("gc", "1").DoRaw(ctx)
		if err != nil {
			return fmt.Errorf("heap profile: %w", err)
		}
		if err := os.WriteFile(cfg.heap, b, 0o644); err != nil {
			return err
		}
		// The text form ends with the runtime's MemStats: how much of the
		// RSS the Go heap, its free pages and the stacks explain.
		if b, err = c.Discovery().RESTClient().Get().AbsPath("/debug/pprof/heap").Param("debug", "1").DoRaw(ctx); err != nil {
			return fmt.Errorf("heap profile: %w", err)
		}
		if i := strings.Index(string(b), "\n# runtime.MemStats"); i >= 0 {
			b = b[i+1:]
		}
		if err := os.WriteFile(cfg.heap+".memstats", b, 0o644); err != nil {
			return err
		}
		// The goroutines, grouped by stack: what the stacks' share is.
		if b, err = c.Discovery().RESTClient().Get().AbsPath("/debug/pprof/goroutine").Param("debug", "1").DoRaw(ctx); err != nil {
			return fmt.Errorf("goroutine profile: %w", err)
		}
		if err := os.WriteFile(cfg.heap+".goroutines", b, 0o644); err != nil {
			return err
		}
		// The mappings: what of the RSS is the heap, the binary's pages,
		// SQLite's cache (C malloc) and the stacks.
		if b, err = os.ReadFile(fmt.Sprintf("/proc/%d/smaps", srv.PID())); err != nil {
			return err
		}
		if err := os.WriteFile(cfg.heap+".smaps", b, 0o644); err != nil {
			return err
		}
	}

	// The scheduler alone: pods created while it is off (the server
	// restarted with --disable-scheduler), then the server restarted with
	// it on; nothing else writes while it binds them.
	srv.Stop()
	if srv, err = skiffproc.Start(ctx, bin, filepath.Join(dir, "server"), append(extra[:len(extra):len(extra)], "--disable-scheduler")...); err != nil {
		return err
	}
	if c, err = benchClient(srv); err != nil {
		return err
	}
	if err := createPods(ctx, c, "queued", cfg.pods, cfg.conc, ""); err != nil {
		return err
	}
	srv.Stop()
	start = time.Now()
	if srv, err = skiffproc.Start(ctx, bin, filepath.Join(dir, "server"), extra...); err != nil {
		return err
	}
	if c, err = benchClient(srv); err != nil {
		return err
	}
	firstBound := make(chan struct{})
	bound = watchBound(ctx, c, "queued", cfg.pods, firstBound)
	profiled := profile(ctx, c, cfg.cpu, 25)
	bindProfiled := make(chan error, 1)
	cpuAtFirst := make(chan time.Duration, 1)
	go func() {
		select {
		case <-firstBound:
			cpuAtFirst <- serverCPU(srv)
			bindProfiled <- <-profile(ctx, c, cfg.bindCPU, cfg.bindCPUFor)
		case <-ctx.Done():
			cpuAtFirst <- 0
			bindProfiled <- ctx.Err()
		}
	}()
	res = <-bound
	cpuAtLast := serverCPU(srv)
	if err := <-profiled; err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	if res.err == nil {
		if err := <-bindProfiled; err != nil {
			return fmt.Errorf("cpu profile from the first binding: %w", err)
		}
	}
	if res.err != nil {
		return res.err
	}
	aloneRate := float64(cfg.pods) / res.last.Sub(res.first).Seconds()
	aloneCPU := cpuAtLast - <-cpuAtFirst
	scheduledEvents, err := countScheduled(ctx, c, "queued")
	if err != nil {
		return err
	}
	add(fmt.Sprintf("scheduler alone: %d pods pending at start, all bound", cfg.pods), fmt.Sprintf("%.0f pods/s", aloneRate),
		fmt.Sprintf("first to last binding %.1f s (server start → first %.1f s, → last %.1f s); ÷ baseline %.2f; server CPU %s per binding (first to last)",
			res.last.Sub(res.first).Seconds(), res.first.Sub(start).Seconds(), res.last.Sub(start).Seconds(), aloneRate/baseRate, perItem(aloneCPU, cfg.pods)))
	add("scheduler alone: Scheduled Events once the last pod is bound", fmt.Sprintf("%d", scheduledEvents), "the rest are still queued or were dropped")

	if cfg.out != "" {
		var b strings.Builder
		b.WriteString("| figure | value | note |\n| --- | --- | --- |\n")
		for _, r := range rows {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", r.figure, r.value, r.note)
		}
		if err := os.WriteFile(cfg.out, []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// serverCPU is the CPU time the server's process has used so far (0 if
// it cannot be read). Per binding, it is a figure the other load on a
// shared machine changes less than a rate.
func serverCPU(srv *skiffproc.Server) time.Duration {
	t, err := skiffproc.ProcessCPU(srv.PID())
	if err != nil {
		fmt.Fprintln(os.Stderr, "server CPU:", err)
		return 0
	}
	return t
}

// perItem formats cpu divided over n items in milliseconds.
func perItem(cpu time.Duration, n int) string {
	return fmt.Sprintf("%.2f ms", cpu.Seconds()*1000/float64(n))
}

// countScheduled counts the Scheduled Events in namespace ns.
func countScheduled(ctx context.Context, c kubernetes.Interface, ns string) (int, error) {
	list, err := c.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, fmt.Errorf("events: %w", err)
	}
	n := 0
	for _, ev := range list.Items {
		if ev.Reason == "Scheduled" {
			n++
		}
	}
	return n, nil
}

// profile writes a CPU profile of the server's next seconds to file, in
// the background; the channel reports when it is written (at once when
// file is empty).
func profile(ctx context.Context, c kubernetes.Interface, file string, seconds int) <-chan error {
	done := make(chan error, 1)
	if file == "" {
		done <- nil
		return done
	}
	go func() {
		b, err := c.Discovery().RESTClient().Get().AbsPath("/debug/pprof/profile").Param("seconds", strconv.Itoa(seconds)).DoRaw(ctx)
		if err == nil {
			err = os.WriteFile(file, b, 0o644)
		}
		done <- err
	}()
	return done
}

// benchClient is a client of srv without client-side rate limits.
func benchClient(srv *skiffproc.Server) (kubernetes.Interface, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", srv.Kubeconfig)
	if err != nil {
		return nil, err
	}
	rc.QPS, rc.Burst = 100000, 100000
	return kubernetes.NewForConfig(rc)
}

// pureRate times scheduler.Schedule on nodes nodes with running pods
// already placed, over n decisions.
func pureRate(nodes, running, n int) (perSecond, usPerNode float64) {
	ns := make([]*corev1.Node, nodes)
	for i := range ns {
		ns[i] = benchNode(fmt.Sprintf("node-%04d", i))
	}
	snap := scheduler.NewSnapshot(ns, nil)
	for i := 0; i < running; i++ {
		snap.AddPod(benchPod("run", i, fmt.Sprintf("rs-%d", i%50)), ns[i%nodes].Name)
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		p := benchPod("new", i, "rs-new")
		r, err := scheduler.Schedule(snap, p)
		if err != nil {
			panic(err)
		}
		snap.AddPod(p, r.NodeName)
	}
	el := time.Since(start)
	return float64(n) / el.Seconds(), float64(el.Microseconds()) / float64(n) / float64(nodes)
}

func benchNode(name string) *corev1.Node {
	list := corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("64Gi"),
		corev1.ResourcePods: resource.MustParse("110"), corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}},
		Status: corev1.NodeStatus{Capacity: list, Allocatable: list,
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
				LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}},
	}
}

func benchPod(prefix string, i int, owner string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", prefix, i), Namespace: "default", UID: types.UID(fmt.Sprintf("%s-%d", prefix, i)),
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: owner, UID: types.UID(owner), Controller: ptr.To(true)}}},
		Spec: podSpec(""),
	}
}

func podSpec(schedulerName string) corev1.PodSpec {
	return corev1.PodSpec{SchedulerName: schedulerName, Containers: []corev1.Container{{Name: "c", Image: "busybox",
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")}}}}}
}

// createNode registers a Ready node as an agent would, with a Lease long
// enough that node lifecycle leaves it Ready for the whole run.
func createNode(ctx context.Context, c kubernetes.Interface, name string) error {
	n := benchNode(name)
	status := n.Status
	created, err := c.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	created.Status = status
	if _, err := c.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		return err
	}
	now := metav1.NewMicroTime(time.Now())
	_, err = c.CoordinationV1().Leases("kube-node-lease").Create(ctx, &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(name), LeaseDurationSeconds: ptr.To(int32(3600)),
			RenewTime: &now, AcquireTime: &now},
	}, metav1.CreateOptions{})
	return err
}

func createPods(ctx context.Context, c kubernetes.Interface, ns string, n, conc int, schedulerName string) error {
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	return parallel(ctx, conc, n, func(i int) error {
		_, err := c.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p-%05d", i), Labels: map[string]string{"app": ns}},
			Spec:       podSpec(schedulerName),
		}, metav1.CreateOptions{})
		return err
	})
}

func createDeployment(ctx context.Context, c kubernetes.Interface, ns string, replicas int32) error {
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	labels := map[string]string{"app": "fleet"}
	_, err := c.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "fleet"},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: podSpec("")}},
	}, metav1.CreateOptions{})
	return err
}

type boundResult struct {
	first, last time.Time
	err         error
}

// watchBound reports when n pods of namespace ns have a node: the times
// of the first and the last binding seen; first, when not nil, is closed
// at the first. A watch the server ends as
// unavailable (kine drops a watcher that falls behind; clients are to
// watch again) is reopened from the last revision seen.
func watchBound(ctx context.Context, c kubernetes.Interface, ns string, n int, first chan<- struct{}) <-chan boundResult {
	out := make(chan boundResult, 1)
	pods := c.CoreV1().Pods(ns)
	list, err := pods.List(ctx, metav1.ListOptions{})
	if err != nil {
		out <- boundResult{err: err}
		return out
	}
	seen := map[types.UID]bool{}
	var r boundResult
	observe := func(p *corev1.Pod) {
		if p.Spec.NodeName == "" || seen[p.UID] {
			return
		}
		now := time.Now()
		if len(seen) == 0 {
			r.first = now
			if first != nil {
				close(first)
			}
		}
		seen[p.UID] = true
		r.last = now
	}
	for i := range list.Items {
		observe(&list.Items[i])
	}
	rv := list.ResourceVersion
	w, err := pods.Watch(ctx, metav1.ListOptions{FieldSelector: fields.Everything().String(), ResourceVersion: rv})
	if err != nil {
		out <- boundResult{err: err}
		return out
	}
	go func() {
		defer func() { w.Stop() }()
		timeout := time.NewTimer(20 * time.Minute)
		defer timeout.Stop()
		for len(seen) < n {
			select {
			case ev, ok := <-w.ResultChan():
				if !ok {
					out <- boundResult{err: errors.New("watch closed")}
					return
				}
				if ev.Type == watch.Error {
					if st, ok := ev.Object.(*metav1.Status); ok && st.Code == http.StatusServiceUnavailable {
						w.Stop()
						if w, err = pods.Watch(ctx, metav1.ListOptions{FieldSelector: fields.Everything().String(), ResourceVersion: rv}); err != nil {
							out <- boundResult{err: fmt.Errorf("watching again: %w", err)}
							return
						}
						fmt.Fprintf(os.Stderr, "watch of %s ended (%s); watching again from %s\n", ns, st.Message, rv)
						continue
					}
					out <- boundResult{err: fmt.Errorf("watch: %v", ev.Object)}
					return
				}
				p, ok := ev.Object.(*corev1.Pod)
				if !ok {
					continue
				}
				rv = p.ResourceVersion
				observe(p)
			case <-timeout.C:
				out <- boundResult{err: fmt.Errorf("%d of %d pods in %s bound after 20 minutes", len(seen), n, ns)}
				return
			case <-ctx.Done():
				out <- boundResult{err: ctx.Err()}
				return
			}
		}
		out <- r
	}()
	return out
}

// parallel runs f(0..n-1) on conc goroutines and returns the first error.
func parallel(ctx context.Context, conc, n int, f func(i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, conc)
	for g := 0; g < conc; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	var all []string
	for err := range errs {
		all = append(all, err.Error())
	}
	sort.Strings(all)
	if len(all) > 0 {
		return errors.New(all[0])
	}
	return ctx.Err()
}
