package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/skiff-io/skiff/protocol"
)

// BenchmarkEnqueueConcurrent is 50 pod workers queueing status and events
// at once, as when a node starts 50 pods: run it on real storage (the
// test's temp dir), where every commit waits for fsync.
func BenchmarkEnqueueConcurrent(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "state.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var n atomic.Int64
	b.SetParallelism(25) // 50 goroutines on 2 CPUs
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			if err := s.Enqueue(context.Background(), fmt.Sprintf("event/%d", i), protocol.StatusItem{Kind: protocol.ItemEvent, Name: "e"}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
