package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/skiff-io/skiff/protocol"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func pod(name string) corev1.Pod {
	return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}}
}

func TestApplyWholeAndDeltaSurviveReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, &protocol.Desired{Revision: 5, Pods: []corev1.Pod{pod("a"), pod("b")},
		ConfigMaps: []corev1.ConfigMap{{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "ns"}}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, &protocol.Desired{Revision: 7, Since: 5, Pods: []corev1.Pod{pod("c")},
		Removed: []protocol.Ref{{Kind: protocol.KindPod, Namespace: "ns", Name: "a"}}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = Open(path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, p := range d.Pods {
		got[p.Name] = true
	}
	if d.Revision != 7 || len(d.Pods) != 2 || !got["b"] || !got["c"] || d.ConfigMaps["ns/c"] == nil {
		t.Fatalf("after whole@5 and delta@7: revision %d pods %v configmaps %v", d.Revision, got, d.ConfigMaps)
	}
	// A whole document replaces everything.
	if err := s.Apply(ctx, &protocol.Desired{Revision: 9, Pods: []corev1.Pod{pod("z")}}); err != nil {
		t.Fatal(err)
	}
	if d, _ = s.Load(ctx); len(d.Pods) != 1 || d.Pods[0].Name != "z" || len(d.ConfigMaps) != 0 {
		t.Fatalf("whole document did not replace: %+v", d)
	}
}

func TestOutboxCoalescesAndKeepsOrderUntilAcked(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	put := func(key, name string, phase corev1.PodPhase) {
		t.Helper()
		if err := s.Enqueue(ctx, key, protocol.StatusItem{Kind: protocol.ItemPodStatus, Name: name, PodStatus: &corev1.PodStatus{Phase: phase}}); err != nil {
			t.Fatal(err)
		}
	}
	put("pod/a", "a", corev1.PodPending)
	put("pod/b", "b", corev1.PodPending)
	put("pod/a", "a", corev1.PodRunning) // replaces a's Pending, now after b
	items, err := s.Pending(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[0].Name != "b" || items[1].Name != "a" || items[1].PodStatus.Phase != corev1.PodRunning {
		t.Fatalf("outbox: %+v", items)
	}
	if items[0].Seq >= items[1].Seq {
		t.Fatalf("sequence numbers out of order: %d, %d", items[0].Seq, items[1].Seq)
	}
	if err := s.Ack(ctx, items[0].Seq); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.OutboxLen(ctx); n != 1 {
		t.Fatalf("after acking the first item %d remain, want 1", n)
	}
}

func TestSetWritesOnlyChanges(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	changes := func() int64 {
		var n int64
		if err := s.db.QueryRowContext(ctx, `SELECT total_changes()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if err := s.Set(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	before := changes()
	if err := s.Set(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	if after := changes(); after != before {
		t.Fatalf("setting an unchanged value wrote %d rows", after-before)
	}
}

// Concurrent callers share commits; every item is stored once, each
// caller's items in its order, and the same key keeps the latest.
func TestOutboxGroupCommit(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const workers, each = 20, 10
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				it := protocol.StatusItem{Kind: protocol.ItemEvent, Name: fmt.Sprintf("w%d-%d", w, i)}
				if err := s.Enqueue(ctx, fmt.Sprintf("event/%d/%d", w, i), it); err != nil {
					t.Error(err)
				}
				// One key per worker rewritten each time: only the last stays.
				st := protocol.StatusItem{Kind: protocol.ItemPodStatus, Name: fmt.Sprintf("w%d-%d", w, i)}
				if err := s.Enqueue(ctx, fmt.Sprintf("pod/%d", w), st); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	items, err := s.Pending(ctx, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != workers*each+workers {
		t.Fatalf("%d items, want %d", len(items), workers*each+workers)
	}
	next := map[int]int{}
	for _, it := range items {
		var w, i int
		fmt.Sscanf(it.Name, "w%d-%d", &w, &i)
		switch it.Kind {
		case protocol.ItemEvent:
			if i != next[w] {
				t.Fatalf("worker %d: event %d after %d", w, i, next[w]-1)
			}
			next[w]++
		default:
			if i != each-1 {
				t.Errorf("worker %d's status is its item %d, want the last (%d)", w, i, each-1)
			}
		}
	}
}

// TestLoadDecodesOnlyChangedRows: Load hands back the same object for a
// row whose bytes did not change, a new one for a changed row, and
// forgets removed rows.
func TestLoadDecodesOnlyChangedRows(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cm := corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "ns"}, Data: map[string]string{"k": "1"}}
	if err := s.Apply(ctx, &protocol.Desired{Revision: 1, Pods: []corev1.Pod{pod("a"), pod("b")}, ConfigMaps: []corev1.ConfigMap{cm}}); err != nil {
		t.Fatal(err)
	}
	byName := func(d *Desired) map[string]*corev1.Pod {
		m := map[string]*corev1.Pod{}
		for _, p := range d.Pods {
			m[p.Name] = p
		}
		return m
	}
	d1, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p1 := byName(d1)

	b := pod("b")
	b.Labels = map[string]string{"changed": "yes"}
	cm.Data["k"] = "2"
	if err := s.Apply(ctx, &protocol.Desired{Revision: 2, Since: 1, Pods: []corev1.Pod{b}, ConfigMaps: []corev1.ConfigMap{cm},
		Removed: []protocol.Ref{{Kind: protocol.KindPod, Namespace: "ns", Name: "a"}}}); err != nil {
		t.Fatal(err)
	}
	d2, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p2 := byName(d2)
	if len(p2) != 1 || p2["b"] == nil || p2["b"] == p1["b"] || p2["b"].Labels["changed"] != "yes" {
		t.Fatalf("after b changed and a was removed: %v (b was %p, now %p)", p2, p1["b"], p2["b"])
	}
	if got := d2.ConfigMaps["ns/c"]; got == d1.ConfigMaps["ns/c"] || got.Data["k"] != "2" {
		t.Fatalf("changed ConfigMap: %+v", got)
	}
	if d2.Revision != 2 {
		t.Fatalf("revision %d, want 2", d2.Revision)
	}

	// Unchanged rows: the same objects. A whole document with the same
	// bytes changes nothing either.
	if err := s.Apply(ctx, &protocol.Desired{Revision: 3, Pods: []corev1.Pod{b}, ConfigMaps: []corev1.ConfigMap{cm}}); err != nil {
		t.Fatal(err)
	}
	d3, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if byName(d3)["b"] != p2["b"] || d3.ConfigMaps["ns/c"] != d2.ConfigMaps["ns/c"] {
		t.Fatal("unchanged rows were decoded again")
	}
	// A removed row that comes back with the same bytes is decoded anew.
	if err := s.Apply(ctx, &protocol.Desired{Revision: 4, Since: 3, Pods: []corev1.Pod{pod("a")}}); err != nil {
		t.Fatal(err)
	}
	d4, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a := byName(d4)["a"]; a == nil || a == p1["a"] {
		t.Fatalf("pod a back: %p (first %p)", a, p1["a"])
	}
	// Rows no Apply touched are not read again: a row changed behind
	// the store's back shows only once an Apply writes it.
	if _, err := s.db.ExecContext(ctx, `UPDATE desired SET object = '{"metadata":{"name":"b","namespace":"ns","labels":{"behind":"x"}}}' WHERE name = 'b'`); err != nil {
		t.Fatal(err)
	}
	d5, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if byName(d5)["b"] != p2["b"] || len(d5.Pods) != 2 || d5.Pods[0].Name != "a" || d5.Pods[1].Name != "b" {
		t.Fatalf("a row no Apply touched was read again, or the pods are out of order: %v", d5.Pods)
	}
	b.Labels["changed"] = "again"
	if err := s.Apply(ctx, &protocol.Desired{Revision: 5, Since: 4, Pods: []corev1.Pod{b}}); err != nil {
		t.Fatal(err)
	}
	d6, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := byName(d6)["b"]; got == p2["b"] || got.Labels["changed"] != "again" || d6.Revision != 5 {
		t.Fatalf("b written again: %+v at %d", got, d6.Revision)
	}
}

// TestReportedOutlivesTheAckUntilThePodIsGone: the status last queued
// for a pod stays readable after the server acknowledged it and across a
// reopen, until the pod's removal is queued or it is pruned.
func TestReportedOutlivesTheAckUntilThePodIsGone(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	status := func(uid string, phase corev1.PodPhase) {
		t.Helper()
		if err := s.Enqueue(ctx, "pod/"+uid, protocol.StatusItem{Kind: protocol.ItemPodStatus, Namespace: "ns", Name: uid,
			UID: types.UID(uid), PodStatus: &corev1.PodStatus{Phase: phase}}); err != nil {
			t.Fatal(err)
		}
	}
	phase := func(uid string) corev1.PodPhase {
		t.Helper()
		st, err := s.Reported(ctx, uid)
		if err != nil {
			t.Fatal(err)
		}
		if st == nil {
			return "none"
		}
		return st.Phase
	}
	status("a", corev1.PodPending)
	status("a", corev1.PodRunning)
	status("b", corev1.PodFailed)
	status("c", corev1.PodRunning)
	items, err := s.Pending(ctx, 10)
	if err != nil || len(items) != 3 {
		t.Fatalf("pending: %v, %d items", err, len(items))
	}
	if err := s.Ack(ctx, items[len(items)-1].Seq); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = Open(path); err != nil {
		t.Fatal(err)
	}
	if got := [3]corev1.PodPhase{phase("a"), phase("b"), phase("c")}; got != [3]corev1.PodPhase{corev1.PodRunning, corev1.PodFailed, corev1.PodRunning} {
		t.Fatalf("after the ack and a reopen: %v", got)
	}
	if err := s.Enqueue(ctx, "gone/a", protocol.StatusItem{Kind: protocol.ItemPodGone, Namespace: "ns", Name: "a", UID: "a"}); err != nil {
		t.Fatal(err)
	}
	if got := phase("a"); got != "none" {
		t.Fatalf("a is gone, its status is still kept: %s", got)
	}
	changes := func() int64 {
		var n int64
		if err := s.db.QueryRowContext(ctx, `SELECT total_changes()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := changes()
	if err := s.PruneReported(ctx, map[string]bool{"b": true, "c": true}); err != nil {
		t.Fatal(err)
	}
	if after := changes(); after != before {
		t.Fatalf("pruning nothing wrote %d rows", after-before)
	}
	if err := s.PruneReported(ctx, map[string]bool{"c": true}); err != nil {
		t.Fatal(err)
	}
	if got := [2]corev1.PodPhase{phase("b"), phase("c")}; got != [2]corev1.PodPhase{"none", corev1.PodRunning} {
		t.Fatalf("after pruning b: %v", got)
	}
}
