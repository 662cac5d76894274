package apiserver

import (
	"fmt"
	"testing"

	"github.com/skiff-io/skiff/server/storage"
)

func TestRecentWritesBounded(t *testing.T) {
	c := newRecentWrites()
	for i := 0; i < 3*recentSize; i++ {
		c.put(storage.KV{Key: fmt.Sprintf("/registry/configmaps/ns/%d", i), ModRevision: int64(i + 1)})
	}
	if len(c.byKey) != recentSize {
		t.Fatalf("cache holds %d entries, want at most %d", len(c.byKey), recentSize)
	}
	// Replacing an entry keeps the size and the newest revision.
	c.put(storage.KV{Key: "/registry/configmaps/ns/x", ModRevision: 1})
	c.put(storage.KV{Key: "/registry/configmaps/ns/x", ModRevision: 9})
	if kv, ok := c.get("/registry/configmaps/ns/x"); !ok || kv.ModRevision != 9 || len(c.byKey) != recentSize {
		t.Fatalf("replace: %+v %v (size %d)", kv, ok, len(c.byKey))
	}
	c.forget("/registry/configmaps/ns/x")
	if _, ok := c.get("/registry/configmaps/ns/x"); ok {
		t.Fatal("forgotten key still cached")
	}
}
