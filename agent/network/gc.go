package network

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/vishvananda/netlink"
)

// GC removes what belongs to pods not in live (keyed by pod UID): their
// addresses, veths, hostPort rules and pinned namespaces. It is meant for
// agent start, after a crash left pods half torn down; it must not run
// concurrently with the creation of a pod that live does not list yet.
// It goes on past errors and returns them all.
func (n *Network) GC(ctx context.Context, live map[string]bool) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	var errs []error

	uids, err := n.allocatedPods(ctx)
	if err != nil {
		return err
	}
	for _, uid := range uids {
		if live[uid] {
			continue
		}
		if err := n.teardown(ctx, uid, ""); err != nil {
			errs = append(errs, err)
		}
	}

	keepVeth := map[string]bool{}
	keepChain := map[string]bool{}
	for uid := range live {
		keepVeth[vethName(uid)] = true
		keepChain[hostPortChain(uid)] = true
	}

	// Veths on our bridge whose pod is gone (no address recorded any more).
	if h, err := n.nodeHandle(); err != nil {
		errs = append(errs, err)
	} else {
		errs = append(errs, n.gcVeths(h, keepVeth)...)
		h.Close()
	}

	// hostPort chains of pods not live.
	n.hostPorts.Lock()
	errs = append(errs, n.onNode(func() error {
		if err := n.listHostPortChains(); err != nil {
			return err
		}
		var errs []error
		for c := range n.hpChains {
			if keepChain[c] {
				continue
			}
			if _, err := n.removeHostPortChain(c); err != nil {
				errs = append(errs, err)
			} else {
				delete(n.hpChains, c)
			}
		}
		return errors.Join(errs...)
	}))
	n.hostPorts.Unlock()

	// Pinned namespaces of pods not live.
	ents, err := os.ReadDir(n.cfg.NetNSDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("network: read %s: %w", n.cfg.NetNSDir, err))
	}
	for _, e := range ents {
		if !live[e.Name()] {
			errs = append(errs, unpinNetNS(n.NetNSPath(e.Name())))
		}
	}
	return errors.Join(errs...)
}

func (n *Network) gcVeths(h *netlink.Handle, keep map[string]bool) []error {
	br, err := h.LinkByName(n.cfg.Bridge)
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return []error{fmt.Errorf("network: bridge %s: %w", n.cfg.Bridge, err)}
	}
	links, err := h.LinkList()
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return []error{fmt.Errorf("network: list links: %w", err)}
	}
	var errs []error
	for _, l := range links {
		a := l.Attrs()
		if l.Type() != "veth" || a.MasterIndex != br.Attrs().Index || keep[a.Name] {
			continue
		}
		if err := h.LinkDel(l); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("network: delete %s: %w", a.Name, err))
		}
	}
	return errs
}
