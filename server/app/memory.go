package app

import (
	"math"
	"runtime/debug"

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

func describeMemoryLimit(limit int64, from string) string {
	if limit == math.MaxInt64 {
		return "off"
	}
	return resource.NewQuantity(limit, resource.BinarySI).String() + " (" + from + ")"
}
