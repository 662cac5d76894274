package leaderelection

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skiff-io/skiff/server/errdefs"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// heldBy is a seed Lease held by holder, renewed at renew by the holder's
// clock.
func heldBy(holder string, renew time.Time, transitions int32) *coordinationv1.Lease {
	acquire := metav1.NewMicroTime(renew.Add(-time.Hour))
	r := metav1.NewMicroTime(renew)
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: testLease},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       ptr.To(holder),
			LeaseDurationSeconds: ptr.To[int32](10),
			AcquireTime:          &acquire,
			RenewTime:            &r,
			LeaseTransitions:     ptr.To(transitions),
		},
	}
}

func checkSpec(t *testing.T, got coordinationv1.LeaseSpec, holder string, durationSeconds, transitions int32, acquire, renew time.Time) {
	t.Helper()
	if h := ptr.Deref(got.HolderIdentity, "<nil>"); h != holder {
		t.Errorf("holderIdentity = %q, want %q", h, holder)
	}
	if d := ptr.Deref(got.LeaseDurationSeconds, -1); d != durationSeconds {
		t.Errorf("leaseDurationSeconds = %d, want %d", d, durationSeconds)
	}
	if n := ptr.Deref(got.LeaseTransitions, -1); n != transitions {
		t.Errorf("leaseTransitions = %d, want %d", n, transitions)
	}
	if got.AcquireTime == nil || !got.AcquireTime.Time.Equal(acquire) {
		t.Errorf("acquireTime = %v, want %v", got.AcquireTime, acquire)
	}
	if got.RenewTime == nil || !got.RenewTime.Time.Equal(renew) {
		t.Errorf("renewTime = %v, want %v", got.RenewTime, renew)
	}
}

func TestAcquireCreatesAbsentLease(t *testing.T) {
	h := newHarness(t)
	start := h.clk.Now()
	a := h.start("a", nil)
	if ctx := a.leading(t); ctx.Err() != nil {
		t.Fatalf("leading context already ended: %v", ctx.Err())
	}
	checkSpec(t, h.lease().Spec, "a", 10, 0, start, start)
	a.observedLeaders(t, "a")
}

func TestLiveLeaseOfAnotherIsNotTaken(t *testing.T) {
	// The holder's renewTime is an hour old by this candidate's clock (the
	// clocks disagree), but the holder keeps renewing: the Lease is live.
	h := newHarness(t, heldBy("b", time.Date(2025, 12, 31, 23, 0, 0, 0, time.UTC), 3))
	a := h.start("a", nil)
	for i := 1; i <= 10; i++ {
		h.step(campaignStep)
		if i%2 == 0 {
			h.edit(func(s *coordinationv1.LeaseSpec) {
				s.RenewTime.Time = s.RenewTime.Add(6 * time.Second)
			})
		}
		if got := ptr.Deref(h.lease().Spec.HolderIdentity, ""); got != "b" {
			t.Fatalf("after %v: holder is %q, want b", time.Duration(i)*campaignStep, got)
		}
	}
	a.neverLed(t)
	if a.returned() {
		t.Fatal("Run returned while the lease was held by another")
	}
	a.observedLeaders(t, "b")
}

func TestExpiredLeaseIsTakenOver(t *testing.T) {
	// Expiry is measured on the candidate's clock from when it saw the
	// Lease, whatever the holder's clock wrote in renewTime.
	for name, offset := range map[string]time.Duration{
		"holder clock behind": -time.Hour,
		"holder clock ahead":  time.Hour,
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			h = newHarness(t, heldBy("b", h.clk.Now().Add(offset), 3))
			a := h.start("a", nil)
			for i := 1; i <= 3; i++ {
				h.step(campaignStep)
				if got := ptr.Deref(h.lease().Spec.HolderIdentity, ""); got != "b" {
					t.Fatalf("after %v, less than the lease duration: holder is %q, want b", time.Duration(i)*campaignStep, got)
				}
			}
			h.step(campaignStep)
			a.leading(t)
			now := h.clk.Now()
			checkSpec(t, h.lease().Spec, "a", 10, 4, now, now)
			a.observedLeaders(t, "b", "a")
		})
	}
}

func TestLeaderRenews(t *testing.T) {
	h := newHarness(t)
	acquired := h.clk.Now()
	a := h.start("a", nil)
	lctx := a.leading(t)
	rv := h.lease().ResourceVersion
	h.fake.ClearActions()
	for i := 0; i < 20; i++ {
		h.step(testRetryPeriod)
		l := h.lease()
		checkSpec(t, l.Spec, "a", 10, 0, acquired, h.clk.Now())
		if l.ResourceVersion == rv {
			t.Fatalf("step %d: lease not written", i)
		}
		rv = l.ResourceVersion
	}
	if lctx.Err() != nil || a.returned() || a.stopped.Load() != 0 {
		t.Fatal("leader stopped leading while renewing")
	}
	// The leader writes on the version it last wrote, without reading.
	for _, act := range h.fake.Actions() {
		if act.GetVerb() != "update" {
			t.Errorf("leader renewing sent a %s", act.GetVerb())
		}
	}
}

func TestRenewalFailurePastDeadlineStopsLeading(t *testing.T) {
	h := newHarness(t)
	a := h.start("a", nil)
	lctx := a.leading(t)
	h.failUpdates(func(*coordinationv1.Lease) error { return errors.New("etcdserver: request timed out") })
	// Attempts at 1s..4s fail; the deadline is 5s after the last renewal.
	for i := 1; i <= 4; i++ {
		h.step(testRetryPeriod)
		if lctx.Err() != nil || a.returned() || a.stopped.Load() != 0 {
			t.Fatalf("stopped leading %v after the last renewal, before the %v deadline", time.Duration(i)*testRetryPeriod, testRenewDeadline)
		}
	}
	h.step(testRetryPeriod)
	a.wait(t)
	if lctx.Err() == nil {
		t.Error("OnStartedLeading's context did not end")
	}
	if n := a.stopped.Load(); n != 1 {
		t.Errorf("OnStoppedLeading called %d times, want 1", n)
	}
}

func TestTransientRenewalFailuresKeepLeadership(t *testing.T) {
	h := newHarness(t)
	a := h.start("a", nil)
	lctx := a.leading(t)
	var failing atomic.Bool
	h.failUpdates(func(l *coordinationv1.Lease) error {
		if failing.Load() {
			return apierrors.NewConflict(leasesGVR.GroupResource(), l.Name, errors.New("injected"))
		}
		return nil
	})
	// Attempts fail at 1s..3s, succeed at 4s, fail at 5s..7s: each run of
	// 409s is shorter than the deadline, though together they are longer.
	for i := 1; i <= 12; i++ {
		failing.Store(i <= 3 || (i >= 5 && i <= 7))
		h.step(testRetryPeriod)
		if lctx.Err() != nil || a.returned() {
			t.Fatalf("stopped leading at %v", time.Duration(i)*testRetryPeriod)
		}
	}
	if got := h.lease().Spec.RenewTime.Time; !got.Equal(h.clk.Now()) {
		t.Errorf("renewTime = %v, want %v", got, h.clk.Now())
	}
}

func TestLeaseTakenByAnotherStopsLeadingAtOnce(t *testing.T) {
	h := newHarness(t)
	a := h.start("a", nil)
	lctx := a.leading(t)
	h.edit(func(s *coordinationv1.LeaseSpec) {
		s.HolderIdentity = ptr.To("b")
		s.RenewTime = h.now()
	})
	h.step(testRetryPeriod)
	a.wait(t)
	if lctx.Err() == nil || a.stopped.Load() != 1 {
		t.Error("leadership did not end")
	}
	if got := ptr.Deref(h.lease().Spec.HolderIdentity, ""); got != "b" {
		t.Errorf("holder = %q, want b left in place", got)
	}
	a.observedLeaders(t, "a", "b")
}

func TestConflictLosesTheRound(t *testing.T) {
	// The Lease is free; a rival's write lands between this candidate's
	// read and its write, which gets a 409.
	free := heldBy("", time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC), 2)
	h := newHarness(t, free)
	var raced atomic.Bool
	h.failUpdates(func(l *coordinationv1.Lease) error {
		if ptr.Deref(l.Spec.HolderIdentity, "") != "a" || raced.Swap(true) {
			return nil
		}
		h.edit(func(s *coordinationv1.LeaseSpec) {
			s.HolderIdentity = ptr.To("rival")
			s.LeaseTransitions = ptr.To(*s.LeaseTransitions + 1)
			s.RenewTime = h.now()
		})
		return apierrors.NewConflict(leasesGVR.GroupResource(), l.Name, errors.New("injected"))
	})
	a := h.start("a", nil)
	if !raced.Load() {
		t.Fatal("the first attempt did not write")
	}
	// The rival never renews. This candidate first reads its write at 3s,
	// so takes over at the first attempt 10s after that.
	for i := 1; i <= 4; i++ {
		h.step(campaignStep)
		if got := ptr.Deref(h.lease().Spec.HolderIdentity, ""); got != "rival" {
			t.Fatalf("after %v: holder = %q, want rival", time.Duration(i)*campaignStep, got)
		}
		a.neverLed(t)
		if a.returned() {
			t.Fatal("Run returned after a conflict")
		}
	}
	h.step(campaignStep)
	a.leading(t)
	now := h.clk.Now()
	checkSpec(t, h.lease().Spec, "a", 10, 4, now, now)
	a.observedLeaders(t, "rival", "a")
}

func TestReleaseOnCancel(t *testing.T) {
	for _, release := range []bool{true, false} {
		t.Run(map[bool]string{true: "release", false: "keep"}[release], func(t *testing.T) {
			h := newHarness(t)
			acquired := h.clk.Now()
			a := h.start("a", func(c *Config) { c.ReleaseOnCancel = release })
			lctx := a.leading(t)
			h.step(testRetryPeriod)
			a.cancel()
			a.wait(t)
			if lctx.Err() == nil || a.stopped.Load() != 1 {
				t.Fatal("leadership did not end with the context")
			}
			spec := h.lease().Spec
			if !release {
				checkSpec(t, spec, "a", 10, 0, acquired, h.clk.Now())
				return
			}
			checkSpec(t, spec, "", 1, 0, h.clk.Now(), h.clk.Now())

			// A standby takes the released Lease at its first attempt.
			b := h.start("b", nil)
			b.leading(t)
			checkSpec(t, h.lease().Spec, "b", 10, 1, h.clk.Now(), h.clk.Now())
		})
	}
}

func TestRunWaitsForOnStartedLeading(t *testing.T) {
	h := newHarness(t)
	finish := make(chan struct{})
	var returned atomic.Bool
	a := h.start("a", func(c *Config) {
		c.ReleaseOnCancel = true
		c.OnStartedLeading = func(ctx context.Context) {
			<-ctx.Done()
			<-finish
			returned.Store(true)
		}
		c.OnStoppedLeading = func() {
			if !returned.Load() {
				t.Error("OnStoppedLeading called before OnStartedLeading returned")
			}
		}
	})
	if got := ptr.Deref(h.lease().Spec.HolderIdentity, ""); got != "a" {
		t.Fatalf("holder = %q, want a", got)
	}
	a.cancel()
	// Only a wrong Run can fail here, so a short wait cannot flake.
	select {
	case <-a.done:
		t.Fatal("Run returned while OnStartedLeading was running")
	case <-time.After(50 * time.Millisecond):
	}
	if got := ptr.Deref(h.lease().Spec.HolderIdentity, ""); got != "a" {
		t.Fatalf("lease released while OnStartedLeading was running (holder %q)", got)
	}
	close(finish)
	a.wait(t)
	if got := ptr.Deref(h.lease().Spec.HolderIdentity, "<nil>"); got != "" {
		t.Errorf("holder after release = %q, want empty", got)
	}
}

func TestRunRejectsInvalidConfig(t *testing.T) {
	h := newHarness(t)
	err := Run(context.Background(), Config{Leases: h.fake.Leases(testNamespace), Name: testLease, Identity: "a"})
	if !errors.Is(err, errdefs.ErrInvalid) {
		t.Fatalf("Run = %v, want an ErrInvalid", err)
	}
	if _, err := h.fake.Tracker().Get(leasesGVR, testNamespace, testLease); !apierrors.IsNotFound(err) {
		t.Errorf("Run with an invalid config touched the lease: %v", err)
	}
}
