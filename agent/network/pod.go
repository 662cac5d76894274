package network

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// podIfName is the pod end of the veth pair, as Kubernetes users expect.
const podIfName = "eth0"

// Setup wires the pod whose network namespace is pinned at netnsPath: a
// veth pair with its host end on the bridge and "eth0" inside holding the
// pod's address and a default route via the gateway, lo up, and DNAT rules
// for hostPorts. It is idempotent: the same pod gets the same address
// back, also after an agent restart (the address is kept in the store).
// EnsureHost must have run. After an error, call Teardown or Setup again.
func (n *Network) Setup(ctx context.Context, podUID, netnsPath string, hostPorts []HostPort) (PodIP, error) {
	if err := checkPodUID(podUID); err != nil {
		return PodIP{}, err
	}
	// Reject bad hostPorts before taking an address.
	if _, err := hostPortRules(podUID, n.gateway, hostPorts); err != nil {
		return PodIP{}, err
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	defer n.pods.lock(podUID)()

	podNS, err := netns.GetFromPath(netnsPath)
	if err != nil {
		return PodIP{}, fmt.Errorf("network: pod %s netns %s: %w", podUID, netnsPath, err)
	}
	defer podNS.Close()

	h, err := n.nodeHandle()
	if err != nil {
		return PodIP{}, err
	}
	defer h.Close()
	br, err := h.LinkByName(n.cfg.Bridge)
	if err != nil {
		return PodIP{}, fmt.Errorf("network: bridge %s (EnsureHost not run?): %w", n.cfg.Bridge, err)
	}
	ph, err := netlink.NewHandleAt(podNS)
	if err != nil {
		return PodIP{}, fmt.Errorf("network: netlink in pod %s netns: %w", podUID, err)
	}
	defer ph.Close()

	ip, err := n.allocate(ctx, podUID, func(released []netip.Addr) { flushPodConntrack(h, released) })
	if err != nil {
		return PodIP{}, err
	}
	if err := ctx.Err(); err != nil {
		return PodIP{}, err
	}

	hostName := vethName(podUID)
	host, pod, err := ensureVeth(h, ph, podNS, hostName, br)
	if err != nil {
		return PodIP{}, fmt.Errorf("network: pod %s veth: %w", podUID, err)
	}
	if err := n.configurePodSide(ph, pod, ip); err != nil {
		return PodIP{}, fmt.Errorf("network: pod %s: %w", podUID, err)
	}
	if err := h.LinkSetHairpin(host, true); err != nil {
		return PodIP{}, fmt.Errorf("network: pod %s: hairpin on %s: %w", podUID, hostName, err)
	}
	if err := h.LinkSetUp(host); err != nil {
		return PodIP{}, fmt.Errorf("network: pod %s: %s up: %w", podUID, hostName, err)
	}

	rules, err := hostPortRules(podUID, ip, hostPorts)
	if err != nil {
		return PodIP{}, err
	}
	if err := n.setHostPortChain(hostPortChain(podUID), rules); err != nil {
		return PodIP{}, fmt.Errorf("network: pod %s hostPorts: %w", podUID, err)
	}
	flushUDPHostPorts(h, hostPorts)

	return PodIP{
		IP:        ipOf(ip),
		Gateway:   ipOf(n.gateway),
		PrefixLen: n.podNet.Bits(),
		HostVeth:  hostName,
	}, nil
}

// ensureVeth returns the pod's veth pair, creating it when it is missing
// or half there (one end left by a crash, or a pod netns made anew).
func ensureVeth(h, ph *netlink.Handle, podNS netns.NsHandle, hostName string, br netlink.Link) (host, pod netlink.Link, err error) {
	host, herr := h.LinkByName(hostName)
	pod, perr := ph.LinkByName(podIfName)
	if herr == nil && perr == nil && host.Type() == "veth" && pod.Type() == "veth" &&
		pod.Attrs().ParentIndex == host.Attrs().Index {
		if host.Attrs().MasterIndex != br.Attrs().Index {
			if err := h.LinkSetMasterByIndex(host, br.Attrs().Index); err != nil {
				return nil, nil, fmt.Errorf("attach %s to %s: %w", hostName, br.Attrs().Name, err)
			}
		}
		return host, pod, nil
	}
	if herr == nil {
		if err := h.LinkDel(host); err != nil && !isNotFound(err) {
			return nil, nil, fmt.Errorf("remove stale %s: %w", hostName, err)
		}
	}
	if perr == nil {
		if err := ph.LinkDel(pod); err != nil && !isNotFound(err) {
			return nil, nil, fmt.Errorf("remove stale %s in pod: %w", podIfName, err)
		}
	}
	mtu := br.Attrs().MTU
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: hostName, MTU: mtu, MasterIndex: br.Attrs().Index},
		PeerName:      podIfName,
		PeerMTU:       uint32(mtu),
		PeerNamespace: netlink.NsFd(podNS),
	}
	if err := h.LinkAdd(veth); err != nil {
		return nil, nil, fmt.Errorf("create %s/%s: %w", hostName, podIfName, err)
	}
	if host, err = h.LinkByName(hostName); err != nil {
		return nil, nil, fmt.Errorf("find %s: %w", hostName, err)
	}
	if pod, err = ph.LinkByName(podIfName); err != nil {
		return nil, nil, fmt.Errorf("find %s in pod: %w", podIfName, err)
	}
	return host, pod, nil
}

// configurePodSide gives eth0 the pod's address and the default route,
// and brings eth0 and lo up.
func (n *Network) configurePodSide(ph *netlink.Handle, eth0 netlink.Link, ip netip.Addr) error {
	lo, err := ph.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("lo: %w", err)
	}
	if err := ph.LinkSetUp(lo); err != nil {
		return fmt.Errorf("lo up: %w", err)
	}
	want := &net.IPNet{IP: ipOf(ip), Mask: net.CIDRMask(n.podNet.Bits(), 32)}
	addrs, err := ph.AddrList(eth0, netlink.FAMILY_V4)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return fmt.Errorf("%s addresses: %w", podIfName, err)
	}
	for _, a := range addrs {
		if a.IPNet.String() != want.String() {
			if err := ph.AddrDel(eth0, &a); err != nil {
				return fmt.Errorf("%s: remove %s: %w", podIfName, a.IPNet, err)
			}
		}
	}
	if err := ph.AddrReplace(eth0, &netlink.Addr{IPNet: want}); err != nil {
		return fmt.Errorf("%s address %s: %w", podIfName, want, err)
	}
	if err := ph.LinkSetUp(eth0); err != nil {
		return fmt.Errorf("%s up: %w", podIfName, err)
	}
	def := &netlink.Route{
		LinkIndex: eth0.Attrs().Index,
		Dst:       &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)},
		Gw:        ipOf(n.gateway),
		Scope:     netlink.SCOPE_UNIVERSE,
	}
	if err := ph.RouteReplace(def); err != nil {
		return fmt.Errorf("default route via %s: %w", n.gateway, err)
	}
	return nil
}

// Teardown undoes Setup: the hostPort rules, the veth pair and the
// address go. It is idempotent and works when the pod's network
// namespace is already gone (netnsPath may then be stale or "").
func (n *Network) Teardown(ctx context.Context, podUID, netnsPath string) error {
	if err := checkPodUID(podUID); err != nil {
		return err
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	defer n.pods.lock(podUID)()
	return n.teardown(ctx, podUID, netnsPath)
}

// teardown is Teardown for callers holding n.mu (and the pod's lock, or
// n.mu for writing).
func (n *Network) teardown(ctx context.Context, podUID, netnsPath string) error {
	hadHostPorts, err := n.dropHostPortChain(hostPortChain(podUID))
	if err != nil {
		return fmt.Errorf("network: pod %s hostPorts: %w", podUID, err)
	}

	h, err := n.nodeHandle()
	if err != nil {
		return err
	}
	defer h.Close()
	// Deleting one end of a veth pair deletes both.
	if l, err := h.LinkByName(vethName(podUID)); err == nil {
		if err := h.LinkDel(l); err != nil && !isNotFound(err) {
			return fmt.Errorf("network: pod %s: delete %s: %w", podUID, l.Attrs().Name, err)
		}
	} else if !isNotFound(err) {
		return fmt.Errorf("network: pod %s: %w", podUID, err)
	}
	if netnsPath != "" {
		if err := deletePodLink(netnsPath); err != nil {
			return fmt.Errorf("network: pod %s: %w", podUID, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	// The pod's conntrack entries must be gone before its address is
	// given to another pod, which would otherwise inherit its flows.
	// Flushing walks the kernel's whole conntrack table (~8 ms of CPU
	// for its 262,144 slots, however few entries there are), so it
	// waits for the address's reuse (allocate), where one walk serves
	// every address released since. A pod with hostPorts is flushed now:
	// clients of its hostPorts would otherwise stay DNATed to its dead
	// address until their entries time out.
	flushed := false
	if hadHostPorts {
		if ip, ok, err := n.lookup(ctx, podUID); err == nil && ok {
			flushPodConntrack(h, []netip.Addr{ip})
			flushed = true
		}
	}
	return n.release(ctx, podUID, flushed)
}

// deletePodLink removes eth0 from a pod namespace that still exists, for
// the case where the host end was already gone or renamed.
func deletePodLink(netnsPath string) error {
	if !isNetNSMount(netnsPath) {
		return nil // the namespace is gone, and eth0 with it
	}
	ns, err := netns.GetFromPath(netnsPath)
	if err != nil {
		return nil // gone in between
	}
	defer ns.Close()
	ph, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink in pod netns: %w", err)
	}
	defer ph.Close()
	l, err := ph.LinkByName(podIfName)
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return fmt.Errorf("%s: %w", podIfName, err)
	}
	if err := ph.LinkDel(l); err != nil && !isNotFound(err) {
		return fmt.Errorf("delete %s: %w", podIfName, err)
	}
	return nil
}

// flushUDPHostPorts drops conntrack entries for the pod's UDP hostPorts:
// entries made before the rule existed would keep sending its traffic
// elsewhere until they time out. Best effort.
func flushUDPHostPorts(h *netlink.Handle, ports []HostPort) {
	var filters []netlink.CustomConntrackFilter
	for _, hp := range ports {
		if !strings.EqualFold(hp.Protocol, "UDP") {
			continue
		}
		f := &netlink.ConntrackFilter{}
		if f.AddProtocol(unix.IPPROTO_UDP) != nil || f.AddPort(netlink.ConntrackOrigDstPort, uint16(hp.HostPort)) != nil {
			continue
		}
		filters = append(filters, f)
	}
	if len(filters) > 0 {
		_, _ = h.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, filters...)
	}
}

// flushPodConntrack drops conntrack entries to and from released pod
// addresses, in one walk of the table, so that a pod given one of them
// later starts clean. Best effort.
func flushPodConntrack(h *netlink.Handle, ips []netip.Addr) {
	if len(ips) == 0 {
		return
	}
	f := podAddrFilter{}
	for _, ip := range ips {
		f[ip] = true
	}
	_, _ = h.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, f)
}

// podAddrFilter matches conntrack entries of flows a pod opened (its
// address is the original source) or answered (the reply's source: a
// connection to it, directly or through a hostPort's DNAT).
type podAddrFilter map[netip.Addr]bool

// MatchConntrackFlow implements netlink.CustomConntrackFilter.
func (f podAddrFilter) MatchConntrackFlow(flow *netlink.ConntrackFlow) bool {
	for _, ip := range []net.IP{flow.Forward.SrcIP, flow.Reverse.SrcIP} {
		if a, ok := netip.AddrFromSlice(ip); ok && f[a.Unmap()] {
			return true
		}
	}
	return false
}

func isNotFound(err error) bool {
	var lnf netlink.LinkNotFoundError
	return errors.As(err, &lnf) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENOENT) || errors.Is(err, os.ErrNotExist)
}
