package groupcommit_test

import (
	"context"
	"fmt"
	"math/rand"
	"path/filepath"
	"testing"

	"github.com/k3s-io/kine/pkg/server"
)

// listHistory writes keys under /p/ with one to four revisions each, some
// deleted and some deleted and created again, with keys on either side
// of the range, and compacts part of the history away. It returns the
// revisions the pages are then read at: the revision after each of the
// four rounds (the history before the first is compacted away) and the
// newest.
func listHistory(t *testing.T, b server.Backend) []int64 {
	t.Helper()
	ctx := context.Background()
	rnd := rand.New(rand.NewSource(7))
	must := func(rev int64, err error) int64 {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return rev
	}
	must(b.Create(ctx, "/o/before", []byte("x"), 0))
	must(b.Create(ctx, "/q/after", []byte("x"), 0))
	mods := map[string]int64{}
	var revs []int64
	for round := 0; round < 4; round++ {
		for i := 0; i < 120; i++ {
			key := fmt.Sprintf("/p/k%03d", i)
			val := []byte(fmt.Sprintf("%s@%d", key, round))
			mod, ok := mods[key]
			switch {
			case !ok:
				mods[key] = must(b.Create(ctx, key, val, 0))
			case mod == 0 || rnd.Intn(3) == 0 && round > 0:
				continue
			case rnd.Intn(6) == 0:
				_, _, deleted, err := b.Delete(ctx, key, mod)
				if err != nil || !deleted {
					t.Fatalf("delete %s at %d: %v %v", key, mod, deleted, err)
				}
				mods[key] = 0
				if rnd.Intn(2) == 0 {
					mods[key] = must(b.Create(ctx, key, val, 0))
				}
			default:
				rev, _, updated, err := b.Update(ctx, key, val, mod, 0)
				if err != nil || !updated {
					t.Fatalf("update %s at %d: %v %v", key, mod, updated, err)
				}
				mods[key] = rev
			}
		}
		revs = append(revs, must(b.CurrentRevision(ctx)))
	}
	if _, err := b.Compact(ctx, revs[0]); err != nil {
		t.Fatal(err)
	}
	return append(revs, must(b.CurrentRevision(ctx)))
}

// readPages pages through /p/ as kine's etcd server does (limit+1, the
// next page from the key after the last), at rev (0: the newest, then
// the first page's revision for the rest) and at each of revs, with
// every page size, with
// and without values, and records what came back.
func readPages(t *testing.T, b server.Backend, revs []int64) []string {
	t.Helper()
	ctx := context.Background()
	r := &transcript{t: t}
	for _, rev := range append([]int64{0, revs[0] - 1}, revs...) {
		for _, limit := range []int64{0, 1, 7, 50, 500} {
			for _, keysOnly := range []bool{false, true} {
				r.add("rev %d limit %d keysOnly %v", rev, limit, keysOnly)
				start, at := "/p/", rev
				for page := 0; ; page++ {
					n := limit
					if n > 0 {
						n++
					}
					cur, kvs, err := b.List(ctx, start, "/p0", n, at, keysOnly)
					if err != nil {
						r.add("  page %d: %s", page, errText(err))
						break
					}
					more := limit > 0 && int64(len(kvs)) > limit
					if more {
						kvs = kvs[:limit]
					}
					if rev != 0 {
						cur = -1 // a later write moves it; the rows must not
					}
					r.add("  page %d: current=%d %s", page, cur, showKVs(kvs))
					if !more {
						break
					}
					start = kvs[len(kvs)-1].Key + "\x00"
					if at == 0 {
						at = cur
					}
				}
			}
		}
	}
	return r.lines
}

// TestListPagesMatchKine reads one history page by page with kine's own
// range SQL and with the backend's (list.go): every page, at every
// revision and page size, must hold the same rows.
func TestListPagesMatchKine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	b, stop := open(t, path, group)
	revs := listHistory(t, b)
	stop()

	b, stop = open(t, path, plain)
	want := readPages(t, b, revs)
	stop()
	mustContain(t, want, "  page 0: rpc error: code = OutOfRange desc = etcdserver: mvcc: required revision has been compacted")
	b, _ = open(t, path, group)
	got := readPages(t, b, revs)
	if diff := diffLines(want, got); diff != "" {
		t.Errorf("pages differ from plain kine's (- plain kine, + group commit):\n%s", diff)
	}
}
