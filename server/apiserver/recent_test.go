package apiserver

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/skiff-io/skiff/server/storage"
)

func TestRecentWritesBoundedByBytes(t *testing.T) {
	c := newRecentWrites()
	c.limit = 10_000
	value := bytes.Repeat([]byte("x"), 100)
	for i := 0; i < 1000; i++ {
		c.put(storage.KV{Key: fmt.Sprintf("/registry/configmaps/ns/%04d", i), Value: value, ModRevision: int64(i + 1)})
		if c.size > c.limit {
			t.Fatalf("after %d puts the cache holds %d bytes, limit %d", i+1, c.size, c.limit)
		}
	}
	if len(c.byKey) < 70 {
		t.Fatalf("cache holds only %d entries of ~125 bytes under a 10,000-byte limit", len(c.byKey))
	}
	// The last write is always there; replacing an entry keeps the
	// accounting exact and the newest revision.
	last := "/registry/configmaps/ns/0999"
	if kv, ok := c.get(last); !ok || kv.ModRevision != 1000 {
		t.Fatalf("last write: %+v %v", kv, ok)
	}
	c.put(storage.KV{Key: last, Value: value, ModRevision: 2000})
	if kv, _ := c.get(last); kv.ModRevision != 2000 {
		t.Fatalf("replace kept revision %d", kv.ModRevision)
	}
	// The oldest writes went first.
	for i := 0; i < 900; i++ {
		if _, ok := c.get(fmt.Sprintf("/registry/configmaps/ns/%04d", i)); ok {
			t.Fatalf("write %d is cached although newer ones fill the cache", i)
		}
	}
	if len(c.order) > 2*len(c.byKey)+64 {
		t.Fatalf("eviction queue grew to %d for %d entries", len(c.order), len(c.byKey))
	}
	sum := 0
	for _, e := range c.byKey {
		sum += entrySize(e.kv)
	}
	if sum != c.size {
		t.Fatalf("size accounting %d, entries hold %d", c.size, sum)
	}
	c.forget(last)
	if _, ok := c.get(last); ok {
		t.Fatal("forgotten key still cached")
	}
	// A value too large to be worth caching is not kept, and evicts nothing.
	before := len(c.byKey)
	c.put(storage.KV{Key: "/registry/configmaps/ns/big", Value: make([]byte, c.limit/2)})
	if _, ok := c.get("/registry/configmaps/ns/big"); ok || len(c.byKey) != before {
		t.Fatalf("oversized value cached (or evicted others): %d → %d entries", before, len(c.byKey))
	}
}
