package groupcommit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/k3s-io/kine/pkg/server"
	"k8s.io/klog/v2"
)

// Compact is the etcd Compact call. As in kine it only checks the
// revision while automatic compaction runs, and compacts when it is off.
func (b *Backend) Compact(ctx context.Context, revision int64) (int64, error) {
	current := b.currentRev.Load()
	if revision > current {
		return 0, server.ErrFutureRev
	}
	compactRev, err := b.d.GetCompactRevision(ctx)
	if err != nil {
		return 0, err
	}
	if revision <= compactRev {
		return 0, server.ErrCompacted
	}
	if b.cfg.CompactInterval <= 0 {
		b.compactTo(ctx, compactRev, revision)
	}
	return b.currentRev.Load(), nil
}

// compactor compacts every interval up to the revision that was current
// one interval before, keeping the newest CompactMinRetain revisions.
func (b *Backend) compactor(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	compactRev, _ := b.d.GetCompactRevision(ctx)
	target := b.currentRev.Load()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		compactRev, target = b.compactTo(ctx, compactRev, target)
	}
}

// compactTo removes replaced and deleted rows from compactRev up to
// target, in transactions of CompactBatchSize revisions run by the writer
// between batches. It returns the revision compacted to and the next
// target (the current revision).
func (b *Backend) compactTo(ctx context.Context, compactRev, target int64) (int64, int64) {
	step := b.cfg.CompactBatchSize
	if step <= 0 {
		step = 1000
	}
	start := time.Now()
	from, next := compactRev, int64(0)
	done := 0
	var err error
	for to := compactRev; to < target; {
		to = min(to+step, target)
		var compacted, current int64
		compacted, current, err = b.compactStep(ctx, from, to)
		if compacted != 0 && current != 0 {
			from, next = compacted, current
		}
		if err != nil {
			break
		}
		done++
	}
	if done > 0 {
		klog.V(2).Infof("datastore: compacted revisions %d to %d in %d transactions in %s", compactRev, from, done, time.Since(start).Round(time.Millisecond))
		// kine checkpoints after a compaction (FULL, on its writer) so
		// that the deletions' frames do not wait in the WAL. Here the
		// checkpointer copies them beside the writer, as it copies every
		// other frame (checkpoint.go); a FULL checkpoint on the writer
		// held every write behind the copy, every compact interval.
		if b.checkpoint != "" {
			b.wakeCheckpointer()
		}
	}
	if err != nil && !errors.Is(err, server.ErrCompacted) && ctx.Err() == nil {
		klog.Errorf("datastore: compaction: %v", err)
	}
	if next > 0 {
		return from, next
	}
	return compactRev, target
}

// compactStep compacts (compactRev, target] in one transaction, with
// kine's checks: another compaction in between, or a target already
// compacted or within the retained revisions, yields ErrCompacted and the
// stored revisions.
func (b *Backend) compactStep(ctx context.Context, compactRev, target int64) (compacted, current int64, err error) {
	err = b.runJob(ctx, func(conn *sql.Conn) error {
		tctx, cancel := context.WithTimeout(ctx, b.timeout())
		defer cancel()
		tx, err := conn.BeginTx(tctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback() //nolint:errcheck // a no-op after Commit

		var cur, stored sql.NullInt64
		if err := tx.QueryRowContext(tctx, b.d.CurrentRevSQL.Query).Scan(&cur); err != nil {
			return fmt.Errorf("reading the current revision: %w", err)
		}
		if err := tx.QueryRowContext(tctx, b.d.CompactRevSQL.Query).Scan(&stored); err != nil && err != sql.ErrNoRows {
			return fmt.Errorf("reading the compact revision: %w", err)
		}
		current = cur.Int64
		if stored.Int64 != compactRev {
			compacted = stored.Int64
			return server.ErrCompacted
		}
		to := min(target, max(current-b.cfg.CompactMinRetain, 0))
		if to <= compactRev {
			compacted = stored.Int64
			return server.ErrCompacted
		}
		// The compact revision first, as kine does: a compaction that
		// runs out of time is rolled back whole.
		if _, err := tx.ExecContext(tctx, b.d.UpdateCompactSQL.Query, to); err != nil {
			return fmt.Errorf("recording compact revision %d: %w", to, err)
		}
		if _, err := tx.ExecContext(tctx, b.d.CompactSQL.Query, compactRev, to, compactRev, to); err != nil {
			return fmt.Errorf("compacting to revision %d: %w", to, err)
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		compacted = to
		return nil
	})
	return compacted, current, err
}
