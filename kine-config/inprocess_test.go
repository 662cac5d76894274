package kineconfig

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc/metadata"
)

// startInProcess starts kine on SQLite in a temp dir and a client that
// calls it in process.
func startInProcess(t *testing.T) *clientv3.Client {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	b, err := Start(ctx, &wg, Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: b.Endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	b.UseInProcess(c)
	t.Cleanup(func() {
		c.Close()
		cancel()
		wg.Wait()
	})
	return c
}

func TestInProcessWatch(t *testing.T) {
	c := startInProcess(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	wctx, wcancel := context.WithCancel(ctx)
	wch := c.Watch(wctx, "/registry/", clientv3.WithPrefix(), clientv3.WithPrevKV(), clientv3.WithProgressNotify())
	for i := range 3 {
		if _, err := c.Put(ctx, "/registry/configmaps/a/x", fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Put(ctx, "/elsewhere", "not watched"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 3 {
		resp, ok := <-wch
		if !ok || resp.Err() != nil {
			t.Fatalf("watch ended after %q: %v", got, resp.Err())
		}
		for _, ev := range resp.Events {
			prev := ""
			if ev.PrevKv != nil {
				prev = string(ev.PrevKv.Value)
			}
			got = append(got, string(ev.Kv.Key)+"="+string(ev.Kv.Value)+" prev="+prev)
		}
	}
	want := "[/registry/configmaps/a/x=0 prev= /registry/configmaps/a/x=1 prev=0 /registry/configmaps/a/x=2 prev=1]"
	if fmt.Sprint(got) != want {
		t.Fatalf("events %q, want %s", got, want)
	}

	// A progress request is answered on the open stream. kine answers only
	// once every watch on the stream has caught up with the current
	// revision (the last write was to an unwatched key), so ask again
	// until it has.
	for progressed := false; !progressed; {
		if err := c.RequestProgress(wctx); err != nil {
			t.Fatal(err)
		}
		select {
		case resp := <-wch:
			if !resp.IsProgressNotify() {
				t.Fatalf("after a progress request got %+v, want a progress notification", resp)
			}
			progressed = true
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal("no progress notification")
		}
	}

	// Ending the watch's context closes its channel.
	wcancel()
	select {
	case _, ok := <-wch:
		for ok {
			_, ok = <-wch
		}
	case <-ctx.Done():
		t.Fatal("watch channel not closed after its context ended")
	}
}

// TestInProcessWatchStreamsEnd checks that ended watches leave no
// goroutines behind: over gRPC the server's handler and everything it
// started on the stream's context stop when the stream ends, and so must
// they here.
func TestInProcessWatchStreamsEnd(t *testing.T) {
	c := startInProcess(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// One watch first, so the client's lazily started parts are counted.
	warm, stop := context.WithCancel(ctx)
	<-c.Watch(warm, "/warm", clientv3.WithCreatedNotify())
	stop()
	time.Sleep(100 * time.Millisecond)
	before := runtime.NumGoroutine()

	for i := range 20 {
		// Different metadata gives each watch its own stream.
		wctx, wcancel := context.WithCancel(metadata.AppendToOutgoingContext(ctx, "watch", fmt.Sprint(i)))
		w := c.Watch(wctx, fmt.Sprintf("/k/%d", i), clientv3.WithCreatedNotify())
		if resp := <-w; !resp.Created {
			t.Fatalf("watch %d: %+v", i, resp)
		}
		wcancel()
		for range w {
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= before+2 {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before the watches, %d after they ended:\n%s", before, n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestInProcessWatchRequestsNeverBlock opens, cancels and asks progress of
// watches on one stream while events stream to it. The etcd client's
// stream loop both sends requests and hands received events on, and kine's
// handler holds a lock while it sends; if a request could wait for the
// handler, the two would wait for each other forever (over gRPC, flow
// control buffers let a request through).
func TestInProcessWatchRequestsNeverBlock(t *testing.T) {
	c := startInProcess(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	stop := make(chan struct{})
	var writers sync.WaitGroup
	writers.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := c.Put(ctx, fmt.Sprintf("/registry/configmaps/a/%d", i%50), fmt.Sprint(i)); err != nil {
				t.Error(err)
				return
			}
		}
	})
	defer func() {
		close(stop)
		writers.Wait()
	}()

	all := c.Watch(ctx, "/registry/", clientv3.WithPrefix(), clientv3.WithPrevKV())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 3000 {
			wctx, wcancel := context.WithCancel(ctx)
			w := c.Watch(wctx, fmt.Sprintf("/registry/configmaps/a/%d", i%50), clientv3.WithCreatedNotify())
			<-w
			_ = c.RequestProgress(ctx)
			wcancel()
			for range w {
			}
		}
	}()
	for {
		select {
		case <-done:
			return
		case resp, ok := <-all:
			if !ok {
				t.Fatal("watch closed")
			}
			if err := resp.Err(); err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no watch event and no progress for 10s: the stream is stuck")
		}
	}
}
