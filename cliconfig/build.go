package cliconfig

import (
	"runtime/debug"
	"time"
)

// Build describes the running binary: skiff's version, set at link time,
// and the commit it was built from, which the Go toolchain records when it
// builds inside a git checkout (hack/build does).
type Build struct {
	// Version is skiff's own version, e.g. v0.2.0 or a git describe.
	Version string
	// GitCommit is the full commit hash, empty when not built from git.
	GitCommit string
	// GitTreeState is "clean", "dirty" (uncommitted changes were built),
	// or empty when unknown.
	GitTreeState string
	// BuildDate is the commit's time in RFC 3339, as kube's version.Info
	// carries it (the commit time keeps builds reproducible).
	BuildDate string
}

// gitCommit, gitTreeState and buildDate are set at link time by hack/build
// (-X github.com/skiff-io/skiff/cliconfig.gitCommit=…): the toolchain's
// own VCS stamp is off wherever GOFLAGS has -buildvcs=false.
var gitCommit, gitTreeState, buildDate string

// ReadBuild returns the Build of this binary with the given version: the
// commit hack/build linked in, else the toolchain's VCS stamp.
func ReadBuild(version string) Build {
	b := Build{Version: version}
	if info, ok := debug.ReadBuildInfo(); ok {
		b = buildFrom(b, info.Settings)
	}
	if gitCommit != "" {
		b.GitCommit, b.GitTreeState, b.BuildDate = gitCommit, gitTreeState, buildDate
	}
	return b
}

func buildFrom(b Build, settings []debug.BuildSetting) Build {
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			b.GitCommit = s.Value
		case "vcs.modified":
			b.GitTreeState = "clean"
			if s.Value == "true" {
				b.GitTreeState = "dirty"
			}
		case "vcs.time":
			if t, err := time.Parse(time.RFC3339, s.Value); err == nil {
				b.BuildDate = t.UTC().Format(time.RFC3339)
			}
		}
	}
	return b
}

// Short is the commit's first 12 characters and a "-dirty" mark, for
// one-line version output; "unknown" when not built from git.
func (b Build) Short() string {
	if b.GitCommit == "" {
		return "unknown"
	}
	c := b.GitCommit
	if len(c) > 12 {
		c = c[:12]
	}
	if b.GitTreeState == "dirty" {
		c += "-dirty"
	}
	return c
}
