package app

import (
	"context"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

// The collector's target is DefaultGCPercent unless GOGC is set, and the
// start-up log names the one in force.
func TestApplyGCPercent(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	prev := debug.SetGCPercent(30)
	defer debug.SetGCPercent(prev)
	if got := applyGCPercent(ctx, ""); got != "100, down to 50 above 24Mi live" {
		t.Errorf("without GOGC: logged %q", got)
	}
	if got := debug.SetGCPercent(100); got != DefaultGCPercent {
		t.Errorf("without GOGC: target %d, want %d", got, DefaultGCPercent)
	}
	// GOGC is the runtime's to apply (it did, at start); the server leaves
	// the target alone.
	debug.SetGCPercent(200)
	if got := applyGCPercent(ctx, "200"); got != "200 (GOGC)" {
		t.Errorf("with GOGC=200: logged %q", got)
	}
	if got := debug.SetGCPercent(100); got != 200 {
		t.Errorf("with GOGC set, the target changed to %d", got)
	}
	// A GOGC the runtime could not read left its default: the log says
	// what is in force, not what was written.
	if got := applyGCPercent(ctx, "fifty"); got != "100 (GOGC)" {
		t.Errorf("with GOGC=fifty: logged %q", got)
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set, the target changed to %d", got)
	}
}

func TestGCPercentFor(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 100},
		{6 << 20, 100},
		{24 << 20, 100},
		{24<<20 + 1, 95}, // 99.99…, in steps of 5
		{30 << 20, 80},
		{40 << 20, 60},
		{48 << 20, 50},
		{200 << 20, 50},
	} {
		if got := gcPercentFor(c.live); got != c.want {
			t.Errorf("gcPercentFor(%d MiB) = %d, want %d", c.live>>20, got, c.want)
		}
	}
}

// The target follows the live heap after each collection: tighter while
// a large heap is live, Go's default again once it is gone, and the
// default when the server stops.
func TestFollowLiveHeap(t *testing.T) {
	prev := debug.SetGCPercent(DefaultGCPercent)
	defer debug.SetGCPercent(prev)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	followLiveHeap(ctx)
	target := func() uint64 {
		s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	waitFor := func(want uint64) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
			runtime.GC() // runs the sentinel's finalizer, which re-arms
			time.Sleep(10 * time.Millisecond)
			if target() == want {
				return
			}
		}
		t.Fatalf("collector target %d, want %d", target(), want)
	}
	live := make([][]byte, 96)
	for i := range live {
		live[i] = make([]byte, 1<<20)
	}
	waitFor(minGCPercent)
	runtime.KeepAlive(live)
	live = nil
	waitFor(DefaultGCPercent)
	debug.SetGCPercent(70)
	cancel()
	waitFor(DefaultGCPercent)
}
