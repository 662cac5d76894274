package tests

import (
	"os/exec"
	"strings"
	"testing"
)

// TestVersionTellsTheTruth: /version reports the Kubernetes API skiff
// serves and the commit the binary was built from; `skiff --version`
// says both.
func TestVersionTellsTheTruth(t *testing.T) {
	needIntegration(t, "git")
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	commit := strings.TrimSpace(string(head))

	s := startServer(t)
	v, err := s.client().Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v.GitVersion, "v1.37.") || !strings.Contains(v.GitVersion, "+skiff-") || v.Major != "1" || v.Minor != "37" {
		t.Errorf("version %+v: want v1.37.x+skiff-…, major 1, minor 37", v)
	}
	if v.GitCommit != commit {
		t.Errorf("gitCommit %q, want HEAD %q", v.GitCommit, commit)
	}
	if v.GitTreeState != "clean" && v.GitTreeState != "dirty" {
		t.Errorf("gitTreeState %q", v.GitTreeState)
	}
	if v.BuildDate == "" {
		t.Errorf("no buildDate")
	}

	out, err := exec.Command(skiffBin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("skiff --version: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "Kubernetes v1.37.") || !strings.Contains(string(out), "commit "+commit[:12]) {
		t.Errorf("skiff --version printed %q", out)
	}
}
