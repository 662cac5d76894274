package storage

import (
	"context"
	"fmt"

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
func (s *Store) Watch(ctx context.Context, prefix string, rev int64) <-chan Event {
	out := make(chan Event, 16)
	opts := []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithPrevKV(), clientv3.WithProgressNotify()}
	if rev > 0 {
		opts = append(opts, clientv3.WithRev(rev+1))
	}
	// RequireLeader makes a watch on a partitioned etcd member fail instead of
	// going silent.
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	wch := s.c.Watch(wctx, prefix, opts...)
	go func() {
		defer close(out)
		defer cancel()
		send := func(e Event) bool {
			select {
			case out <- e:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for resp := range wch {
			if resp.CompactRevision != 0 {
				send(Event{Err: fmt.Errorf("%w: revision %d compacted (oldest is %d)", errdefs.ErrGone, rev, resp.CompactRevision)})
				return
			}
			if err := resp.Err(); err != nil {
				send(Event{Err: classify(err)})
				return
			}
			if resp.IsProgressNotify() {
				if !send(Event{Type: Progress, Revision: resp.Header.Revision}) {
					return
				}
				continue
			}
			for _, ev := range resp.Events {
				e := Event{KV: toKV(ev.Kv), Prev: toKV(ev.PrevKv), Revision: ev.Kv.ModRevision}
				if ev.Type == clientv3.EventTypeDelete {
					e.Type = Deleted
				}
				if !send(e) {
					return
				}
			}
		}
		if ctx.Err() == nil {
			send(Event{Err: fmt.Errorf("%w: watch closed by datastore", errdefs.ErrUnavailable)})
		}
	}()
	return out
}

// RequestProgress asks the datastore to send a progress event on every
// open watch of this client.
func (s *Store) RequestProgress(ctx context.Context) error {
	return s.c.RequestProgress(ctx)
}
