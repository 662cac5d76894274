package cmd

import (
	"path/filepath"
	"testing"

	"github.com/skiff-io/skiff/cliconfig"
)

// TestExampleConfigsLoad keeps the documented example configs valid for
// the real flag set.
func TestExampleConfigsLoad(t *testing.T) {
	files, err := filepath.Glob("../../kine-config/examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example configs found: %v", err)
	}
	for _, f := range files {
		c := New("test", nil)
		fs := c.Flags()
		if err := fs.Set("config", f); err != nil {
			t.Fatal(err)
		}
		if err := cliconfig.Apply(fs, "config", nil); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if filepath.Base(f) == "etcd-ha.yaml" {
			if v, _ := fs.GetString("datastore-endpoint"); v == "" {
				t.Errorf("%s: datastore-endpoint not loaded", f)
			}
		}
	}
}

func TestFlagsBeatEnvBeatFile(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "config.yaml")
	writeFile(t, cfgFile, "https-listen-port: 7000\nbind-address: 10.0.0.1\ndata-dir: /from/file\n")
	c := New("test", nil)
	fs := c.Flags()
	if err := fs.Parse([]string{"--config", cfgFile, "--data-dir", "/from/flag"}); err != nil {
		t.Fatal(err)
	}
	if err := cliconfig.Apply(fs, "config", []string{"SKIFF_HTTPS_LISTEN_PORT=8000", "SKIFF_DATA_DIR=/from/env"}); err != nil {
		t.Fatal(err)
	}
	for flag, want := range map[string]string{"data-dir": "/from/flag", "https-listen-port": "8000", "bind-address": "10.0.0.1"} {
		if got := fs.Lookup(flag).Value.String(); got != want {
			t.Errorf("--%s = %q, want %q", flag, got, want)
		}
	}
}

// TestDisableIsRefused: --disable names built-in manifests, which skiff
// does not deploy yet; the flag is refused with one line, not ignored.
func TestDisableIsRefused(t *testing.T) {
	c := New("test", nil)
	c.SetArgs([]string{"--disable", "traefik", "--config", "", "--disable-agent", "--data-dir", t.TempDir()})
	err := c.Execute()
	if err == nil || err.Error() != "--disable traefik: skiff deploys no built-in manifests yet, so there is nothing to disable; remove the flag" {
		t.Fatalf("err = %v", err)
	}
}

// TestLeaderFlagsCheckedFirst: leader-election timings that could never
// work are refused by flag name before the server starts, on SQLite too.
func TestLeaderFlagsCheckedFirst(t *testing.T) {
	c := New("test", nil)
	c.SetArgs([]string{"--leader-elect-lease-duration", "5s", "--leader-elect-renew-deadline", "10s",
		"--config", "", "--disable-agent", "--data-dir", t.TempDir()})
	err := c.Execute()
	want := "leader election timings: --leader-elect-lease-duration (5s) must be longer than --leader-elect-renew-deadline (10s)"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
}
