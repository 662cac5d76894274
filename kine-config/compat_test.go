package kineconfig

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// TestStateDBMovesBetweenBackends: one data dir is served in turn by
// plain kine, the group-commit backend, plain kine again and group commit
// again (and in the other order, from a file the group-commit backend
// made with its smaller pages), each through kine's etcd API on its
// socket. Each sees every key the ones before wrote, with their
// revisions, and its own writes continue the same revision sequence.
func TestStateDBMovesBetweenBackends(t *testing.T) {
	logrus.SetLevel(logrus.WarnLevel)
	for _, tc := range []struct {
		name     string
		order    []bool // PlainKine per round
		pageSize int    // of the file the first round creates
	}{
		{"plain kine first", []bool{true, false, true, false}, 4096},
		{"group commit first", []bool{false, true, false, true}, 1024},
	} {
		t.Run(tc.name, func(t *testing.T) { movesBetweenBackends(t, tc.order, tc.pageSize) })
	}
}

func movesBetweenBackends(t *testing.T, order []bool, pageSize int) {
	dir := t.TempDir()
	type stored struct {
		value string
		rev   int64
	}
	want := map[string]stored{}
	var lastRev int64
	// Values larger than a page of either size, so that rows continue on
	// overflow pages.
	pad := strings.Repeat("x", 5000)
	for round, plain := range order {
		name := map[bool]string{true: "plain kine", false: "group commit"}[plain]
		func() {
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			defer func() { cancel(); wg.Wait() }()
			b, err := Start(ctx, &wg, Config{DataDir: dir, PlainKine: plain, CompactInterval: -1})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			c, err := clientv3.New(clientv3.Config{Endpoints: b.Endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			rctx, rcancel := context.WithTimeout(ctx, 20*time.Second)
			defer rcancel()

			resp, err := c.Get(rctx, "/registry/", clientv3.WithPrefix())
			if err != nil {
				t.Fatalf("%s: list: %v", name, err)
			}
			if resp.Header.Revision < lastRev {
				t.Fatalf("%s: revision %d, the previous backend had reached %d", name, resp.Header.Revision, lastRev)
			}
			got := map[string]stored{}
			for _, kv := range resp.Kvs {
				got[string(kv.Key)] = stored{string(kv.Value), kv.ModRevision}
			}
			for k, w := range want {
				if got[k] != w {
					t.Fatalf("%s (round %d): %s = %+v, want %+v", name, round, k, got[k], w)
				}
			}

			// Create, update one older key, delete another, all by
			// compare-and-swap as the API server does.
			for i := range 5 {
				key := fmt.Sprintf("/registry/things/r%d-%d", round, i)
				val := fmt.Sprintf("%s %d %s", name, i, pad)
				tr, err := c.Txn(rctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", 0)).Then(clientv3.OpPut(key, val)).Commit()
				if err != nil || !tr.Succeeded {
					t.Fatalf("%s: create %s: %v %v", name, key, tr, err)
				}
				want[key] = stored{val, tr.Header.Revision}
			}
			if round > 0 {
				key := fmt.Sprintf("/registry/things/r%d-0", round-1)
				val := "updated by " + name
				tr, err := c.Txn(rctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", want[key].rev)).Then(clientv3.OpPut(key, val)).Else(clientv3.OpGet(key)).Commit()
				if err != nil || !tr.Succeeded {
					t.Fatalf("%s: update %s: %v %v", name, key, tr, err)
				}
				want[key] = stored{val, tr.Header.Revision}
				key = fmt.Sprintf("/registry/things/r%d-1", round-1)
				tr, err = c.Txn(rctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", want[key].rev)).Then(clientv3.OpDelete(key)).Else(clientv3.OpGet(key)).Commit()
				if err != nil || !tr.Succeeded {
					t.Fatalf("%s: delete %s: %v %v", name, key, tr, err)
				}
				delete(want, key)
			}
			// A watch from before this round's writes sees them.
			wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
			defer wcancel()
			events := 0
			for wr := range c.Watch(wctx, "/registry/things/", clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1)) {
				if err := wr.Err(); err != nil {
					t.Fatalf("%s: watch: %v", name, err)
				}
				events += len(wr.Events)
				if events >= 5+2*min(round, 1) {
					break
				}
			}
			if events < 5+2*min(round, 1) {
				t.Fatalf("%s: watch saw %d events of this round's writes", name, events)
			}
			cur, err := c.Get(rctx, "/registry/health")
			if err != nil {
				t.Fatal(err)
			}
			lastRev = cur.Header.Revision
		}()
		if got := filePageSize(t, filepath.Join(dir, "db", "state.db")); got != pageSize {
			t.Fatalf("after %s (round %d): page size %d, want %d (the first backend's, kept by every other)", name, round, got, pageSize)
		}
	}
}

// filePageSize reads the SQLite page size of the database at path.
func filePageSize(t *testing.T, path string) int {
	t.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("PRAGMA page_size").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
