package app

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"

	"k8s.io/apimachinery/pkg/api/resource"
)

// DefaultMemoryLimit is --memory-limit's default: the Go runtime's soft
// limit on its own memory (heap, stacks, runtime structures; not SQLite's
// page cache, which is C memory).
const DefaultMemoryLimit = "192Mi"

// applyMemoryLimit sets the Go runtime's soft memory limit to limit bytes
// (0: none) unless GOMEMLIMIT is set, which the runtime has applied
// already and which wins. It returns the limit in force, read back from
// the runtime, for the start-up log.
//
// Without a limit the heap grows to twice what is live before the
// collector runs (GOGC=100): at 10,000 pods that is ~2× the controllers'
// caches. With one, the collector runs more often as the heap nears it,
// and the scavenger returns freed pages to the OS sooner; a live heap
// above the limit still grows (the limit is soft; the runtime caps the
// collector at about half the CPU).
func applyMemoryLimit(limit int64, gomemlimit string) string {
	from := "--memory-limit"
	switch {
	case gomemlimit != "":
		from = "GOMEMLIMIT"
	case limit > 0:
		debug.SetMemoryLimit(limit)
	default:
		debug.SetMemoryLimit(math.MaxInt64)
	}
	return describeMemoryLimit(debug.SetMemoryLimit(-1), from)
}

// DefaultGCPercent is the collector's target while the live heap is
// small: Go's own 100, the heap growing by as much as is live before the
// collector runs. Writes, bindings and pod starts are what the CPU goes
// to on a two-core server, and a tighter target there costs them: GOGC=50
// took 15–20% more server CPU per API write at concurrency 16 and 64
// (hack/bench/api-writes, against 100 in the same hour).
const DefaultGCPercent = 100

// gcHeadroom is how far the heap may grow past what is live once the live
// heap is larger than it. A server's heap is mostly caches that live as
// long as it does, and at 10,000 pods (~50 MB live) Go's 100 would keep
// twice that resident; the target follows the live heap down to
// minGCPercent instead (gcPercentFor), so only a server that holds large
// caches pays for more collections, and it pays in proportion.
const gcHeadroom = 24 << 20

// minGCPercent is the tightest target the server sets by itself: at 50 the
// collections double (their CPU share at 10,000 pods went from 5–6% to
// 9–11%) while binding rates stayed within the noise.
const minGCPercent = 50

// gcPercentFor is the collector's target for a live heap of live bytes:
// DefaultGCPercent up to gcHeadroom, then gcHeadroom's share of the live
// heap, never below minGCPercent, in steps of 5 so that a live heap that
// moves a little does not move the target at every collection.
func gcPercentFor(live uint64) int {
	if live <= gcHeadroom {
		return DefaultGCPercent
	}
	p := int(100 * gcHeadroom / live)
	p -= p % 5
	return max(p, minGCPercent)
}

// applyGCPercent sets the collector's target unless GOGC is set, which
// the runtime has applied already and which wins: DefaultGCPercent now,
// then, after every collection until ctx ends, gcPercentFor of the heap
// left live. It returns the target's description for the start-up log.
func applyGCPercent(ctx context.Context, gogc string) string {
	if gogc != "" {
		// What the runtime made of it: a value it cannot read leaves 100.
		cur := debug.SetGCPercent(DefaultGCPercent)
		debug.SetGCPercent(cur)
		if cur < 0 {
			return "off (GOGC)"
		}
		return strconv.Itoa(cur) + " (GOGC)"
	}
	debug.SetGCPercent(DefaultGCPercent)
	followLiveHeap(ctx)
	return fmt.Sprintf("%d, down to %d above %s live", DefaultGCPercent, minGCPercent,
		resource.NewQuantity(gcHeadroom, resource.BinarySI))
}

// gcSentinel is garbage from the moment it is made: its finalizer runs
// after the next collection. It holds a pointer so that it is not a tiny
// allocation, whose finalizer may never run.
type gcSentinel struct{ _ *byte }

// followLiveHeap sets the collector's target to gcPercentFor of the live
// heap after every collection until ctx ends. It runs on the runtime's
// finalizer goroutine, re-arming a gcSentinel each time, so an idle
// server wakes for it only when it collects.
func followLiveHeap(ctx context.Context) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/gogc:percent"}}
	var arm func()
	arm = func() {
		runtime.SetFinalizer(&gcSentinel{}, func(*gcSentinel) {
			if ctx.Err() != nil {
				debug.SetGCPercent(DefaultGCPercent)
				return
			}
			metrics.Read(sample)
			if sample[0].Value.Kind() == metrics.KindUint64 && sample[1].Value.Kind() == metrics.KindUint64 {
				if p := gcPercentFor(sample[0].Value.Uint64()); uint64(p) != sample[1].Value.Uint64() {
					debug.SetGCPercent(p)
				}
			}
			arm()
		})
	}
	arm()
}

func describeMemoryLimit(limit int64, from string) string {
	if limit == math.MaxInt64 {
		return "off"
	}
	return resource.NewQuantity(limit, resource.BinarySI).String() + " (" + from + ")"
}
