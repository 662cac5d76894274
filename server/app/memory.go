package app

import (
	"math"
	"runtime/debug"
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

// DefaultGCPercent is the collector's target in force unless GOGC is set:
// Go's own 100, the heap growing by as much as is live before the
// collector runs. A server's heap is mostly caches that live as long as
// it does, so 50 keeps ~30 MiB less resident at 10,000 pods, but it
// doubles the collections while objects churn, and the write path paid
// for it: 15–20% more server CPU per API write at concurrency 16 and 64,
// and a quarter fewer updates per second (hack/bench/api-writes, GOGC=50
// against 100 in the same hour). Writes, bindings and pod starts are
// what this CPU goes to on a two-core server, so the default stays 100;
// GOGC=50 in the environment makes the other trade.
const DefaultGCPercent = 100

// applyGCPercent sets the collector's target to DefaultGCPercent unless
// GOGC is set, which the runtime has applied already and which wins. It
// returns the target in force for the start-up log.
func applyGCPercent(gogc string) string {
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
	return strconv.Itoa(DefaultGCPercent)
}

func describeMemoryLimit(limit int64, from string) string {
	if limit == math.MaxInt64 {
		return "off"
	}
	return resource.NewQuantity(limit, resource.BinarySI).String() + " (" + from + ")"
}
