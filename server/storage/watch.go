package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/skiff-io/skiff/server/errdefs"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// EventType is what happened to a key.
type EventType int

// Event types. Progress carries no key: every change up to Revision has
// been delivered (it becomes a watch bookmark).
const (
	Put EventType = iota
	Deleted
	Progress
)

// Event is one change seen by a watch.
type Event struct {
	Type     EventType
	KV       KV // for Deleted, Value is empty and ModRevision is the deletion's
	Prev     KV // the value before the change, if any
	Revision int64
	// Err ends the stream: errdefs.ErrGone when the start revision has been
	// compacted, or a datastore failure.
	Err error
}

// Watch streams changes under prefix after revision rev (0: from now). The
// channel is closed when ctx ends or after an Err event.
//
// A datastore may end a watch that falls behind without an error (kine's
// group-commit backend drops a watcher whose buffer is full rather than
// hold up its writers). Watch then opens it again after the last revision
// it delivered, so its reader sees no gap and no error, as a client of
// kube-apiserver's watch cache does not see the cache's own watch of etcd
// start again; only after reopenAttempts in a row that deliver nothing
// does it report the datastore unavailable.
func (s *Store) Watch(ctx context.Context, prefix string, rev int64) <-chan Event {
	out := make(chan Event, 16)
	go func() {
		defer close(out)
		send := func(e Event) bool {
			select {
			case out <- e:
				return true
			case <-ctx.Done():
				return false
			}
		}
		last := rev // every change up to last has been delivered (0: none yet, from now)
		for attempt := 0; ; attempt++ {
			delivered, ok := s.watchOnce(ctx, prefix, &last, send)
			if !ok || ctx.Err() != nil {
				return
			}
			if delivered {
				attempt = 0
			}
			if attempt >= reopenAttempts {
				send(Event{Err: fmt.Errorf("%w: watch closed by datastore", errdefs.ErrUnavailable)})
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
			}
		}
	}()
	return out
}

// reopenAttempts is how many times in a row Watch opens a watch the
// datastore ended without delivering anything before it gives up.
const reopenAttempts = 5

// watchOnce runs one datastore watch from after *last, sending its events
// and advancing *last. It returns whether it delivered anything, and
// false for ok when the stream has ended (an error was sent, or ctx
// ended); ok is true when the datastore closed the watch by itself.
func (s *Store) watchOnce(ctx context.Context, prefix string, last *int64, send func(Event) bool) (delivered, ok bool) {
	opts := []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithPrevKV(), clientv3.WithProgressNotify(), clientv3.WithCreatedNotify()}
	if *last > 0 {
		opts = append(opts, clientv3.WithRev(*last+1))
	}
	// RequireLeader makes a watch on a partitioned etcd member fail instead of
	// going silent.
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for resp := range s.c.Watch(wctx, prefix, opts...) {
		if resp.CompactRevision != 0 {
			send(Event{Err: fmt.Errorf("%w: revision %d compacted (oldest is %d)", errdefs.ErrGone, *last, resp.CompactRevision)})
			return delivered, false
		}
		if err := resp.Err(); err != nil {
			send(Event{Err: classify(err)})
			return delivered, false
		}
		if resp.Created {
			// A watch from now starts at the store's revision then: a
			// watch opened again must not miss what came after it.
			if *last == 0 {
				*last = resp.Header.Revision
			}
			continue
		}
		if resp.IsProgressNotify() {
			if !send(Event{Type: Progress, Revision: resp.Header.Revision}) {
				return delivered, false
			}
			*last, delivered = max(*last, resp.Header.Revision), true
			continue
		}
		for _, ev := range resp.Events {
			e := Event{KV: toKV(ev.Kv), Prev: toKV(ev.PrevKv), Revision: ev.Kv.ModRevision}
			if ev.Type == clientv3.EventTypeDelete {
				e.Type = Deleted
			}
			if !send(e) {
				return delivered, false
			}
			*last, delivered = ev.Kv.ModRevision, true
		}
	}
	return delivered, ctx.Err() == nil
}

// RequestProgress asks the datastore to send a progress event on every
// open watch of this client.
func (s *Store) RequestProgress(ctx context.Context) error {
	return s.c.RequestProgress(ctx)
}
