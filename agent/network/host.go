package network

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

const defaultMTU = 1500

// EnsureHost brings the node side up: the bridge with the gateway address,
// IPv4 forwarding, route_localnet on the bridge (localhost hostPorts), and
// skiff's iptables chains and jumps. It is idempotent and meant to run at
// every agent start, before any Setup.
func (n *Network) EnsureHost(ctx context.Context) error {
	h, err := n.nodeHandle()
	if err != nil {
		return err
	}
	defer h.Close()

	mtu, err := n.mtu(h)
	if err != nil {
		return err
	}
	if err := n.ensureBridge(h, mtu); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.MkdirAll(n.cfg.NetNSDir, 0o755); err != nil {
		return fmt.Errorf("network: netns dir: %w", err)
	}
	return n.onNode(func() error {
		if err := writeSysctl("net/ipv4/ip_forward", "1"); err != nil {
			return err
		}
		if err := writeSysctl(filepath.Join("net/ipv4/conf", n.cfg.Bridge, "route_localnet"), "1"); err != nil {
			return err
		}
		chains := []struct {
			table, chain string
			rules        []rule
		}{
			{"nat", chainPostrouting, postroutingRules(n.cfg.Bridge, n.podNet, n.cluster, n.ipt.HasRandomFully())},
			{"filter", chainForward, forwardRules(n.cluster)},
			{"filter", chainInput, inputRules(n.cfg.Bridge)},
		}
		for _, c := range chains {
			if err := n.ensureChain(c.table, c.chain, c.rules); err != nil {
				return err
			}
		}
		// Per-pod jumps in SKIFF-HOSTPORTS outlive agent restarts: keep them.
		if err := n.ensureEmptyChain("nat", chainHostPorts); err != nil {
			return err
		}
		for _, j := range baseJumps() {
			if err := n.ensureJump(j); err != nil {
				return err
			}
		}
		n.hostPorts.Lock()
		defer n.hostPorts.Unlock()
		return n.listHostPortChains()
	})
}

// mtu is the configured MTU, or the default IPv4 route's interface MTU.
func (n *Network) mtu(h *netlink.Handle) (int, error) {
	if n.cfg.MTU > 0 {
		return n.cfg.MTU, nil
	}
	routes, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return 0, fmt.Errorf("network: list routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst != nil && !(r.Dst.IP.IsUnspecified() && isZeroMask(r.Dst.Mask)) {
			continue
		}
		if r.LinkIndex == 0 {
			continue // multipath default route: take the default MTU
		}
		l, err := h.LinkByIndex(r.LinkIndex)
		if err != nil {
			return 0, fmt.Errorf("network: default route interface: %w", err)
		}
		return l.Attrs().MTU, nil
	}
	return defaultMTU, nil
}

func isZeroMask(m net.IPMask) bool {
	ones, _ := m.Size()
	return ones == 0
}

// ensureBridge creates the bridge if needed, sets its MTU, gives it the
// gateway address (and no other IPv4 address) and brings it up.
func (n *Network) ensureBridge(h *netlink.Handle, mtu int) error {
	l, err := h.LinkByName(n.cfg.Bridge)
	var notFound netlink.LinkNotFoundError
	switch {
	case errors.As(err, &notFound):
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: n.cfg.Bridge, MTU: mtu}}
		if err := h.LinkAdd(br); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("network: create bridge %s: %w", n.cfg.Bridge, err)
		}
		if l, err = h.LinkByName(n.cfg.Bridge); err != nil {
			return fmt.Errorf("network: bridge %s: %w", n.cfg.Bridge, err)
		}
	case err != nil:
		return fmt.Errorf("network: bridge %s: %w", n.cfg.Bridge, err)
	}
	if l.Type() != "bridge" {
		return fmt.Errorf("network: %s exists and is a %s, not a bridge", n.cfg.Bridge, l.Type())
	}
	if l.Attrs().MTU != mtu {
		if err := h.LinkSetMTU(l, mtu); err != nil {
			return fmt.Errorf("network: bridge %s mtu %d: %w", n.cfg.Bridge, mtu, err)
		}
	}
	gw := &netlink.Addr{IPNet: &net.IPNet{IP: ipOf(n.gateway), Mask: net.CIDRMask(n.podNet.Bits(), 32)}}
	addrs, err := h.AddrList(l, netlink.FAMILY_V4)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return fmt.Errorf("network: bridge %s addresses: %w", n.cfg.Bridge, err)
	}
	for _, a := range addrs {
		if a.IPNet.String() != gw.IPNet.String() {
			// Left from an earlier pod CIDR.
			if err := h.AddrDel(l, &a); err != nil {
				return fmt.Errorf("network: bridge %s: remove %s: %w", n.cfg.Bridge, a.IPNet, err)
			}
		}
	}
	if err := h.AddrReplace(l, gw); err != nil {
		return fmt.Errorf("network: bridge %s address %s: %w", n.cfg.Bridge, gw.IPNet, err)
	}
	if err := h.LinkSetUp(l); err != nil {
		return fmt.Errorf("network: bridge %s up: %w", n.cfg.Bridge, err)
	}
	return nil
}

// writeSysctl sets a sysctl under /proc/sys in the calling thread's
// network namespace (callers run it through onNode).
func writeSysctl(name, value string) error {
	p := filepath.Join("/proc/sys", name)
	if b, err := os.ReadFile(p); err == nil && string(b) == value+"\n" {
		return nil
	}
	if err := os.WriteFile(p, []byte(value), 0o644); err != nil {
		return fmt.Errorf("network: sysctl %s=%s: %w", name, value, err)
	}
	return nil
}

// RemoveHost undoes EnsureHost: skiff's jumps and chains (hostPort chains
// included) and the bridge go; ip_forward is left as it is, since other
// software may rely on it. For uninstalling or a test that ran the agent
// on a real host; call GC with no live pods first to remove the pods.
func (n *Network) RemoveHost(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.hostPorts.Lock()
	err := n.onNode(func() error {
		var errs []error
		for _, j := range baseJumps() {
			ok, err := n.ipt.ChainExists(j.table, j.spec[len(j.spec)-1])
			if err != nil || !ok {
				errs = append(errs, err)
				continue // no jump can lead to a missing chain
			}
			if err := n.ipt.DeleteIfExists(j.table, j.chain, j.spec...); err != nil {
				errs = append(errs, fmt.Errorf("network: iptables delete jump %s/%s: %w", j.table, j.chain, err))
			}
		}
		for _, table := range []string{"nat", "filter"} {
			chains, err := n.ipt.ListChains(table)
			if err != nil {
				errs = append(errs, fmt.Errorf("network: iptables list %s: %w", table, err))
				continue
			}
			// Flush all first: SKIFF-HOSTPORTS jumps to the per-pod chains.
			var ours []string
			for _, c := range chains {
				if strings.HasPrefix(c, "SKIFF-") {
					ours = append(ours, c)
					errs = append(errs, n.ipt.ClearChain(table, c))
				}
			}
			for _, c := range ours {
				errs = append(errs, n.ipt.DeleteChain(table, c))
			}
		}
		return errors.Join(errs...)
	})
	n.hpChains = nil // unknown until EnsureHost lists them again
	if err == nil {
		n.hpChains = map[string]bool{}
	}
	n.hostPorts.Unlock()
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	h, err := n.nodeHandle()
	if err != nil {
		return err
	}
	defer h.Close()
	l, err := h.LinkByName(n.cfg.Bridge)
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return fmt.Errorf("network: bridge %s: %w", n.cfg.Bridge, err)
	}
	if err := h.LinkDel(l); err != nil && !isNotFound(err) {
		return fmt.Errorf("network: delete bridge %s: %w", n.cfg.Bridge, err)
	}
	return nil
}
