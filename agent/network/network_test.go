package network

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-iptables/iptables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// The tests below build a small world of network namespaces they own and
// never touch the host's interfaces, routes or firewall:
//
//	outside ns  eth0 192.168.77.2/24 (MTU 1400)
//	   | veth
//	node ns     up0 192.168.77.1/24, default route via .2; sktest0 bridge (code under test)
//	   | veths (code under test)
//	pod nss     eth0 10.99.3.x/24
const (
	testBridge  = "sktest0"
	testPodCIDR = "10.99.3.0/24"
	testCluster = "10.99.0.0/16"
	nodeUplink  = "192.168.77.1"
	outsideIP   = "192.168.77.2"
	uplinkMTU   = 1400
)

type testNode struct {
	dir     string
	nodeNS  string // pinned node namespace
	outside string // pinned "outside" namespace
	dbPath  string
	cfg     Config
}

func newTestNode(t *testing.T) *testNode {
	t.Helper()
	if testing.Short() {
		t.Skip("network integration test: skipped under -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("network integration test: needs root (network namespaces, iptables)")
	}
	if _, err := iptables.New(); err != nil {
		t.Skipf("network integration test: no iptables binary (apt-get install iptables): %v", err)
	}
	dir := t.TempDir()
	tn := &testNode{
		dir:     dir,
		nodeNS:  filepath.Join(dir, "node.ns"),
		outside: filepath.Join(dir, "outside.ns"),
		dbPath:  filepath.Join(dir, "agent.db"),
	}
	netnsDir := filepath.Join(dir, "netns")
	t.Cleanup(func() { // runs before TempDir's removal
		ents, _ := os.ReadDir(netnsDir)
		for _, e := range ents {
			_ = unpinNetNS(filepath.Join(netnsDir, e.Name()))
		}
		_ = unpinNetNS(tn.outside)
		_ = unpinNetNS(tn.nodeNS)
	})
	for _, p := range []string{tn.nodeNS, tn.outside} {
		if err := pinNewNetNS(p); err != nil {
			t.Fatal(err)
		}
	}
	node, out := openHandle(t, tn.nodeNS), openHandle(t, tn.outside)
	outNS, err := netns.GetFromPath(tn.outside)
	if err != nil {
		t.Fatal(err)
	}
	defer outNS.Close()
	must(t, node.LinkAdd(&netlink.Veth{
		LinkAttrs: netlink.LinkAttrs{Name: "up0", MTU: uplinkMTU},
		PeerName:  "eth0", PeerMTU: uplinkMTU, PeerNamespace: netlink.NsFd(outNS),
	}))
	for _, side := range []struct {
		h        *netlink.Handle
		ifname   string
		addr, gw string
	}{{node, "up0", nodeUplink, outsideIP}, {out, "eth0", outsideIP, ""}} {
		for _, name := range []string{"lo", side.ifname} {
			l, err := side.h.LinkByName(name)
			must(t, err)
			must(t, side.h.LinkSetUp(l))
		}
		l, _ := side.h.LinkByName(side.ifname)
		a, _ := netlink.ParseAddr(side.addr + "/24")
		must(t, side.h.AddrAdd(l, a))
		if side.gw != "" {
			must(t, side.h.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Gw: net.ParseIP(side.gw)}))
		}
	}
	// IPv6 on the uplink too, with a default route on a link of another
	// MTU: skiff is IPv4 only and must neither trip over it nor take it.
	must(t, node.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "v6up", MTU: 9000}, PeerName: "v6peer", PeerMTU: 9000}))
	v6, _ := node.LinkByName("v6up")
	must(t, node.LinkSetUp(v6))
	a6, _ := netlink.ParseAddr("fd00:77::1/64")
	a6.Flags = unix.IFA_F_NODAD
	must(t, node.AddrAdd(v6, a6))
	must(t, node.RouteAdd(&netlink.Route{LinkIndex: v6.Attrs().Index, Gw: net.ParseIP("fd00:77::2")}))
	// A DROP policy on FORWARD, as Docker and many firewalls leave it:
	// skiff's own ACCEPTs must carry pod traffic.
	must(t, inNS(tn.nodeNS, func() error {
		ipt, err := iptables.New()
		if err != nil {
			return err
		}
		return ipt.ChangePolicy("filter", "FORWARD", "DROP")
	}))
	tn.cfg = Config{
		Bridge:      testBridge,
		PodCIDR:     testPodCIDR,
		ClusterCIDR: testCluster,
		NetNSDir:    netnsDir,
		NodeNetNS:   tn.nodeNS,
	}
	return tn
}

// start opens the agent's store and a Network on it and runs EnsureHost,
// as the agent does at every start.
func (tn *testNode) start(t *testing.T) *Network {
	t.Helper()
	db, err := sql.Open("sqlite3", tn.dbPath+"?_busy_timeout=5000&_journal_mode=WAL")
	must(t, err)
	t.Cleanup(func() { db.Close() })
	n, err := New(tn.cfg, db)
	must(t, err)
	must(t, n.EnsureHost(context.Background()))
	return n
}

// pod creates the pod's namespace and wires it.
func (tn *testNode) pod(t *testing.T, n *Network, uid string, ports ...HostPort) (PodIP, string) {
	t.Helper()
	p, err := n.CreateNetNS(uid)
	must(t, err)
	ip, err := n.Setup(context.Background(), uid, p, ports)
	must(t, err)
	return ip, p
}

func TestPodsReachEachOtherTheGatewayAndOutside(t *testing.T) {
	tn := newTestNode(t)
	n := tn.start(t)
	ipA, nsA := tn.pod(t, n, "pod-a")
	ipB, nsB := tn.pod(t, n, "pod-b")

	cidr := netip.MustParsePrefix(testPodCIDR)
	for _, ip := range []PodIP{ipA, ipB} {
		a, _ := netip.AddrFromSlice(ip.IP.To4())
		if !cidr.Contains(a) || ip.IP.Equal(ip.Gateway) || ip.Gateway.String() != "10.99.3.1" || ip.PrefixLen != 24 {
			t.Fatalf("pod got %+v, want an address of %s other than the gateway 10.99.3.1", ip, cidr)
		}
	}
	if ipA.IP.Equal(ipB.IP) {
		t.Fatalf("both pods got %s", ipA.IP)
	}
	if got, ok := n.PodIP("pod-b"); !ok || !got.Equal(ipB.IP) {
		t.Fatalf("PodIP(pod-b) = %v %v, want %s", got, ok, ipB.IP)
	}

	// MTU 0 took the default route's interface MTU.
	eth0 := linkIn(t, nsA, "eth0")
	if eth0.Attrs().MTU != uplinkMTU {
		t.Fatalf("pod eth0 MTU %d, want %d (the uplink's)", eth0.Attrs().MTU, uplinkMTU)
	}

	// ping: pod to pod, pod to gateway, node to pod.
	for _, p := range []struct{ from, to string }{
		{nsA, ipB.IP.String()}, {nsB, ipA.IP.String()}, {nsA, "10.99.3.1"}, {tn.nodeNS, ipB.IP.String()},
	} {
		if err := ping(p.from, p.to); err != nil {
			t.Fatalf("ping %s from %s: %v", p.to, filepath.Base(p.from), err)
		}
	}

	// Pod to pod: the peer sees the pod's own address (no masquerade).
	listen(t, nsB, ":8080")
	if got := dial(t, nsA, ipB.IP.String()+":8080"); got != ipA.IP.String() {
		t.Fatalf("pod-b saw the connection from %s, want pod-a's %s", got, ipA.IP)
	}
	listen(t, nsA, ":8080")
	if got := dial(t, nsB, ipA.IP.String()+":8080"); got != ipB.IP.String() {
		t.Fatalf("pod-a saw the connection from %s, want pod-b's %s", got, ipB.IP)
	}
	// Pod to the gateway (a listener on the node).
	listen(t, tn.nodeNS, "10.99.3.1:9090")
	if got := dial(t, nsA, "10.99.3.1:9090"); got != ipA.IP.String() {
		t.Fatalf("node saw pod-a as %s", got)
	}
	// Pod to outside the cluster CIDR: masqueraded to the node's uplink.
	listen(t, tn.outside, outsideIP+":7070")
	if got := dial(t, nsB, outsideIP+":7070"); got != nodeUplink {
		t.Fatalf("outside saw pod-b as %s, want the node's %s (masquerade)", got, nodeUplink)
	}

	// The rules are there, once each.
	onNode(t, tn, func(ipt *iptables.IPTables) error {
		if c := countRules(ipt, "nat", chainPostrouting, "-s "+testPodCIDR+" ! -d 224.0.0.0/4 -m comment --comment \"skiff pod egress\" -j MASQUERADE"); c != 1 {
			t.Errorf("%d pod egress masquerade rules, want 1", c)
		}
		for _, j := range baseJumps() {
			if c := countRules(ipt, j.table, j.chain, "-j "+j.spec[len(j.spec)-1]); c != 1 {
				t.Errorf("%s/%s has %d jumps to %s, want 1", j.table, j.chain, c, j.spec[len(j.spec)-1])
			}
		}
		return nil
	})
}

func TestSamePodSameIPAfterRestart(t *testing.T) {
	tn := newTestNode(t)
	n := tn.start(t)
	ipA, nsA := tn.pod(t, n, "pod-a")
	ipB, _ := tn.pod(t, n, "pod-b")
	rulesBefore := dumpRules(t, tn)
	vethBefore := linkIn(t, tn.nodeNS, ipA.HostVeth).Attrs().Index

	// Setup again on the same Network: nothing changes.
	again, err := n.Setup(context.Background(), "pod-a", nsA, nil)
	must(t, err)
	if !again.IP.Equal(ipA.IP) {
		t.Fatalf("second Setup gave %s, want %s", again.IP, ipA.IP)
	}

	// Agent restart: a new store handle and Network on the same file,
	// EnsureHost again, the pods' namespaces still pinned.
	n2 := tn.start(t)
	if got, ok := n2.PodIP("pod-b"); !ok || !got.Equal(ipB.IP) {
		t.Fatalf("after restart PodIP(pod-b) = %v %v, want %s", got, ok, ipB.IP)
	}
	p, err := n2.CreateNetNS("pod-a")
	must(t, err)
	if p != nsA {
		t.Fatalf("CreateNetNS after restart gave %s, want the pinned %s", p, nsA)
	}
	again, err = n2.Setup(context.Background(), "pod-a", p, nil)
	must(t, err)
	if !again.IP.Equal(ipA.IP) {
		t.Fatalf("after restart pod-a got %s, want %s", again.IP, ipA.IP)
	}
	if idx := linkIn(t, tn.nodeNS, ipA.HostVeth).Attrs().Index; idx != vethBefore {
		t.Fatalf("pod-a's veth was recreated (ifindex %d, was %d), not kept", idx, vethBefore)
	}
	if after := dumpRules(t, tn); after != rulesBefore {
		t.Fatalf("EnsureHost/Setup again changed the rules:\nbefore:\n%s\nafter:\n%s", rulesBefore, after)
	}
	// Still wired: pod-a reaches the gateway.
	listen(t, tn.nodeNS, "10.99.3.1:9090")
	if got := dial(t, nsA, "10.99.3.1:9090"); got != ipA.IP.String() {
		t.Fatalf("node saw pod-a as %s", got)
	}
	if _, err := n2.Setup(context.Background(), "pod-x", filepath.Join(tn.dir, "no-such-netns"), nil); err == nil {
		t.Fatal("Setup with a missing netns succeeded")
	}
	ipC, _ := tn.pod(t, n2, "pod-c")
	if ipC.IP.Equal(ipA.IP) || ipC.IP.Equal(ipB.IP) {
		t.Fatalf("pod-c got %s, already taken", ipC.IP)
	}
}

func TestTeardownLeavesNothing(t *testing.T) {
	tn := newTestNode(t)
	n := tn.start(t)
	ports := []HostPort{{Protocol: "TCP", HostPort: 30080, ContainerPort: 8080}, {Protocol: "UDP", HostPort: 30053, ContainerPort: 53}}
	ipA, nsA := tn.pod(t, n, "pod-a", ports...)
	_, nsB := tn.pod(t, n, "pod-b", ports[:1]...) // hostPort clash is the scheduler's business
	_ = nsB

	ctx := context.Background()
	must(t, n.Teardown(ctx, "pod-a", nsA))
	must(t, n.DeleteNetNS("pod-a"))
	assertGone(t, tn, n, "pod-a", nsA)
	// Idempotent.
	must(t, n.Teardown(ctx, "pod-a", nsA))
	must(t, n.DeleteNetNS("pod-a"))

	// The namespace can go first (a pod sandbox removed under us).
	must(t, n.DeleteNetNS("pod-b"))
	must(t, n.Teardown(ctx, "pod-b", nsB))
	assertGone(t, tn, n, "pod-b", nsB)

	// No rule mentions a pod any more; skiff's base chains remain.
	rules := dumpRules(t, tn)
	if strings.Contains(rules, "-j DNAT") || strings.Contains(rules, hostPortChainPrefix) || strings.Contains(rules, ipA.IP.String()) {
		t.Fatalf("rules left after teardown:\n%s", rules)
	}
}

func TestGCRemovesPodsNotLive(t *testing.T) {
	tn := newTestNode(t)
	n := tn.start(t)
	ipA, nsA := tn.pod(t, n, "pod-a", HostPort{HostPort: 30081, ContainerPort: 8080})
	_, nsB := tn.pod(t, n, "pod-b", HostPort{HostPort: 30082, ContainerPort: 8080})
	_, nsC := tn.pod(t, n, "pod-c", HostPort{HostPort: 30083, ContainerPort: 8080})
	// pod-c's record is lost (a store restored from a backup, say): GC
	// must find its veth, chain and namespace without it.
	db, err := sql.Open("sqlite3", tn.dbPath)
	must(t, err)
	_, err = db.Exec(`DELETE FROM network_ipam WHERE pod_uid = 'pod-c'`)
	must(t, err)
	db.Close()

	// A crash: the agent comes back and only pod-a is still wanted.
	n2 := tn.start(t)
	must(t, n2.GC(context.Background(), map[string]bool{"pod-a": true}))
	assertGone(t, tn, n2, "pod-b", nsB)
	assertGone(t, tn, n2, "pod-c", nsC)

	// pod-a untouched: address, veth, namespace, hostPort.
	if got, ok := n2.PodIP("pod-a"); !ok || !got.Equal(ipA.IP) {
		t.Fatalf("pod-a lost its address: %v %v", got, ok)
	}
	listen(t, nsA, ":8080")
	if got := dial(t, tn.outside, nodeUplink+":30081"); got == "" {
		t.Fatal("pod-a's hostPort broken by GC")
	}
}

func TestRemoveHost(t *testing.T) {
	tn := newTestNode(t)
	n := tn.start(t)
	tn.pod(t, n, "pod-a", HostPort{HostPort: 30081, ContainerPort: 8080})
	before := dumpRules(t, tn)
	must(t, n.GC(context.Background(), nil))
	must(t, n.RemoveHost(context.Background()))
	must(t, n.RemoveHost(context.Background())) // idempotent
	if rules := dumpRules(t, tn); strings.Contains(rules, "SKIFF") || strings.Contains(rules, "skiff") {
		t.Fatalf("rules left:\n%s", rules)
	}
	if _, err := openHandle(t, tn.nodeNS).LinkByName(testBridge); err == nil {
		t.Fatalf("bridge %s left", testBridge)
	}
	// And back: EnsureHost puts up the same as before, less the pod.
	must(t, n.EnsureHost(context.Background()))
	if !strings.Contains(before, hostPortChainPrefix) {
		t.Fatal("test broken: pod-a had no hostPort chain")
	}
	if got := dumpRules(t, tn); strings.Contains(got, hostPortChainPrefix) || !strings.Contains(got, chainPostrouting) {
		t.Fatalf("after EnsureHost:\n%s", got)
	}
}

func TestHostPort(t *testing.T) {
	// With br_netfilter's bridge-nf-call-iptables on, replies between pods
	// on the bridge go through conntrack; with it off (no br_netfilter
	// module) they do not, and hairpin works only through skiff's
	// masquerade. Both must work.
	for _, brnf := range []string{"1", "0"} {
		t.Run("bridge-nf-call-iptables="+brnf, func(t *testing.T) { testHostPort(t, brnf) })
	}
}

func testHostPort(t *testing.T, brnf string) {
	tn := newTestNode(t)
	must(t, inNS(tn.nodeNS, func() error {
		if _, err := os.Stat("/proc/sys/net/bridge/bridge-nf-call-iptables"); err != nil {
			return nil // no br_netfilter: "0" is what we have
		}
		return writeSysctl("net/bridge/bridge-nf-call-iptables", brnf)
	}))
	n := tn.start(t)
	_, nsA := tn.pod(t, n, "pod-a",
		HostPort{Protocol: "TCP", HostPort: 30080, ContainerPort: 8080},
		HostPort{Protocol: "TCP", HostPort: 30081, ContainerPort: 8080, HostIP: "10.99.3.1"},
		HostPort{Protocol: "UDP", HostPort: 30053, ContainerPort: 5353})
	_, nsB := tn.pod(t, n, "pod-b")
	listen(t, nsA, ":8080")
	listenUDP(t, nsA, ":5353")

	t.Run("udp from outside", func(t *testing.T) {
		if got, err := tryUDP(tn.outside, nodeUplink+":30053"); err != nil || got != outsideIP {
			t.Fatalf("got %q, %v; want the client's address %s", got, err, outsideIP)
		}
	})
	for _, tc := range []struct {
		name, from, addr string
	}{
		{"from outside to the node's address", tn.outside, nodeUplink + ":30080"},
		{"from the node to its own address", tn.nodeNS, nodeUplink + ":30080"},
		{"from the node to localhost", tn.nodeNS, "127.0.0.1:30080"},
		{"from another pod (hairpin)", nsB, nodeUplink + ":30080"},
		{"from the pod itself (hairpin)", nsA, nodeUplink + ":30080"},
		{"hostIP: the rule's address", tn.nodeNS, "10.99.3.1:30081"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := dial(t, tc.from, tc.addr); got == "" {
				t.Fatal("no answer")
			}
		})
	}
	// A hostIP rule does not apply to the node's other addresses.
	if _, err := tryDial(tn.outside, nodeUplink+":30081"); err == nil {
		t.Fatalf("hostPort with hostIP 10.99.3.1 answered on %s", nodeUplink)
	}
	// Outside clients keep their address (no SNAT on the way in).
	if got := dial(t, tn.outside, nodeUplink+":30080"); got != outsideIP {
		t.Fatalf("pod saw the outside client as %s, want %s", got, outsideIP)
	}
}

// TestAgentOwnNamespace runs the production path (Config.NodeNetNS ""),
// with the calling thread in the test node's namespace standing in for
// the agent's.
func TestAgentOwnNamespace(t *testing.T) {
	tn := newTestNode(t)
	db, err := sql.Open("sqlite3", tn.dbPath)
	must(t, err)
	defer db.Close()
	cfg := tn.cfg
	cfg.NodeNetNS = ""
	var ip PodIP
	var nsA string
	must(t, inNS(tn.nodeNS, func() error {
		n, err := New(cfg, db)
		if err != nil {
			return err
		}
		ctx := context.Background()
		if err := n.EnsureHost(ctx); err != nil {
			return err
		}
		if nsA, err = n.CreateNetNS("pod-a"); err != nil {
			return err
		}
		if ip, err = n.Setup(ctx, "pod-a", nsA, []HostPort{{HostPort: 30080, ContainerPort: 8080}}); err != nil {
			return err
		}
		return nil
	}))
	listen(t, nsA, ":8080")
	if got := dial(t, tn.outside, nodeUplink+":30080"); got != outsideIP {
		t.Fatalf("hostPort: pod saw the client as %q, want %s", got, outsideIP)
	}
	listen(t, tn.outside, outsideIP+":7070")
	if got := dial(t, nsA, outsideIP+":7070"); got != nodeUplink {
		t.Fatalf("egress: outside saw the pod (%s) as %q, want %s", ip.IP, got, nodeUplink)
	}
	// Nothing landed in the namespace the test process itself runs in.
	if _, err := netlink.LinkByName(testBridge); err == nil {
		t.Fatalf("bridge %s created outside the node namespace", testBridge)
	}
	if _, err := netlink.LinkByName(ip.HostVeth); err == nil {
		t.Fatalf("veth %s created outside the node namespace", ip.HostVeth)
	}
	must(t, inNS(tn.nodeNS, func() error {
		n, err := New(cfg, db)
		if err != nil {
			return err
		}
		if err := n.Teardown(context.Background(), "pod-a", nsA); err != nil {
			return err
		}
		return n.DeleteNetNS("pod-a")
	}))
	assertGone(t, tn, tn.start(t), "pod-a", nsA)
}

// assertGone checks that nothing of the pod is left on the node.
func assertGone(t *testing.T, tn *testNode, n *Network, uid, nsPath string) {
	t.Helper()
	h := openHandle(t, tn.nodeNS)
	if _, err := h.LinkByName(vethName(uid)); err == nil {
		t.Errorf("%s: veth %s still there", uid, vethName(uid))
	}
	if _, err := os.Stat(nsPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s: netns %s still there (%v)", uid, nsPath, err)
	}
	if ip, ok := n.PodIP(uid); ok {
		t.Errorf("%s: still holds %s", uid, ip)
	}
	onNode(t, tn, func(ipt *iptables.IPTables) error {
		chain := hostPortChain(uid)
		if ok, _ := ipt.ChainExists("nat", chain); ok {
			t.Errorf("%s: chain %s still there", uid, chain)
		}
		if c := countRules(ipt, "nat", chainHostPorts, chain); c != 0 {
			t.Errorf("%s: %d jumps to %s left", uid, c, chain)
		}
		return nil
	})
}

// --- helpers: run code in a namespace, listen, dial ---

// inNS runs fn on a fresh OS thread inside the namespace pinned at path;
// the thread is thrown away afterwards.
func inNS(path string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		ns, err := netns.GetFromPath(path)
		if err != nil {
			errc <- err
			return
		}
		defer ns.Close()
		if err := netns.Set(ns); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// listen serves on addr inside the namespace: each connection is told the
// address it came from, then closed. The socket stays in the namespace it
// was made in, whatever thread serves it.
func listen(t *testing.T, nsPath, addr string) {
	t.Helper()
	var ln net.Listener
	must(t, inNS(nsPath, func() (err error) {
		ln, err = net.Listen("tcp4", addr)
		return err
	}))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			_, _ = io.WriteString(c, host)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
}

// listenUDP answers each datagram with the address it came from.
func listenUDP(t *testing.T, nsPath, addr string) {
	t.Helper()
	var pc net.PacketConn
	must(t, inNS(nsPath, func() (err error) {
		pc, err = net.ListenPacket("udp4", addr)
		return err
	}))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 64)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			host, _, _ := net.SplitHostPort(from.String())
			_, _ = pc.WriteTo([]byte(host), from)
		}
	}()
	t.Cleanup(func() { pc.Close(); wg.Wait() })
}

// tryUDP sends one datagram from inside the namespace and returns the answer.
func tryUDP(nsPath, addr string) (string, error) {
	var got string
	err := inNS(nsPath, func() error {
		c, err := net.Dial("udp4", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write([]byte("hi")); err != nil {
			return err
		}
		b := make([]byte, 64)
		k, err := c.Read(b)
		got = string(b[:k])
		return err
	})
	return got, err
}

// ping sends one ICMP echo request from inside the namespace and waits
// for the reply.
func ping(nsPath, dst string) error {
	return inNS(nsPath, func() error {
		c, err := icmp.ListenPacket("ip4:icmp", "0.0.0.0")
		if err != nil {
			return err
		}
		defer c.Close()
		id := os.Getpid() & 0xffff
		req := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: id, Seq: 1, Data: []byte("skiff")}}
		b, err := req.Marshal(nil)
		if err != nil {
			return err
		}
		if _, err := c.WriteTo(b, &net.IPAddr{IP: net.ParseIP(dst)}); err != nil {
			return err
		}
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 1500)
		for {
			k, peer, err := c.ReadFrom(buf)
			if err != nil {
				return err
			}
			m, err := icmp.ParseMessage(1, buf[:k]) // 1: ICMP for IPv4
			if err != nil {
				continue
			}
			if e, ok := m.Body.(*icmp.Echo); ok && m.Type == ipv4.ICMPTypeEchoReply && e.ID == id && peer.String() == dst {
				return nil
			}
		}
	})
}

// dial connects from inside the namespace and returns what the listener
// answered (the source address it saw).
func dial(t *testing.T, nsPath, addr string) string {
	t.Helper()
	got, err := tryDial(nsPath, addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, filepath.Base(nsPath), err)
	}
	return got
}

func tryDial(nsPath, addr string) (string, error) {
	var got string
	err := inNS(nsPath, func() error {
		c, err := net.DialTimeout("tcp4", addr, 2*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		b, err := io.ReadAll(c)
		got = string(b)
		return err
	})
	return got, err
}

func openHandle(t *testing.T, nsPath string) *netlink.Handle {
	t.Helper()
	ns, err := netns.GetFromPath(nsPath)
	must(t, err)
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	must(t, err)
	t.Cleanup(h.Close)
	return h
}

func linkIn(t *testing.T, nsPath, name string) netlink.Link {
	t.Helper()
	l, err := openHandle(t, nsPath).LinkByName(name)
	must(t, err)
	return l
}

// onNode runs fn with an iptables client working in the node namespace.
// fn runs on another goroutine: it may call t.Errorf, not t.Fatal.
func onNode(t *testing.T, tn *testNode, fn func(*iptables.IPTables) error) {
	t.Helper()
	must(t, inNS(tn.nodeNS, func() error {
		ipt, err := iptables.New()
		if err != nil {
			return err
		}
		return fn(ipt)
	}))
}

// dumpRules is every rule of the node namespace's nat and filter tables.
func dumpRules(t *testing.T, tn *testNode) string {
	t.Helper()
	var out []string
	onNode(t, tn, func(ipt *iptables.IPTables) error {
		for _, table := range []string{"nat", "filter"} {
			chains, err := ipt.ListChains(table)
			if err != nil {
				return err
			}
			for _, c := range chains {
				rules, err := ipt.List(table, c)
				if err != nil {
					return err
				}
				out = append(out, rules...)
			}
		}
		return nil
	})
	return strings.Join(out, "\n")
}

func countRules(ipt *iptables.IPTables, table, chain, substr string) int {
	rules, err := ipt.List(table, chain)
	if err != nil {
		return 0
	}
	c := 0
	for _, r := range rules {
		if strings.HasPrefix(r, "-A ") && strings.Contains(r, substr) {
			c++
		}
	}
	return c
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestNetNSDirPerAgent: an agent pins its pods' namespaces in a directory
// of its own, so GC leaves another agent's pins on the same host alone;
// a pod an earlier agent pinned in the shared (legacy) directory keeps
// its namespace across the upgrade and is removed with the pod.
func TestNetNSDirPerAgent(t *testing.T) {
	tn := newTestNode(t)
	root := tn.cfg.NetNSDir
	// An earlier agent pinned pod-old directly under root.
	old := tn.start(t)
	_, nsOld := tn.pod(t, old, "pod-old")
	if nsOld != filepath.Join(root, "pod-old") {
		t.Fatalf("legacy pin at %s", nsOld)
	}
	// Another agent on the host (a node in another network namespace)
	// pins its pod in its own directory.
	other := filepath.Join(root, "other-node")
	must(t, os.MkdirAll(other, 0o755))
	otherPin := filepath.Join(other, "pod-other")
	must(t, pinNewNetNS(otherPin))
	t.Cleanup(func() { _ = unpinNetNS(otherPin) })

	tn.cfg.NetNSDir, tn.cfg.LegacyNetNSDir = filepath.Join(root, "this-node"), root
	n := tn.start(t)
	if got := n.NetNSPath("pod-old"); got != nsOld {
		t.Fatalf("NetNSPath(pod-old) = %s, want the legacy pin %s", got, nsOld)
	}
	_, nsNew := tn.pod(t, n, "pod-new")
	if nsNew != filepath.Join(root, "this-node", "pod-new") {
		t.Fatalf("new pod pinned at %s", nsNew)
	}
	t.Cleanup(func() { _ = unpinNetNS(nsNew) })
	must(t, n.GC(context.Background(), map[string]bool{"pod-old": true, "pod-new": true}))
	for _, p := range []string{nsOld, nsNew, otherPin} {
		if !isNetNSMount(p) {
			t.Fatalf("GC removed %s", p)
		}
	}
	// pod-old goes with its pod.
	must(t, n.Teardown(context.Background(), "pod-old", n.NetNSPath("pod-old")))
	must(t, n.DeleteNetNS("pod-old"))
	if isNetNSMount(nsOld) {
		t.Fatal("the legacy pin of a removed pod is still mounted")
	}
	if !isNetNSMount(otherPin) {
		t.Fatal("another agent's pin was removed")
	}
}

// TestParallelPods wires and unwires pods from many goroutines at once,
// as the agent's pod workers do: every pod gets its own address, works,
// and leaves nothing behind; pods with hostPorts among them keep their
// rules apart.
func TestParallelPods(t *testing.T) {
	tn := newTestNode(t)
	n := tn.start(t)
	ctx := context.Background()
	const pods = 24
	type wired struct {
		ip PodIP
		ns string
	}
	got := make([]wired, pods)
	errs := make([]error, pods)
	ports := func(i int) []HostPort {
		if i%4 != 0 {
			return nil
		}
		return []HostPort{{Protocol: "TCP", HostPort: int32(31000 + i), ContainerPort: 8080}}
	}
	var wg sync.WaitGroup
	for i := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			uid := fmt.Sprintf("pod-%d", i)
			p, err := n.CreateNetNS(uid)
			if err != nil {
				errs[i] = err
				return
			}
			ip, err := n.Setup(ctx, uid, p, ports(i))
			got[i], errs[i] = wired{ip, p}, err
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, w := range got {
		must(t, errs[i])
		if seen[w.ip.IP.String()] {
			t.Fatalf("%s handed out twice", w.ip.IP)
		}
		seen[w.ip.IP.String()] = true
		if ip, ok := n.PodIP(fmt.Sprintf("pod-%d", i)); !ok || !ip.Equal(w.ip.IP) {
			t.Fatalf("pod-%d: store has %v %v, Setup gave %s", i, ip, ok, w.ip.IP)
		}
	}
	for i, w := range got {
		if err := ping(w.ns, "10.99.3.1"); err != nil {
			t.Fatalf("pod-%d cannot reach the gateway: %v", i, err)
		}
	}
	listen(t, got[4].ns, ":8080")
	if a := dial(t, tn.outside, nodeUplink+":31004"); a != outsideIP {
		t.Fatalf("pod-4's hostPort answered %q", a)
	}
	onNode(t, tn, func(ipt *iptables.IPTables) error {
		if c := countRules(ipt, "nat", chainHostPorts, hostPortChainPrefix); c != pods/4 {
			t.Errorf("%d hostPort jumps, want %d", c, pods/4)
		}
		return nil
	})

	for i := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			uid := fmt.Sprintf("pod-%d", i)
			if errs[i] = n.Teardown(ctx, uid, got[i].ns); errs[i] == nil {
				errs[i] = n.DeleteNetNS(uid)
			}
		}()
	}
	wg.Wait()
	for i := range pods {
		must(t, errs[i])
		assertGone(t, tn, n, fmt.Sprintf("pod-%d", i), got[i].ns)
	}
	if rules := dumpRules(t, tn); strings.Contains(rules, hostPortChainPrefix) || strings.Contains(rules, "-j DNAT") {
		t.Fatalf("rules left:\n%s", rules)
	}
}

// TestConntrackOfReusedAddress: a pod's conntrack entries are gone before
// its address is handed to another pod. Without hostPorts they are
// flushed when the address is reused (the walk of the conntrack table is
// the costly part of a pod's removal); with hostPorts, at once.
func TestConntrackOfReusedAddress(t *testing.T) {
	tn := newTestNode(t)
	tn.cfg.PodCIDR = "10.99.3.0/29" // .2 to .6: the sixth pod reuses an address
	n := tn.start(t)
	ctx := context.Background()
	node := openHandle(t, tn.nodeNS)
	entries := func(ip net.IP) int {
		t.Helper()
		flows, err := node.ConntrackTableList(netlink.ConntrackTable, unix.AF_INET)
		must(t, err)
		c := 0
		for _, f := range flows {
			if f.Forward.SrcIP.Equal(ip) || f.Reverse.SrcIP.Equal(ip) {
				c++
			}
		}
		return c
	}
	listen(t, tn.outside, outsideIP+":7070")

	ipA, nsA := tn.pod(t, n, "pod-a")
	dial(t, nsA, outsideIP+":7070")
	if entries(ipA.IP) == 0 {
		t.Fatal("test broken: pod-a's connection left no conntrack entry")
	}
	must(t, n.Teardown(ctx, "pod-a", nsA))
	must(t, n.DeleteNetNS("pod-a"))
	if entries(ipA.IP) == 0 {
		t.Fatal("pod-a's entries were flushed at teardown, not when its address is reused")
	}

	// pod-h with a UDP hostPort: an outside client's flow through it is
	// DNATed to its address, and goes with the pod.
	ipH, nsH := tn.pod(t, n, "pod-h", HostPort{Protocol: "UDP", HostPort: 30053, ContainerPort: 5353})
	listenUDP(t, nsH, ":5353")
	if got, err := tryUDP(tn.outside, nodeUplink+":30053"); err != nil || got != outsideIP {
		t.Fatalf("hostPort: %q, %v", got, err)
	}
	if entries(ipH.IP) == 0 {
		t.Fatal("test broken: the hostPort flow left no conntrack entry")
	}
	must(t, n.Teardown(ctx, "pod-h", nsH))
	must(t, n.DeleteNetNS("pod-h"))
	if c := entries(ipH.IP); c != 0 {
		t.Fatalf("%d conntrack entries of pod-h (hostPorts) left after teardown", c)
	}

	// .4 .5 .6, then pod-a's .2 again.
	for _, p := range []string{"b", "c", "d"} {
		tn.pod(t, n, "pod-"+p)
	}
	ipE, _ := tn.pod(t, n, "pod-e")
	if !ipE.IP.Equal(ipA.IP) {
		t.Fatalf("pod-e got %s, want pod-a's %s reused", ipE.IP, ipA.IP)
	}
	if c := entries(ipA.IP); c != 0 {
		t.Fatalf("pod-e got %s with %d of pod-a's conntrack entries still there", ipE.IP, c)
	}
}
