package synchub

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/skiff-io/skiff/protocol"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// reportAPI records the writes Report makes. Pod status writes wait until
// two are in flight (or a second passed), so that writes one at a time
// show as a peak of 1.
type reportAPI struct {
	mu       sync.Mutex
	writes   []string
	inflight int
	peak     int
	both     chan struct{}
	fail     map[string]bool // pod names whose status write fails
}

func (a *reportAPI) Pods(string) PodClient           { return reportPods{a} }
func (a *reportAPI) Nodes() NodeClient               { return nil }
func (a *reportAPI) Events(string) EventClient       { return reportEvents{a} }
func (a *reportAPI) Leases(string) LeaseClient       { return reportLeases{} }
func (a *reportAPI) PersistentVolumes() VolumeClient { return nil }
func (a *reportAPI) record(w string)                 { a.mu.Lock(); a.writes = append(a.writes, w); a.mu.Unlock() }
func (a *reportAPI) recorded() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.writes...)
}
func (reportLeases) Create(context.Context, *coordinationv1.Lease, metav1.CreateOptions) (*coordinationv1.Lease, error) {
	return nil, nil
}

type (
	reportPods   struct{ a *reportAPI }
	reportEvents struct{ a *reportAPI }
	reportLeases struct{}
)

func (p reportPods) Get(context.Context, string, metav1.GetOptions) (*corev1.Pod, error) {
	return nil, errors.New("unexpected get")
}
func (p reportPods) Delete(context.Context, string, metav1.DeleteOptions) error { return nil }
func (p reportPods) WriteStatus(_ context.Context, pod *corev1.Pod, _ metav1.UpdateOptions) error {
	a := p.a
	a.mu.Lock()
	a.inflight++
	a.peak = max(a.peak, a.inflight)
	if a.inflight == 2 {
		close(a.both)
	}
	a.mu.Unlock()
	select {
	case <-a.both:
	case <-time.After(time.Second):
	}
	a.mu.Lock()
	a.inflight--
	a.mu.Unlock()
	if a.fail[pod.Name] {
		return apierrors.NewServiceUnavailable("try again")
	}
	a.record("status/" + pod.Name + "/" + string(pod.Status.Phase))
	return nil
}
func (e reportEvents) Write(_ context.Context, ev *corev1.Event, _ metav1.CreateOptions) error {
	e.a.record("event/" + ev.InvolvedObject.Name + "/" + ev.Reason)
	return nil
}
func (e reportEvents) Patch(context.Context, string, types.PatchType, []byte, metav1.PatchOptions, ...string) (*corev1.Event, error) {
	return nil, nil
}
func (reportLeases) Get(context.Context, string, metav1.GetOptions) (*coordinationv1.Lease, error) {
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "leases"}, "")
}
func (reportLeases) Update(context.Context, *coordinationv1.Lease, metav1.UpdateOptions) (*coordinationv1.Lease, error) {
	return nil, nil
}

// TestReportAppliesObjectsConcurrentlyAndAcksInOrder: items about
// different pods are written at the same time, each pod's in order; the
// ack stops before the first item that failed, and the failed pod's later
// items are not tried.
func TestReportAppliesObjectsConcurrentlyAndAcksInOrder(t *testing.T) {
	api := &reportAPI{both: make(chan struct{}), fail: map[string]bool{"b": true}}
	h := New(nil, api)
	h.renewed["n1"] = time.Now().Add(time.Hour) // no Lease writes
	get := func(string, int64) ([]byte, error) { return nil, nil }
	for i, name := range []string{"a", "b"} {
		if err := h.idx.applyPod(podsPrefix+"ns/"+name, podJSON(t, name, "n1"), int64(2+i), get); err != nil {
			t.Fatal(err)
		}
	}
	status := func(seq int64, name string, phase corev1.PodPhase) protocol.StatusItem {
		return protocol.StatusItem{Seq: seq, Kind: protocol.ItemPodStatus, Namespace: "ns", Name: name, UID: "uid-" + types.UID(name),
			PodStatus: &corev1.PodStatus{Phase: phase}}
	}
	event := func(seq int64, name, reason string) protocol.StatusItem {
		return protocol.StatusItem{Seq: seq, Kind: protocol.ItemEvent, Event: &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: name + "." + reason, Namespace: "ns"},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "ns", Name: name}, Reason: reason}}
	}
	ack, err := h.Report(context.Background(), "n1", &protocol.StatusBatch{Items: []protocol.StatusItem{
		status(1, "a", corev1.PodPending), event(2, "a", "Pulled"), status(3, "b", corev1.PodPending), event(4, "b", "Started"), event(5, "a", "Started"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if ack.Seq != 2 {
		t.Fatalf("ack %d, want 2 (b's status failed)", ack.Seq)
	}
	if api.peak < 2 {
		t.Fatalf("status writes of different pods ran one at a time (peak %d)", api.peak)
	}
	got := api.recorded()
	want := []string{"status/a/Pending", "event/a/Pulled", "event/a/Started"}
	if len(got) != len(want) {
		t.Fatalf("writes %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("writes %v, want %v (a's in order, nothing of b's after its failure)", got, want)
		}
	}
	// Nothing stored: the error itself.
	api.fail["a"] = true
	if _, err := h.Report(context.Background(), "n1", &protocol.StatusBatch{Items: []protocol.StatusItem{status(6, "a", corev1.PodRunning)}}); !apierrors.IsServiceUnavailable(err) {
		t.Fatalf("a batch whose first item fails: %v", err)
	}
}
