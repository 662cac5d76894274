package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/skiff-io/skiff/hack/bench/internal/skiffproc"
)

// payloadBytes is the size of each ConfigMap's data.
const payloadBytes = 1024

// payload returns payloadBytes of random hex, so that an update always
// changes the stored value (skiff skips writes that change nothing).
func payload() string {
	b := make([]byte, payloadBytes/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func cmName(i int) string { return fmt.Sprintf("cm-%06d", i) }

// configMapKey is where skiff stores a ConfigMap.
func configMapKey(ns, name string) string { return "/registry/configmaps/" + ns + "/" + name }

// phase is one batch of identical writes at one concurrency.
type phase struct {
	ops     int
	elapsed time.Duration
	lat     []time.Duration // sorted
}

func (p phase) rate() float64 { return float64(p.ops) / p.elapsed.Seconds() }

// add is p and o as one phase: their writes, time and latencies.
func (p phase) add(o phase) phase {
	lat := append(append(make([]time.Duration, 0, len(p.lat)+len(o.lat)), p.lat...), o.lat...)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return phase{ops: p.ops + o.ops, elapsed: p.elapsed + o.elapsed, lat: lat}
}

// run is one create phase followed by one update phase.
type run struct {
	create, update phase
	// cpu is the CPU time the server spent (skiff) or this process spent
	// (raw kine: kine and its client together) during both phases.
	cpu time.Duration
	// clientCPU is this process's CPU time during a skiff run (client-go).
	clientCPU time.Duration
	// createWriteBytes is what the process holding the SQLite file sent
	// to storage during the create phase (/proc/<pid>/io write_bytes:
	// WAL appends and checkpoints).
	createWriteBytes int64
}

// add is r and o as one run (slices of one run taken in turns with
// another server's).
func (r run) add(o run) run {
	return run{
		create: r.create.add(o.create), update: r.update.add(o.update),
		cpu: r.cpu + o.cpu, clientCPU: r.clientCPU + o.clientCPU,
		createWriteBytes: r.createWriteBytes + o.createWriteBytes,
	}
}

// per1000Creates is createWriteBytes per 1,000 creates.
func (r run) per1000Creates() int64 {
	return r.createWriteBytes * 1000 / int64(max(r.create.ops, 1))
}

func (r run) ops() int               { return r.create.ops + r.update.ops }
func (r run) elapsed() time.Duration { return r.create.elapsed + r.update.elapsed }
func (r run) rate() float64          { return float64(r.ops()) / r.elapsed().Seconds() }

// all is every latency of the run, creates and updates together, sorted.
func (r run) all() []time.Duration {
	out := append(append([]time.Duration{}, r.create.lat...), r.update.lat...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// percentile is the nearest-rank percentile of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.999999) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return sorted[i]
}

// runPhase calls op(i) for i in [0,n) from conc goroutines and times each
// call. The first error stops the phase.
func runPhase(ctx context.Context, n, conc int, op func(ctx context.Context, i int) error) (phase, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	start := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				t := time.Now()
				err := op(ctx, i)
				lat[i] = time.Since(t)
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("op %d: %w", i, err); cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return phase{}, firstErr
	}
	if err := ctx.Err(); err != nil {
		return phase{}, err
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return phase{ops: n, elapsed: elapsed, lat: lat}, nil
}

// writeBytes is /proc/<pid>/io write_bytes: what the process has caused
// to be sent to storage so far.
func writeBytes(pid int) (int64, error) {
	fields, err := skiffproc.ProcFields(pid, "io")
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(fields["write_bytes"], 10, 64)
}

// measureWrites runs phase and records the write_bytes of process pid
// during it in *dst.
func measureWrites(pid int, dst *int64, phase func() error) error {
	before, err := writeBytes(pid)
	if err != nil {
		return err
	}
	if err := phase(); err != nil {
		return err
	}
	after, err := writeBytes(pid)
	if err != nil {
		return err
	}
	*dst = after - before
	return nil
}

// selfCPU is this process's user+system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
