package app

import (
	"testing"
	"time"
)

// TestBackoffJitter: the retry delays double from min to max, each drawn
// from the upper half of its step, so that the nodes of a fleet that lost
// the server together do not retry together.
func TestBackoffJitter(t *testing.T) {
	steps := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}
	seen := map[time.Duration]bool{}
	for range 50 {
		b := backoff{min: time.Second, max: 30 * time.Second}
		for i, step := range steps {
			d := b.next()
			if d < step/2 || d > step {
				t.Fatalf("retry %d: %v, want within [%v, %v]", i, d, step/2, step)
			}
			if i == len(steps)-1 {
				seen[d] = true
			}
		}
		b.reset()
		if d := b.next(); d < time.Second/2 || d > time.Second {
			t.Fatalf("after reset: %v, want within [500ms, 1s]", d)
		}
	}
	if len(seen) < 10 {
		t.Fatalf("50 nodes at their seventh retry waited only %d different delays: no jitter", len(seen))
	}
}
