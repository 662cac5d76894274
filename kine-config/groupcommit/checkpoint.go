package groupcommit

import (
	"context"
	"database/sql/driver"
	"fmt"

	"k8s.io/klog/v2"
)

// Checkpoints. SQLite copies the WAL's pages into the database file (a
// checkpoint) by default inside the commit that takes the WAL past 1,000
// frames: that commit, and every write queued behind it, waits for the
// copy and the database file's fsync — a few milliseconds in every
// thousand frames, the slowest writes of a busy server. The writer's
// connection therefore runs with automatic checkpoints off. After each
// commit it reads how many frames the WAL holds that are not in the
// database yet (PRAGMA wal_checkpoint(NOOP) reads the WAL index, no I/O),
// and past checkpointFrames it wakes the checkpointer, a goroutine that
// runs a PASSIVE checkpoint on a connection of its own: SQLite lets the
// copy run beside the writer's next commits (the checkpoint and the
// writer take different locks). The pages copied, and so the bytes
// written, are the same as with SQLite's own checkpoints at the same
// threshold. If the checkpointer falls behind by checkpointBacklog frames
// (a reader holding an old snapshot keeps a PASSIVE checkpoint from
// finishing), the writer checkpoints itself, as SQLite would have.
//
// The WAL file only starts again from its beginning when a write begins
// after a checkpoint copied every frame. A checkpoint that runs beside a
// steady stream of commits rarely copies the frames committed while it
// ran, so the checkpointer goes after them (at most checkpointChase more
// PASSIVE checkpoints, each copying fewer frames), and once the WAL is
// walRestartFrames long the writer copies the rest itself, between its
// commits, where nothing is appended during the copy. Without that, a
// server that never pauses writing would grow its WAL without end.
const (
	checkpointFrames  = 1000 // SQLite's default wal_autocheckpoint
	checkpointBacklog = 8 * checkpointFrames
	walRestartFrames  = 4 * checkpointFrames
	checkpointChase   = 4
)

// startCheckpoints turns the writer connection's automatic checkpoints off
// and starts the checkpointer.
func (b *Backend) startCheckpoints(ctx context.Context) error {
	if _, err := b.conn.ExecContext(ctx, "PRAGMA wal_autocheckpoint = 0"); err != nil {
		return fmt.Errorf("groupcommit: %w", err)
	}
	b.ckptWake = make(chan struct{}, 1)
	b.restartAt = walRestartFrames
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.checkpointer(ctx)
	}()
	return nil
}

// walFrames reads, with walSize (PRAGMA wal_checkpoint(NOOP)), how many
// frames the WAL holds and how many of them are copied into the database.
func walFrames(walSize driver.Stmt) (log, done int, err error) {
	row := make([]driver.Value, 3) // busy, log, checkpointed
	found, err := queryRow(walSize, row)
	if err != nil || !found {
		return 0, 0, err
	}
	l, err := integer(row[1])
	if err != nil {
		return 0, 0, err
	}
	d, err := integer(row[2])
	if err != nil {
		return 0, 0, err
	}
	if l < 0 { // not in WAL mode (an in-memory database)
		return 0, 0, nil
	}
	return int(l), int(d), nil
}

// afterCommit runs after each commit, by whoever holds b.writer: it wakes
// the checkpointer when the WAL has grown past checkpointFrames, and
// checkpoints itself past checkpointBacklog, or to let a long WAL restart.
func (b *Backend) afterCommit(ctx context.Context) {
	if b.ckptWake == nil {
		return
	}
	var log, done int
	err := b.onConn(func(driverConn) error {
		var err error
		log, done, err = walFrames(b.st.walSize)
		return err
	})
	if err != nil {
		if ctx.Err() == nil {
			klog.Errorf("datastore: reading the WAL's size: %v", err)
		}
		return
	}
	if log < b.restartAt-walRestartFrames { // the WAL started again
		b.restartAt = walRestartFrames
	}
	switch pending := log - done; {
	case pending >= checkpointBacklog || log >= b.restartAt:
		// A reader holding an old snapshot can keep even this one from
		// finishing; then the writer tries again checkpointFrames later,
		// not after every commit.
		b.restartAt = log + checkpointFrames
		err := b.onConn(func(c driverConn) error {
			_, err := c.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)", nil)
			return err
		})
		if err != nil && ctx.Err() == nil {
			klog.Errorf("datastore: WAL checkpoint: %v", err)
		}
	case pending >= checkpointFrames:
		b.wakeCheckpointer()
	}
}

// wakeCheckpointer asks the checkpointer for a checkpoint.
func (b *Backend) wakeCheckpointer() {
	select {
	case b.ckptWake <- struct{}{}:
	default: // one is running or already asked for
	}
}

// checkpointer runs PASSIVE checkpoints each time the writer asks, on a
// connection from the pool that it holds only for them.
func (b *Backend) checkpointer(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.ckptWake:
		}
		conn, err := b.d.DB.Conn(ctx)
		if err != nil {
			if ctx.Err() == nil {
				klog.Errorf("datastore: WAL checkpoint: %v", err)
			}
			continue
		}
		for range checkpointChase {
			var busy, log, done int
			err := conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &log, &done)
			if err != nil {
				if ctx.Err() == nil {
					klog.Errorf("datastore: WAL checkpoint: %v", err)
				}
				break
			}
			if busy != 0 || done >= log {
				break // another checkpoint runs, or every frame is copied
			}
		}
		conn.Close()
	}
}
