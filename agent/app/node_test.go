package app

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skiff-io/skiff/agent/runtime"
	"github.com/skiff-io/skiff/agent/store"
	corev1 "k8s.io/api/core/v1"
)

// images answers like the runtime, or fails while down is set.
type images struct{ down atomic.Bool }

func (i *images) Images(context.Context) ([]runtime.Image, error) {
	if i.down.Load() {
		return nil, errors.New("connection refused")
	}
	return []runtime.Image{{Names: []string{"docker.io/library/busybox:latest"}, Size: 1}}, nil
}

func readyOf(t *testing.T, st *store.Store) (corev1.ConditionStatus, string, int) {
	t.Helper()
	items, err := st.Pending(context.Background(), 10)
	if err != nil || len(items) != 1 || items[0].NodeStatus == nil {
		t.Fatalf("outbox: %+v %v", items, err)
	}
	for _, c := range items[0].NodeStatus.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status, c.Message, len(items[0].NodeStatus.Images)
		}
	}
	t.Fatal("no Ready condition")
	return "", "", 0
}

// TestNodeStatusFollowsTheRuntime: the node reports Ready with its images,
// NotReady (keeping the images it knew) while containerd does not answer,
// and Ready again after; nothing is queued while nothing changes.
func TestNodeStatusFollowsTheRuntime(t *testing.T) {
	nodeStatusEvery = 20 * time.Millisecond
	defer func() { nodeStatusEvery = time.Minute }()
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	out := newOutbox(st)
	rt := &images{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- reportNode(ctx, out, rt, hostFacts{}, "n1", "10.0.0.1", nil) }()
	wait := func(want corev1.ConditionStatus) (string, int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if items, _ := st.Pending(ctx, 10); len(items) == 1 {
				if s, msg, n := readyOf(t, st); s == want {
					return msg, n
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("node never reported Ready=%s", want)
		return "", 0
	}
	if _, n := wait(corev1.ConditionTrue); n != 1 {
		t.Fatalf("images: %d, want 1", n)
	}
	items, _ := st.Pending(ctx, 10)
	first := items[0].Seq
	time.Sleep(100 * time.Millisecond) // several unchanged checks
	if items, _ = st.Pending(ctx, 10); items[0].Seq != first {
		t.Fatal("an unchanged node status was queued again")
	}
	rt.down.Store(true)
	if msg, n := wait(corev1.ConditionFalse); n != 1 || msg == "" {
		t.Fatalf("NotReady: message %q, images %d", msg, n)
	}
	rt.down.Store(false)
	wait(corev1.ConditionTrue)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func conditionOf(t *testing.T, st *store.Store, ct corev1.NodeConditionType) (corev1.ConditionStatus, string) {
	t.Helper()
	items, err := st.Pending(context.Background(), 10)
	if err != nil || len(items) != 1 || items[0].NodeStatus == nil {
		t.Fatalf("outbox: %+v %v", items, err)
	}
	for _, c := range items[0].NodeStatus.Conditions {
		if c.Type == ct {
			return c.Status, c.Reason
		}
	}
	t.Fatalf("no %s condition", ct)
	return "", ""
}

// TestNodeStatusReportsPressure: memory pressure turns MemoryPressure True
// at the next check, and it goes back to False only once the pressure has
// been gone for the transition period.
func TestNodeStatusReportsPressure(t *testing.T) {
	nodeStatusEvery, pressureTransition = 10*time.Millisecond, 300*time.Millisecond
	defer func() { nodeStatusEvery, pressureTransition = 10*time.Second, 5*time.Minute }()
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var short atomic.Bool
	read := func() [pressureKinds]bool {
		var p [pressureKinds]bool
		p[memoryPressure] = short.Load()
		return p
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- reportNode(ctx, newOutbox(st), &images{}, hostFacts{}, "n1", "10.0.0.1", read) }()
	wait := func(want corev1.ConditionStatus, reason string) time.Time {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if items, _ := st.Pending(ctx, 10); len(items) == 1 {
				if s, r := conditionOf(t, st, corev1.NodeMemoryPressure); s == want && r == reason {
					return time.Now()
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("MemoryPressure never became %s (%s)", want, reason)
		return time.Time{}
	}
	wait(corev1.ConditionFalse, "KubeletHasSufficientMemory")
	short.Store(true)
	wait(corev1.ConditionTrue, "KubeletHasInsufficientMemory")
	if s, _ := conditionOf(t, st, corev1.NodeDiskPressure); s != corev1.ConditionFalse {
		t.Fatalf("DiskPressure %s with only memory short", s)
	}
	cleared := time.Now()
	short.Store(false)
	if d := wait(corev1.ConditionFalse, "KubeletHasSufficientMemory").Sub(cleared); d < pressureTransition-50*time.Millisecond {
		t.Fatalf("MemoryPressure cleared %s after the pressure, before the %s transition period", d, pressureTransition)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
