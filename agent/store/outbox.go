package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"sync"

	"github.com/skiff-io/skiff/protocol"
	corev1 "k8s.io/api/core/v1"
)

// Enqueue adds a status item to the outbox under key, replacing an unsent
// item with the same key (latest wins: a pod's newest status, the node's
// newest status). The item gets a new sequence number, so the outbox stays
// in the order things last changed. Events take unique keys. It returns
// once the item is committed.
//
// Items queued while a commit runs are committed together in the next
// transaction (group commit): when a node starts many pods at once, their
// status and events share fsyncs instead of waiting for one each.
func (s *Store) Enqueue(ctx context.Context, key string, it protocol.StatusItem) error {
	it.Seq = 0
	b, err := json.Marshal(it)
	if err != nil {
		return err
	}
	req := &enqueued{key: key, item: b, done: make(chan error, 1), lead: make(chan struct{}, 1)}
	switch {
	case it.Kind == protocol.ItemPodStatus && it.PodStatus != nil && it.UID != "":
		req.reported = string(it.UID)
	case it.Kind == protocol.ItemPodGone && it.UID != "":
		req.gone = string(it.UID)
	}
	g := &s.group
	g.mu.Lock()
	g.queue = append(g.queue, req)
	if g.leading {
		g.mu.Unlock()
		select {
		case err := <-req.done: // committed in another caller's batch
			return err
		case <-req.lead: // handed the lead: commit what waits, this item first
		}
		g.mu.Lock()
	}
	g.leading = true
	batch := g.queue
	g.queue = nil
	g.mu.Unlock()
	// Not the caller's context: the batch holds others' items too.
	err = s.commitOutbox(context.WithoutCancel(ctx), batch)
	for _, r := range batch {
		r.done <- err
	}
	// Each caller commits at most one batch: the next waiting one leads.
	g.mu.Lock()
	if len(g.queue) > 0 {
		g.queue[0].lead <- struct{}{}
	} else {
		g.leading = false
	}
	g.mu.Unlock()
	return <-req.done
}

// enqueued is an item waiting for the group commit.
type enqueued struct {
	key  string
	item []byte
	done chan error    // the commit's result
	lead chan struct{} // this caller is to commit the next batch
	// reported is the UID of the pod whose status item is also kept as
	// the last one reported (see Reported); gone, of the pod whose last
	// one is forgotten.
	reported, gone string
}

// groupCommit is the outbox items waiting to be committed, and whether a
// caller is committing them (the leader, which hands the lead to the first
// item queued meanwhile).
type groupCommit struct {
	mu      sync.Mutex
	queue   []*enqueued
	leading bool
}

// commitOutbox writes a batch of items in one transaction, in order.
func (s *Store) commitOutbox(ctx context.Context, batch []*enqueued) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	for _, r := range batch {
		if _, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE key = ?`, r.key); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO outbox(key, item) VALUES(?, ?)`, r.key, r.item); err != nil {
			return err
		}
		if r.reported != "" {
			if _, err := tx.ExecContext(ctx, `INSERT INTO reported(uid, item) VALUES(?, ?)
				ON CONFLICT(uid) DO UPDATE SET item = excluded.item`, r.reported, r.item); err != nil {
				return err
			}
		}
		if r.gone != "" {
			if _, err := tx.ExecContext(ctx, `DELETE FROM reported WHERE uid = ?`, r.gone); err != nil {
				return err
			}
		}
	}
	return tx.Commit()
}

// Reported is the status last queued for the pod with uid (nil: none),
// kept after the server acknowledged it, until the pod's ItemPodGone is
// queued. The server does not send a node the status it reported back
// (protocol.MergePodStatus), so this is where the node finds it again
// after a restart: the start time and transition times it keeps, and
// whether it refused or finished the pod.
func (s *Store) Reported(ctx context.Context, uid string) (*corev1.PodStatus, error) {
	var b []byte
	err := s.db.QueryRowContext(ctx, `SELECT item FROM reported WHERE uid = ?`, uid).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var it protocol.StatusItem
	if err := json.Unmarshal(b, &it); err != nil {
		return nil, nil // from a newer agent, say: as if none
	}
	return it.PodStatus, nil
}

// PruneReported forgets the last reported status of every pod not in
// keep (pods that left the node while the agent was down, whose
// ItemPodGone it never queued). It writes nothing when there is nothing
// to forget.
func (s *Store) PruneReported(ctx context.Context, keep map[string]bool) error {
	rows, err := s.db.QueryContext(ctx, `SELECT uid FROM reported`)
	if err != nil {
		return err
	}
	var stale []string
	for rows.Next() {
		var uid string
		if err := rows.Scan(&uid); err != nil {
			rows.Close()
			return err
		}
		if !keep[uid] {
			stale = append(stale, uid)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(stale) == 0 {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	for _, uid := range stale {
		if _, err := tx.ExecContext(ctx, `DELETE FROM reported WHERE uid = ?`, uid); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Pending returns up to limit outbox items in sequence order.
func (s *Store) Pending(ctx context.Context, limit int) ([]protocol.StatusItem, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT seq, item FROM outbox ORDER BY seq LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []protocol.StatusItem
	for rows.Next() {
		var seq int64
		var b []byte
		if err := rows.Scan(&seq, &b); err != nil {
			return nil, err
		}
		var it protocol.StatusItem
		if err := json.Unmarshal(b, &it); err != nil {
			// A row this agent cannot read would block the outbox forever.
			if _, err := s.db.ExecContext(ctx, `DELETE FROM outbox WHERE seq = ?`, seq); err != nil {
				return nil, err
			}
			continue
		}
		it.Seq = seq
		out = append(out, it)
	}
	return out, rows.Err()
}

// Ack deletes every item up to and including seq: the server has stored
// them.
func (s *Store) Ack(ctx context.Context, seq int64) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM outbox WHERE seq <= ?`, seq)
	return err
}

// OutboxLen counts unsent items.
func (s *Store) OutboxLen(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM outbox`).Scan(&n)
	return n, err
}
