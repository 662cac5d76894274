// Command gc-collect measures the two controllers that delete objects in
// bulk, each beside the floor of deleting the same keys straight from a
// fresh embedded kine/SQLite (what a deletecollection costs the datastore
// alone):
//
//   - the garbage collector: how long it takes to remove n dependents of one
//     owner deleted in Background;
//   - the namespace controller: how long deleting a namespace holding n
//     ConfigMaps takes until the namespace is gone;
//
// and the server's RSS with the controllers running, idle and after the
// runs.
//
// It prints figures, never pass/fail. See hack/bench/README.md.
//
//	go run ./hack/bench/gc-collect [-n 1000] [-runs 3] [-skiff path] [-baseline path]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/skiff-io/skiff/hack/bench/internal/skiffproc"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// config is every flag, parsed in one place.
type config struct {
	n        int
	runs     int
	skiff    string
	baseline string
	overlay  string
}

func main() {
	var cfg config
	flag.IntVar(&cfg.n, "n", 1000, "dependents of the one owner, and ConfigMaps in the deleted namespace, per run")
	flag.IntVar(&cfg.runs, "runs", 3, "runs of each measurement (the median is shown with the range)")
	flag.StringVar(&cfg.skiff, "skiff", "", "path to the skiff binary (default: go build the module into a temp dir)")
	flag.StringVar(&cfg.baseline, "baseline", "", "optional skiff binary built without controllers, whose idle RSS is shown beside")
	flag.StringVar(&cfg.overlay, "overlay", "", "passed to `go build -overlay` when building skiff")
	flag.Parse()
	if cfg.n < 1 || cfg.runs < 1 {
		fmt.Fprintln(os.Stderr, "gc-collect: -n and -runs must be at least 1")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, cfg)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gc-collect:", err)
		os.Exit(1)
	}
}

func logf(format string, a ...interface{}) { fmt.Fprintf(os.Stderr, format+"\n", a...) }

func run(ctx context.Context, cfg config) (err error) {
	root, err := os.MkdirTemp("", "skiff-gc-bench-")
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
	if err := skiffproc.SyncBinary(bin); err != nil {
		return err
	}

	var baselineIdle skiffproc.Memory
	if cfg.baseline != "" {
		if err := readWhole(cfg.baseline); err != nil {
			return err
		}
		srv, err := skiffproc.Start(ctx, cfg.baseline, filepath.Join(root, "baseline"))
		if err != nil {
			return err
		}
		baselineIdle, err = idleMemory(ctx, srv)
		srv.Stop()
		if err != nil {
			return err
		}
	}

	if err := readWhole(bin); err != nil {
		return err
	}
	srv, err := skiffproc.Start(ctx, bin, filepath.Join(root, "skiff"))
	if err != nil {
		return err
	}
	defer srv.Stop()
	idle, err := idleMemory(ctx, srv)
	if err != nil {
		return err
	}
	api, err := newClient(srv.Kubeconfig)
	if err != nil {
		return err
	}

	var gcTimes, floorTimes []time.Duration
	var nsRuns []nsResult
	var nsFloors []nsFloorResult
	for i := 0; i < cfg.runs; i++ {
		logf("run %d: garbage collector …", i+1)
		d, err := collect(ctx, api, fmt.Sprintf("gc-bench-%d", i), cfg.n)
		if err != nil {
			return err
		}
		gcTimes = append(gcTimes, d)
		logf("run %d: garbage collector's datastore floor …", i+1)
		f, err := floor(ctx, filepath.Join(root, fmt.Sprintf("kine-gc-%d", i)), cfg.n)
		if err != nil {
			return err
		}
		floorTimes = append(floorTimes, f)

		logf("run %d: namespace deletion …", i+1)
		r, err := deleteNamespace(ctx, api, fmt.Sprintf("ns-bench-%d", i), cfg.n)
		if err != nil {
			return err
		}
		nsRuns = append(nsRuns, r)
		logf("run %d: namespace deletion's datastore floor …", i+1)
		nf, err := namespaceFloor(ctx, filepath.Join(root, fmt.Sprintf("kine-ns-%d", i)), cfg.n)
		if err != nil {
			return err
		}
		nsFloors = append(nsFloors, nf)
	}
	after, err := skiffproc.ReadMemory(srv.PID())
	if err != nil {
		return err
	}

	gc, fl := median(gcTimes), median(floorTimes)
	fmt.Printf("# gc-collect: garbage collector and namespace deletion, %d runs\n\n", cfg.runs)
	fmt.Printf("## Garbage collector (%d dependents of one owner, Background)\n\n", cfg.n)
	fmt.Printf("| | median | range |\n| --- | --- | --- |\n")
	fmt.Printf("| skiff GC: owner deleted → last dependent gone | %s | %s |\n", ms(gc), span(gcTimes))
	fmt.Printf("| floor: the same keys deleted from kine/SQLite | %s | %s |\n", ms(fl), span(floorTimes))
	fmt.Printf("| GC ÷ floor | %.2f× | |\n\n", float64(gc)/float64(fl))
	printNamespace(cfg.n, nsRuns, nsFloors)
	fmt.Printf("## Server RSS (MiB, /proc/<pid>/status)\n\n")
	fmt.Printf("| | VmRSS | RssAnon | RssFile |\n| --- | --- | --- | --- |\n")
	row := func(name string, m skiffproc.Memory) {
		fmt.Printf("| %s | %.1f | %.1f | %.1f |\n", name, mib(m.RSS), mib(m.Anon), mib(m.File))
	}
	settle := fmt.Sprintf("%d s after /readyz", idleSettle/time.Second)
	if cfg.baseline != "" {
		row("idle, without controllers (-baseline), "+settle, baselineIdle)
	}
	row("idle, controllers running, "+settle, idle)
	if cfg.baseline != "" {
		fmt.Printf("| controllers add (idle) | %+.1f | %+.1f | %+.1f |\n", mib(idle.RSS-baselineIdle.RSS), mib(idle.Anon-baselineIdle.Anon), mib(idle.File-baselineIdle.File))
	}
	row("after the runs", after)
	return nil
}

// readWhole reads a binary once before it is started, so that both
// binaries start from the same page-cache state: how much of a binary's
// code is resident depends on how its pages entered the cache (a file
// just written by the linker maps differently from one read back).
func readWhole(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(io.Discard, f)
	return err
}

// collect creates n ConfigMaps owned by one ConfigMap in namespace ns,
// deletes the owner in Background and times until the last dependent is
// gone, seen through a watch.
func collect(ctx context.Context, api kubernetes.Interface, ns string, n int) (time.Duration, error) {
	if _, err := api.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return 0, err
	}
	cms := api.CoreV1().ConfigMaps(ns)
	owner, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner"}}, metav1.CreateOptions{})
	if err != nil {
		return 0, err
	}
	ref := metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: owner.UID}
	err = parallel(ctx, n, 16, func(i int) error {
		_, err := cms.Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: depName(i), Labels: map[string]string{"dependent": "yes"}, OwnerReferences: []metav1.OwnerReference{ref}},
			Data:       map[string]string{"payload": payload()},
		}, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return 0, err
	}
	list, err := cms.List(ctx, metav1.ListOptions{LabelSelector: "dependent=yes"})
	if err != nil {
		return 0, err
	}
	// Let the collector see every dependent before the clock starts.
	if err := skiffproc.Pause(ctx, 2*time.Second); err != nil {
		return 0, err
	}
	w, err := cms.Watch(ctx, metav1.ListOptions{LabelSelector: "dependent=yes", ResourceVersion: list.ResourceVersion})
	if err != nil {
		return 0, err
	}
	defer w.Stop()
	start := time.Now()
	if err := cms.Delete(ctx, owner.Name, metav1.DeleteOptions{}); err != nil {
		return 0, err
	}
	left := len(list.Items)
	timeout := time.NewTimer(5 * time.Minute)
	defer timeout.Stop()
	for left > 0 {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return 0, errors.New("watch closed")
			}
			if ev.Type == watch.Deleted {
				left--
			}
		case <-timeout.C:
			return 0, fmt.Errorf("%d dependents still there after 5m", left)
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return time.Since(start), nil
}

// floor puts the same n keys and values into a fresh kine, then deletes
// them one by one with the transaction skiff's storage uses, as a
// deletecollection does.
func floor(ctx context.Context, dir string, n int) (time.Duration, error) {
	db, err := skiffproc.StartKine(ctx, dir, true)
	if err != nil {
		return 0, err
	}
	defer db.Stop()
	c := db.Client
	ownerUID := types.UID(uuid.NewUUID())
	revs := make([]int64, n)
	err = parallel(ctx, n, 16, func(i int) error {
		cm := &corev1.ConfigMap{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: metav1.ObjectMeta{Name: depName(i), Namespace: "gc-bench", UID: types.UID(uuid.NewUUID()),
				CreationTimestamp: metav1.Now(), Labels: map[string]string{"dependent": "yes"},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "owner", UID: ownerUID}}},
			Data: map[string]string{"payload": payload()},
		}
		v, _ := json.Marshal(cm)
		resp, err := c.Put(ctx, key(i), string(v))
		if err != nil {
			return err
		}
		revs[i] = resp.Header.Revision
		return nil
	})
	if err != nil {
		return 0, err
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		if err := deleteAt(ctx, c, key(i), revs[i]); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

// deleteAt deletes key with the transaction skiff's storage uses: only if
// it is still at revision rev.
func deleteAt(ctx context.Context, c *clientv3.Client, key string, rev int64) error {
	resp, err := c.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
		Then(clientv3.OpDelete(key)).
		Else(clientv3.OpGet(key)).
		Commit()
	if err != nil {
		return err
	}
	if !resp.Succeeded {
		return fmt.Errorf("%s changed underneath", key)
	}
	return nil
}

func key(i int) string     { return "/registry/configmaps/gc-bench/" + depName(i) }
func depName(i int) string { return fmt.Sprintf("dep-%05d", i) }

// payload is 1 KiB of data, as in api-writes.
func payload() string { return strings.Repeat("x", 1024) }

// parallel runs f(0..n-1) with conc calls in flight and returns the first
// error.
func parallel(ctx context.Context, n, conc int, f func(i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	errs := make(chan error, conc)
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					errs <- err
					cancel()
					return
				}
			}
		}()
	}
feed:
	for i := 0; i < n; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return ctx.Err()
	}
}

func newClient(kubeconfig string) (*kubernetes.Clientset, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	rc.QPS, rc.Burst = 10000, 10000
	rc.UserAgent = "gc-collect-bench"
	return kubernetes.NewForConfig(rc)
}

// idleSettle is how long the server is left alone after /readyz before
// its idle RSS is read: long enough for the controllers' first sync and for
// the server to hand its start-up heap back to the OS (10 s after start).
const idleSettle = 15 * time.Second

// memory is a process's resident set, split into anonymous memory (heap,
// stacks, SQLite's cache) and file pages (mostly the binary's own text,
// which the kernel can drop and read again).

// idleMemory is the server's memory idleSettle after it became ready.
func idleMemory(ctx context.Context, s *skiffproc.Server) (skiffproc.Memory, error) {
	if err := skiffproc.Pause(ctx, idleSettle); err != nil {
		return skiffproc.Memory{}, err
	}
	return skiffproc.ReadMemory(s.PID())
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration{}, ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func span(ds []time.Duration) string {
	s := append([]time.Duration{}, ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return ms(s[0]) + " – " + ms(s[len(s)-1])
}

func ms(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }
func mib(b int64) float64       { return float64(b) / (1 << 20) }
