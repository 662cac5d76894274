package network

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"

	_ "github.com/mattn/go-sqlite3"
)

func TestPodRange(t *testing.T) {
	for _, tc := range []struct {
		cidr, first, last string
	}{
		{"10.42.3.0/24", "10.42.3.2", "10.42.3.254"},
		{"10.42.0.0/16", "10.42.0.2", "10.42.255.254"},
		{"192.168.1.4/30", "192.168.1.6", "192.168.1.6"},
		{"10.0.0.0/8", "10.0.0.2", "10.255.255.254"},
	} {
		first, last := podRange(netip.MustParsePrefix(tc.cidr))
		if first.String() != tc.first || last.String() != tc.last {
			t.Errorf("podRange(%s) = %s..%s, want %s..%s", tc.cidr, first, last, tc.first, tc.last)
		}
	}
}

func TestNextFree(t *testing.T) {
	p := netip.MustParsePrefix("10.1.0.0/29") // pods .2 .. .6
	a := netip.MustParseAddr
	set := func(ss ...string) map[netip.Addr]bool {
		m := map[netip.Addr]bool{}
		for _, s := range ss {
			m[a(s)] = true
		}
		return m
	}
	for _, tc := range []struct {
		name string
		last netip.Addr
		used map[netip.Addr]bool
		want string // "" = none
	}{
		{"empty range starts at the first pod address", netip.Addr{}, nil, "10.1.0.2"},
		{"goes on after the last one handed out", a("10.1.0.3"), nil, "10.1.0.4"},
		{"skips used addresses", a("10.1.0.3"), set("10.1.0.4", "10.1.0.5"), "10.1.0.6"},
		{"wraps round at the end", a("10.1.0.6"), set("10.1.0.2"), "10.1.0.3"},
		{"reuses the last one only when nothing else is free", a("10.1.0.4"), set("10.1.0.2", "10.1.0.3", "10.1.0.5", "10.1.0.6"), "10.1.0.4"},
		{"full", a("10.1.0.4"), set("10.1.0.2", "10.1.0.3", "10.1.0.4", "10.1.0.5", "10.1.0.6"), ""},
		{"last outside the range restarts", a("10.9.9.9"), nil, "10.1.0.2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := nextFree(p, tc.last, tc.used)
			if tc.want == "" {
				if ok {
					t.Fatalf("got %s, want none", got)
				}
				return
			}
			if !ok || got.String() != tc.want {
				t.Fatalf("got %s (%v), want %s", got, ok, tc.want)
			}
		})
	}
}

// newIPAMOnly makes a Network with just its IPAM half, on a real SQLite
// file: no root, no iptables.
func newIPAMOnly(t *testing.T, path, cidr string) *Network {
	t.Helper()
	db, err := sql.Open("sqlite3", path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := createIPAMTables(db); err != nil {
		t.Fatal(err)
	}
	p := netip.MustParsePrefix(cidr)
	return &Network{podNet: p, gateway: p.Addr().Next(), db: db}
}

func TestIPAMStore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "agent.db")
	n := newIPAMOnly(t, path, "10.5.0.0/29")

	a1, err := n.allocate(ctx, "pod-a", nil)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := n.allocate(ctx, "pod-b", nil)
	if err != nil {
		t.Fatal(err)
	}
	if a1 == a2 || a1.String() != "10.5.0.2" || a2.String() != "10.5.0.3" {
		t.Fatalf("got %s and %s, want 10.5.0.2 and 10.5.0.3", a1, a2)
	}
	if again, _ := n.allocate(ctx, "pod-a", nil); again != a1 {
		t.Fatalf("pod-a again got %s, want %s", again, a1)
	}

	// A new Network on the same file (agent restart) sees the same.
	n2 := newIPAMOnly(t, path, "10.5.0.0/29")
	if ip, ok := n2.PodIP("pod-b"); !ok || ip.String() != a2.String() {
		t.Fatalf("after restart PodIP(pod-b) = %v %v, want %s", ip, ok, a2)
	}
	if again, _ := n2.allocate(ctx, "pod-a", nil); again != a1 {
		t.Fatalf("after restart pod-a got %s, want %s", again, a1)
	}

	// A released address is handed out last.
	if err := n2.release(ctx, "pod-a", false); err != nil {
		t.Fatal(err)
	}
	if err := n2.release(ctx, "pod-a", false); err != nil {
		t.Fatalf("second release: %v", err)
	}
	if _, ok := n2.PodIP("pod-a"); ok {
		t.Fatal("pod-a still has an address after release")
	}
	c, _ := n2.allocate(ctx, "pod-c", nil)
	if c.String() != "10.5.0.4" {
		t.Fatalf("pod-c got %s, want 10.5.0.4 (not the just released 10.5.0.2)", c)
	}

	// Fill the /29: .5 .6 .2, then no more. pod-a's conntrack entries
	// are flushed when, and only when, its address is handed out again.
	var flushed [][]netip.Addr
	record := func(ips []netip.Addr) { flushed = append(flushed, ips) }
	for _, p := range []string{"d", "e"} {
		if _, err := n2.allocate(ctx, "pod-"+p, record); err != nil {
			t.Fatalf("pod-%s: %v", p, err)
		}
	}
	if len(flushed) != 0 {
		t.Fatalf("flushed %v before pod-a's address was reused", flushed)
	}
	if f, err := n2.allocate(ctx, "pod-f", record); err != nil || f != a1 {
		t.Fatalf("pod-f got %s, %v; want pod-a's %s", f, err, a1)
	}
	if len(flushed) != 1 || len(flushed[0]) != 1 || flushed[0][0] != a1 {
		t.Fatalf("flushed %v on reusing %s, want [[%s]]", flushed, a1, a1)
	}
	if _, err := n2.allocate(ctx, "pod-g", record); !errors.Is(err, ErrRangeExhausted) {
		t.Fatalf("allocate in a full range: %v, want ErrRangeExhausted", err)
	}

	// After the node's pod CIDR changes, a pod's old address is replaced.
	n3 := newIPAMOnly(t, path, "10.6.0.0/24")
	b, err := n3.allocate(ctx, "pod-b", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !netip.MustParsePrefix("10.6.0.0/24").Contains(b) {
		t.Fatalf("pod-b got %s after the CIDR change, want one in 10.6.0.0/24", b)
	}
}

func TestIPAMConcurrent(t *testing.T) {
	ctx := context.Background()
	n := newIPAMOnly(t, filepath.Join(t.TempDir(), "agent.db"), "10.7.0.0/24")
	var wg sync.WaitGroup
	got := make([]netip.Addr, 40)
	errs := make([]error, 40)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = n.allocate(ctx, fmt.Sprintf("pod-%d", i), nil)
		}()
	}
	wg.Wait()
	seen := map[netip.Addr]bool{}
	for i, a := range got {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if seen[a] {
			t.Fatalf("%s handed out twice", a)
		}
		seen[a] = true
	}
}

// TestIPAMReleasedFlushedOnReuse: released addresses wait for one flush
// that covers them all when one of them is about to be reused; a release
// that flushed already (a pod with hostPorts) leaves nothing waiting, and
// an agent restart forgets nothing.
func TestIPAMReleasedFlushedOnReuse(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "agent.db")
	n := newIPAMOnly(t, path, "10.8.0.0/29") // .2 to .6
	var flushed [][]netip.Addr
	record := func(ips []netip.Addr) { flushed = append(flushed, ips) }
	addr := map[string]netip.Addr{}
	for _, p := range []string{"a", "b", "c", "d", "e"} {
		a, err := n.allocate(ctx, "pod-"+p, record)
		if err != nil {
			t.Fatal(err)
		}
		addr[p] = a
	}
	must(t, n.release(ctx, "pod-a", false))
	must(t, n.release(ctx, "pod-b", true)) // flushed at teardown
	must(t, n.release(ctx, "pod-c", false))
	must(t, n.release(ctx, "pod-c", false)) // again: nothing to release

	// Restart: the released addresses are in the store.
	n = newIPAMOnly(t, path, "10.8.0.0/29")
	// Next after .6 wraps to .2 (pod-a's, waiting): one flush of .2 and .4.
	x, err := n.allocate(ctx, "pod-x", record)
	must(t, err)
	if x != addr["a"] {
		t.Fatalf("pod-x got %s, want %s", x, addr["a"])
	}
	want := []netip.Addr{addr["a"], addr["c"]}
	if len(flushed) != 1 || fmt.Sprint(flushed[0]) != fmt.Sprint(want) {
		t.Fatalf("flushed %v, want [%v]", flushed, want)
	}
	// .3 (pod-b's, flushed at release) and .4 (flushed with .2): no more.
	for _, p := range []string{"y", "z"} {
		if _, err := n.allocate(ctx, "pod-"+p, record); err != nil {
			t.Fatal(err)
		}
	}
	if len(flushed) != 1 {
		t.Fatalf("flushed again: %v", flushed)
	}
}
