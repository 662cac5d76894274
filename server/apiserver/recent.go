package apiserver

import (
	"context"
	"errors"
	"strconv"
	"sync"

	"github.com/skiff-io/skiff/server/errdefs"
	"github.com/skiff-io/skiff/server/storage"
)

// recentBytes bounds the recent-writes cache by the size of the values it
// holds (plus their keys): 4 MiB keeps the last ~2,500 ConfigMap-sized
// objects, enough that a controller or a client updating what it wrote a
// moment ago never reads it back first, yet a small share of a Raspberry
// Pi's memory. Values larger than a quarter of it are not cached.
const recentBytes = 4 << 20

// recentWrites remembers the last value this server wrote or read for a
// key, so that an update does not first read the object back from the
// datastore. A revision names one value for ever, so an entry is either
// exactly what is stored at that revision or stale; a stale one only makes
// the compare-and-swap fail, and the caller then reads the current value.
// kube-apiserver avoids the same read with its watch cache.
type recentWrites struct {
	mu    sync.Mutex
	byKey map[string]recentEntry
	// order holds keys oldest first, each with the sequence number of the
	// put that queued it; an element whose entry was replaced or forgotten
	// since is skipped when it reaches the front.
	order []recentRef
	seq   uint64
	// size is the bytes held (keys and values), at most limit.
	size, limit int
}

type recentEntry struct {
	kv  storage.KV
	seq uint64
	// encoded says kv.Value is json.Marshal's output for a typed object
	// (see putStored).
	encoded bool
}

type recentRef struct {
	key string
	seq uint64
}

func newRecentWrites() *recentWrites {
	return &recentWrites{byKey: map[string]recentEntry{}, limit: recentBytes}
}

func entrySize(kv storage.KV) int { return len(kv.Key) + len(kv.Value) }

func (c *recentWrites) put(kv storage.KV) { c.put1(kv, false) }

// putStored is put for what a write of res has just stored, encoded by
// encodeStored. For a kind stored as served that is json.Marshal's own
// output for the typed object, from which the field manager's memo can
// read the live object's shape on the next update instead of encoding
// the object again (see encoded). A value read from the datastore may
// have been written by another encoder: put marks it as unknown.
func (c *recentWrites) putStored(res *resource, kv storage.KV) { c.put1(kv, res.storage == nil) }

// encoded reports whether kv is the cached value for its key and was
// cached by putStored for a kind stored as served.
func (c *recentWrites) encoded(kv storage.KV) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[kv.Key]
	return ok && e.encoded && e.kv.ModRevision == kv.ModRevision
}

func (c *recentWrites) put1(kv storage.KV, encoded bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drop(kv.Key)
	n := entrySize(kv)
	if n > c.limit/4 {
		return
	}
	// Evict the oldest writes until the new one fits.
	for c.size+n > c.limit && len(c.order) > 0 {
		ref := c.order[0]
		c.order = c.order[1:]
		if e, ok := c.byKey[ref.key]; ok && e.seq == ref.seq {
			c.drop(ref.key)
		}
	}
	c.seq++
	c.byKey[kv.Key] = recentEntry{kv: kv, seq: c.seq, encoded: encoded}
	c.order = append(c.order, recentRef{key: kv.Key, seq: c.seq})
	c.size += n
	if len(c.order) > 2*len(c.byKey)+64 {
		c.compact()
	}
}

// compact rewrites order without the elements of replaced or forgotten
// entries, so that it stays proportional to the cache.
func (c *recentWrites) compact() {
	kept := make([]recentRef, 0, len(c.byKey))
	for _, ref := range c.order {
		if e, ok := c.byKey[ref.key]; ok && e.seq == ref.seq {
			kept = append(kept, ref)
		}
	}
	c.order = kept
}

func (c *recentWrites) drop(key string) {
	if e, ok := c.byKey[key]; ok {
		delete(c.byKey, key)
		c.size -= entrySize(e.kv)
	}
}

func (c *recentWrites) forget(key string) {
	c.mu.Lock()
	c.drop(key)
	c.mu.Unlock()
}

func (c *recentWrites) get(key string) (storage.KV, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[key]
	return e.kv, ok
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
