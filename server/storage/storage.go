package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/skiff-io/skiff/server/errdefs"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// KV is one stored value and its revisions.
type KV struct {
	Key            string
	Value          []byte
	CreateRevision int64
	ModRevision    int64
}

// Store reads and writes keys through an etcd v3 client.
type Store struct {
	c *clientv3.Client
}

// New wraps an etcd client.
func New(c *clientv3.Client) *Store { return &Store{c: c} }

// Client is the underlying etcd client, for the compactor and health checks.
func (s *Store) Client() *clientv3.Client { return s.c }

func toKV(kv *mvccpb.KeyValue) KV {
	if kv == nil {
		return KV{}
	}
	return KV{Key: string(kv.Key), Value: kv.Value, CreateRevision: kv.CreateRevision, ModRevision: kv.ModRevision}
}

func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, rpctypes.ErrCompacted) || errors.Is(err, rpctypes.ErrGRPCCompacted) {
		return fmt.Errorf("%w: %v", errdefs.ErrGone, err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: datastore: %v", errdefs.ErrUnavailable, err)
}

// Get returns the key's current value, or ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) (KV, int64, error) {
	resp, err := s.c.Get(ctx, key)
	if err != nil {
		return KV{}, 0, classify(err)
	}
	if len(resp.Kvs) == 0 {
		return KV{}, resp.Header.Revision, errdefs.ErrNotFound
	}
	return toKV(resp.Kvs[0]), resp.Header.Revision, nil
}

// ListResult is one page of a range read.
type ListResult struct {
	KVs      []KV
	Revision int64 // the revision the page was read at
	More     bool
	Count    int64 // keys remaining from the start key (etcd only; kine estimates)
}

// List reads keys in [start, end) at revision rev (0: latest), at most limit
// (0: all).
func (s *Store) List(ctx context.Context, start, end string, limit, rev int64) (ListResult, error) {
	opts := []clientv3.OpOption{clientv3.WithRange(end)}
	if limit > 0 {
		opts = append(opts, clientv3.WithLimit(limit))
	}
	if rev > 0 {
		opts = append(opts, clientv3.WithRev(rev))
	}
	resp, err := s.c.Get(ctx, start, opts...)
	if err != nil {
		return ListResult{}, classify(err)
	}
	out := ListResult{Revision: resp.Header.Revision, More: resp.More, Count: resp.Count}
	out.KVs = make([]KV, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out.KVs = append(out.KVs, toKV(kv))
	}
	return out, nil
}

// Count returns the number of keys with the prefix.
func (s *Store) Count(ctx context.Context, prefix string) (int64, error) {
	resp, err := s.c.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return 0, classify(err)
	}
	return resp.Count, nil
}

// Create writes key only if it does not exist. ttl > 0 attaches a lease so
// the key expires (events). It returns the new revision.
func (s *Store) Create(ctx context.Context, key string, value []byte, ttl time.Duration) (int64, error) {
	var opts []clientv3.OpOption
	if ttl > 0 {
		lease, err := s.c.Grant(ctx, int64(ttl/time.Second))
		if err != nil {
			return 0, classify(err)
		}
		opts = append(opts, clientv3.WithLease(lease.ID))
	}
	resp, err := s.c.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, string(value), opts...)).
		Commit()
	if err != nil {
		return 0, classify(err)
	}
	if !resp.Succeeded {
		return 0, errdefs.ErrAlreadyExists
	}
	return resp.Header.Revision, nil
}

// Update replaces key if its mod revision is still rev. On a mismatch it
// returns ErrConflict and the current value (ErrNotFound if it is gone).
func (s *Store) Update(ctx context.Context, key string, value []byte, rev int64, ttl time.Duration) (int64, KV, error) {
	var opts []clientv3.OpOption
	if ttl > 0 {
		lease, err := s.c.Grant(ctx, int64(ttl/time.Second))
		if err != nil {
			return 0, KV{}, classify(err)
		}
		opts = append(opts, clientv3.WithLease(lease.ID))
	}
	resp, err := s.c.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
		Then(clientv3.OpPut(key, string(value), opts...)).
		Else(clientv3.OpGet(key)).
		Commit()
	if err != nil {
		return 0, KV{}, classify(err)
	}
	if !resp.Succeeded {
		return 0, currentFrom(resp), conflictOrGone(resp)
	}
	return resp.Header.Revision, KV{}, nil
}

// Delete removes key if its mod revision is still rev, returning the
// revision of the deletion.
func (s *Store) Delete(ctx context.Context, key string, rev int64) (int64, KV, error) {
	resp, err := s.c.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
		Then(clientv3.OpDelete(key)).
		Else(clientv3.OpGet(key)).
		Commit()
	if err != nil {
		return 0, KV{}, classify(err)
	}
	if !resp.Succeeded {
		return 0, currentFrom(resp), conflictOrGone(resp)
	}
	return resp.Header.Revision, KV{}, nil
}

func currentFrom(resp *clientv3.TxnResponse) KV {
	for _, r := range resp.Responses {
		if rr := r.GetResponseRange(); rr != nil && len(rr.Kvs) > 0 {
			return toKV(rr.Kvs[0])
		}
	}
	return KV{}
}

func conflictOrGone(resp *clientv3.TxnResponse) error {
	if currentFrom(resp).ModRevision == 0 {
		return errdefs.ErrNotFound
	}
	return errdefs.ErrConflict
}

// Revision returns the store's current revision.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	resp, err := s.c.Get(ctx, "/registry/health", clientv3.WithCountOnly())
	if err != nil {
		return 0, classify(err)
	}
	return resp.Header.Revision, nil
}
