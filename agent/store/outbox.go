package store

import (
	"context"
	"encoding/json"

	"github.com/skiff-io/skiff/protocol"
)

// Enqueue adds a status item to the outbox under key, replacing an unsent
// item with the same key (latest wins: a pod's newest status, the node's
// newest status). The item gets a new sequence number, so the outbox stays
// in the order things last changed. Events take unique keys.
func (s *Store) Enqueue(ctx context.Context, key string, it protocol.StatusItem) error {
	it.Seq = 0
	b, err := json.Marshal(it)
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	if _, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE key = ?`, key); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO outbox(key, item) VALUES(?, ?)`, key, b); err != nil {
		return err
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
