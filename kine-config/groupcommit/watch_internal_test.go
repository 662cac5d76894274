package groupcommit

import (
	"context"
	"testing"

	"github.com/k3s-io/kine/pkg/server"
)

func batchOf(rev int64, n int) server.EventBatch {
	b := server.EventBatch{CurrentRev: rev}
	for range n {
		b.Events = append(b.Events, &server.Event{KV: &server.KeyValue{ModRevision: rev}})
	}
	return b
}

// TestFanoutQueues: a watcher that does not read keeps every batch, however
// many, up to maxQueuedEvents events; one more batch drops it, and it then
// gets what was queued and the end of its watch. The writer never waits.
func TestFanoutQueues(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var f fanout
	slow, other := f.subscribe(ctx), f.subscribe(ctx)

	// Many small batches, far more than a channel's buffer held before.
	for rev := int64(1); rev <= maxQueuedEvents; rev++ {
		f.publish(batchOf(rev, 1))
	}
	got, ok := slow.next(ctx)
	if !ok || len(got) != maxQueuedEvents || got[0].CurrentRev != 1 || got[len(got)-1].CurrentRev != maxQueuedEvents {
		t.Fatalf("after %d one-event batches: %d batches, ok=%v", maxQueuedEvents, len(got), ok)
	}

	// other has read nothing: one more event is one too many.
	f.publish(batchOf(maxQueuedEvents+1, 1))
	got, ok = other.next(ctx)
	if ok || len(got) != maxQueuedEvents {
		t.Fatalf("full watcher: %d batches, ok=%v; want the %d queued and its end", len(got), ok, maxQueuedEvents)
	}
	if _, ok := other.next(ctx); ok {
		t.Fatal("a dropped watcher's queue reopened")
	}
	// slow had emptied its queue and stays.
	got, ok = slow.next(ctx)
	if !ok || len(got) != 1 || got[0].CurrentRev != maxQueuedEvents+1 {
		t.Fatalf("reading watcher: %d batches, ok=%v", len(got), ok)
	}
	f.mu.Lock()
	n := len(f.subs)
	f.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d subscribers after one was dropped, want 1", n)
	}
}

// TestFanoutEnds: a watcher's queue ends when its context does, and every
// queue when the fan-out closes (later subscribers find it closed).
func TestFanoutEnds(t *testing.T) {
	var f fanout
	ctx, cancel := context.WithCancel(context.Background())
	a := f.subscribe(ctx)
	b := f.subscribe(context.Background())
	cancel()
	if _, ok := a.next(context.Background()); ok {
		t.Fatal("queue open after its context ended")
	}
	f.publish(batchOf(1, 2))
	f.close()
	got, ok := b.next(context.Background())
	if ok || len(got) != 1 {
		t.Fatalf("after close: %d batches, ok=%v; want the queued one and the end", len(got), ok)
	}
	if _, ok := f.subscribe(context.Background()).next(context.Background()); ok {
		t.Fatal("subscriber after close is open")
	}
}
