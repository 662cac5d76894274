package apiserver

import (
	"context"
	"errors"
	"strconv"
	"sync"

	"github.com/skiff-io/skiff/server/errdefs"
	"github.com/skiff-io/skiff/server/storage"
)

// recentSize bounds the recent-writes cache; at ~2 KB an object it costs
// about 1 MB.
const recentSize = 512

// recentWrites remembers the last value this server wrote or read for a
// key, so that an update does not first read the object back from the
// datastore. A revision names one value for ever, so an entry is either
// exactly what is stored at that revision or stale; a stale one only makes
// the compare-and-swap fail, and the caller then reads the current value.
// kube-apiserver avoids the same read with its watch cache.
type recentWrites struct {
	mu    sync.Mutex
	byKey map[string]storage.KV
}

func newRecentWrites() *recentWrites {
	return &recentWrites{byKey: make(map[string]storage.KV, recentSize)}
}

func (c *recentWrites) put(kv storage.KV) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[kv.Key]; !ok && len(c.byKey) >= recentSize {
		// Drop an arbitrary entry: map iteration order is random, which
		// is good enough for a cache whose misses cost one read.
		for k := range c.byKey {
			delete(c.byKey, k)
			break
		}
	}
	c.byKey[kv.Key] = kv
}

func (c *recentWrites) forget(key string) {
	c.mu.Lock()
	delete(c.byKey, key)
	c.mu.Unlock()
}

func (c *recentWrites) get(key string) (storage.KV, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	kv, ok := c.byKey[key]
	return kv, ok
}

// current returns the object to update: the cached value when it is at the
// revision the client named, otherwise a datastore read. anyRevision lets a
// caller that retries on conflict (patch) take whatever was last seen.
func (s *Server) current(ctx context.Context, key, wantRV string, anyRevision bool) (storage.KV, error) {
	if kv, ok := s.recent.get(key); ok && ((wantRV == "" && anyRevision) || (wantRV != "" && wantRV == strconv.FormatInt(kv.ModRevision, 10))) {
		return kv, nil
	}
	kv, _, err := s.store.Get(ctx, key)
	if err != nil {
		if errors.Is(err, errdefs.ErrNotFound) {
			s.recent.forget(key)
		}
		return kv, err
	}
	s.recent.put(kv)
	return kv, nil
}
