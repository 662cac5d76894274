package groupcommit

import (
	"context"
	"errors"
	"sync"

	"github.com/k3s-io/kine/pkg/logstructured/sqllog"
	"github.com/k3s-io/kine/pkg/server"
)

// Watch streams every event after revision, as kine does: first what the
// table holds after it, then each batch as it commits.
func (b *Backend) Watch(ctx context.Context, revision int64) server.WatchResult {
	ctx, cancel := context.WithCancel(ctx)
	// Subscribe before reading the table, so that nothing committed in
	// between is missed; what both deliver is dropped below.
	live := b.events.subscribe(ctx)

	result := make(chan server.EventBatch, 100)
	errc := make(chan error, 1)
	wr := server.WatchResult{Eventc: result, Errorc: errc}

	// kine includes the start revision itself.
	if revision > 1 {
		revision--
	}
	var (
		first server.EventBatch
		err   error
	)
	if revision == 0 {
		wr.CurrentRevision = b.currentRev.Load()
		first.CurrentRev = wr.CurrentRevision
	} else {
		first, err = b.after(ctx, revision)
		wr.CurrentRevision = first.CurrentRev
	}
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			if errors.Is(err, server.ErrCompacted) {
				wr.CompactRevision, _ = b.d.GetCompactRevision(ctx)
			} else {
				errc <- err
			}
		}
		cancel()
	}
	result <- first

	rev := wr.CurrentRevision
	go func() {
		defer cancel()
		defer close(result)
		for batch := range live {
			select {
			case result <- batch.After(rev):
			case <-ctx.Done():
				return
			}
		}
	}()
	return wr
}

// after reads the rows after revision, with kine's checks and its rule
// that a previous value older than the compact revision is not sent.
func (b *Backend) after(ctx context.Context, revision int64) (server.EventBatch, error) {
	rows, err := b.d.After(ctx, "", "", revision, 0)
	if err != nil {
		return server.EventBatch{}, err
	}
	batch, compact, err := sqllog.RowsToEvents(rows, true, true)
	if err != nil {
		return batch, err
	}
	switch {
	case batch.CurrentRev == 0:
		return batch, server.ErrGRPCUnhealthy
	case revision > 0 && revision < compact:
		return batch, server.ErrCompacted
	case revision > batch.CurrentRev:
		return batch, server.ErrFutureRev
	}
	for _, e := range batch.Events {
		if e.PrevKV != nil && e.PrevKV.ModRevision < compact {
			e.PrevKV = nil
		}
	}
	return batch, nil
}

// fanout hands each committed batch to every watcher. A watcher whose
// buffer is full is dropped (its channel closed, so its watch ends and
// the client starts again) rather than allowed to hold up the writer.
type fanout struct {
	mu     sync.Mutex
	subs   map[chan server.EventBatch]struct{}
	closed bool
}

func (f *fanout) subscribe(ctx context.Context) <-chan server.EventBatch {
	c := make(chan server.EventBatch, 100)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		close(c)
		return c
	}
	if f.subs == nil {
		f.subs = map[chan server.EventBatch]struct{}{}
	}
	f.subs[c] = struct{}{}
	// No goroutine waits for the end of each watch (an idle server holds
	// some 30): the drop runs once ctx is done.
	context.AfterFunc(ctx, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.drop(c)
	})
	return c
}

// drop removes c; f.mu is held.
func (f *fanout) drop(c chan server.EventBatch) {
	if _, ok := f.subs[c]; ok {
		delete(f.subs, c)
		close(c)
	}
}

func (f *fanout) publish(batch server.EventBatch) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.subs {
		select {
		case c <- batch:
		default:
			f.drop(c)
		}
	}
}

// close ends every watch; later subscribers get a closed channel.
func (f *fanout) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.subs {
		f.drop(c)
	}
	f.closed = true
}
