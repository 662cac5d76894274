package volumes

import (
	"net/netip"
	"os"

	"github.com/skiff-io/skiff/agent/podspec"
)

const (
	etcResolvConf     = "/etc/resolv.conf"
	systemdResolvConf = "/run/systemd/resolve/resolv.conf"
)

// NodeResolvConf picks the node resolv.conf pods should inherit, as k3s
// does: /etc/resolv.conf, unless it names only loopback resolvers (the
// systemd-resolved stub at 127.0.0.53, a local dnsmasq), which a pod in its
// own network namespace cannot reach; then systemd-resolved's list of
// upstream servers when that exists and is usable.
func NodeResolvConf() string {
	etc, err := os.ReadFile(etcResolvConf)
	if err != nil || !onlyLoopback(etc) {
		return etcResolvConf
	}
	if sd, err := os.ReadFile(systemdResolvConf); err == nil && !onlyLoopback(sd) {
		return systemdResolvConf
	}
	return etcResolvConf
}

// onlyLoopback reports whether a resolv.conf has nameservers and all of
// them are loopback addresses.
func onlyLoopback(data []byte) bool {
	cfg, err := podspec.ParseResolvConf(data)
	if err != nil || len(cfg.Nameservers) == 0 {
		return false
	}
	for _, ns := range cfg.Nameservers {
		a, err := netip.ParseAddr(ns)
		if err != nil || !a.IsLoopback() {
			return false
		}
	}
	return true
}
