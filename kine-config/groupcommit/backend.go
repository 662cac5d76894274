package groupcommit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/k3s-io/kine/pkg/drivers"
	"github.com/k3s-io/kine/pkg/drivers/generic"
	"github.com/k3s-io/kine/pkg/drivers/sqlite"
	"github.com/k3s-io/kine/pkg/server"
	"github.com/k3s-io/kine/pkg/ttl"
	"k8s.io/klog/v2"
)

// compactRevKey is kine's row holding the compact revision in its
// prev_revision column.
const compactRevKey = "compact_rev_key"

// maxBatch bounds the writes committed in one transaction, so that one
// commit cannot hold the writers that arrive meanwhile for long.
const maxBatch = 512

// Backend serves kine's etcd API from an SQLite file, committing
// concurrent writes together. Create it with New, then call Start.
type Backend struct {
	// reads is plain kine on the same file. Only its reads are used:
	// they run kine's own SQL on their own connections. It is never
	// started, so it neither polls nor compacts (kine starts both on the
	// first Watch, which this Backend serves itself).
	reads server.Backend
	// d is kine's SQL dialect of the file; its DB is the connection pool
	// shared with reads.
	d   *generic.Generic
	cfg *drivers.Config
	wg  *sync.WaitGroup

	// currentRev is the revision of the last committed write.
	currentRev atomic.Int64

	writes  chan *write  // writes for the writer goroutine
	queued  atomic.Int32 // writes sent on writes and not yet taken
	jobs    chan *job
	stopped chan struct{} // closed when the writer has ended
	events  fanout

	// writer is held by whoever commits or runs a job: the writer
	// goroutine, or a caller that found it idle (submit). It guards the
	// connection and the fields below.
	writer sync.Mutex
	closed bool            // the connection is closed
	stop   context.Context // the writer's, from Start

	// Set by Start.
	conn       *sql.Conn
	st         stmts
	checkpoint string // SQL run after a compaction, "" for none
	batch      []*write
	// ckptWake asks the checkpointer for a checkpoint (checkpoint.go);
	// nil when the writer's connection checkpoints by itself.
	ckptWake chan struct{}
	// restartAt is the WAL length, in frames, at which the writer next
	// checkpoints itself so that the WAL can start again (checkpoint.go).
	restartAt int

	// beforeCommit, when set (by tests), is called with the revisions a
	// batch inserted, just before its commit.
	beforeCommit func(first, last int64)
}

// New opens the SQLite database named by cfg.DataSourceName (a path with
// kine's and go-sqlite3's parameters), creating it with newFilePageSize
// and kine's table and indexes if needed. The connections close when ctx
// ends; wg tracks that and the goroutines Start begins.
func New(ctx context.Context, wg *sync.WaitGroup, cfg *drivers.Config) (*Backend, error) {
	if err := createWithPageSize(cfg.DataSourceName); err != nil {
		return nil, err
	}
	reads, d, err := sqlite.NewVariant(ctx, wg, "sqlite3", cfg)
	if err != nil {
		return nil, err
	}
	usePagedLists(d)
	b := &Backend{
		reads:   reads,
		d:       d,
		cfg:     cfg,
		wg:      wg,
		writes:  make(chan *write, maxBatch),
		jobs:    make(chan *job),
		stopped: make(chan struct{}),
	}
	if d.PostCompactSQL != nil {
		b.checkpoint = d.PostCompactSQL.Query
	}
	return b, nil
}

// Start takes the writer's connection, makes sure kine's compact_rev_key
// and health rows exist, and starts the writer, the lease expiry and, when
// configured, the compactor. They run until ctx ends.
func (b *Backend) Start(ctx context.Context) error {
	conn, err := b.d.DB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("groupcommit: %w", err)
	}
	b.conn = conn
	b.stop = ctx
	if err := b.prepare(ctx); err != nil {
		conn.Close()
		return err
	}
	fail := func(err error) error {
		_ = b.onConn(func(driverConn) error { b.st.close(); return nil })
		conn.Close()
		return err
	}

	var rev sql.NullInt64 // NULL in an empty table
	if err := conn.QueryRowContext(ctx, b.d.CurrentRevSQL.Query).Scan(&rev); err != nil {
		return fail(fmt.Errorf("groupcommit: reading the current revision: %w", err))
	}
	b.currentRev.Store(rev.Int64)
	if err := b.startCheckpoints(ctx); err != nil {
		return fail(err)
	}

	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.writeLoop(ctx)
	}()

	if err := b.ensureCompactRevKey(ctx); err != nil {
		return fmt.Errorf("groupcommit: %w", err)
	}
	// kube-apiserver's health check reads this key, as with plain kine.
	if _, err := b.Create(ctx, server.HealthKey, []byte(server.HealthVal), 0); err != nil && !errors.Is(err, server.ErrKeyExists) {
		klog.Errorf("datastore: creating the health check key: %v", err)
	}

	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		ttl.Run(ctx, b)
	}()
	if b.cfg.CompactInterval > 0 {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			b.compactor(ctx, b.cfg.CompactInterval)
		}()
	}
	return nil
}

// ensureCompactRevKey creates kine's compact_rev_key row in a new
// database, and keeps only the newest when an old kine left two.
func (b *Backend) ensureCompactRevKey(ctx context.Context) error {
	rows, err := b.d.After(ctx, compactRevKey, "", 0, 0)
	if err != nil {
		return err
	}
	var ids, compacts []int64
	for rows.Next() {
		// After's columns: current and compact revisions, then the row.
		var cur, cmp, id, prev sql.NullInt64
		var name sql.NullString
		var created, deleted, createRev, lease sql.NullInt64
		var value, old []byte
		if err := rows.Scan(&cur, &cmp, &id, &name, &created, &deleted, &createRev, &prev, &lease, &value, &old); err != nil {
			rows.Close()
			return err
		}
		if id.Valid {
			ids = append(ids, id.Int64)
			compacts = append(compacts, prev.Int64)
		}
	}
	if err := rows.Close(); err != nil {
		return err
	}
	switch len(ids) {
	case 0:
		_, err := b.Create(ctx, compactRevKey, []byte(""), 0)
		return err
	case 1:
		return nil
	}
	keep := 0
	for i := range ids {
		if compacts[i] > compacts[keep] {
			keep = i
		}
	}
	return b.runJob(ctx, func(conn *sql.Conn) error {
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback() //nolint:errcheck // a no-op after Commit
		for i, id := range ids {
			if i == keep {
				continue
			}
			if _, err := tx.ExecContext(ctx, b.d.DeleteSQL.Query, id); err != nil {
				return err
			}
		}
		return tx.Commit()
	})
}

var _ server.Backend = (*Backend)(nil)

// Get reads one key, at a revision or the newest. The newest is read with
// one indexed lookup of the key's last row (getSQL), as the writer's
// compare-and-swap reads it; kine's own statement for it also reads the
// compact revision and evaluates the row twice, and cost five times as
// much (a binding of a pod that is not in the API's recent-writes cache
// reads it first). Older revisions, which must be checked against the
// compact revision, are kine's.
func (b *Backend) Get(ctx context.Context, key string, revision int64, keysOnly bool) (int64, *server.KeyValue, error) {
	if revision != 0 {
		return b.reads.Get(ctx, key, revision, keysOnly)
	}
	q := getSQL
	if keysOnly {
		q = getKeySQL
	}
	var (
		current, id      sql.NullInt64
		createRev, lease sql.NullInt64
		created, deleted sql.NullBool
		value            []byte
	)
	if err := b.d.DB.QueryRowContext(ctx, q, key).Scan(&current, &id, &created, &deleted, &createRev, &lease, &value); err != nil {
		return 0, nil, err
	}
	if !id.Valid || deleted.Bool {
		return current.Int64, nil, nil
	}
	r := newest{id: id.Int64, created: created.Bool, createRevision: createRev.Int64, lease: lease.Int64, value: value}
	if keysOnly {
		r.value = nil
	}
	return current.Int64, r.kv(key), nil
}

// List reads a range of keys with kine's own SQL.
func (b *Backend) List(ctx context.Context, key, end string, limit, revision int64, keysOnly bool) (int64, []*server.KeyValue, error) {
	return b.reads.List(ctx, key, end, limit, revision, keysOnly)
}

// ListStream is List with the keys streamed, as kine's RangeStream serves.
func (b *Backend) ListStream(ctx context.Context, key, end string, limit, revision int64, keysOnly bool) server.ListResult {
	return b.reads.ListStream(ctx, key, end, limit, revision, keysOnly)
}

// Count counts a range of keys with kine's own SQL.
func (b *Backend) Count(ctx context.Context, key, end string, revision int64) (int64, int64, error) {
	return b.reads.Count(ctx, key, end, revision)
}

// DbSize is the size of the database's used pages.
func (b *Backend) DbSize(ctx context.Context) (int64, error) {
	return b.reads.DbSize(ctx)
}

// CurrentRevision is the revision of the last committed write.
func (b *Backend) CurrentRevision(context.Context) (int64, error) {
	return b.currentRev.Load(), nil
}

// job is work other than writes that needs the writer's connection
// (compaction), run between two batches.
type job struct {
	run  func(*sql.Conn) error
	err  error
	done chan struct{}
}

// runJob runs fn on the writer's connection between two batches.
func (b *Backend) runJob(ctx context.Context, fn func(*sql.Conn) error) error {
	j := &job{run: fn, done: make(chan struct{})}
	select {
	case b.jobs <- j:
	case <-ctx.Done():
		return ctx.Err()
	case <-b.stopped:
		return errStopped
	}
	<-j.done
	return j.err
}

var errStopped = errors.New("datastore: stopped")

// timeout bounds a compaction transaction as kine's CompactTimeout does.
func (b *Backend) timeout() time.Duration {
	if b.cfg.CompactTimeout > 0 {
		return b.cfg.CompactTimeout
	}
	return 5 * time.Second
}
