// Package network wires pods into the node's network the way a k3s user
// expects from its default (flannel host-gw/bridge style): a Linux bridge
// holding the first address of the node's pod CIDR, one veth pair per pod
// whose inner end is "eth0" in the pod's network namespace, host-local IPAM
// kept in the agent's SQLite store (so a pod keeps its address across agent
// restarts and reboots), masquerade for pod traffic leaving the cluster
// CIDR, and hostPort DNAT rules reachable from outside, from other pods
// (hairpin) and from the node itself (localhost).
//
// It owns the bridge, the pod veths, the pinned pod network namespaces
// under Config.NetNSDir, its tables in the store (network_ipam,
// network_ipam_state, network_ipam_released) and the iptables chains
// whose names start with SKIFF- (nat: SKIFF-POSTROUTING, SKIFF-HOSTPORTS,
// SKIFF-HP-<pod hash>; filter: SKIFF-FORWARD, SKIFF-INPUT). Everything
// else in the firewall is left alone: the built-in chains only get one
// jump rule each.
//
// Links, addresses and routes go through netlink; rules through the
// iptables binary (github.com/coreos/go-iptables), so that they sit in the
// same tables as Docker's, kube-proxy's and firewalld's rules whichever
// backend (legacy or nf_tables) the host's iptables uses, and an ACCEPT
// here is not overridden by a DROP policy there. IPv4 only.
//
// The agent's order of calls: New and EnsureHost at every start, then GC
// with the pods it still runs; per pod CreateNetNS, Setup (before the
// pod's containers start, so they see eth0), and on removal Teardown then
// DeleteNetNS. Containers join the namespace by the path CreateNetNS
// returns, so containerd must see NetNSDir (same mount namespace).
//
// It must not import server/... and does no container work (agent/runtime
// creates containers inside the namespaces made here).
package network
