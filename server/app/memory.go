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
// the heap may grow by half of what is live before the collector runs,
// not by all of it as with Go's default of 100. A server's heap is
// mostly caches that live as long as it does (every pod, node and
// owner), so at 100 the heap it keeps, and the pages the runtime holds
// for it, are twice those caches. At 10,000 pods this takes ~20 MiB off
// the resident memory, and it scales with the fleet where a lower
// --memory-limit would squeeze a larger fleet's heap against it; the
// cost is twice the collections while objects churn (a collection's
// work is the live heap either way).
const DefaultGCPercent = 50

// applyGCPercent sets the collector's target to DefaultGCPercent unless
// GOGC is set, which the runtime has applied already and which wins. It
// returns the target in force for the start-up log.
func applyGCPercent(gogc string) string {
	if gogc != "" {
		return gogc + " (GOGC)"
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
