package leaderelection

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skiff-io/skiff/server/kubeclient/kubeclienttest"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

const (
	testNamespace = "kube-system"
	testLease     = "skiff-controllers"
	// Durations of every test election: a standby waits 10s, the leader
	// gives up after 5s without a renewal, attempts are 1s apart
	// (campaigning: 1s to 2.2s with jitter).
	testLeaseDuration = 10 * time.Second
	testRenewDeadline = 5 * time.Second
	testRetryPeriod   = time.Second
	// campaignStep fires exactly one campaign attempt whatever the jitter.
	campaignStep = 3 * time.Second
)

var leasesGVR = coordinationv1.SchemeGroupVersion.WithResource("leases")

// harness is a fake API and a fake clock shared by the candidates of a
// test. Its Lease writes behave like the API server's, which the fake
// clientset alone does not: create sets resourceVersion, and update
// succeeds only at the stored resourceVersion, then bumps it.
type harness struct {
	t    *testing.T
	fake kubeclienttest.Fake
	clk  *clocktesting.FakeClock
	rv   atomic.Int64

	mu         sync.Mutex
	candidates []*candidate
}

func newHarness(t *testing.T, seed ...*coordinationv1.Lease) *harness {
	t.Helper()
	var objs []runtime.Object
	for _, l := range seed {
		l = l.DeepCopy()
		l.Namespace = testNamespace
		l.ResourceVersion = "1"
		objs = append(objs, l)
	}
	h := &harness{t: t, fake: kubeclienttest.New(objs...), clk: clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}
	h.rv.Store(1)
	h.fake.PrependReactor("create", "leases", func(a k8stesting.Action) (bool, runtime.Object, error) {
		l := a.(k8stesting.CreateAction).GetObject().(*coordinationv1.Lease).DeepCopy()
		l.ResourceVersion = h.nextRV()
		if err := h.fake.Tracker().Create(leasesGVR, l, a.GetNamespace()); err != nil {
			return true, nil, err
		}
		return true, l, nil
	})
	h.fake.PrependReactor("update", "leases", func(a k8stesting.Action) (bool, runtime.Object, error) {
		l := a.(k8stesting.UpdateAction).GetObject().(*coordinationv1.Lease).DeepCopy()
		cur, err := h.fake.Tracker().Get(leasesGVR, a.GetNamespace(), l.Name)
		if err != nil {
			return true, nil, err
		}
		if rv := cur.(*coordinationv1.Lease).ResourceVersion; rv != l.ResourceVersion {
			return true, nil, apierrors.NewConflict(leasesGVR.GroupResource(), l.Name,
				errors.New("the object has been modified; please apply your changes to the latest version and try again"))
		}
		l.ResourceVersion = h.nextRV()
		if err := h.fake.Tracker().Update(leasesGVR, l, a.GetNamespace()); err != nil {
			return true, nil, err
		}
		return true, l, nil
	})
	return h
}

func (h *harness) nextRV() string { return strconv.FormatInt(h.rv.Add(1), 10) }

// failUpdates makes Lease updates fail with the error fail returns, while it
// returns one.
func (h *harness) failUpdates(fail func(*coordinationv1.Lease) error) {
	h.fake.PrependReactor("update", "leases", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if err := fail(a.(k8stesting.UpdateAction).GetObject().(*coordinationv1.Lease)); err != nil {
			return true, nil, err
		}
		return false, nil, nil
	})
}

// lease returns the stored Lease.
func (h *harness) lease() *coordinationv1.Lease {
	h.t.Helper()
	obj, err := h.fake.Tracker().Get(leasesGVR, testNamespace, testLease)
	if err != nil {
		h.t.Fatalf("reading the stored lease: %v", err)
	}
	return obj.(*coordinationv1.Lease)
}

// edit changes the stored Lease as another server would.
func (h *harness) edit(change func(*coordinationv1.LeaseSpec)) {
	h.t.Helper()
	l := h.lease().DeepCopy()
	change(&l.Spec)
	l.ResourceVersion = h.nextRV()
	if err := h.fake.Tracker().Update(leasesGVR, l, testNamespace); err != nil {
		h.t.Fatalf("editing the stored lease: %v", err)
	}
}

// now is the fake time as a Lease field.
func (h *harness) now() *metav1.MicroTime {
	t := metav1.NewMicroTime(h.clk.Now())
	return &t
}

// step advances the clock and waits for the candidates to act on it.
func (h *harness) step(d time.Duration) {
	h.t.Helper()
	h.clk.Step(d)
	h.settle()
}

// settle waits until every running candidate is blocked on the clock or
// has returned: then nothing happens until the next step. Each waits on
// one timer at a time, and a timer fired by Step is gone from the clock.
func (h *harness) settle() {
	h.t.Helper()
	limit := time.Now().Add(10 * time.Second)
	for {
		h.mu.Lock()
		running := 0
		for _, c := range h.candidates {
			if !c.returned() {
				running++
			}
		}
		h.mu.Unlock()
		if h.clk.Waiters() >= running {
			return
		}
		if time.Now().After(limit) {
			h.t.Fatalf("candidates neither waiting on the clock nor returned after 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// candidate is one Run under test.
type candidate struct {
	id      string
	started chan context.Context
	stopped atomic.Int32
	cancel  context.CancelFunc
	done    chan struct{}
	err     error

	// lctx is OnStartedLeading's context, once seen; only the test
	// goroutine uses it.
	lctx context.Context

	mu      sync.Mutex
	leaders []string
}

func defaultConfig(h *harness, c *candidate) Config {
	return Config{
		Leases:        h.fake.Leases(testNamespace),
		Name:          testLease,
		Identity:      c.id,
		LeaseDuration: testLeaseDuration,
		RenewDeadline: testRenewDeadline,
		RetryPeriod:   testRetryPeriod,
		OnStartedLeading: func(ctx context.Context) {
			c.started <- ctx
			<-ctx.Done()
		},
		OnStoppedLeading: func() { c.stopped.Add(1) },
		OnNewLeader: func(id string) {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.leaders = append(c.leaders, id)
		},
		Clock: h.clk,
	}
}

// start runs a candidate until the test ends, and lets it make its first
// attempt. adjust, if set, changes its Config.
func (h *harness) start(id string, adjust func(*Config)) *candidate {
	h.t.Helper()
	c := &candidate{id: id, started: make(chan context.Context, 1), done: make(chan struct{})}
	cfg := defaultConfig(h, c)
	if adjust != nil {
		adjust(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	h.mu.Lock()
	h.candidates = append(h.candidates, c)
	h.mu.Unlock()
	go func() {
		defer close(c.done)
		c.err = Run(ctx, cfg)
	}()
	h.t.Cleanup(func() {
		cancel()
		<-c.done
	})
	h.settle()
	return c
}

func (c *candidate) returned() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// leading waits for OnStartedLeading and returns its context.
func (c *candidate) leading(t *testing.T) context.Context {
	t.Helper()
	if c.lctx != nil {
		return c.lctx
	}
	select {
	case c.lctx = <-c.started:
		return c.lctx
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: OnStartedLeading not called", c.id)
		return nil
	}
}

// neverLed checks that OnStartedLeading has not been called.
func (c *candidate) neverLed(t *testing.T) {
	t.Helper()
	if c.lctx != nil || len(c.started) > 0 {
		t.Fatalf("%s: OnStartedLeading was called", c.id)
	}
}

// wait waits for Run to return and checks it returned nil.
func (c *candidate) wait(t *testing.T) {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: Run has not returned", c.id)
	}
	if c.err != nil {
		t.Fatalf("%s: Run returned %v, want nil", c.id, c.err)
	}
}

func (c *candidate) observedLeaders(t *testing.T, want ...string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !slices.Equal(c.leaders, want) {
		t.Errorf("%s: OnNewLeader got %q, want %q", c.id, c.leaders, want)
	}
}
