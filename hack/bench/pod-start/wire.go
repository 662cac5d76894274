package main

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// wireCounter counts the IP bytes (headers, ACKs and TCP keepalive probes
// included) between the agent and the proxy, with two iptables rules
// without a target in the filter table's OUTPUT chain, which loopback
// traffic passes: one for packets to the proxy's port (up), one for
// packets from it (down).
type wireCounter struct {
	port    int
	comment string
}

func newWireCounter(port int, comment string) (*wireCounter, error) {
	w := &wireCounter{port: port, comment: comment}
	for _, dir := range []string{"--dport", "--sport"} {
		if err := iptables("-I", "OUTPUT", "-o", "lo", "-p", "tcp", dir, strconv.Itoa(port), "-m", "comment", "--comment", w.ruleComment(dir)); err != nil {
			w.remove()
			return nil, err
		}
	}
	return w, nil
}

func (w *wireCounter) ruleComment(dir string) string {
	if dir == "--dport" {
		return w.comment + "-up"
	}
	return w.comment + "-down"
}

// read returns the bytes counted so far, up and down.
func (w *wireCounter) read() (up, down int64, err error) {
	out, err := exec.Command("iptables", "-w", "-t", "filter", "-n", "-v", "-x", "-L", "OUTPUT").Output()
	if err != nil {
		return 0, 0, fmt.Errorf("iptables -L OUTPUT: %w", err)
	}
	found := 0
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		var dst *int64
		switch {
		case strings.Contains(l, "/* "+w.comment+"-up */"):
			dst = &up
		case strings.Contains(l, "/* "+w.comment+"-down */"):
			dst = &down
		default:
			continue
		}
		if *dst, err = strconv.ParseInt(f[1], 10, 64); err != nil {
			return 0, 0, fmt.Errorf("iptables counters: %q: %w", l, err)
		}
		found++
	}
	if found != 2 {
		return 0, 0, fmt.Errorf("iptables counters: %d of 2 rules found", found)
	}
	return up, down, nil
}

// remove deletes both rules.
func (w *wireCounter) remove() {
	for _, dir := range []string{"--dport", "--sport"} {
		_ = iptables("-D", "OUTPUT", "-o", "lo", "-p", "tcp", dir, strconv.Itoa(w.port), "-m", "comment", "--comment", w.ruleComment(dir))
	}
}

func iptables(args ...string) error {
	out, err := exec.Command("iptables", append([]string{"-w", "-t", "filter"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("iptables %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
