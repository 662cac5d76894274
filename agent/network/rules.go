package network

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// skiff's chains. The built-in chains get one jump each (inserted first,
// so that a DROP policy or rule of another tool comes after our ACCEPTs);
// everything else lives here, so cleanup never has to guess.
const (
	chainPostrouting    = "SKIFF-POSTROUTING" // nat: masquerade
	chainHostPorts      = "SKIFF-HOSTPORTS"   // nat: jumps to per-pod hostPort chains
	chainForward        = "SKIFF-FORWARD"     // filter: accept pod traffic
	chainInput          = "SKIFF-INPUT"       // filter: guard for route_localnet
	hostPortChainPrefix = "SKIFF-HP-"         // nat: one chain per pod with hostPorts
)

// HostPort is a container port published on the node's addresses
// (a Kubernetes container port with hostPort set).
type HostPort struct {
	// Protocol is "TCP", "UDP" or "SCTP"; "" means TCP.
	Protocol string
	// HostPort is the port on the node.
	HostPort int32
	// ContainerPort is the port in the pod.
	ContainerPort int32
	// HostIP restricts the rule to one node address; "", "0.0.0.0" and
	// "::" mean all of them. Other IPv6 addresses are skipped (IPv4 only).
	HostIP string
}

// rule is one iptables rule spec (the arguments after -A CHAIN).
type rule []string

// jump is a rule in a built-in chain that sends traffic to one of ours.
type jump struct {
	table, chain string
	spec         rule
}

func comment(s string) []string { return []string{"-m", "comment", "--comment", s} }

// baseJumps are the rules skiff puts in the built-in chains.
func baseJumps() []jump {
	return []jump{
		{"nat", "POSTROUTING", append(comment("skiff pod masquerade"), "-j", chainPostrouting)},
		{"nat", "PREROUTING", append(append(comment("skiff hostPorts"), "-m", "addrtype", "--dst-type", "LOCAL"), "-j", chainHostPorts)},
		{"nat", "OUTPUT", append(append(comment("skiff hostPorts"), "-m", "addrtype", "--dst-type", "LOCAL"), "-j", chainHostPorts)},
		{"filter", "FORWARD", append(comment("skiff pod forwarding"), "-j", chainForward)},
		{"filter", "INPUT", append(comment("skiff localnet guard"), "-j", chainInput)},
	}
}

// postroutingRules masquerade what must be: connections from the node's
// localhost to a hostPort, hairpin connections from a pod to a hostPort
// that lands on a pod of this node, and pod traffic leaving the cluster
// CIDR. Pod-to-pod traffic inside the cluster CIDR keeps its source.
func postroutingRules(bridge string, podNet, cluster netip.Prefix, randomFully bool) []rule {
	masq := []string{"-j", "MASQUERADE"}
	if randomFully {
		masq = append(masq, "--random-fully")
	}
	return []rule{
		append(append([]string{"-s", "127.0.0.0/8", "-o", bridge}, comment("skiff hostPort from localhost")...), "-j", "MASQUERADE"),
		append(append([]string{"-s", podNet.String(), "-d", podNet.String(), "-m", "conntrack", "--ctstate", "DNAT"},
			comment("skiff hostPort hairpin")...), "-j", "MASQUERADE"),
		append(append([]string{"-s", podNet.String(), "-d", cluster.String()}, comment("skiff pod to pod")...), "-j", "RETURN"),
		append(append([]string{"-s", podNet.String(), "!", "-d", "224.0.0.0/4"}, comment("skiff pod egress")...), masq...),
	}
}

// forwardRules accept traffic from and to the cluster CIDR, as k3s does.
func forwardRules(cluster netip.Prefix) []rule {
	return []rule{
		append(append([]string{"-s", cluster.String()}, comment("skiff from pods")...), "-j", "ACCEPT"),
		append(append([]string{"-d", cluster.String()}, comment("skiff to pods")...), "-j", "ACCEPT"),
	}
}

// inputRules drop packets from pods addressed to 127.0.0.0/8: the bridge
// has route_localnet on (so that localhost hostPorts work) and must not
// become a way into the node's loopback services.
func inputRules(bridge string) []rule {
	return []rule{
		append(append([]string{"-i", bridge, "-d", "127.0.0.0/8", "-m", "conntrack", "!", "--ctstate", "RELATED,ESTABLISHED,DNAT"},
			comment("skiff block localnet from pods")...), "-j", "DROP"),
	}
}

// hostPortRules are the DNAT rules of one pod's hostPort chain. Duplicates
// (same protocol, host IP and port) keep the first.
func hostPortRules(podUID string, podIP netip.Addr, ports []HostPort) ([]rule, error) {
	var rules []rule
	seen := map[string]bool{}
	for _, hp := range ports {
		proto := strings.ToLower(hp.Protocol)
		if proto == "" {
			proto = "tcp"
		}
		switch proto {
		case "tcp", "udp", "sctp":
		default:
			return nil, fmt.Errorf("network: hostPort %d: unknown protocol %q", hp.HostPort, hp.Protocol)
		}
		if hp.HostPort <= 0 || hp.HostPort > 65535 {
			return nil, fmt.Errorf("network: hostPort %d out of range", hp.HostPort)
		}
		cport := hp.ContainerPort
		if cport == 0 {
			cport = hp.HostPort
		}
		if cport < 0 || cport > 65535 {
			return nil, fmt.Errorf("network: containerPort %d out of range", hp.ContainerPort)
		}
		var dst []string
		switch hp.HostIP {
		case "", "0.0.0.0", "::":
		default:
			a, err := netip.ParseAddr(hp.HostIP)
			if err != nil {
				return nil, fmt.Errorf("network: hostIP %q: %w", hp.HostIP, err)
			}
			if !a.Unmap().Is4() {
				continue // IPv6 host address: IPv4 only for now
			}
			dst = []string{"-d", a.Unmap().String() + "/32"}
		}
		key := proto + "/" + strings.Join(dst, "") + "/" + strconv.Itoa(int(hp.HostPort))
		if seen[key] {
			continue
		}
		seen[key] = true
		r := []string{"-p", proto, "-m", proto, "--dport", strconv.Itoa(int(hp.HostPort))}
		r = append(r, dst...)
		r = append(r, comment(fmt.Sprintf("skiff pod %s hostPort %d", podUID, hp.HostPort))...)
		r = append(r, "-j", "DNAT", "--to-destination", podIP.String()+":"+strconv.Itoa(int(cport)))
		rules = append(rules, r)
	}
	return rules, nil
}

// ensureChain makes table/chain hold exactly rules, in order. A chain that
// already does is left alone, so that an agent restart does not open a
// window without masquerade; otherwise it is flushed and refilled.
func (n *Network) ensureChain(table, chain string, rules []rule) error {
	ok, err := n.ipt.ChainExists(table, chain)
	if err != nil {
		return fmt.Errorf("network: iptables %s/%s: %w", table, chain, err)
	}
	if ok {
		have, err := n.ipt.List(table, chain)
		if err != nil {
			return fmt.Errorf("network: iptables list %s/%s: %w", table, chain, err)
		}
		same := len(have) == len(rules)+1 // the first line is "-N CHAIN"
		for _, r := range rules {
			if !same {
				break
			}
			same, err = n.ipt.Exists(table, chain, r...)
			if err != nil {
				return fmt.Errorf("network: iptables check %s/%s: %w", table, chain, err)
			}
		}
		if same {
			return nil
		}
	}
	if err := n.ipt.ClearChain(table, chain); err != nil {
		return fmt.Errorf("network: iptables flush %s/%s: %w", table, chain, err)
	}
	for _, r := range rules {
		if err := n.ipt.Append(table, chain, r...); err != nil {
			return fmt.Errorf("network: iptables %s/%s %v: %w", table, chain, r, err)
		}
	}
	return nil
}

// ensureJump inserts j at the head of its chain unless it is there.
func (n *Network) ensureJump(j jump) error {
	ok, err := n.ipt.Exists(j.table, j.chain, j.spec...)
	if err != nil {
		return fmt.Errorf("network: iptables check %s/%s: %w", j.table, j.chain, err)
	}
	if ok {
		return nil
	}
	if err := n.ipt.Insert(j.table, j.chain, 1, j.spec...); err != nil {
		return fmt.Errorf("network: iptables jump %s/%s -> %v: %w", j.table, j.chain, j.spec, err)
	}
	return nil
}

// ensureEmptyChain creates table/chain if missing, keeping its rules.
func (n *Network) ensureEmptyChain(table, chain string) error {
	ok, err := n.ipt.ChainExists(table, chain)
	if err != nil {
		return fmt.Errorf("network: iptables %s/%s: %w", table, chain, err)
	}
	if ok {
		return nil
	}
	if err := n.ipt.NewChain(table, chain); err != nil {
		return fmt.Errorf("network: iptables new chain %s/%s: %w", table, chain, err)
	}
	return nil
}

// setHostPortChain makes a pod's hostPort chain hold rules, with a jump
// to it from SKIFF-HOSTPORTS; with no rules, it removes both.
func (n *Network) setHostPortChain(chain string, rules []rule) error {
	if len(rules) == 0 {
		_, err := n.dropHostPortChain(chain)
		return err
	}
	n.hostPorts.Lock()
	defer n.hostPorts.Unlock()
	if n.hpChains != nil {
		n.hpChains[chain] = true // also when what follows fails half-way
	}
	return n.onNode(func() error {
		if err := n.ensureChain("nat", chain, rules); err != nil {
			return err
		}
		if err := n.ensureEmptyChain("nat", chainHostPorts); err != nil {
			return err
		}
		if err := n.ipt.AppendUnique("nat", chainHostPorts, "-j", chain); err != nil {
			return fmt.Errorf("network: iptables jump to %s: %w", chain, err)
		}
		return nil
	})
}

// dropHostPortChain removes a pod's hostPort chain and the jump to it,
// and says whether the chain was there. A chain hpChains does not list
// is not looked for.
func (n *Network) dropHostPortChain(chain string) (existed bool, err error) {
	n.hostPorts.Lock()
	defer n.hostPorts.Unlock()
	if n.hpChains != nil && !n.hpChains[chain] {
		return false, nil
	}
	err = n.onNode(func() error {
		existed, err = n.removeHostPortChain(chain)
		return err
	})
	if err == nil && n.hpChains != nil {
		delete(n.hpChains, chain)
	}
	return existed, err
}

// listHostPortChains fills hpChains from the nat table, or leaves it nil
// (unknown) when iptables cannot list it. Callers hold n.hostPorts and
// run on the node's namespace.
func (n *Network) listHostPortChains() error {
	n.hpChains = nil
	chains, err := n.ipt.ListChains("nat")
	if err != nil {
		return fmt.Errorf("network: iptables list nat chains: %w", err)
	}
	have := map[string]bool{}
	for _, c := range chains {
		if strings.HasPrefix(c, hostPortChainPrefix) {
			have[c] = true
		}
	}
	n.hpChains = have
	return nil
}

// removeHostPortChain deletes a pod's hostPort chain and the jump to it,
// and says whether the chain was there. Callers hold n.hostPorts.
func (n *Network) removeHostPortChain(chain string) (existed bool, err error) {
	ok, err := n.ipt.ChainExists("nat", chain)
	if err != nil {
		return false, fmt.Errorf("network: iptables %s: %w", chain, err)
	}
	if !ok {
		return false, nil // and no jump to it either: iptables allows none to a missing chain
	}
	if ok, err := n.ipt.ChainExists("nat", chainHostPorts); err != nil {
		return true, fmt.Errorf("network: iptables %s: %w", chainHostPorts, err)
	} else if ok {
		if err := n.ipt.DeleteIfExists("nat", chainHostPorts, "-j", chain); err != nil {
			return true, fmt.Errorf("network: iptables delete jump to %s: %w", chain, err)
		}
	}
	if err := n.ipt.ClearAndDeleteChain("nat", chain); err != nil {
		return true, fmt.Errorf("network: iptables delete %s: %w", chain, err)
	}
	return true, nil
}
