package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/skiff-io/skiff/hack/bench/internal/skiffproc"
)

// The targets (issue 14, "Benchmark"), printed beside the figures.
const (
	targetP99       = 1500 * time.Millisecond
	targetAgentRSS  = 40 << 20 // "40 MB", read as MiB
	targetSyncBytes = 20_000   // per idle node per hour
)

// results is everything the report shows.
type results struct {
	cfg        config
	cpus       int
	binary     string
	started    time.Time
	elapsed    time.Duration
	loadBefore string
	loadAfter  string
	nodeReady  time.Duration // agent exec → node Ready
	ociRuntime string        // what the agent's log says its containers run with
	idleMem    memories
	podsMem    memories
	podsCPU    [2]cpuSample // rssPods pods running, nothing changing
	idleWin    idleResult
	rounds     []roundResult
}

// table is rendered both as aligned text and as Markdown.
type table struct {
	title  string
	header []string
	rows   [][]string
}

func (t table) text(w io.Writer) {
	width := make([]int, len(t.header))
	for _, r := range append([][]string{t.header}, t.rows...) {
		for i, c := range r {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	line := func(r []string) {
		var b strings.Builder
		for i, c := range r {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if i == 0 {
				b.WriteString(c + pad)
			} else {
				b.WriteString("  " + pad + c)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	fmt.Fprintln(w, t.title)
	line(t.header)
	sep := make([]string, len(t.header))
	for i := range sep {
		sep[i] = strings.Repeat("-", width[i])
	}
	line(sep)
	for _, r := range t.rows {
		line(r)
	}
	fmt.Fprintln(w)
}

func (t table) markdown(w io.Writer) {
	fmt.Fprintf(w, "### %s\n\n", t.title)
	fmt.Fprintf(w, "| %s |\n", strings.Join(t.header, " | "))
	align := make([]string, len(t.header))
	for i := range align {
		align[i] = "---:"
	}
	align[0] = "---"
	fmt.Fprintf(w, "|%s|\n", strings.Join(align, "|"))
	for _, r := range t.rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
	}
	fmt.Fprintln(w)
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%d ms", d.Round(time.Millisecond).Milliseconds())
}
func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
func ratio(x, target float64) string {
	return fmt.Sprintf("%.2f×", x/target)
}

// bytesHuman prints a byte count in decimal units, as the targets are.
func bytesHuman(b float64) string {
	switch {
	case b >= 1e6:
		return fmt.Sprintf("%.2f MB", b/1e6)
	case b >= 1e3:
		return fmt.Sprintf("%.1f kB", b/1e3)
	default:
		return fmt.Sprintf("%.0f B", b)
	}
}

func (r *results) heading() string {
	return fmt.Sprintf("pod-start: %s, %d CPUs, %s/%s; load %s at start, %s at end; took %s",
		r.started.UTC().Format("2006-01-02 15:04 MST"), r.cpus, runtime.GOOS, runtime.GOARCH,
		r.loadBefore, r.loadAfter, r.elapsed.Round(time.Second))
}

func (r *results) tables() []table {
	var ts []table

	start := table{
		title:  fmt.Sprintf("Pod start: create → Running, %d pods a round, %d client goroutines, image present", r.cfg.n, r.cfg.conc),
		header: []string{"round", "p50", "p99", "max", "pods/s", "first create → last Running", "target p99", "p99 ÷ target"},
	}
	for _, rr := range r.rounds {
		s := rr.start
		start.rows = append(start.rows, []string{rr.name, ms(s.p50), ms(s.p99), ms(s.max),
			fmt.Sprintf("%.1f", s.podsPerSec), ms(s.wall), ms(targetP99), ratio(float64(s.p99), float64(targetP99))})
	}
	ts = append(ts, start)

	steps := table{
		title:  "Pod start by step (p50 per pod, from the times the watch saw each step)",
		header: []string{"round", "create → bound to the node", "bound → first status from the agent", "first status → Running"},
	}
	cpu := table{
		title:  "CPU while the pods start (first create → last Running), per pod",
		header: []string{"round", "agent", "containerd", "node: agent, containerd, shims, runc, log writers", "pods' cgroups: containers, runc init", "node + pods", "server", "machine busy (all users)", "datastore writes (all writers)"},
	}
	delCPU := table{
		title:  "CPU while the pods are deleted (first delete → last gone), per pod",
		header: cpu.header,
	}
	for _, rr := range r.rounds {
		s := rr.start
		steps.rows = append(steps.rows, []string{rr.name, ms(s.bound), ms(s.reported), ms(s.started)})
		cpu.rows = append(cpu.rows, r.cpuRow(rr.name, rr.cpu[0], rr.cpu[1]))
		if rr.cpu[3].total > 0 {
			delCPU.rows = append(delCPU.rows, r.cpuRow(rr.name, rr.cpu[2], rr.cpu[3]))
		}
	}
	split := table{
		title:  "The node's CPU per pod start beyond the agent and containerd (/proc/<pid>/stat of the live processes once all pods run)",
		header: []string{"round", "shims", "runc (the shims' exited children)", "log writers (skiff-cri-log)", "shim start-up (containerd's exited children)"},
	}
	for _, rr := range r.rounds {
		a, b := rr.cpu[0], rr.cpu[1]
		per := func(d time.Duration) string { return ms(d / time.Duration(r.cfg.n)) }
		split.rows = append(split.rows, []string{rr.name, per(b.shims), per(b.runc), per(b.logWriters), per(b.shimStarts - a.shimStarts)})
	}
	ts = append(ts, steps, cpu, split)

	del := table{
		title:  fmt.Sprintf("Pod delete: delete call → gone from the API (DELETED event), %d pods", r.cfg.n),
		header: []string{"round", "p50", "p99", "max", "first delete → last gone", "pods/s"},
	}
	for _, rr := range r.rounds {
		d := rr.del
		del.rows = append(del.rows, []string{rr.name, ms(d.p50), ms(d.p99), ms(d.max), ms(d.wall),
			fmt.Sprintf("%.1f", float64(r.cfg.n)/d.wall.Seconds())})
	}
	ts = append(ts, del, delCPU)

	mem := table{
		title:  "Memory (/proc/<pid>/status)",
		header: []string{"process", "when", "VmRSS", "RssAnon", "RssFile", "target", "VmRSS ÷ target"},
	}
	idle := fmt.Sprintf("idle, %s after Ready", r.cfg.settle)
	with := fmt.Sprintf("%d pods Running", r.cfg.rssPods)
	row := func(proc, when string, m skiffproc.Memory, target int64) []string {
		t, rat := "", ""
		if target > 0 {
			t, rat = "40 MB (MiB)", ratio(float64(m.RSS), float64(target))
		}
		return []string{proc, when, mib(m.RSS), mib(m.Anon), mib(m.File), t, rat}
	}
	mem.rows = append(mem.rows,
		row("skiff agent", idle, r.idleMem.agent, 0),
		row("skiff agent", with, r.podsMem.agent, targetAgentRSS),
		row("containerd (context)", idle, r.idleMem.containerd, 0),
		row("containerd (context)", with, r.podsMem.containerd, 0),
		row("skiff server (context)", idle, r.idleMem.server, 0),
		row("skiff server (context)", with, r.podsMem.server, 0),
		row(fmt.Sprintf("runc shims, %d processes, summed (context)", r.podsMem.nShims), with, r.podsMem.shims, 0),
		row(fmt.Sprintf("log writers (skiff-cri-log), %d processes, summed (context)", r.podsMem.nLogWriters), with, r.podsMem.logWriters, 0),
	)
	if r.podsMem.nOthers > 0 {
		mem.rows = append(mem.rows, row(fmt.Sprintf("other processes naming the data dir, %d, summed (context)", r.podsMem.nOthers), with, r.podsMem.others, 0))
	}
	ts = append(ts, mem)

	a, b := r.podsCPU[0], r.podsCPU[1]
	share := func(d time.Duration) string { return fmt.Sprintf("%.1f%%", 100*float64(d)/float64(podsCPUWindow)) }
	node := "?"
	if a.node >= 0 && b.node >= 0 {
		node = share(b.node - a.node)
	}
	ts = append(ts, table{
		title:  fmt.Sprintf("CPU keeping %d pods running, nothing changing (%s window, share of one core)", r.cfg.rssPods, podsCPUWindow),
		header: []string{"agent", "containerd", "node: agent, containerd, shims, runc, log writers", "server"},
		rows:   [][]string{{share(b.agent - a.agent), share(b.containerd - a.containerd), node, share(b.server - a.server)}},
	})

	w := r.idleWin
	perHour := func(b int64) float64 { return float64(b) * float64(time.Hour) / float64(w.window) }
	up, down := w.after.up-w.before.up, w.after.down-w.before.down
	sync := table{
		title:  fmt.Sprintf("Idle sync: TCP payload through the proxy over %s, --sync-interval %s", w.window.Round(time.Second), r.cfg.syncInterval),
		header: []string{"direction", "in the window", "per hour", "target per hour", "per hour ÷ target"},
	}
	sync.rows = append(sync.rows,
		[]string{"agent → server (up)", bytesHuman(float64(up)), bytesHuman(perHour(up)), "", ""},
		[]string{"server → agent (down)", bytesHuman(float64(down)), bytesHuman(perHour(down)), "", ""},
		[]string{"total", bytesHuman(float64(up + down)), bytesHuman(perHour(up + down)), bytesHuman(targetSyncBytes), ratio(perHour(up+down), targetSyncBytes)},
		[]string{"TCP connections opened", fmt.Sprint(w.after.conns - w.before.conns), fmt.Sprintf("%.0f", perHour(w.after.conns-w.before.conns)), "", ""},
	)
	if w.wireOK {
		wu, wd := w.wireUp[1]-w.wireUp[0], w.wireDown[1]-w.wireDown[0]
		sync.rows = append(sync.rows,
			[]string{"wire, agent → proxy (IP packets: headers, ACKs, the agent's TCP keepalives)", bytesHuman(float64(wu)), bytesHuman(perHour(wu)), "", ""},
			[]string{"wire, proxy → agent (IP packets)", bytesHuman(float64(wd)), bytesHuman(perHour(wd)), "", ""},
			[]string{"wire total", bytesHuman(float64(wu + wd)), bytesHuman(perHour(wu + wd)), bytesHuman(targetSyncBytes), ratio(perHour(wu+wd), targetSyncBytes)},
		)
	}
	ts = append(ts, sync)

	a0, a1 := w.agentIO[0], w.agentIO[1]
	c0, c1 := w.containerdIO[0], w.containerdIO[1]
	disk := table{
		title:  fmt.Sprintf("Idle disk: /proc/<pid>/io over the same %s window", w.window.Round(time.Second)),
		header: []string{"figure", "in the window", "per hour", "target per hour"},
	}
	disk.rows = append(disk.rows,
		[]string{"agent write_bytes (SQLite and anything else it writes)", bytesHuman(float64(a1.WriteBytes - a0.WriteBytes)), bytesHuman(perHour(a1.WriteBytes - a0.WriteBytes)), "0 B"},
		[]string{"agent state.db size", fmt.Sprintf("%d → %d B", w.db[0], w.db[1]), "", ""},
		[]string{"agent state.db-wal size", fmt.Sprintf("%d → %d B", w.wal[0], w.wal[1]), "", ""},
		[]string{"agent wchar (every write(2), sockets included)", bytesHuman(float64(a1.WChar - a0.WChar)), bytesHuman(perHour(a1.WChar - a0.WChar)), ""},
		[]string{"agent CPU (user + system)", ms(a1.CPU - a0.CPU), ms(time.Duration(perHour(int64(a1.CPU - a0.CPU)))), ""},
		[]string{"containerd write_bytes (context)", bytesHuman(float64(c1.WriteBytes - c0.WriteBytes)), bytesHuman(perHour(c1.WriteBytes - c0.WriteBytes)), ""},
		[]string{"containerd CPU (context)", ms(c1.CPU - c0.CPU), ms(time.Duration(perHour(int64(c1.CPU - c0.CPU)))), ""},
	)
	ts = append(ts, disk)
	return ts
}

func (r *results) notes() []string {
	return []string{
		fmt.Sprintf("agent start → node Ready: %s (joins, starts containerd, imports the image)", ms(r.nodeReady)),
		"binary: " + r.binary,
		"OCI runtime (from the agent's log): " + r.ociRuntime,
	}
}

func (r *results) printText(w io.Writer) {
	fmt.Fprintln(w, r.heading())
	fmt.Fprintln(w)
	for _, t := range r.tables() {
		t.text(w)
	}
	for _, n := range r.notes() {
		fmt.Fprintln(w, n)
	}
}

func (r *results) writeMarkdown(w io.Writer) {
	fmt.Fprintf(w, "## %s\n\n", r.heading())
	for _, t := range r.tables() {
		t.markdown(w)
	}
	for _, n := range r.notes() {
		fmt.Fprintf(w, "- %s\n", n)
	}
}

// cpuRow is one round's CPU figures per pod between samples a and b.
func (r *results) cpuRow(name string, a, b cpuSample) []string {
	per := func(d time.Duration) string { return ms(d / time.Duration(r.cfg.n)) }
	busy := "?"
	if t := b.total - a.total; t > 0 {
		busy = fmt.Sprintf("%.0f%% of %d CPUs", 100*float64(b.busy-a.busy)/float64(t), r.cpus)
	}
	node, pods, both := "?", "?", "?"
	if a.node >= 0 && b.node >= 0 {
		node = per(b.node - a.node)
	}
	if a.pods >= 0 && b.pods >= 0 {
		pods = per(b.pods - a.pods)
	}
	if a.node >= 0 && b.node >= 0 && a.pods >= 0 && b.pods >= 0 {
		both = per(b.node - a.node + b.pods - a.pods)
	}
	writes := "?"
	if a.rev > 0 && b.rev >= a.rev {
		writes = fmt.Sprintf("%.1f", float64(b.rev-a.rev)/float64(r.cfg.n))
	}
	return []string{name, per(b.agent - a.agent), per(b.containerd - a.containerd), node, pods, both, per(b.server - a.server), busy, writes}
}
