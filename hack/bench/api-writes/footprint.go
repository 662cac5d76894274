package main

import (
	"context"
	"fmt"
	"github.com/skiff-io/skiff/hack/bench/internal/skiffproc"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// idleSettle is how long the server is left alone after /readyz before
// its idle RSS is read: long enough for the controllers' first sync and for
// the server to hand its start-up heap back to the OS (10 s after start).
const idleSettle = 15 * time.Second

// ioSample is what the server had written, and the database files' sizes,
// at one moment.
type ioSample struct {
	at         time.Time
	writeBytes int64 // /proc/<pid>/io write_bytes: sent to the block layer
	wchar      int64 // /proc/<pid>/io wchar: all write(2)s, sockets included
	db, wal    int64 // sizes of state.db and state.db-wal
	cpu        time.Duration
}

// footprintResult is section 3 of the report.
type footprintResult struct {
	readyAfter    time.Duration
	idle          skiffproc.Memory
	idleWindow    time.Duration
	ioBefore      ioSample
	ioAfter       ioSample
	watchEvents   int
	watchOpen     bool // the idle watch was still open at the end of the window
	objects       int
	loaded        skiffproc.Memory
	loadedCreates phase
}

// footprint starts a server and measures its startup, idle memory, idle
// disk writes with one watch open, and memory after cfg.rssObjects
// ConfigMaps were created at concurrency 16.
func footprint(ctx context.Context, bin, dir string, cfg config, f *footprintResult) error {
	logf("footprint: starting skiff …")
	srv, err := skiffproc.Start(ctx, bin, dir)
	if err != nil {
		return err
	}
	defer srv.Stop()
	f.readyAfter = srv.ReadyAfter

	if err := skiffproc.Pause(ctx, idleSettle); err != nil {
		return err
	}
	if f.idle, err = skiffproc.ReadMemory(srv.PID()); err != nil {
		return err
	}

	// One idle watch, as an agent holds: its node's pods, with bookmarks.
	api, err := newClient(srv.Kubeconfig, "application/json", 0)
	if err != nil {
		return err
	}
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	w, err := api.CoreV1().Pods("").Watch(wctx, metav1.ListOptions{
		FieldSelector: "spec.nodeName=bench-node", AllowWatchBookmarks: true,
	})
	if err != nil {
		return fmt.Errorf("idle watch: %w", err)
	}
	defer w.Stop()
	type watchEnd struct {
		events int
		closed bool
	}
	ended := make(chan watchEnd, 1)
	stopCounting := make(chan struct{})
	go func() {
		n := 0
		for {
			select {
			case ev, ok := <-w.ResultChan():
				if !ok || ev.Type == watch.Error {
					ended <- watchEnd{events: n, closed: true}
					return
				}
				n++
			case <-stopCounting:
				ended <- watchEnd{events: n}
				return
			}
		}
	}()

	logf("footprint: idle for %v with one watch open …", cfg.idle)
	if f.ioBefore, err = readIO(srv); err != nil {
		close(stopCounting)
		return err
	}
	if err := skiffproc.Pause(ctx, cfg.idle); err != nil {
		close(stopCounting)
		return err
	}
	if f.ioAfter, err = readIO(srv); err != nil {
		close(stopCounting)
		return err
	}
	f.idleWindow = f.ioAfter.at.Sub(f.ioBefore.at)
	close(stopCounting)
	end := <-ended
	f.watchEvents, f.watchOpen = end.events, !end.closed
	w.Stop()
	wcancel()

	logf("footprint: creating %d ConfigMaps at concurrency 16 …", cfg.rssObjects)
	ns := "bench-rss"
	if _, err := api.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("namespace %s: %w", ns, err)
	}
	cms := api.CoreV1().ConfigMaps(ns)
	f.loadedCreates, err = runPhase(ctx, cfg.rssObjects, 16, func(ctx context.Context, i int) error {
		_, err := cms.Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: cmName(i)},
			Data:       map[string]string{"payload": payload()},
		}, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("creating %d ConfigMaps: %w", cfg.rssObjects, err)
	}
	f.objects = cfg.rssObjects
	f.loaded, err = skiffproc.ReadMemory(srv.PID())
	return err
}

// readIO reads /proc/<pid>/io and the database files' sizes.
func readIO(srv *skiffproc.Server) (ioSample, error) {
	s := ioSample{at: time.Now()}
	fields, err := skiffproc.ProcFields(srv.PID(), "io")
	if err != nil {
		return s, err
	}
	if s.writeBytes, err = strconv.ParseInt(strings.TrimSpace(fields["write_bytes"]), 10, 64); err != nil {
		return s, fmt.Errorf("write_bytes: %w", err)
	}
	if s.wchar, err = strconv.ParseInt(strings.TrimSpace(fields["wchar"]), 10, 64); err != nil {
		return s, fmt.Errorf("wchar: %w", err)
	}
	if s.cpu, err = processCPU(srv.PID()); err != nil {
		return s, err
	}
	s.db = fileSize(filepath.Join(srv.DBDir(), "state.db"))
	s.wal = fileSize(filepath.Join(srv.DBDir(), "state.db-wal"))
	return s, nil
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// processCPU is a process's user+system CPU time from /proc/<pid>/stat.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces; the fields follow its ')'.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parsing /proc/%d/stat", pid)
	}
	// USER_HZ is 100 on every Linux architecture Go supports.
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}
