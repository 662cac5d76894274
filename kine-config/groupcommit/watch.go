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
		for {
			batches, ok := live.next(ctx)
			for _, batch := range batches {
				select {
				case result <- batch.After(rev):
				case <-ctx.Done():
					return
				}
			}
			if !ok {
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

// fanout hands each committed batch to every watcher. Each watcher has a
// queue of its own that grows while it reads slower than batches commit,
// up to maxQueuedEvents; past that it is dropped (its watch ends, and the
// API reopens it from its last revision, which reads every row after that
// revision from the table) rather than allowed to hold up the writer or
// keep an unbounded backlog alive. Queues hold no room while empty.
type fanout struct {
	mu     sync.Mutex
	subs   map[*subscriber]struct{}
	closed bool
}

// maxQueuedEvents is how far a watcher may fall behind before it is
// dropped. The events are shared by all watchers; what a lagging watcher
// keeps alive is at most this many (~15 MB of 1.5 KiB objects). Bursts
// of small batches (a Deployment's pods created, bound and started) fell
// through a bound of 100 batches, and each reopening cost a scan of the
// table.
const maxQueuedEvents = 10000

// subscriber is one watcher's queue.
type subscriber struct {
	mu      sync.Mutex
	batches []server.EventBatch
	events  int
	closed  bool
	// wake holds a token while batches or the close are waiting.
	wake chan struct{}
}

func (f *fanout) subscribe(ctx context.Context) *subscriber {
	s := &subscriber{wake: make(chan struct{}, 1)}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		s.close()
		return s
	}
	if f.subs == nil {
		f.subs = map[*subscriber]struct{}{}
	}
	f.subs[s] = struct{}{}
	// No goroutine waits for the end of each watch (an idle server holds
	// some 30): the drop runs once ctx is done.
	context.AfterFunc(ctx, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.drop(s)
	})
	return s
}

// drop removes s and closes it; f.mu is held.
func (f *fanout) drop(s *subscriber) {
	if _, ok := f.subs[s]; ok {
		delete(f.subs, s)
		s.close()
	}
}

func (f *fanout) publish(batch server.EventBatch) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for s := range f.subs {
		if !s.push(batch) {
			f.drop(s)
		}
	}
}

// close ends every watch; later subscribers get a closed queue.
func (f *fanout) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for s := range f.subs {
		f.drop(s)
	}
	f.closed = true
}

// push queues batch; false means the queue is full and s must be dropped.
func (s *subscriber) push(batch server.EventBatch) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.events+len(batch.Events) > maxQueuedEvents {
		return false
	}
	s.batches = append(s.batches, batch)
	s.events += len(batch.Events)
	s.notify()
	return true
}

// close marks s closed: next returns what is queued, then false.
func (s *subscriber) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.notify()
}

func (s *subscriber) notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// next waits for queued batches and takes them all. ok is false once s
// is closed (the batches returned with it are the last) or ctx is done.
func (s *subscriber) next(ctx context.Context) (batches []server.EventBatch, ok bool) {
	for {
		s.mu.Lock()
		batches, closed := s.batches, s.closed
		s.batches, s.events = nil, 0
		s.mu.Unlock()
		if len(batches) > 0 || closed {
			return batches, !closed
		}
		select {
		case <-s.wake:
		case <-ctx.Done():
			return nil, false
		}
	}
}
