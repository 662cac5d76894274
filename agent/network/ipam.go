package network

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// The IPAM tables live in the agent's store beside its other tables, hence
// the network_ prefix. network_ipam holds one row per pod with an address;
// network_ipam_state remembers the last address handed out per pod CIDR,
// so that a released address is reused last (host-local's habit), which
// keeps stale conntrack entries and ARP caches from reaching a new pod.
// network_ipam_released lists released addresses whose conntrack entries
// have not been flushed yet: allocate flushes them all, in one walk of
// the conntrack table, before it hands one of them out again.
const ipamSchema = `
CREATE TABLE IF NOT EXISTS network_ipam (
	ip         TEXT PRIMARY KEY,
	pod_uid    TEXT NOT NULL UNIQUE,
	created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS network_ipam_state (
	pod_cidr TEXT PRIMARY KEY,
	last_ip  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS network_ipam_released (
	ip          TEXT PRIMARY KEY,
	released_at INTEGER NOT NULL
);`

func createIPAMTables(db *sql.DB) error {
	if _, err := db.Exec(ipamSchema); err != nil {
		return fmt.Errorf("network: create IPAM tables: %w", err)
	}
	return nil
}

// allocate returns the pod's address, giving it one if it has none (or
// has one outside the current pod CIDR, after the node's range changed).
// When the address it gives was released and not flushed yet, it first
// calls flush with every such address (and forgets them).
func (n *Network) allocate(ctx context.Context, podUID string, flush func(released []netip.Addr)) (netip.Addr, error) {
	n.ipam.Lock()
	defer n.ipam.Unlock()
	tx, err := n.db.BeginTx(ctx, nil)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("network: ipam: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op

	// Write first: the transaction then takes SQLite's write lock at once
	// (honouring the store's busy timeout) instead of failing on a lock
	// upgrade when another writer got in between a read and a write.
	cidr := n.podNet.String()
	if _, err := tx.ExecContext(ctx,
		`INSERT OR IGNORE INTO network_ipam_state (pod_cidr, last_ip) VALUES (?, '')`, cidr); err != nil {
		return netip.Addr{}, fmt.Errorf("network: ipam: %w", err)
	}

	var have string
	err = tx.QueryRowContext(ctx, `SELECT ip FROM network_ipam WHERE pod_uid = ?`, podUID).Scan(&have)
	switch {
	case err == nil:
		if a, perr := netip.ParseAddr(have); perr == nil && n.usable(a) {
			if err := tx.Commit(); err != nil {
				return netip.Addr{}, fmt.Errorf("network: ipam: commit: %w", err)
			}
			return a, nil
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM network_ipam WHERE pod_uid = ?`, podUID); err != nil {
			return netip.Addr{}, fmt.Errorf("network: ipam: drop stale address: %w", err)
		}
	case errors.Is(err, sql.ErrNoRows):
	default:
		return netip.Addr{}, fmt.Errorf("network: ipam: lookup %s: %w", podUID, err)
	}

	used := map[netip.Addr]bool{}
	rows, err := tx.QueryContext(ctx, `SELECT ip FROM network_ipam`)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("network: ipam: list: %w", err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return netip.Addr{}, fmt.Errorf("network: ipam: list: %w", err)
		}
		if a, err := netip.ParseAddr(s); err == nil {
			used[a] = true
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return netip.Addr{}, fmt.Errorf("network: ipam: list: %w", err)
	}

	var lastS string
	if err := tx.QueryRowContext(ctx, `SELECT last_ip FROM network_ipam_state WHERE pod_cidr = ?`, cidr).Scan(&lastS); err != nil {
		return netip.Addr{}, fmt.Errorf("network: ipam: state: %w", err)
	}
	last, _ := netip.ParseAddr(lastS) // invalid (none yet) starts at the range's beginning

	a, ok := nextFree(n.podNet, last, used)
	if !ok {
		return netip.Addr{}, fmt.Errorf("network: %w: %s has no free address", ErrRangeExhausted, n.podNet)
	}
	if err := n.flushReleased(ctx, tx, a, flush); err != nil {
		return netip.Addr{}, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO network_ipam (ip, pod_uid, created_at) VALUES (?, ?, ?)`,
		a.String(), podUID, time.Now().Unix()); err != nil {
		return netip.Addr{}, fmt.Errorf("network: ipam: record %s for %s: %w", a, podUID, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE network_ipam_state SET last_ip = ? WHERE pod_cidr = ?`, a.String(), cidr); err != nil {
		return netip.Addr{}, fmt.Errorf("network: ipam: state: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return netip.Addr{}, fmt.Errorf("network: ipam: commit: %w", err)
	}
	return a, nil
}

// flushReleased calls flush with every released address not flushed yet
// when a, about to be handed out, is one of them, and forgets them all.
// It runs inside allocate's transaction: the addresses are forgotten only
// if the allocation commits.
func (n *Network) flushReleased(ctx context.Context, tx *sql.Tx, a netip.Addr, flush func([]netip.Addr)) error {
	var pending int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM network_ipam_released WHERE ip = ?`, a.String()).Scan(&pending); err != nil {
		return fmt.Errorf("network: ipam: released addresses: %w", err)
	}
	if pending == 0 {
		return nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT ip FROM network_ipam_released`)
	if err != nil {
		return fmt.Errorf("network: ipam: released addresses: %w", err)
	}
	var ips []netip.Addr
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return fmt.Errorf("network: ipam: released addresses: %w", err)
		}
		if ip, err := netip.ParseAddr(s); err == nil {
			ips = append(ips, ip)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("network: ipam: released addresses: %w", err)
	}
	if flush != nil {
		flush(ips)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM network_ipam_released`); err != nil {
		return fmt.Errorf("network: ipam: released addresses: %w", err)
	}
	return nil
}

// release frees the pod's address; releasing a pod with none is no error.
// Unless flushed says its conntrack entries are gone already, the address
// is kept in network_ipam_released until allocate flushes them.
func (n *Network) release(ctx context.Context, podUID string, flushed bool) error {
	n.ipam.Lock()
	defer n.ipam.Unlock()
	tx, err := n.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("network: ipam: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	// A write first, as in allocate: the transaction takes the write lock
	// at once.
	var ip string
	err = tx.QueryRowContext(ctx, `DELETE FROM network_ipam WHERE pod_uid = ? RETURNING ip`, podUID).Scan(&ip)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("network: ipam: release %s: %w", podUID, err)
	}
	if !flushed {
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO network_ipam_released (ip, released_at) VALUES (?, ?)`,
			ip, time.Now().Unix()); err != nil {
			return fmt.Errorf("network: ipam: release %s: %w", podUID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("network: ipam: commit: %w", err)
	}
	return nil
}

// lookup returns the pod's recorded address.
func (n *Network) lookup(ctx context.Context, podUID string) (netip.Addr, bool, error) {
	var s string
	err := n.db.QueryRowContext(ctx, `SELECT ip FROM network_ipam WHERE pod_uid = ?`, podUID).Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return netip.Addr{}, false, nil
	}
	if err != nil {
		return netip.Addr{}, false, fmt.Errorf("network: ipam: lookup %s: %w", podUID, err)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false, fmt.Errorf("network: ipam: bad address %q recorded for %s: %w", s, podUID, err)
	}
	return a, true, nil
}

// allocatedPods lists the UIDs of pods that hold an address.
func (n *Network) allocatedPods(ctx context.Context) ([]string, error) {
	rows, err := n.db.QueryContext(ctx, `SELECT pod_uid FROM network_ipam`)
	if err != nil {
		return nil, fmt.Errorf("network: ipam: list: %w", err)
	}
	defer rows.Close()
	var uids []string
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return nil, fmt.Errorf("network: ipam: list: %w", err)
		}
		uids = append(uids, u)
	}
	return uids, rows.Err()
}

// PodIP returns the address recorded for the pod, if it has one.
func (n *Network) PodIP(podUID string) (net.IP, bool) {
	a, ok, err := n.lookup(context.Background(), podUID)
	if err != nil || !ok {
		return nil, false
	}
	return ipOf(a), true
}

// usable says whether a can be a pod's address in the current pod CIDR:
// inside it, not the network address, the gateway or the broadcast.
func (n *Network) usable(a netip.Addr) bool {
	first, lastA := podRange(n.podNet)
	return a.Is4() && a.Compare(first) >= 0 && a.Compare(lastA) <= 0
}

// podRange is the span of pod addresses in p: after the network address
// and the gateway (the first address), before the broadcast address.
func podRange(p netip.Prefix) (first, last netip.Addr) {
	first = p.Addr().Next().Next()
	b := p.Addr().As4()
	hostBits := 32 - p.Bits()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= (1 << hostBits) - 1 // broadcast
	v--
	last = netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	return first, last
}

// nextFree picks the first address after last (wrapping round the range)
// that is not in used. An invalid or out-of-range last starts at the
// range's first address.
func nextFree(p netip.Prefix, last netip.Addr, used map[netip.Addr]bool) (netip.Addr, bool) {
	first, end := podRange(p)
	start := first
	if last.IsValid() && last.Compare(first) >= 0 && last.Compare(end) < 0 {
		start = last.Next()
	}
	a := start
	for {
		if !used[a] {
			return a, true
		}
		if a == end {
			a = first
		} else {
			a = a.Next()
		}
		if a == start {
			return netip.Addr{}, false
		}
	}
}
