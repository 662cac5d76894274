package cmd

import (
	"strings"
	"testing"
)

// TestBadFlagsAreRefused: each bad value stops the agent with one line
// naming the flag, before it touches anything.
func TestBadFlagsAreRefused(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--sync-interval", "0s"}, "--sync-interval 0s: must be positive"},
		{[]string{"--server", "http://host:6443"}, "--server"},
		{[]string{"--node-label", "novalue"}, "--node-label"},
		{[]string{"--node-taint", "k=v:Sometimes"}, "--node-taint"},
		{[]string{"--token", "t", "--token-file", "/nonexistent"}, "cannot both be given"},
		{[]string{"--default-runtime", "no-such-oci-runtime"}, "--default-runtime"},
	} {
		c := New("test")
		c.SetArgs(append([]string{"--config", "", "--data-dir", t.TempDir()}, tc.args...))
		err := c.Execute()
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: err %v, want one line with %q", tc.args, err, tc.want)
		}
	}
}
