package tests

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3" // read the kine table in the SQLite file
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestEtcdctlSeesRegistry: the embedded datastore speaks the etcd v3 API
// on a unix socket, with objects under the Kubernetes key layout.
func TestEtcdctlSeesRegistry(t *testing.T) {
	needIntegration(t, "etcdctl", "kubectl")
	s := startServer(t)
	s.mustKubectl("create", "configmap", "seen", "--from-literal=k=v")
	sock := "unix://" + filepath.Join(s.dataDir, "server", "kine.sock")
	etcdctl := func(args ...string) string {
		cmd := exec.Command("etcdctl", append([]string{"--endpoints", sock}, args...)...)
		cmd.Env = append(os.Environ(), "ETCDCTL_API=3")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("etcdctl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	keys := etcdctl("get", "--prefix", "/registry/", "--keys-only")
	contains(t, keys, "/registry/namespaces/default", "/registry/namespaces/kube-system", "/registry/configmaps/default/seen")
	contains(t, etcdctl("get", "/registry/configmaps/default/seen", "--print-value-only"), `"kind":"ConfigMap"`, `"k":"v"`)
	if fi, err := os.Stat(filepath.Join(s.dataDir, "server", "kine.sock")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("kine socket must be 0600: %v %v", fi.Mode(), err)
	}
}

func kineRows(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM kine`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCompactionBoundsSQLite: under churn the SQLite file stops growing:
// compaction removes old revisions and SQLite reuses the freed pages.
func TestCompactionBoundsSQLite(t *testing.T) {
	needIntegration(t)
	s := startServer(t, withArgs("--datastore-compact-interval", "2s"))
	c := s.client().CoreV1().ConfigMaps("default")
	ctx := context.Background()
	cm, err := c.Create(ctx, cmWith("churn", "0"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	churn := func(n int) {
		for i := 0; i < n; i++ {
			cm.Data["v"] = fmt.Sprint(i) + strings.Repeat("x", 512)
			if cm, err = c.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	dbPath := filepath.Join(s.dataDir, "server", "db", "state.db")
	db, err := sql.Open("sqlite3", "file:"+dbPath+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	size := func() int64 {
		var total int64
		for _, f := range []string{dbPath, dbPath + "-wal"} {
			if fi, err := os.Stat(f); err == nil {
				total += fi.Size()
			}
		}
		return total
	}

	churn(2500)
	// kine keeps the newest 1000 revisions; the rest must go.
	eventually(t, 30*time.Second, "compaction to remove old revisions", func() bool { return kineRows(t, db) < 1300 })
	first := size()
	churn(2500)
	eventually(t, 30*time.Second, "compaction after the second churn", func() bool { return kineRows(t, db) < 1300 })
	second := size()
	t.Logf("SQLite size after 2500 updates: %d bytes; after 5000: %d bytes", first, second)
	if second > first*3/2 {
		t.Fatalf("SQLite file keeps growing under churn: %d → %d bytes", first, second)
	}
	// Watches and reads still work after compaction.
	got, err := c.Get(ctx, "churn", metav1.GetOptions{})
	if err != nil || got.ResourceVersion != cm.ResourceVersion {
		t.Fatalf("after compaction: %v %v", got, err)
	}
}
