package kineconfig

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	kineserver "github.com/k3s-io/kine/pkg/server"
)

// inFlight is a backend whose writes record how many run at once.
type inFlight struct {
	kineserver.Backend // nil: only writes are called
	now, peak          atomic.Int64
}

func (b *inFlight) write() {
	n := b.now.Add(1)
	for {
		p := b.peak.Load()
		if n <= p || b.peak.CompareAndSwap(p, n) {
			break
		}
	}
	time.Sleep(time.Millisecond)
	b.now.Add(-1)
}

func (b *inFlight) Create(context.Context, string, []byte, int64) (int64, error) {
	b.write()
	return 1, nil
}

func (b *inFlight) Update(context.Context, string, []byte, int64, int64) (int64, *kineserver.KeyValue, bool, error) {
	b.write()
	return 1, nil, true, nil
}

func (b *inFlight) Delete(context.Context, string, int64) (int64, *kineserver.KeyValue, bool, error) {
	b.write()
	return 1, nil, true, nil
}

func TestSerialWritesAdmitsOneWriteAtATime(t *testing.T) {
	for _, queued := range []bool{false, true} {
		inner := &inFlight{}
		var b kineserver.Backend = inner
		if queued {
			b = &serialWrites{Backend: inner}
		}
		ctx := context.Background()
		var wg sync.WaitGroup
		for i := range 24 {
			wg.Go(func() {
				switch i % 3 {
				case 0:
					_, _ = b.Create(ctx, "k", nil, 0)
				case 1:
					_, _, _, _ = b.Update(ctx, "k", nil, 1, 0)
				default:
					_, _, _, _ = b.Delete(ctx, "k", 1)
				}
			})
		}
		wg.Wait()
		peak := inner.peak.Load()
		if queued && peak != 1 {
			t.Errorf("with the queue, %d writes ran at once; want 1", peak)
		}
		if !queued && peak < 2 {
			// The check above can only fail if writes can overlap at all.
			t.Errorf("without the queue, writes never overlapped (peak %d): the test proves nothing", peak)
		}
	}
}
