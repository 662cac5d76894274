package groupcommit

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"

	"github.com/k3s-io/kine/pkg/server"
	"k8s.io/klog/v2"
)

const (
	// lookupSQL reads the newest row of a key: kine's compare-and-swap
	// compares against it.
	lookupSQL = `SELECT id, created, deleted, create_revision, lease, value FROM kine WHERE name = ? ORDER BY id DESC LIMIT 1`
	// getSQL reads the newest row of a key with the current revision, in
	// one statement so that both come from the same snapshot: one row,
	// its columns NULL when the key has no rows. getKeySQL leaves out the
	// value.
	getSQL    = `SELECT (SELECT MAX(id) FROM kine), k.id, k.created, k.deleted, k.create_revision, k.lease, k.value FROM (SELECT 1) LEFT JOIN (SELECT id, created, deleted, create_revision, lease, value FROM kine WHERE name = ? ORDER BY id DESC LIMIT 1) AS k`
	getKeySQL = `SELECT (SELECT MAX(id) FROM kine), k.id, k.created, k.deleted, k.create_revision, k.lease, NULL FROM (SELECT 1) LEFT JOIN (SELECT id, created, deleted, create_revision, lease FROM kine WHERE name = ? ORDER BY id DESC LIMIT 1) AS k`
	// insertSQL appends a row; its autoincrement id is the new revision.
	insertSQL = `INSERT INTO kine(name, created, deleted, create_revision, prev_revision, lease, value, old_value) VALUES(?, ?, ?, ?, ?, ?, ?, ?)`
)

// driverConn is what the writer needs of the SQLite driver's connection.
// It runs its statements on the driver directly (sql.Conn.Raw), with a
// context that is never canceled: database/sql starts a goroutine for
// every transaction and for every query inside one, to roll back or close
// on cancelation, and go-sqlite3 runs every statement given a cancelable
// context on a goroutine of its own. At concurrency 1 those hand-offs cost
// more than the statements. A SQLite statement does not block on anything
// but the file (busy_timeout bounds the wait for a lock), so nothing
// needs canceling: the writer checks its context between batches.
type driverConn interface {
	driver.ConnPrepareContext
	driver.ExecerContext
}

// stmts are the writer's statements, prepared on its connection.
type stmts struct {
	lookup, insert driver.Stmt
	walSize        driver.Stmt // PRAGMA wal_checkpoint(NOOP): the WAL's size, read after every commit
}

// prepare prepares the writer's statements on its connection.
func (b *Backend) prepare(ctx context.Context) error {
	return b.conn.Raw(func(dc any) error {
		c, ok := dc.(driverConn)
		if !ok {
			return fmt.Errorf("groupcommit: the SQLite driver's connection (%T) cannot prepare and execute", dc)
		}
		var st stmts
		var err error
		if st.lookup, err = c.PrepareContext(ctx, lookupSQL); err != nil {
			return fmt.Errorf("groupcommit: %w", err)
		}
		if st.insert, err = c.PrepareContext(ctx, insertSQL); err != nil {
			st.close()
			return fmt.Errorf("groupcommit: %w", err)
		}
		if st.walSize, err = c.PrepareContext(ctx, "PRAGMA wal_checkpoint(NOOP)"); err != nil {
			st.close()
			return fmt.Errorf("groupcommit: %w", err)
		}
		b.st = st
		return nil
	})
}

func (st *stmts) close() {
	for _, s := range []driver.Stmt{st.lookup, st.insert, st.walSize} {
		if s != nil {
			s.Close()
		}
	}
}

// onConn runs fn with the writer's driver connection. The caller holds
// b.writer.
func (b *Backend) onConn(fn func(c driverConn) error) error {
	return b.conn.Raw(func(dc any) error { return fn(dc.(driverConn)) })
}

// exec runs a statement on the driver with arguments.
func exec(st driver.Stmt, args ...driver.NamedValue) (driver.Result, error) {
	return st.(driver.StmtExecContext).ExecContext(context.Background(), args)
}

// queryRow runs a statement and reads its first row into dest; found is
// false when there is none.
func queryRow(st driver.Stmt, dest []driver.Value, args ...driver.NamedValue) (found bool, err error) {
	rows, err := st.(driver.StmtQueryContext).QueryContext(context.Background(), args)
	if err != nil {
		return false, err
	}
	err = rows.Next(dest)
	cerr := rows.Close()
	switch {
	case err == io.EOF:
		return false, cerr
	case err != nil:
		return false, err
	}
	return cerr == nil, cerr
}

// integer is an INTEGER column as the driver returns it; NULL is 0.
func integer(v driver.Value) (int64, error) {
	switch v := v.(type) {
	case int64:
		return v, nil
	case nil:
		return 0, nil
	}
	return 0, fmt.Errorf("groupcommit: a column is %T, want an integer", v)
}

// arg is the n-th (1-based) argument of a statement.
func arg(n int, v driver.Value) driver.NamedValue { return driver.NamedValue{Ordinal: n, Value: v} }

type writeKind int

const (
	opCreate writeKind = iota
	opUpdate
	opDelete
)

// write is one Create, Update or Delete waiting for its batch.
type write struct {
	ctx      context.Context
	kind     writeKind
	key      string
	value    []byte
	lease    int64
	revision int64 // the mod revision the key must have (Update, Delete)

	// The answer, valid once done is closed.
	rev  int64
	kv   *server.KeyValue
	ok   bool
	err  error
	done chan struct{}

	event *server.Event // what watchers get, when the write inserted a row
}

// Create adds key if it does not exist or its newest row is a deletion,
// as kine does; otherwise it fails with ErrKeyExists.
func (b *Backend) Create(ctx context.Context, key string, value []byte, lease int64) (int64, error) {
	w := &write{ctx: ctx, kind: opCreate, key: key, value: value, lease: lease}
	b.submit(w)
	return w.rev, w.err
}

// Update replaces key's value if its newest row has the given revision.
func (b *Backend) Update(ctx context.Context, key string, value []byte, revision, lease int64) (int64, *server.KeyValue, bool, error) {
	w := &write{ctx: ctx, kind: opUpdate, key: key, value: value, revision: revision, lease: lease}
	b.submit(w)
	return w.rev, w.kv, w.ok, w.err
}

// Delete deletes key if its newest row has the given revision.
func (b *Backend) Delete(ctx context.Context, key string, revision int64) (int64, *server.KeyValue, bool, error) {
	w := &write{ctx: ctx, kind: opDelete, key: key, revision: revision}
	b.submit(w)
	return w.rev, w.kv, w.ok, w.err
}

// submit commits w and waits for its answer. An idle writer (nothing
// queued, no batch being committed) commits it on the caller's goroutine,
// which spares the hand-off to the writer goroutine and back; otherwise it
// is queued for the writer's next batch. Once the writer has taken it, it
// waits for the commit even if ctx ends, so that the caller never reports
// a failure for a write that is durable.
func (b *Backend) submit(w *write) {
	done := make(chan struct{})
	w.done = done
	if b.queued.Load() == 0 && b.writer.TryLock() {
		defer crashOnPanic()
		if b.closed {
			b.writer.Unlock()
			w.err = errStopped
			return
		}
		b.commitBatch(b.stop, []*write{w})
		b.afterCommit(b.stop)
		b.writer.Unlock()
		return
	}
	b.queued.Add(1)
	select {
	case b.writes <- w:
	case <-w.ctx.Done():
		b.queued.Add(-1)
		w.err = w.ctx.Err()
		return
	case <-b.stopped:
		b.queued.Add(-1)
		w.err = errStopped
		return
	}
	select {
	case <-done:
	case <-b.stopped:
		select {
		case <-done: // answered just before the writer ended
		default:
			w.err = errStopped
		}
	}
}

// crashOnPanic ends the process on a panic in a commit on a caller's
// goroutine, as a panic on the writer goroutine does. The caller is an
// API request, whose panic net/http would recover: the server would then
// go on with the writer's lock held and perhaps a transaction open, and
// every later write would hang or fail.
func crashOnPanic() {
	if r := recover(); r != nil {
		go func() { panic(fmt.Sprintf("groupcommit: panic in a commit: %v", r)) }()
		select {}
	}
}

// writeLoop commits the writes that queue up while the database is busy:
// whatever is queued when it takes the connection goes into one
// transaction, then it takes the next group. It also runs the jobs.
func (b *Backend) writeLoop(ctx context.Context) {
	defer func() {
		b.writer.Lock()
		b.closed = true
		_ = b.onConn(func(driverConn) error { b.st.close(); return nil })
		b.conn.Close()
		b.writer.Unlock()
		b.events.close()
		close(b.stopped)
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-b.jobs:
			b.writer.Lock()
			j.err = j.run(b.conn)
			b.writer.Unlock()
			close(j.done)
		case w := <-b.writes:
			b.writer.Lock()
			batch := append(b.batch[:0], w)
		more:
			for len(batch) < maxBatch {
				select {
				case w := <-b.writes:
					batch = append(batch, w)
				default:
					break more
				}
			}
			b.queued.Add(-int32(len(batch)))
			b.commitBatch(ctx, batch)
			clear(batch)
			b.batch = batch[:0]
			b.afterCommit(ctx)
			b.writer.Unlock()
		}
	}
}

// commitBatch commits batch and answers its writes. If the transaction
// fails, each write is tried again in a transaction of its own, so one
// bad write fails alone.
func (b *Backend) commitBatch(ctx context.Context, batch []*write) {
	live := batch[:0:0]
	for _, w := range batch {
		if err := w.ctx.Err(); err != nil {
			w.err = err
			close(w.done)
			continue
		}
		live = append(live, w)
	}
	if len(live) == 0 {
		return
	}
	err := b.commit(live)
	if err != nil && len(live) > 1 && ctx.Err() == nil {
		klog.V(2).Infof("datastore: a batch of %d writes failed (%v); committing them one by one", len(live), err)
		for _, w := range live {
			b.commitBatch(ctx, []*write{w})
		}
		return
	}
	for _, w := range live {
		if err != nil {
			w.rev, w.kv, w.ok, w.err, w.event = 0, nil, false, err, nil
		}
		close(w.done)
	}
}

// commit applies writes in one transaction. On success it publishes their
// events and sets the current revision; the caller answers them. The
// caller holds b.writer.
func (b *Backend) commit(writes []*write) error {
	return b.onConn(func(c driverConn) error {
		bg := context.Background()
		if _, err := c.ExecContext(bg, "BEGIN IMMEDIATE", nil); err != nil {
			return err
		}
		rev := b.currentRev.Load()
		for _, w := range writes {
			if err := b.apply(w, &rev); err != nil {
				_, _ = c.ExecContext(bg, "ROLLBACK", nil)
				return err
			}
		}
		var events []*server.Event
		for _, w := range writes {
			if w.event != nil {
				events = append(events, w.event)
			}
		}
		if b.beforeCommit != nil && len(events) > 0 {
			b.beforeCommit(events[0].KV.ModRevision, rev)
		}
		if _, err := c.ExecContext(bg, "COMMIT", nil); err != nil {
			// SQLite may have rolled back already; then this fails too.
			_, _ = c.ExecContext(bg, "ROLLBACK", nil)
			return err
		}

		b.currentRev.Store(rev)
		if len(events) > 0 {
			b.events.publish(server.EventBatch{Events: events, CurrentRev: rev})
		}
		return nil
	})
}

// newest is the newest row of a key.
type newest struct {
	id             int64
	created        bool
	deleted        bool
	createRevision int64
	lease          int64
	value          []byte
}

// scan reads the lookup's columns: id, created, deleted,
// create_revision, lease, value.
func (r *newest) scan(row []driver.Value) error {
	var ints [5]int64 // create_revision is NULL in rows kine inserted without one
	for i := range ints {
		var err error
		if ints[i], err = integer(row[i]); err != nil {
			return err
		}
	}
	r.id, r.created, r.deleted, r.createRevision, r.lease = ints[0], ints[1] != 0, ints[2] != 0, ints[3], ints[4]
	switch v := row[5].(type) {
	case []byte:
		r.value = v
	case string:
		r.value = []byte(v)
	case nil:
		r.value = nil
	default:
		return fmt.Errorf("groupcommit: the value of a row is %T, want bytes", v)
	}
	return nil
}

// kv is the row as kine's reads return it.
func (r *newest) kv(key string) *server.KeyValue {
	kv := &server.KeyValue{Key: key, Value: r.value, CreateRevision: r.createRevision, ModRevision: r.id, Lease: r.lease}
	if r.created {
		kv.CreateRevision = r.id
	}
	return kv
}

// apply runs one write inside the batch's transaction, with kine's rules:
// a row is appended only when the key's newest row has the expected id
// (0 for a key without rows), and a create expects the id of the key's
// deletion, if its newest row is one. rev is the batch's revision so far.
func (b *Backend) apply(w *write, rev *int64) error {
	w.rev, w.kv, w.ok, w.err, w.event = 0, nil, false, nil, nil // from a failed batch
	var cur newest
	row := make([]driver.Value, 6)
	found, err := queryRow(b.st.lookup, row, arg(1, w.key))
	if err != nil {
		return err
	}
	if found {
		if err := cur.scan(row); err != nil {
			return err
		}
	}

	var prev int64 // the id the key's newest row must have
	switch w.kind {
	case opCreate:
		if found && !cur.deleted {
			w.rev, w.err = *rev, server.ErrKeyExists
			return nil
		}
		if found {
			prev = cur.id
		}
	default:
		prev = w.revision
		if (found && cur.id != prev) || (!found && prev != 0) {
			w.rev = *rev
			switch {
			case w.kind == opUpdate && found && !cur.deleted:
				w.kv = cur.kv(w.key)
			case w.kind == opDelete && !found:
				w.ok = true // kine reports a missing key as deleted
			case w.kind == opDelete && !cur.deleted:
				w.kv = cur.kv(w.key)
			}
			return nil
		}
	}

	// The row kine copies create_revision and old_value from: the one
	// replaced, unless it is a deletion.
	var oldValue []byte
	newCreateRev := sql.NullInt64{}
	if found && !cur.deleted {
		oldValue = cur.value
		newCreateRev = sql.NullInt64{Int64: cur.createRevision, Valid: true}
		if cur.createRevision == 0 {
			newCreateRev.Int64 = cur.id
		}
	}
	var value []byte
	lease := w.lease
	if w.kind != opDelete {
		// The event keeps its own copy: the caller may reuse its buffer.
		value = append(make([]byte, 0, len(w.value)), w.value...)
		if w.value == nil {
			value = nil
		}
	}
	var createRevArg driver.Value // NULL unless replacing a live row
	if newCreateRev.Valid {
		createRevArg = newCreateRev.Int64
	}
	res, err := exec(b.st.insert, arg(1, w.key), arg(2, w.kind == opCreate), arg(3, w.kind == opDelete),
		arg(4, createRevArg), arg(5, prev), arg(6, lease), arg(7, value), arg(8, oldValue))
	if err != nil {
		return err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return err
	}
	*rev = id

	ev := &server.Event{
		Create: w.kind == opCreate,
		Delete: w.kind == opDelete,
		KV:     &server.KeyValue{Key: w.key, Value: value, CreateRevision: newCreateRev.Int64, ModRevision: id, Lease: lease},
	}
	if ev.Create {
		ev.KV.CreateRevision = id
	} else {
		ev.PrevKV = &server.KeyValue{Key: w.key, Value: oldValue, CreateRevision: newCreateRev.Int64, ModRevision: prev, Lease: lease}
	}
	w.event = ev

	w.rev, w.ok = id, true
	switch w.kind {
	case opUpdate:
		w.kv = &server.KeyValue{Key: w.key, Value: w.value, Lease: w.lease, ModRevision: id}
	case opDelete:
		w.kv = &server.KeyValue{Key: w.key, ModRevision: id}
	}
	return nil
}
