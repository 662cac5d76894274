package storage_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// BenchmarkListPages reads 15,000 keys of 2 KiB, three revisions each (as
// pods have), in pages of 500, 2,000 and 5,000: the full listings the sync
// hub and the garbage collector's metadata feed make at every start.
// Each page is one kine query plus a count of the rest of the range, so
// the cost of a full listing grows with the number of pages times the
// keys: compare the sub-benchmarks' ns/op with each other.
func BenchmarkListPages(b *testing.B) {
	s := newStore(b)
	ctx := context.Background()
	val := []byte(strings.Repeat("x", 2048))
	const n = 15000
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			key := fmt.Sprintf("/registry/pods/bench/p-%05d", i)
			rev, err := s.Create(ctx, key, val, 0)
			for j := 0; j < 2 && err == nil; j++ {
				rev, _, err = s.Update(ctx, key, val, rev, 0)
			}
			if err != nil {
				b.Error(err)
			}
		}(i)
	}
	wg.Wait()
	for _, page := range []int64{500, 2000, 5000} {
		b.Run(fmt.Sprintf("page=%d", page), func(b *testing.B) {
			for b.Loop() {
				got := 0
				for start := "/registry/pods/"; ; {
					res, err := s.List(ctx, start, "/registry/pods0", page, 0)
					if err != nil {
						b.Fatal(err)
					}
					got += len(res.KVs)
					if !res.More || len(res.KVs) == 0 {
						break
					}
					start = res.KVs[len(res.KVs)-1].Key + "\x00"
				}
				if got != n {
					b.Fatalf("listed %d keys, want %d", got, n)
				}
			}
		})
	}
}
