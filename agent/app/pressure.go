package app

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	"k8s.io/apimachinery/pkg/api/resource"
)

// DefaultEvictionHard is the kubelet's default --eviction-hard on Linux:
// the thresholds below which the node reports memory or disk pressure.
const DefaultEvictionHard = "memory.available<100Mi,nodefs.available<10%,nodefs.inodesFree<5%,imagefs.available<15%,imagefs.inodesFree<5%"

// pressureTransition is how long a pressure condition stays True after
// the signal went back above its Threshold (the kubelet's
// --eviction-pressure-transition-period), so that a node hovering at the
// Threshold does not flap between tainted and untainted.
var pressureTransition = 5 * time.Minute

// The eviction signals, in the kubelet's names, and the condition each
// one raises.
const (
	sigMemory        = "memory.available"
	sigNodeFS        = "nodefs.available"
	sigNodeFSInodes  = "nodefs.inodesFree"
	sigImageFS       = "imagefs.available"
	sigImageFSInodes = "imagefs.inodesFree"
	sigPID           = "pid.available"
)

var signalKind = map[string]pressureKind{
	sigMemory: memoryPressure, sigNodeFS: diskPressure, sigNodeFSInodes: diskPressure,
	sigImageFS: diskPressure, sigImageFSInodes: diskPressure, sigPID: pidPressure,
}

type pressureKind int

const (
	memoryPressure pressureKind = iota
	diskPressure
	pidPressure
	pressureKinds
)

// Threshold is one "signal<quantity" or "signal<percent%" of
// --eviction-hard.
type Threshold struct {
	signal  string
	value   int64   // an absolute amount (bytes, inodes, PIDs), or
	percent float64 // a share of the capacity, when > 0
}

// ParseEvictionHard reads the kubelet's --eviction-hard syntax: a comma
// separated list of signal<quantity or signal<percent%. An empty string
// sets no Threshold.
func ParseEvictionHard(s string) ([]Threshold, error) {
	var out []Threshold
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		sig, val, ok := strings.Cut(part, "<")
		if !ok {
			return nil, fmt.Errorf("--eviction-hard %q: want signal<quantity or signal<percent%%", part)
		}
		if _, known := signalKind[sig]; !known {
			return nil, fmt.Errorf("--eviction-hard %q: unknown signal %q (memory.available, nodefs.available, nodefs.inodesFree, imagefs.available, imagefs.inodesFree, pid.available)", part, sig)
		}
		th := Threshold{signal: sig}
		if p, isPercent := strings.CutSuffix(val, "%"); isPercent {
			f, err := strconv.ParseFloat(p, 64)
			if err != nil || f <= 0 || f > 100 {
				return nil, fmt.Errorf("--eviction-hard %q: percentage must be in (0, 100]", part)
			}
			th.percent = f
		} else {
			q, err := resource.ParseQuantity(val)
			if err != nil || q.Sign() < 0 {
				return nil, fmt.Errorf("--eviction-hard %q: %q is not a quantity", part, val)
			}
			th.value = q.Value()
		}
		out = append(out, th)
	}
	return out, nil
}

// observation is one signal's reading: what is available of what capacity.
type observation struct{ available, capacity int64 }

// pressures says which kinds of pressure the observations show: a signal
// under its Threshold (signals not observed count as fine).
func pressures(ths []Threshold, obs map[string]observation) [pressureKinds]bool {
	var out [pressureKinds]bool
	for _, th := range ths {
		o, ok := obs[th.signal]
		if !ok || o.capacity <= 0 {
			continue
		}
		limit := th.value
		if th.percent > 0 {
			limit = int64(float64(o.capacity) * th.percent / 100)
		}
		if o.available < limit {
			out[signalKind[th.signal]] = true
		}
	}
	return out
}

// observeNode reads the signals from the host: memory from /proc/meminfo
// (MemAvailable), the filesystems of nodeFS and imageFS, and PIDs from
// pid_max and the number of tasks.
func observeNode(nodeFS, imageFS string) map[string]observation {
	obs := map[string]observation{}
	if avail, total := memAvailable(); total > 0 {
		obs[sigMemory] = observation{available: avail, capacity: total}
	}
	fs := func(path, bytesSig, inodesSig string) {
		var st unix.Statfs_t
		if path == "" || unix.Statfs(path, &st) != nil {
			return
		}
		obs[bytesSig] = observation{available: int64(st.Bavail) * int64(st.Bsize), capacity: int64(st.Blocks) * int64(st.Bsize)}
		if st.Files > 0 {
			obs[inodesSig] = observation{available: int64(st.Ffree), capacity: int64(st.Files)}
		}
	}
	fs(nodeFS, sigNodeFS, sigNodeFSInodes)
	fs(imageFS, sigImageFS, sigImageFSInodes)
	if max, running := pids(); max > 0 {
		obs[sigPID] = observation{available: max - running, capacity: max}
	}
	return obs
}

// memAvailable is MemAvailable and MemTotal in bytes.
func memAvailable() (avail, total int64) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		key, rest, _ := strings.Cut(s.Text(), ":")
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(fields[0], 10, 64)
		switch key {
		case "MemAvailable":
			avail = n * 1024
		case "MemTotal":
			total = n * 1024
		}
	}
	return avail, total
}

// pids is the kernel's pid_max and the number of tasks (the fourth field
// of /proc/loadavg: running/total).
func pids() (max, tasks int64) {
	max, _ = strconv.ParseInt(firstLine("/proc/sys/kernel/pid_max"), 10, 64)
	f := strings.Fields(firstLine("/proc/loadavg"))
	if len(f) >= 4 {
		if _, total, ok := strings.Cut(f[3], "/"); ok {
			tasks, _ = strconv.ParseInt(total, 10, 64)
		}
	}
	return max, tasks
}

// pressureState turns readings into conditions: a kind of pressure is on
// from the first reading that shows it until pressureTransition after the
// last one.
type pressureState struct {
	lastSeen [pressureKinds]time.Time
	on       [pressureKinds]bool
	since    [pressureKinds]time.Time
}

// update takes a reading at now and reports whether a condition changed.
func (p *pressureState) update(seen [pressureKinds]bool, now time.Time) bool {
	changed := false
	for k := range seen {
		if seen[k] {
			p.lastSeen[k] = now
		}
		on := seen[k] || (!p.lastSeen[k].IsZero() && now.Sub(p.lastSeen[k]) < pressureTransition)
		if on != p.on[k] {
			p.on[k], p.since[k], changed = on, now, true
		}
	}
	return changed
}
