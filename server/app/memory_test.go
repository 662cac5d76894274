package app

import (
	"runtime/debug"
	"testing"
)

// The collector's target is DefaultGCPercent unless GOGC is set, and the
// start-up log names the one in force.
func TestApplyGCPercent(t *testing.T) {
	prev := debug.SetGCPercent(30)
	defer debug.SetGCPercent(prev)
	if got := applyGCPercent(""); got != "100" {
		t.Errorf("without GOGC: logged %q", got)
	}
	if got := debug.SetGCPercent(100); got != DefaultGCPercent {
		t.Errorf("without GOGC: target %d, want %d", got, DefaultGCPercent)
	}
	// GOGC is the runtime's to apply (it did, at start); the server leaves
	// the target alone.
	debug.SetGCPercent(200)
	if got := applyGCPercent("200"); got != "200 (GOGC)" {
		t.Errorf("with GOGC=200: logged %q", got)
	}
	if got := debug.SetGCPercent(100); got != 200 {
		t.Errorf("with GOGC set, the target changed to %d", got)
	}
	// A GOGC the runtime could not read left its default: the log says
	// what is in force, not what was written.
	if got := applyGCPercent("fifty"); got != "100 (GOGC)" {
		t.Errorf("with GOGC=fifty: logged %q", got)
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set, the target changed to %d", got)
	}
}
