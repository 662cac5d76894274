package groupcommit_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/k3s-io/kine/pkg/drivers"
	kineconfig "github.com/skiff-io/skiff/kine-config"
	"github.com/skiff-io/skiff/kine-config/groupcommit"
)

// crashChildEnv makes the test binary a crash child (see crashChild).
const crashChildEnv = "GROUPCOMMIT_CRASH_CHILD"

// crashWriters is the number of concurrent writers in a crash child.
const crashWriters = 64

// crashChild runs the group-commit backend on the file named by the
// environment with 64 writers creating keys until it is killed. It
// prints "batch <first> <last>" before each commit and "ack <key> <rev>"
// after each acknowledged create; each line is one write(2) to a pipe, so
// the parent has it even when the child dies right after.
func crashChild(path, round string) {
	ctx := context.Background()
	var wg sync.WaitGroup
	b, err := groupcommit.New(ctx, &wg, &drivers.Config{
		DataSourceName:   path + "?" + kineconfig.SQLiteParams,
		CompactBatchSize: 1000,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var mu sync.Mutex
	say := func(format string, args ...any) {
		line := fmt.Sprintf(format+"\n", args...)
		mu.Lock()
		defer mu.Unlock()
		os.Stdout.WriteString(line) //nolint:errcheck // the parent reads what arrives
	}
	groupcommit.SetBeforeCommit(b, func(first, last int64) { say("batch %d %d", first, last) })
	if err := b.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for w := range crashWriters {
		go func() {
			for i := 0; ; i++ {
				key := fmt.Sprintf("/crash/%s/w%d/%d", round, w, i)
				rev, err := b.Create(ctx, key, crashValue(key), 0)
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				say("ack %s %d", key, rev)
			}
		}()
	}
	select {}
}

func crashValue(key string) []byte { return []byte(key + strings.Repeat("v", 512)) }

// TestKillMidBatch kills a process writing with 64 concurrent writers
// (kill -9) many times, each time as it is about to commit a batch or
// just after, and then checks the file: every acknowledged create is
// there with its value at its revision, and every batch is there whole
// or not at all.
func TestKillMidBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills 12 processes")
	}
	path := filepath.Join(t.TempDir(), "state.db")
	var acked, batches, lostBatches int
	for round := range 12 {
		a, bs, lost := crashRound(t, path, round)
		acked, batches, lostBatches = acked+a, batches+bs, lostBatches+lost
	}
	t.Logf("12 kills: %d creates acknowledged, %d batches begun, %d of them not committed (whole)", acked, batches, lostBatches)

	// The file still serves, with plain kine too.
	b, _ := open(t, path, plain)
	if _, err := b.Create(context.Background(), "/after/crashes", []byte("ok"), 0); err != nil {
		t.Fatalf("plain kine on the crashed file: %v", err)
	}
}

// crashRound runs one crash child until it has acknowledged some
// hundreds of writes, kills it at a batch, and checks the file.
func crashRound(t *testing.T, path string, round int) (acked, batches, lost int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path, "GROUPCOMMIT_CRASH_ROUND="+fmt.Sprint(round))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()

	type span struct{ first, last int64 }
	var (
		spans []span
		acks  = map[string]int64{}
		// Kill at the killAt-th batch after at least 200 acknowledgements.
		killAt = 1 + rand.IntN(20)
		timer  = time.AfterFunc(60*time.Second, func() { _ = cmd.Process.Kill() })
	)
	defer timer.Stop()
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 3 && f[0] == "batch":
			var s span
			fmt.Sscan(f[1], &s.first)
			fmt.Sscan(f[2], &s.last)
			spans = append(spans, s)
			if len(acks) >= 200 {
				killAt--
			}
		case len(f) == 3 && f[0] == "ack":
			var rev int64
			fmt.Sscan(f[2], &rev)
			acks[f[1]] = rev
		}
		if killAt == 0 && !killed {
			// Sometimes right away (most likely before or during the
			// commit), sometimes a moment later.
			if rand.IntN(2) == 0 {
				time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	werr := cmd.Wait()
	if !killed {
		t.Fatalf("round %d: child ended before it was killed (%v): %s", round, werr, stderr.String())
	}
	killed = true
	// Read what kill -9 left behind, after each write's acknowledgement
	// was printed, using SQLite only (it recovers the WAL on open).
	db, err := sql.Open("sqlite3", path+"?_journal_mode=WAL&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows := map[int64]string{}
	r, err := db.Query(`SELECT id, name, value FROM kine`)
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		var id int64
		var name string
		var value []byte
		if err := r.Scan(&id, &name, &value); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(name, "/crash/") && string(value) != string(crashValue(name)) {
			t.Fatalf("round %d: row %d (%s) has a wrong value", round, id, name)
		}
		rows[id] = name
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	for key, rev := range acks {
		if rows[rev] != key {
			t.Fatalf("round %d: acknowledged create of %s at revision %d is not in the file after kill -9", round, key, rev)
		}
	}
	for _, s := range spans {
		n := 0
		for id := s.first; id <= s.last; id++ {
			if _, ok := rows[id]; ok {
				n++
			}
		}
		if n != 0 && int64(n) != s.last-s.first+1 {
			t.Fatalf("round %d: batch of revisions %d-%d is in the file only in part (%d rows)", round, s.first, s.last, n)
		}
		if n == 0 {
			lost++
		}
	}
	if lost > 1 {
		t.Fatalf("round %d: %d batches missing; only the one being committed at the kill may be", round, lost)
	}
	return len(acks), len(spans), lost
}
