package podworker

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/skiff-io/skiff/agent/runtime"
	"github.com/skiff-io/skiff/protocol"
	corev1 "k8s.io/api/core/v1"
)

// fakeRuntime has the containers it was given and fails every image
// pull with pullErr. Without images (noImages), pull policy Never fails
// as the runtime fails it. What a test does not expect to be called is
// left to the embedded nil interface (a panic names it).
type fakeRuntime struct {
	Runtime
	mu       sync.Mutex
	pullErr  error
	noImages bool
	ctrs     map[string]runtime.ContainerStatus
}

func (r *fakeRuntime) EnsureImage(_ context.Context, ref string, policy corev1.PullPolicy, _ []corev1.Secret, onPull func()) (string, bool, error) {
	if policy == corev1.PullNever {
		if r.noImages {
			return "", false, fmt.Errorf("%w: image %q is not present with pull policy of Never", runtime.ErrImageNeverPull, ref)
		}
		return "sha256:0", false, nil
	}
	if onPull != nil {
		onPull()
	}
	if r.pullErr != nil {
		return "", false, r.pullErr
	}
	return "sha256:0", true, nil
}

func (r *fakeRuntime) ContainerStatus(_ context.Context, id string) (runtime.ContainerStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.ctrs[id]; ok {
		return c, nil
	}
	return runtime.ContainerStatus{}, runtime.ErrNotFound
}

// fakeVolumes: containers leave no termination message.
type fakeVolumes struct{ Volumes }

func (fakeVolumes) TerminationMessage(string, string) string { return "" }

// fakeOutbox keeps the latest item per key, as the store does, and
// counts the writes.
type fakeOutbox struct {
	mu     sync.Mutex
	items  map[string]protocol.StatusItem
	puts   map[string]int
	events []*corev1.Event // every event written, in order
}

func newFakeOutbox() *fakeOutbox {
	return &fakeOutbox{items: map[string]protocol.StatusItem{}, puts: map[string]int{}}
}

func (o *fakeOutbox) Put(_ context.Context, key string, it protocol.StatusItem) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.items[key] = it
	o.puts[key]++
	if it.Event != nil {
		o.events = append(o.events, it.Event.DeepCopy())
	}
	return nil
}

// event is the queued event of that reason and message, nil if none.
func (o *fakeOutbox) event(reason, msg string) *corev1.Event {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, it := range o.items {
		if it.Event != nil && it.Event.Reason == reason && it.Event.Message == msg {
			return it.Event
		}
	}
	return nil
}

// eventWrites counts the writes of events to the outbox.
func (o *fakeOutbox) eventWrites() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.events)
}

// fakeClock is the worker's clock, moved by the test.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// syncedPod is a pod worker, its sandbox and volumes already set up, on
// a worker with the fakes above.
func syncedPod(spec *corev1.Pod, rt *fakeRuntime, out *fakeOutbox, clk *fakeClock) *pod {
	w := &Worker{cfg: Config{NodeName: "n1", NodeIP: "192.0.2.1"}, rt: rt, vols: fakeVolumes{}, out: out, now: clk.now}
	p := newPod(w, spec, false)
	p.net, p.podIPs = true, []string{"10.42.0.5"}
	p.volsRV = p.sourcesVersion(spec)
	for id := range rt.ctrs {
		p.known[id] = true
	}
	return p
}
