package cliconfig

import (
	"testing"

	"k8s.io/klog/v2"
)

func TestSetLogVerbosity(t *testing.T) {
	t.Cleanup(func() { _, _ = SetLogVerbosity(0, false) })
	for _, c := range []struct {
		v     int
		debug bool
		want  int
	}{
		{0, false, 0},
		{2, false, 2},
		{0, true, DebugVerbosity},
		{2, true, DebugVerbosity},
		{6, true, 6},
	} {
		got, err := SetLogVerbosity(c.v, c.debug)
		if err != nil || got != c.want {
			t.Errorf("SetLogVerbosity(%d, %v) = %d, %v; want %d", c.v, c.debug, got, err, c.want)
		}
		if !klog.V(klog.Level(c.want)).Enabled() || klog.V(klog.Level(c.want+1)).Enabled() {
			t.Errorf("SetLogVerbosity(%d, %v): klog does not log at exactly %d", c.v, c.debug, c.want)
		}
	}
	if _, err := SetLogVerbosity(-1, false); err == nil || err.Error() != "-v -1: want 0 or more" {
		t.Errorf("SetLogVerbosity(-1) = %v", err)
	}
}
