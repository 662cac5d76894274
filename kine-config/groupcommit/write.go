package groupcommit

import (
	"context"
	"database/sql"
	"fmt"

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

// prepare prepares the writer's statements on the pool, not on the
// writer's own connection: database/sql re-prepares a statement that
// belongs to a Conn every time a transaction asks for it (Tx.Stmt), but
// keeps a pool statement prepared once on each connection it has used,
// so each batch reuses the writer connection's.
func (b *Backend) prepare(ctx context.Context) error {
	var err error
	if b.lookupStmt, err = b.d.DB.PrepareContext(ctx, lookupSQL); err != nil {
		return fmt.Errorf("groupcommit: %w", err)
	}
	if b.insertSt, err = b.d.DB.PrepareContext(ctx, insertSQL); err != nil {
		return fmt.Errorf("groupcommit: %w", err)
	}
	return nil
}

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

// submit queues w and waits for its answer. Once the writer has taken it,
// it waits for the commit even if ctx ends, so that the caller never
// reports a failure for a write that is durable.
func (b *Backend) submit(w *write) {
	done := make(chan struct{})
	w.done = done
	select {
	case b.writes <- w:
	case <-w.ctx.Done():
		w.err = w.ctx.Err()
		return
	case <-b.stopped:
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

// writeLoop is the only writer of the database. It commits whatever
// writes are queued in one transaction, then takes the next group.
func (b *Backend) writeLoop(ctx context.Context) {
	defer func() {
		b.lookupStmt.Close()
		b.insertSt.Close()
		if b.walSize != nil {
			b.walSize.Close()
		}
		b.conn.Close()
		b.events.close()
		close(b.stopped)
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-b.jobs:
			j.err = j.run(b.conn)
			close(j.done)
		case w := <-b.writes:
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
			b.commitBatch(ctx, batch)
			clear(batch)
			b.batch = batch[:0]
			b.afterCommit(ctx)
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
	err := b.commit(ctx, live)
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
// events and sets the current revision; the caller answers them.
func (b *Backend) commit(ctx context.Context, writes []*write) error {
	tx, err := b.conn.BeginTx(ctx, nil) // BEGIN IMMEDIATE, from the DSN's _txlock
	if err != nil {
		return err
	}
	lookup := tx.Stmt(b.lookupStmt)
	insert := tx.Stmt(b.insertSt)
	rev := b.currentRev.Load()
	for _, w := range writes {
		if err := b.apply(lookup, insert, w, &rev); err != nil {
			_ = tx.Rollback()
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
	if err := tx.Commit(); err != nil {
		return err
	}

	b.currentRev.Store(rev)
	if len(events) > 0 {
		b.events.publish(server.EventBatch{Events: events, CurrentRev: rev})
	}
	return nil
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
func (b *Backend) apply(lookup, insert *sql.Stmt, w *write, rev *int64) error {
	w.rev, w.kv, w.ok, w.err, w.event = 0, nil, false, nil, nil // from a failed batch
	var (
		cur       newest
		createRev sql.NullInt64
		found     = true
	)
	err := lookup.QueryRow(w.key).Scan(&cur.id, &cur.created, &cur.deleted, &createRev, &cur.lease, &cur.value)
	switch {
	case err == sql.ErrNoRows:
		found = false
	case err != nil:
		return err
	}
	cur.createRevision = createRev.Int64

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
	res, err := insert.Exec(w.key, w.kind == opCreate, w.kind == opDelete, newCreateRev, prev, lease, value, oldValue)
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
