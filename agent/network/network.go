package network

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/coreos/go-iptables/iptables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Config says how pods are wired on this node.
type Config struct {
	// Bridge is the name of the pods' bridge, e.g. "skiff0".
	Bridge string
	// PodCIDR is this node's pod range, e.g. 10.42.3.0/24. Its first
	// address is the gateway, held by the bridge.
	PodCIDR string
	// ClusterCIDR holds every node's pod range, e.g. 10.42.0.0/16: traffic
	// from a pod to an address inside it is not masqueraded.
	ClusterCIDR string
	// MTU of the bridge and the veths; 0 takes the MTU of the interface
	// of the default IPv4 route (1500 without one).
	MTU int
	// NetNSDir is where pod network namespaces are pinned (bind mounts):
	// /run/skiff/netns/<node name>, a directory of this agent's own, so
	// that a second agent on the host (a test, or a node in a network
	// namespace) never takes another's pins for leftovers.
	NetNSDir string
	// LegacyNetNSDir is where agents before the per-node directory pinned
	// them (/run/skiff/netns): a pod still pinned there when the agent is
	// upgraded keeps its namespace.
	LegacyNetNSDir string
	// NodeNetNS is the path of the network namespace that plays the node:
	// "" is the agent's own (production); tests point it at one they made.
	NodeNetNS string
}

// Errors callers may check with errors.Is.
var (
	// ErrInvalidConfig is returned by New for a Config it cannot use.
	ErrInvalidConfig = errors.New("invalid network config")
	// ErrRangeExhausted is returned by Setup when the pod CIDR has no
	// free address left.
	ErrRangeExhausted = errors.New("pod CIDR exhausted")
)

// Network sets up the node's pod network. Its methods are safe for
// concurrent use. Different pods are wired and unwired in parallel (a
// node starting many pods at once would otherwise queue them all behind
// one another's netlink and IPAM work); one pod's operations run one at
// a time, and GC and RemoveHost run alone.
type Network struct {
	cfg     Config
	podNet  netip.Prefix // masked
	gateway netip.Addr
	cluster netip.Prefix

	db  *sql.DB
	ipt *iptables.IPTables

	// mu is held for reading by pod operations (Setup, Teardown) and for
	// writing by GC and RemoveHost, which look at every pod's state.
	mu   sync.RWMutex
	pods podLocks // one pod's Setup and Teardown never overlap
	// ipam runs one IPAM transaction at a time, so that concurrent
	// set-ups queue here rather than in SQLite's busy handler.
	ipam sync.Mutex

	// hostPorts guards the hostPort chains (SKIFF-HOSTPORTS and the
	// per-pod chains, which Setup and Teardown of different pods change)
	// and hpChains.
	hostPorts sync.Mutex
	// hpChains holds the per-pod hostPort chains that may exist; a chain
	// not in it certainly does not, so wiring or removing a pod without
	// hostPorts runs no iptables command. nil (before EnsureHost has
	// listed the chains, or after a listing failed) means unknown.
	hpChains map[string]bool
}

// PodIP is what Setup gives a pod.
type PodIP struct {
	// IP is the pod's address (status.podIP).
	IP net.IP
	// Gateway is the bridge's address, the pod's default route.
	Gateway net.IP
	// PrefixLen is the pod CIDR's prefix length, as set on eth0.
	PrefixLen int
	// HostVeth is the host end of the pod's veth pair.
	HostVeth string
}

// New checks cfg and creates the IPAM tables in db (the agent's SQLite
// store, already open). It changes nothing on the host: EnsureHost does.
func New(cfg Config, db *sql.DB) (*Network, error) {
	if cfg.Bridge == "" || len(cfg.Bridge) > 15 || cfg.Bridge == "." || cfg.Bridge == ".." ||
		strings.ContainsAny(cfg.Bridge, "/: \t\n\x00") {
		return nil, fmt.Errorf("%w: bridge name %q is not an interface name (1 to 15 characters, no '/', ':' or spaces)", ErrInvalidConfig, cfg.Bridge)
	}
	podNet, err := netip.ParsePrefix(cfg.PodCIDR)
	if err != nil || !podNet.Addr().Is4() {
		return nil, fmt.Errorf("%w: pod CIDR %q is not an IPv4 CIDR", ErrInvalidConfig, cfg.PodCIDR)
	}
	podNet = podNet.Masked()
	if podNet.Bits() > 30 {
		return nil, fmt.Errorf("%w: pod CIDR %s is too small (at most /30)", ErrInvalidConfig, podNet)
	}
	cluster, err := netip.ParsePrefix(cfg.ClusterCIDR)
	if err != nil || !cluster.Addr().Is4() {
		return nil, fmt.Errorf("%w: cluster CIDR %q is not an IPv4 CIDR", ErrInvalidConfig, cfg.ClusterCIDR)
	}
	cluster = cluster.Masked()
	if cluster.Bits() > podNet.Bits() || !cluster.Contains(podNet.Addr()) {
		return nil, fmt.Errorf("%w: pod CIDR %s is not inside cluster CIDR %s", ErrInvalidConfig, podNet, cluster)
	}
	if cfg.MTU < 0 || (cfg.MTU > 0 && cfg.MTU < 576) {
		return nil, fmt.Errorf("%w: MTU %d", ErrInvalidConfig, cfg.MTU)
	}
	if !filepath.IsAbs(cfg.NetNSDir) {
		return nil, fmt.Errorf("%w: netns dir %q must be an absolute path", ErrInvalidConfig, cfg.NetNSDir)
	}
	if db == nil {
		return nil, fmt.Errorf("%w: no database", ErrInvalidConfig)
	}
	ipt, err := iptables.New(iptables.IPFamily(iptables.ProtocolIPv4))
	if err != nil {
		return nil, fmt.Errorf("network: iptables (install the iptables package): %w", err)
	}
	n := &Network{
		cfg:     cfg,
		podNet:  podNet,
		gateway: podNet.Addr().Next(),
		cluster: cluster,
		db:      db,
		ipt:     ipt,
	}
	if err := createIPAMTables(db); err != nil {
		return nil, err
	}
	return n, nil
}

// onNode runs fn on an OS thread that is in the node's network namespace,
// for work that follows the calling thread's namespace: the iptables
// binary (inherits it at fork) and /proc/sys/net. Netlink goes through
// handles bound to a namespace instead.
func (n *Network) onNode(fn func() error) error {
	if n.cfg.NodeNetNS == "" {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread ends with this goroutine, so it can
		// not carry the node's namespace into unrelated goroutines.
		runtime.LockOSThread()
		ns, err := netns.GetFromPath(n.cfg.NodeNetNS)
		if err != nil {
			errc <- fmt.Errorf("network: open node netns: %w", err)
			return
		}
		defer ns.Close()
		if err := netns.Set(ns); err != nil {
			errc <- fmt.Errorf("network: enter node netns: %w", err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// nodeHandle opens a netlink handle in the node's network namespace.
func (n *Network) nodeHandle() (*netlink.Handle, error) {
	if n.cfg.NodeNetNS == "" {
		h, err := netlink.NewHandle()
		if err != nil {
			return nil, fmt.Errorf("network: netlink: %w", err)
		}
		return h, nil
	}
	ns, err := netns.GetFromPath(n.cfg.NodeNetNS)
	if err != nil {
		return nil, fmt.Errorf("network: open node netns: %w", err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("network: netlink in node netns: %w", err)
	}
	return h, nil
}

// podHash names a pod's host-side objects: short, stable across restarts,
// and free of characters interface and chain names cannot hold.
func podHash(podUID string) string {
	sum := sha256.Sum256([]byte(podUID))
	return hex.EncodeToString(sum[:])
}

// vethName is the host end of a pod's veth pair (15 characters, the
// kernel's limit).
func vethName(podUID string) string { return "veth" + podHash(podUID)[:11] }

// hostPortChain is the nat chain holding a pod's hostPort DNAT rules.
func hostPortChain(podUID string) string {
	return hostPortChainPrefix + strings.ToUpper(podHash(podUID)[:16])
}

// checkPodUID refuses a UID that cannot be a file name under NetNSDir.
func checkPodUID(podUID string) error {
	if podUID == "" || podUID == "." || podUID == ".." || strings.ContainsAny(podUID, "/\x00") {
		return fmt.Errorf("network: invalid pod uid %q", podUID)
	}
	return nil
}

func ipOf(a netip.Addr) net.IP { return net.IP(a.AsSlice()) }

// podLocks hands out one mutex per pod UID, kept only while in use.
type podLocks struct {
	mu    sync.Mutex
	locks map[string]*podLock
}

type podLock struct {
	mu   sync.Mutex
	refs int // holders and waiters
}

// lock locks the pod's mutex and returns its unlock.
func (l *podLocks) lock(uid string) (unlock func()) {
	l.mu.Lock()
	if l.locks == nil {
		l.locks = map[string]*podLock{}
	}
	pl := l.locks[uid]
	if pl == nil {
		pl = &podLock{}
		l.locks[uid] = pl
	}
	pl.refs++
	l.mu.Unlock()
	pl.mu.Lock()
	return func() {
		pl.mu.Unlock()
		l.mu.Lock()
		if pl.refs--; pl.refs == 0 {
			delete(l.locks, uid)
		}
		l.mu.Unlock()
	}
}
