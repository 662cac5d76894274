package validation

import (
	"net/netip"
	"strconv"
	"strings"
)

// IP helpers over net/netip, so that this package parses addresses without
// pulling in the socket-level net package.

// parseIPSloppy parses like kube's ParseIPSloppy: it also accepts IPv4
// octets with leading zeros, which strict validation reports separately.
func parseIPSloppy(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return a.Unmap(), true
	}
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return netip.Addr{}, false
	}
	var b [4]byte
	for i, p := range parts {
		if p == "" || len(p) > 3 {
			return netip.Addr{}, false
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 255 {
			return netip.Addr{}, false
		}
		b[i] = byte(n)
	}
	return netip.AddrFrom4(b), true
}

func isIPv6String(s string) bool {
	a, ok := parseIPSloppy(s)
	return ok && a.Is6()
}

// isDualStack reports whether the addresses include both families. ok is
// false when one of them does not parse.
func isDualStack(addrs []netip.Addr) bool {
	v4, v6 := false, false
	for _, a := range addrs {
		if a.Is4() {
			v4 = true
		} else {
			v6 = true
		}
	}
	return v4 && v6
}

func isDualStackIPs(ips []string) (dual, ok bool) {
	addrs := make([]netip.Addr, 0, len(ips))
	for _, s := range ips {
		a, ok := parseIPSloppy(s)
		if !ok {
			return false, false
		}
		addrs = append(addrs, a)
	}
	return isDualStack(addrs), true
}

func isDualStackCIDRs(cidrs []string) (dual, ok bool) {
	addrs := make([]netip.Addr, 0, len(cidrs))
	for _, s := range cidrs {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return false, false
		}
		addrs = append(addrs, p.Addr().Unmap())
	}
	return isDualStack(addrs), true
}
