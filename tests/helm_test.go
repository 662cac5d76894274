package tests

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHelm: helm 3 installs, upgrades, rolls back and uninstalls a chart
// (the one `helm create` scaffolds) against skiff, unchanged.
func TestHelm(t *testing.T) {
	needIntegration(t, "helm", "kubectl")
	s := startServer(t)
	home := t.TempDir()
	helm := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "helm", args...)
		cmd.Dir = home
		cmd.Env = append(os.Environ(), "KUBECONFIG="+s.kubeconfig,
			"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
			"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
			"HELM_DATA_HOME="+filepath.Join(home, "data"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	helm("create", "demo")
	contains(t, helm("install", "demo", "./demo", "-n", "apps", "--create-namespace"), "STATUS: deployed")
	contains(t, s.mustKubectl("get", "deploy,svc", "-n", "apps"), "deployment.apps/demo", "service/demo")
	helm("upgrade", "demo", "./demo", "-n", "apps", "--set", "replicaCount=3")
	if got := jsonpath(s, "get", "deploy", "demo", "-n", "apps", "-o", "jsonpath={.spec.replicas}"); got != "3" {
		t.Fatalf("replicas after upgrade = %s", got)
	}
	helm("rollback", "demo", "1", "-n", "apps")
	if got := jsonpath(s, "get", "deploy", "demo", "-n", "apps", "-o", "jsonpath={.spec.replicas}"); got != "1" {
		t.Fatalf("replicas after rollback = %s", got)
	}
	contains(t, helm("history", "demo", "-n", "apps"), "Rollback to 1")
	helm("uninstall", "demo", "-n", "apps")
	out := s.mustKubectl("get", "deploy,svc,secrets", "-n", "apps", "-l", "app.kubernetes.io/instance=demo")
	contains(t, out, "No resources found")
}
