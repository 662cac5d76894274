// Command api-writes measures what skiff costs on top of its datastore: API
// write throughput and latency through the real `skiff server` compared with
// the same writes made straight to a fresh embedded kine/SQLite, plus the
// server's memory, startup time and idle disk writes.
//
// It prints figures, never pass/fail. See hack/bench/README.md.
//
//	go run ./hack/bench/api-writes [-n 2000] [-skiff path] [-idle 60s] [-out results.md]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/skiff-io/skiff/hack/bench/internal/skiffproc"
	"k8s.io/client-go/kubernetes"
)

// config is every flag, parsed in one place.
type config struct {
	n          int
	skiff      string
	overlay    string
	idle       time.Duration
	out        string
	rssObjects int
	conc       []int
	cpuprofile string
	profileSec int
	slices     int
	// kubeAPIServer and etcd run the side-by-side column; a missing
	// kube-apiserver binary skips it with a message.
	kubeAPIServer string
	etcd          string
}

func main() {
	var cfg config
	flag.IntVar(&cfg.n, "n", 2000, "ConfigMaps created (then updated once each) per run and concurrency")
	flag.StringVar(&cfg.skiff, "skiff", "", "path to the skiff binary (default: go build the module into a temp dir)")
	flag.StringVar(&cfg.overlay, "overlay", "", "passed to `go build -overlay` when building skiff (for a tree with unfinished packages)")
	flag.DurationVar(&cfg.idle, "idle", 60*time.Second, "idle window over which the server's disk writes are measured")
	flag.StringVar(&cfg.out, "out", "", "also write the results as Markdown to this file")
	flag.IntVar(&cfg.rssObjects, "objects", 10000, "ConfigMaps that exist when the loaded RSS is read (created at concurrency 16)")
	flag.StringVar(&cfg.cpuprofile, "cpuprofile", "", "directory for CPU profiles of the skiff server, one per concurrency (the server runs with --enable-pprof)")
	flag.IntVar(&cfg.profileSec, "cpuprofile-seconds", 2, "how long each -cpuprofile runs, from the first write at its concurrency (2 s fits inside a run at the default -n; raise -n with it)")
	flag.StringVar(&cfg.kubeAPIServer, "kube-apiserver", defaultKubeAPIServer(), "kube-apiserver binary for the side-by-side column (env SKIFF_BENCH_KUBE_APISERVER; built by hack/bench/build-kube-apiserver); skipped when absent")
	flag.StringVar(&cfg.etcd, "etcd", "etcd", "etcd binary kube-apiserver stores in")
	flag.IntVar(&cfg.slices, "slices", 4, "side by side: skiff and kube-apiserver write n ConfigMaps at each concurrency in turns, this many slices of n/slices each, so that both see the same machine")
	flag.Parse()
	cfg.conc = []int{1, 16, 64}
	if cfg.n < 1 || cfg.rssObjects < 1 || cfg.idle <= 0 || cfg.slices < 1 || cfg.slices > cfg.n {
		fmt.Fprintln(os.Stderr, "api-writes: -n and -objects must be at least 1, -idle positive and -slices from 1 to -n")
		os.Exit(2)
	}

	// Interrupting the benchmark still runs every cleanup in run.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := runBench(ctx, cfg)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "api-writes:", err)
		os.Exit(1)
	}
}

func runBench(ctx context.Context, cfg config) (err error) {
	root, err := os.MkdirTemp("", "skiff-bench-")
	if err != nil {
		return err
	}
	defer func() {
		if rmErr := os.RemoveAll(root); rmErr != nil && err == nil {
			err = rmErr
		}
	}()

	res := results{cfg: cfg, cpus: runtime.NumCPU(), goVersion: runtime.Version(), started: time.Now(), loadBefore: loadAvg()}
	bin := cfg.skiff
	if bin == "" {
		logf("building skiff …")
		if bin, err = skiffproc.Build(ctx, root, cfg.overlay); err != nil {
			return err
		}
	}
	if bin, err = filepath.Abs(bin); err != nil {
		return err
	}
	if err := skiffproc.SyncBinary(bin); err != nil {
		return err
	}
	res.binary = bin

	// Server A: startup, idle footprint and idle disk writes, then the
	// memory needed to hold rssObjects ConfigMaps.
	if err := footprint(ctx, bin, filepath.Join(root, "footprint"), cfg, &res.foot); err != nil {
		return fmt.Errorf("footprint: %w", err)
	}

	// Server B and the raw kine: the same write runs, interleaved per
	// concurrency so that both see the same machine load.
	if err := throughput(ctx, bin, root, cfg, &res); err != nil {
		return fmt.Errorf("throughput: %w", err)
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

// throughput runs the write workload against a fresh skiff server and a
// fresh in-process kine, for each concurrency.
func throughput(ctx context.Context, bin, root string, cfg config, res *results) error {
	var extra []string
	if cfg.cpuprofile != "" {
		if err := os.MkdirAll(cfg.cpuprofile, 0o755); err != nil {
			return err
		}
		extra = append(extra, "--enable-pprof")
	}
	srv, err := skiffproc.Start(ctx, bin, filepath.Join(root, "throughput"), extra...)
	if err != nil {
		return err
	}
	defer srv.Stop()
	api, err := newAPIClient(srv.Kubeconfig, "application/json")
	if err != nil {
		return err
	}

	kine, err := skiffproc.StartKine(ctx, filepath.Join(root, "raw-kine"), false)
	if err != nil {
		return err
	}
	defer kine.Stop()
	kineQ, err := skiffproc.StartKine(ctx, filepath.Join(root, "raw-kine-queued"), true)
	if err != nil {
		return err
	}
	defer kineQ.Stop()
	floor, err := startFloor(ctx, filepath.Join(root, "floor"))
	if err != nil {
		return fmt.Errorf("floor server: %w", err)
	}
	defer floor.stop()

	var up *upstream
	if apiserverBin, etcdBin, err := lookUpstream(cfg.kubeAPIServer, cfg.etcd); err != nil {
		res.upstreamSkipped = err.Error()
		logf("side-by-side column skipped: %s", res.upstreamSkipped)
	} else {
		logf("starting etcd and kube-apiserver …")
		if up, err = startUpstream(ctx, apiserverBin, etcdBin, filepath.Join(root, "upstream")); err != nil {
			return fmt.Errorf("kube-apiserver + etcd: %w", err)
		}
		defer up.stop()
		res.upstreamVersion, res.upstreamIdle = up.version, up.idle
	}

	// Warm every side (connections, lazily built field managers, SQLite
	// statement cache) so the first timed request pays no one-off cost.
	logf("warming up …")
	if _, err := skiffWrites(ctx, api, srv, "bench-warmup", 20, 4); err != nil {
		return fmt.Errorf("skiff warm-up: %w", err)
	}
	if _, err := kineWrites(ctx, kine, "bench-warmup", 20, 4); err != nil {
		return fmt.Errorf("kine warm-up: %w", err)
	}
	if _, err := kineWrites(ctx, kineQ, "bench-warmup", 20, 4); err != nil {
		return fmt.Errorf("kine warm-up: %w", err)
	}
	if _, err := floorWrites(ctx, floor, "bench-warmup", 20, 4); err != nil {
		return fmt.Errorf("floor warm-up: %w", err)
	}
	if up != nil {
		if _, err := upstreamWrites(ctx, up, "bench-warmup", 20, 4); err != nil {
			return fmt.Errorf("kube-apiserver warm-up: %w", err)
		}
	}

	for _, c := range cfg.conc {
		ns := fmt.Sprintf("bench-c%d", c)
		logf("skiff: %d creates + %d updates at concurrency %d …", cfg.n, cfg.n, c)
		var profiled <-chan error
		if cfg.cpuprofile != "" {
			profiled = cpuProfile(ctx, api, filepath.Join(cfg.cpuprofile, fmt.Sprintf("skiff-c%d.pprof", c)), cfg.profileSec)
		}
		s, err := skiffWrites(ctx, api, srv, ns, cfg.n, c)
		if profiled != nil {
			if perr := <-profiled; perr != nil && err == nil {
				err = fmt.Errorf("CPU profile: %w", perr)
			}
		}
		if err != nil {
			return fmt.Errorf("skiff, concurrency %d: %w", c, err)
		}
		logf("raw kine: %d creates + %d updates at concurrency %d …", cfg.n, cfg.n, c)
		k, err := kineWrites(ctx, kine, ns, cfg.n, c)
		if err != nil {
			return fmt.Errorf("raw kine, concurrency %d: %w", c, err)
		}
		logf("kine as skiff runs it (group commit, a watch open): %d creates + %d updates at concurrency %d …", cfg.n, cfg.n, c)
		kw, err := kineWritesWatched(ctx, kineQ, ns, cfg.n, c)
		if err != nil {
			return fmt.Errorf("kine as skiff runs it, concurrency %d: %w", c, err)
		}
		logf("floor server: %d creates + %d updates at concurrency %d …", cfg.n, cfg.n, c)
		fl, err := floorWrites(ctx, floor, ns, cfg.n, c)
		if err != nil {
			return fmt.Errorf("floor server, concurrency %d: %w", c, err)
		}
		pair := runPair{conc: c, skiff: s, kine: k, kineAsRun: kw, floor: fl}
		if up != nil {
			if pair.skiffSide, pair.upstream, err = sideBySide(ctx, api, srv, up, ns, cfg.n, c, cfg.slices); err != nil {
				return err
			}
		}
		res.runs = append(res.runs, pair)
	}

	// What each side stored for the same object, to show the values compare.
	if res.skiffValueBytes, err = storedValueSize(ctx, srv.KineEndpoint(), configMapKey("bench-c1", cmName(0))); err != nil {
		return fmt.Errorf("reading skiff's stored value: %w", err)
	}
	if res.kineValueBytes, err = storedValueSize(ctx, kine.Endpoints[0], configMapKey("bench-c1", cmName(0))); err != nil {
		return fmt.Errorf("reading raw kine's stored value: %w", err)
	}

	// client-go sends protobuf by default in some configurations; check
	// that skiff takes it (responses are JSON either way).
	res.protobuf = probeProtobuf(ctx, srv.Kubeconfig)
	return nil
}

// sideBySide runs n creates and updates at concurrency c through skiff and
// through kube-apiserver in turns, a slice of n/slices ConfigMaps each (in
// a namespace of its own), so that a change in the machine's load
// between them does not decide their ratio. Each side's figures add up
// its slices.
func sideBySide(ctx context.Context, api *kubernetes.Clientset, srv *skiffproc.Server, up *upstream, ns string, n, c, slices int) (skiff, kube *run, err error) {
	skiff, kube = &run{}, &run{}
	for i := range slices {
		sns, m := fmt.Sprintf("%s-side-%d", ns, i), n/slices
		if i < n%slices {
			m++
		}
		logf("side by side, skiff: %d creates + %d updates at concurrency %d%s …", m, m, c, sliceNote(i, slices))
		r, err := skiffWrites(ctx, api, srv, sns, m, c)
		if err != nil {
			return nil, nil, fmt.Errorf("skiff, concurrency %d: %w", c, err)
		}
		*skiff = skiff.add(r)
		logf("side by side, kube-apiserver + etcd: %d creates + %d updates at concurrency %d%s …", m, m, c, sliceNote(i, slices))
		if r, err = upstreamWrites(ctx, up, sns, m, c); err != nil {
			return nil, nil, fmt.Errorf("kube-apiserver, concurrency %d: %w", c, err)
		}
		*kube = kube.add(r)
	}
	return skiff, kube, nil
}

// sliceNote names slice i of n in a progress line.
func sliceNote(i, n int) string {
	if n == 1 {
		return ""
	}
	return fmt.Sprintf(", slice %d of %d", i+1, n)
}

// loadAvg is the 1-minute load average: the machine may be shared, and
// other work skews every figure.
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

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
