package storage_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	kineconfig "github.com/skiff-io/skiff/kine-config"
	"github.com/skiff-io/skiff/server/errdefs"
	"github.com/skiff-io/skiff/server/storage"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// newStore starts a real embedded kine on a SQLite file in t.TempDir()
// and connects to it as the server does: in process.
func newStore(t testing.TB) *storage.Store {
	t.Helper()
	return newStoreWith(t, kineconfig.Config{})
}

func newStoreWith(t testing.TB, cfg kineconfig.Config) *storage.Store {
	t.Helper()
	return newStoreVia(t, cfg, true)
}

// newStoreVia is newStore with everything through kine's socket when
// inProcess is false, as for a remote datastore.
func newStoreVia(t testing.TB, cfg kineconfig.Config, inProcess bool) *storage.Store {
	t.Helper()
	cfg.DataDir = t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	b, err := kineconfig.Start(ctx, &wg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: b.Endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		cancel()
		wg.Wait()
	})
	if inProcess {
		b.UseInProcess(c)
	}
	return storage.New(c)
}

func TestCreateGetUpdateDelete(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	const key = "/registry/configmaps/default/a"

	rev1, err := s.Create(ctx, key, []byte("v1"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, key, []byte("again"), 0); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Fatalf("second create: %v, want ErrAlreadyExists", err)
	}
	kv, _, err := s.Get(ctx, key)
	if err != nil || string(kv.Value) != "v1" || kv.ModRevision != rev1 {
		t.Fatalf("get: %+v %v", kv, err)
	}
	rev2, _, err := s.Update(ctx, key, []byte("v2"), rev1, 0)
	if err != nil || rev2 <= rev1 {
		t.Fatalf("update: %d %v", rev2, err)
	}
	// A stale revision conflicts and returns what is current.
	_, cur, err := s.Update(ctx, key, []byte("stale"), rev1, 0)
	if !errors.Is(err, errdefs.ErrConflict) || string(cur.Value) != "v2" {
		t.Fatalf("stale update: %v %+v", err, cur)
	}
	if _, _, err := s.Delete(ctx, key, rev1); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("stale delete: %v", err)
	}
	if _, _, err := s.Delete(ctx, key, rev2); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get(ctx, key); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
	if _, _, err := s.Update(ctx, key, []byte("x"), rev2, 0); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("update of deleted key: %v, want ErrNotFound", err)
	}
}

func TestListPagesAtOneRevision(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	for i := 0; i < 25; i++ {
		if _, err := s.Create(ctx, fmt.Sprintf("/registry/pods/ns/p%02d", i), []byte("x"), 0); err != nil {
			t.Fatal(err)
		}
	}
	// A key just outside the prefix must not show up.
	if _, err := s.Create(ctx, "/registry/pods/ns2/p", []byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	first, err := s.List(ctx, "/registry/pods/ns/", "/registry/pods/ns0", 10, 0)
	if err != nil || len(first.KVs) != 10 || !first.More {
		t.Fatalf("first page: %d more=%v err=%v", len(first.KVs), first.More, err)
	}
	// Changes after the first page do not leak into later pages.
	if _, err := s.Create(ctx, "/registry/pods/ns/p99", []byte("late"), 0); err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, kv := range first.KVs {
		all = append(all, kv.Key)
	}
	next := first.KVs[9].Key + "\x00"
	for {
		page, err := s.List(ctx, next, "/registry/pods/ns0", 10, first.Revision)
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range page.KVs {
			all = append(all, kv.Key)
		}
		if !page.More {
			break
		}
		next = page.KVs[len(page.KVs)-1].Key + "\x00"
	}
	if len(all) != 25 {
		t.Fatalf("paged list saw %d keys, want 25: %v", len(all), all)
	}
}

// compactingBothWays runs test on a store that compacts by explicit
// request only and keeps no spare revisions, so the test controls what is
// compacted: once reached in process, as the server reaches embedded kine,
// and once through kine's socket, as a remote datastore.
func compactingBothWays(t *testing.T, test func(t *testing.T, s *storage.Store)) {
	for _, inProcess := range []bool{true, false} {
		t.Run(fmt.Sprintf("inProcess=%v", inProcess), func(t *testing.T) {
			test(t, newStoreVia(t, kineconfig.Config{CompactInterval: -1, CompactMinRetain: 1}, inProcess))
		})
	}
}

func TestWatchAndCompaction(t *testing.T) { compactingBothWays(t, testWatchAndCompaction) }

func testWatchAndCompaction(t *testing.T, s *storage.Store) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start, err := s.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	events := s.Watch(ctx, "/registry/secrets/", start)
	rev, _ := s.Create(ctx, "/registry/secrets/a/x", []byte("1"), 0)
	rev2, _, _ := s.Update(ctx, "/registry/secrets/a/x", []byte("2"), rev, 0)
	if _, _, err := s.Delete(ctx, "/registry/secrets/a/x", rev2); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 3 {
		select {
		case ev := <-events:
			switch ev.Type {
			case storage.Put:
				got = append(got, "put "+string(ev.KV.Value)+" prev="+string(ev.Prev.Value))
			case storage.Deleted:
				got = append(got, "delete prev="+string(ev.Prev.Value))
			}
			if ev.Err != nil {
				t.Fatal(ev.Err)
			}
		case <-ctx.Done():
			t.Fatalf("watch saw only %q", got)
		}
	}
	want := []string{"put 1 prev=", "put 2 prev=1", "delete prev=2"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("watch events %q, want %q", got, want)
	}

	// After compaction, watching from an old revision fails with ErrGone.
	cur, _ := s.Revision(ctx)
	if _, err := s.Client().Compact(ctx, cur); err != nil {
		t.Fatal(err)
	}
	for ev := range s.Watch(ctx, "/registry/secrets/", start) {
		if ev.Err != nil {
			if !errors.Is(ev.Err, errdefs.ErrGone) {
				t.Fatalf("watch from compacted revision: %v, want ErrGone", ev.Err)
			}
			return
		}
	}
	t.Fatal("watch from a compacted revision ended without ErrGone")
}

// TestCompactedReadsAreGone checks that a read at a compacted revision is
// ErrGone (the API's 410) both in process and through the socket: the
// in-process client gets kine's errors without gRPC's status decoding.
func TestCompactedReadsAreGone(t *testing.T) {
	compactingBothWays(t, func(t *testing.T, s *storage.Store) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		start, err := s.Revision(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rev, err := s.Create(ctx, "/registry/configmaps/a/x", []byte("1"), 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Create(ctx, "/registry/configmaps/a/x", []byte("1"), 0); !errors.Is(err, errdefs.ErrAlreadyExists) {
			t.Fatalf("second create: %v, want ErrAlreadyExists", err)
		}
		if _, _, err := s.Update(ctx, "/registry/configmaps/a/x", []byte("2"), rev-1, 0); !errors.Is(err, errdefs.ErrConflict) {
			t.Fatalf("stale update: %v, want ErrConflict", err)
		}
		rev2, _, err := s.Update(ctx, "/registry/configmaps/a/x", []byte("2"), rev, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Client().Compact(ctx, rev2); err != nil {
			t.Fatal(err)
		}
		if _, err := s.List(ctx, "/registry/configmaps/", "/registry/configmaps0", 0, start); !errors.Is(err, errdefs.ErrGone) {
			t.Fatalf("list at compacted revision %d: %v, want ErrGone", start, err)
		}
		kv, _, err := s.Get(ctx, "/registry/configmaps/a/x")
		if err != nil || string(kv.Value) != "2" || kv.ModRevision != rev2 {
			t.Fatalf("get after compaction: %+v %v", kv, err)
		}
	})
}

// A datastore may end a watch by itself (the group-commit backend drops a
// watcher that falls a buffer behind): Watch opens it again after the
// last revision it delivered, so the reader gets every change, in order,
// without an error. From now (rev 0) too: the revision the watch started
// at is where it resumes. The datastore is real kine; the client drops
// each of its watches after a few responses.
func TestWatchResumesAfterTheDatastoreEndsIt(t *testing.T) {
	for _, from := range []string{"revision", "now"} {
		t.Run(from, func(t *testing.T) {
			s := newStore(t)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			start := int64(0)
			if from == "revision" {
				s.Create(ctx, "/registry/configmaps/a/before", []byte("x"), 0)
				start, _ = s.Revision(ctx)
			}
			dropper := &droppingWatcher{Watcher: s.Client().Watcher, after: 7}
			s.Client().Watcher = dropper
			events := s.Watch(ctx, "/registry/configmaps/", start)
			// Only after the watch is open: events from now are those after it.
			time.Sleep(200 * time.Millisecond)
			const n = 100
			for i := 0; i < n; i++ {
				if _, err := s.Create(ctx, fmt.Sprintf("/registry/configmaps/a/k%04d", i), []byte("v"), 0); err != nil {
					t.Fatal(err)
				}
			}
			var prev int64
			for i := 0; i < n; {
				select {
				case ev := <-events:
					if ev.Err != nil {
						t.Fatalf("after %d events: %v", i, ev.Err)
					}
					if ev.Type == storage.Progress {
						continue
					}
					if want := fmt.Sprintf("/registry/configmaps/a/k%04d", i); ev.KV.Key != want || ev.Revision <= prev {
						t.Fatalf("event %d: %s at %d (previous %d), want %s", i, ev.KV.Key, ev.Revision, prev, want)
					}
					prev = ev.Revision
					i++
				case <-ctx.Done():
					t.Fatal("the watch stopped delivering")
				}
			}
			if d := dropper.dropped.Load(); d < 2 {
				t.Fatalf("the datastore ended the watch %d times: the test did not test", d)
			}
		})
	}
	// A datastore that ends every watch at once: after a few attempts the
	// reader is told it is unavailable.
	s := newStore(t)
	s.Client().Watcher = &droppingWatcher{Watcher: s.Client().Watcher, after: -1}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for ev := range s.Watch(ctx, "/registry/configmaps/", 0) {
		if ev.Err != nil {
			if !errors.Is(ev.Err, errdefs.ErrUnavailable) {
				t.Fatalf("a datastore that ends every watch: %v, want ErrUnavailable", ev.Err)
			}
			return
		}
	}
	t.Fatal("the watch ended without an error")
}

// droppingWatcher ends each watch after `after` responses that carry
// events (the created notice passes; -1: at once), as a datastore that
// drops a watcher does: the channel closes without an error.
type droppingWatcher struct {
	clientv3.Watcher
	after   int
	dropped atomic.Int64
}

func (w *droppingWatcher) Watch(ctx context.Context, key string, opts ...clientv3.OpOption) clientv3.WatchChan {
	wctx, cancel := context.WithCancel(ctx)
	in := w.Watcher.Watch(wctx, key, opts...)
	out := make(chan clientv3.WatchResponse)
	go func() {
		defer close(out)
		defer cancel()
		if w.after < 0 {
			w.dropped.Add(1)
			return
		}
		n := 0
		for resp := range in {
			if len(resp.Events) > 0 || resp.IsProgressNotify() {
				if n == w.after {
					w.dropped.Add(1)
					return
				}
				n++
			}
			select {
			case out <- resp:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}
