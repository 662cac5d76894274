package kineconfig

import (
	"context"
	"sync"

	kineserver "github.com/k3s-io/kine/pkg/server"
)

// serialWrites lets one write at a time into SQLite.
//
// SQLite admits one writer; the others get SQLITE_BUSY and sleep in the
// busy handler (in steps of up to 100 ms) before retrying, so concurrent
// writers see long and unfair tails. Queueing them on a mutex in front of
// kine's backend gives first-come-first-served order at the same
// throughput. The queue sits below kine's gRPC service, so decoding a
// request and encoding its answer stay outside it and overlap with the
// write in progress; only the SQL transaction is serial.
type serialWrites struct {
	kineserver.Backend
	mu sync.Mutex
}

func (b *serialWrites) Create(ctx context.Context, key string, value []byte, lease int64) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Backend.Create(ctx, key, value, lease)
}

func (b *serialWrites) Update(ctx context.Context, key string, value []byte, revision, lease int64) (int64, *kineserver.KeyValue, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Backend.Update(ctx, key, value, revision, lease)
}

func (b *serialWrites) Delete(ctx context.Context, key string, revision int64) (int64, *kineserver.KeyValue, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Backend.Delete(ctx, key, revision)
}
