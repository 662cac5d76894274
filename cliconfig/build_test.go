package cliconfig

import (
	"runtime/debug"
	"testing"
)

func TestBuildFromVCSSettings(t *testing.T) {
	b := buildFrom(Build{Version: "v0.2.0"}, []debug.BuildSetting{
		{Key: "vcs", Value: "git"},
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2026-12-02T15:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	})
	if b.GitCommit != "0123456789abcdef0123456789abcdef01234567" || b.GitTreeState != "dirty" || b.BuildDate != "2026-12-02T15:00:00Z" {
		t.Fatalf("%+v", b)
	}
	if b.Short() != "0123456789ab-dirty" {
		t.Errorf("Short() = %q", b.Short())
	}
	none := buildFrom(Build{Version: "v0.2.0"}, nil)
	if none.GitCommit != "" || none.GitTreeState != "" || none.Short() != "unknown" {
		t.Errorf("no VCS settings gave %+v", none)
	}
}
