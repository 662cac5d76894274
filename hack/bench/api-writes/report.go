package main

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/skiff-io/skiff/hack/bench/internal/skiffproc"
)

// runPair is one concurrency's skiff run and raw kine run.
type runPair struct {
	conc        int
	skiff, kine run
	// kineAsRun is the same writes into kine as skiff's server runs it:
	// on the group-commit backend, with one watch open on /registry/, as
	// any server with controllers or agents has. skiff ÷ this is what the
	// API alone costs.
	kineAsRun run
	// floor is client-go writing through floorServer: the most any API
	// server in front of kine as skiff runs it could reach.
	floor run
	// skiffSide and upstream are the side-by-side table's runs: the same
	// writes through skiff and through the real kube-apiserver on
	// etcd, taken in turns; nil when that column is skipped.
	skiffSide, upstream *run
}

// results is everything the report shows.
type results struct {
	cfg             config
	cpus            int
	goVersion       string
	binary          string
	started         time.Time
	elapsed         time.Duration
	loadBefore      string // 1-minute load average at start and end
	loadAfter       string
	runs            []runPair
	skiffValueBytes int
	kineValueBytes  int
	protobuf        string
	foot            footprintResult
	// upstreamSkipped says why the kube-apiserver column is absent.
	upstreamSkipped string
	upstreamVersion string
	upstreamIdle    [2]skiffproc.Memory // kube-apiserver, etcd; idleSettle after ready
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
				b.WriteString(c + pad) // labels left, figures right
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

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
func perSec(r float64) string   { return fmt.Sprintf("%.0f", r) }
func mib(b int64) string        { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func bytesHuman(b int64) string {
	switch {
	case b >= 1<<20 || b <= -(1<<20):
		return fmt.Sprintf("%.2f MiB", float64(b)/(1<<20))
	case b >= 1<<10 || b <= -(1<<10):
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}

// cpuPerWrite is CPU milliseconds per write.
func cpuPerWrite(cpu time.Duration, ops int) string {
	return fmt.Sprintf("%.3f", float64(cpu)/float64(time.Millisecond)/float64(ops))
}

func (r *results) heading() string {
	return fmt.Sprintf("skiff API write benchmark: n=%d ConfigMaps per run (%d B data), each created then updated once; %d CPUs, %s; %s; took %v; load average %s at start, %s at end",
		r.cfg.n, payloadBytes, r.cpus, r.goVersion, r.started.Format(time.RFC3339), r.elapsed.Round(time.Second), r.loadBefore, r.loadAfter)
}

func (r *results) tables() []table {
	writes := table{
		title: "1-2. Writes (creates + updates) per second and per-request latency: skiff API (client-go, JSON) vs raw kine as it ships (etcd client; SQLite's busy handler orders concurrent writers)",
		header: []string{"concurrency", "skiff writes/s", "skiff p50", "skiff p99",
			"kine writes/s", "kine p50", "kine p99", "skiff ÷ kine"},
	}
	detail := table{
		title: "Per phase, and CPU per write (skiff: server process / client-go in the benchmark; kine: kine + etcd client, one process)",
		header: []string{"concurrency", "side", "creates/s", "create p50", "create p99",
			"updates/s", "update p50", "update p99", "CPU ms/write", "client CPU ms/write"},
	}
	watched := table{
		title:  "1b. kine as skiff's server runs it: on the group-commit backend (concurrent writes committed together, watch events from the commit path) with one watch open on /registry/ (skiff's controllers always have one), so skiff ÷ this is the API's own cost",
		header: []string{"concurrency", "kine as run writes/s", "p50", "p99", "CPU ms/write", "skiff ÷ kine as run"},
	}
	floor := table{
		title:  "1c. Floor: client-go through a minimal HTTPS/HTTP2 server in the benchmark's process that stores each body in kine as skiff runs it and echoes it (no decoding, defaults, validation or managed fields): the most an API server in front of that kine could reach",
		header: []string{"concurrency", "floor writes/s", "p50", "p99", "CPU ms/write (server + client)", "floor ÷ kine", "skiff ÷ floor"},
	}
	wear := table{
		title:  "2b. Storage written per 1,000 creates (write_bytes of the process holding the SQLite file, WAL appends and checkpoints, over the create phase): what wears an SD card",
		header: []string{"concurrency", "skiff", "raw kine", "kine as run", "skiff ÷ raw kine", "etcd (kube-apiserver)"},
	}
	side := table{
		title: "0. Side by side: skiff vs the real kube-apiserver on a single-node etcd, the same client-go writes (JSON, client certificate, QPS unlimited), the two servers in turns (-slices); CPU is the server's (kube-apiserver + etcd together)",
		header: []string{"concurrency", "skiff writes/s", "skiff p50", "skiff p99",
			"kube-apiserver+etcd writes/s", "p50", "p99", "skiff ÷ kube-apiserver", "CPU ms/write skiff", "CPU ms/write kube-apiserver+etcd"},
	}
	for _, p := range r.runs {
		if p.upstream == nil {
			continue
		}
		sk := p.skiffSide
		sa, ua := sk.all(), p.upstream.all()
		side.rows = append(side.rows, []string{
			fmt.Sprint(p.conc),
			perSec(sk.rate()), ms(percentile(sa, .50)), ms(percentile(sa, .99)),
			perSec(p.upstream.rate()), ms(percentile(ua, .50)), ms(percentile(ua, .99)),
			fmt.Sprintf("%.2f", sk.rate()/p.upstream.rate()),
			cpuPerWrite(sk.cpu, sk.ops()), cpuPerWrite(p.upstream.cpu, p.upstream.ops()),
		})
	}
	for _, p := range r.runs {
		ratio := "n/a"
		if p.kine.createWriteBytes > 0 {
			ratio = fmt.Sprintf("%.2f", float64(p.skiff.createWriteBytes)/float64(p.kine.createWriteBytes))
		}
		wear.rows = append(wear.rows, []string{
			fmt.Sprint(p.conc), bytesHuman(p.skiff.per1000Creates()), bytesHuman(p.kine.per1000Creates()),
			bytesHuman(p.kineAsRun.per1000Creates()), ratio, upstreamWear(p.upstream),
		})
	}
	for _, p := range r.runs {
		fa := p.floor.all()
		floor.rows = append(floor.rows, []string{
			fmt.Sprint(p.conc), perSec(p.floor.rate()), ms(percentile(fa, .50)), ms(percentile(fa, .99)),
			cpuPerWrite(p.floor.cpu, p.floor.ops()),
			fmt.Sprintf("%.2f", p.floor.rate()/p.kine.rate()), fmt.Sprintf("%.2f", p.skiff.rate()/p.floor.rate()),
		})
	}
	for _, p := range r.runs {
		wa := p.kineAsRun.all()
		watched.rows = append(watched.rows, []string{
			fmt.Sprint(p.conc), perSec(p.kineAsRun.rate()), ms(percentile(wa, .50)), ms(percentile(wa, .99)),
			cpuPerWrite(p.kineAsRun.cpu, p.kineAsRun.ops()), fmt.Sprintf("%.2f", p.skiff.rate()/p.kineAsRun.rate()),
		})
	}
	for _, p := range r.runs {
		sa, ka := p.skiff.all(), p.kine.all()
		writes.rows = append(writes.rows, []string{
			fmt.Sprint(p.conc),
			perSec(p.skiff.rate()), ms(percentile(sa, .50)), ms(percentile(sa, .99)),
			perSec(p.kine.rate()), ms(percentile(ka, .50)), ms(percentile(ka, .99)),
			fmt.Sprintf("%.2f", p.skiff.rate()/p.kine.rate()),
		})
		for _, s := range []struct {
			name   string
			r      run
			client string
		}{
			{"skiff", p.skiff, cpuPerWrite(p.skiff.clientCPU, p.skiff.ops())},
			{"kine", p.kine, "(included)"},
		} {
			detail.rows = append(detail.rows, []string{
				fmt.Sprint(p.conc), s.name,
				perSec(s.r.create.rate()), ms(percentile(s.r.create.lat, .50)), ms(percentile(s.r.create.lat, .99)),
				perSec(s.r.update.rate()), ms(percentile(s.r.update.lat, .50)), ms(percentile(s.r.update.lat, .99)),
				cpuPerWrite(s.r.cpu, s.r.ops()), s.client,
			})
		}
	}

	f := r.foot
	perHour := func(delta int64) string {
		h := float64(delta) * float64(time.Hour) / float64(f.idleWindow)
		return fmt.Sprintf("%s in %v → %s/h", bytesHuman(delta), f.idleWindow.Round(time.Second), bytesHuman(int64(h)))
	}
	watchState := "still open"
	if !f.watchOpen {
		watchState = "ended early"
	}
	foot := table{
		title:  "3. Server footprint (a separate fresh server)",
		header: []string{"figure", "value"},
		rows: [][]string{
			{"process start → first 200 from /readyz (polled every 10 ms)", ms(f.readyAfter)},
			{fmt.Sprintf("RSS idle, %v after ready: VmRSS / VmHWM", idleSettle), mib(f.idle.RSS) + " / " + mib(f.idle.HWM)},
			{"  of which RssAnon / RssFile", mib(f.idle.Anon) + " / " + mib(f.idle.File)},
			{fmt.Sprintf("RSS after %d ConfigMaps exist: VmRSS / VmHWM", f.objects), mib(f.loaded.RSS) + " / " + mib(f.loaded.HWM)},
			{"  of which RssAnon / RssFile", mib(f.loaded.Anon) + " / " + mib(f.loaded.File)},
			{fmt.Sprintf("creating those %d at concurrency 16: creates/s, p50, p99", f.objects),
				fmt.Sprintf("%s, %s, %s", perSec(f.loadedCreates.rate()), ms(percentile(f.loadedCreates.lat, .5)), ms(percentile(f.loadedCreates.lat, .99)))},
			{fmt.Sprintf("idle, one watch open (%d events, %s): write_bytes", f.watchEvents, watchState), perHour(f.ioAfter.writeBytes - f.ioBefore.writeBytes)},
			{"idle: wchar (all write syscalls, sockets included)", perHour(f.ioAfter.wchar - f.ioBefore.wchar)},
			{"idle: server CPU time (share of one core)", fmt.Sprintf("%v in %v (%.3f%%)", (f.ioAfter.cpu - f.ioBefore.cpu).Round(time.Millisecond),
				f.idleWindow.Round(time.Second), 100*float64(f.ioAfter.cpu-f.ioBefore.cpu)/float64(f.idleWindow))},
			{"idle: state.db size before → after", bytesHuman(f.ioBefore.db) + " → " + bytesHuman(f.ioAfter.db)},
			{"idle: state.db-wal size before → after", bytesHuman(f.ioBefore.wal) + " → " + bytesHuman(f.ioAfter.wal)},
		},
	}
	if r.upstreamSkipped == "" {
		u := r.upstreamIdle
		foot.rows = append(foot.rows, []string{
			fmt.Sprintf("beside: kube-apiserver / etcd RSS idle, %v after ready: VmRSS (RssAnon)", idleSettle),
			fmt.Sprintf("%s (%s) / %s (%s)", mib(u[0].RSS), mib(u[0].Anon), mib(u[1].RSS), mib(u[1].Anon)),
		})
	}
	tables := []table{writes, watched, floor, detail, wear, foot}
	if len(side.rows) > 0 {
		tables = append([]table{side}, tables...)
	}
	return tables
}

func upstreamWear(u *run) string {
	if u == nil {
		return "–"
	}
	return bytesHuman(u.per1000Creates())
}

func (r *results) notes() []string {
	return []string{
		fmt.Sprintf("stored value of one ConfigMap: skiff %d B, raw kine %d B (same JSON shape)", r.skiffValueBytes, r.kineValueBytes),
		"protobuf request bodies: " + r.protobuf,
		"skiff's update is the compare-and-swap Txn alone when the server's recent-writes cache (4 MiB) holds the object, as here; otherwise a Get comes first",
		"skiff binary: " + r.binary,
		r.upstreamNote(),
	}
}

func (r *results) upstreamNote() string {
	if r.upstreamSkipped != "" {
		return "side-by-side column skipped: " + r.upstreamSkipped
	}
	return "side by side with " + r.upstreamVersion
}

func (r *results) printText(w io.Writer) {
	fmt.Fprintln(w)
	fmt.Fprintln(w, r.heading())
	fmt.Fprintln(w)
	for _, t := range r.tables() {
		t.text(w)
	}
	for _, n := range r.notes() {
		fmt.Fprintln(w, "- "+n)
	}
}

func (r *results) writeMarkdown(w io.Writer) {
	fmt.Fprintf(w, "## %s\n\n", r.heading())
	for _, t := range r.tables() {
		t.markdown(w)
	}
	for _, n := range r.notes() {
		fmt.Fprintln(w, "- "+n)
	}
}
