package leaderelection

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

// Run campaigns for the Lease until it acquires it, then leads until it
// cannot renew within RenewDeadline, another candidate takes the Lease, or
// ctx ends. It returns nil then, after OnStartedLeading has returned and
// OnStoppedLeading has been called; the caller runs it again to stand for
// the next term. It returns an error only for an invalid Config.
func Run(ctx context.Context, c Config) error {
	if err := c.Validate(); err != nil {
		return err
	}
	e := &elector{c: c, clock: c.Clock}
	if e.clock == nil {
		e.clock = clock.RealClock{}
	}
	acquired, ok := e.acquire(ctx)
	if !ok {
		return nil
	}
	klog.InfoS("Acquired lease", "lease", c.Name, "identity", c.Identity)

	lctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.OnStartedLeading(lctx)
	}()
	reason := e.renew(ctx, acquired)
	klog.InfoS("Stopped leading", "lease", c.Name, "identity", c.Identity, "reason", reason)
	cancel()
	<-done
	// Released only now: a standby must not start while this leader's
	// work is still running.
	if c.ReleaseOnCancel {
		e.release(ctx)
	}
	if c.OnStoppedLeading != nil {
		c.OnStoppedLeading()
	}
	return nil
}

// elector is one candidate's state in Run. Only Run's goroutine uses it.
type elector struct {
	c     Config
	clock clock.Clock
	obs   observation
	// lease is the Lease as last read or written: its resourceVersion makes
	// the next write conditional.
	lease *coordinationv1.Lease
	// reported is the holder last passed to OnNewLeader.
	reported string
	// lastErr says why the last attempt failed.
	lastErr error
}

// acquire attempts every RetryPeriod (jittered) until an attempt succeeds,
// and returns the time that attempt started; false when ctx ends first.
func (e *elector) acquire(ctx context.Context) (time.Time, bool) {
	for ctx.Err() == nil {
		now := e.clock.Now()
		actx, cancel := context.WithTimeout(ctx, e.c.RenewDeadline)
		ok := e.attempt(actx, now)
		cancel()
		if ok {
			return now, true
		}
		klog.V(4).InfoS("Lease not acquired", "lease", e.c.Name, "holder", e.obs.holder(), "err", e.lastErr)
		wait := e.c.RetryPeriod + time.Duration(rand.Float64()*jitterFactor*float64(e.c.RetryPeriod))
		if !e.sleep(ctx, wait) {
			break
		}
	}
	return time.Time{}, false
}

// renew renews the Lease every RetryPeriod, starting from the write at
// renewed. It returns why leadership ended: ctx, a holder other than this
// candidate, or no successful renewal for RenewDeadline. The deadline counts
// from when the last successful write started, so the leader stops before
// any standby, which waits LeaseDuration from when it saw that write.
func (e *elector) renew(ctx context.Context, renewed time.Time) string {
	for {
		deadline := renewed.Add(e.c.RenewDeadline)
		if !e.sleep(ctx, min(e.c.RetryPeriod, deadline.Sub(e.clock.Now()))) {
			return "context ended"
		}
		now := e.clock.Now()
		if !now.Before(deadline) {
			if e.lastErr == nil {
				// The process was not scheduled for the whole deadline.
				return fmt.Sprintf("not renewed within %v", e.c.RenewDeadline)
			}
			return fmt.Sprintf("not renewed within %v: %v", e.c.RenewDeadline, e.lastErr)
		}
		actx, cancel := context.WithTimeout(ctx, deadline.Sub(now))
		ok := e.attempt(actx, now)
		cancel()
		switch {
		case ok:
			renewed = now
		case ctx.Err() != nil:
			return "context ended"
		case e.obs.holder() != e.c.Identity:
			return fmt.Sprintf("lease is now held by %q", e.obs.holder())
		default:
			klog.V(2).InfoS("Lease renewal failed", "lease", e.c.Name, "err", e.lastErr)
		}
	}
}

// attempt writes the Lease once if claim allows it, reading it first unless
// this candidate holds it, and reports whether the write succeeded.
func (e *elector) attempt(ctx context.Context, now time.Time) bool {
	// The holder writes on its last known version without reading first;
	// a 409 means that version is stale and it reads.
	if e.lease != nil && e.obs.holder() == e.c.Identity {
		if spec, ok := claim(e.obs, e.c.Identity, now, e.c.LeaseDuration); ok && e.write(ctx, e.lease, spec, now) {
			return true
		}
	}
	lease, err := e.c.Leases.Get(ctx, e.c.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return e.create(ctx, now)
	}
	if err != nil {
		e.lastErr = fmt.Errorf("reading lease: %w", err)
		return false
	}
	e.lease = lease
	e.obs = e.obs.observe(lease.Spec, now)
	e.report()
	spec, ok := claim(e.obs, e.c.Identity, now, e.c.LeaseDuration)
	if !ok {
		e.lastErr = fmt.Errorf("lease is held by %q", e.obs.holder())
		return false
	}
	return e.write(ctx, lease, spec, now)
}

func (e *elector) create(ctx context.Context, now time.Time) bool {
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: e.c.Name},
		Spec:       initial(e.c.Identity, now, e.c.LeaseDuration),
	}
	out, err := e.c.Leases.Create(ctx, lease, metav1.CreateOptions{})
	if err != nil {
		e.lastErr = fmt.Errorf("creating lease: %w", err)
		return false
	}
	e.wrote(out, now)
	return true
}

// write updates base, at its resourceVersion, to spec. A conflict is a lost
// round, not an error: the next attempt reads the new version.
func (e *elector) write(ctx context.Context, base *coordinationv1.Lease, spec coordinationv1.LeaseSpec, now time.Time) bool {
	lease := base.DeepCopy()
	lease.Spec = spec
	out, err := e.c.Leases.Update(ctx, lease, metav1.UpdateOptions{})
	if err != nil {
		e.lastErr = fmt.Errorf("updating lease: %w", err)
		return false
	}
	e.wrote(out, now)
	return true
}

// wrote records the Lease as the server returned it, whose times may be
// rounded to microseconds.
func (e *elector) wrote(lease *coordinationv1.Lease, now time.Time) {
	e.lease = lease
	e.obs = observation{seen: true, spec: *lease.Spec.DeepCopy(), at: now}
	e.lastErr = nil
	e.report()
}

func (e *elector) report() {
	h := e.obs.holder()
	if h == e.reported {
		return
	}
	e.reported = h
	if h != "" && e.c.OnNewLeader != nil {
		e.c.OnNewLeader(h)
	}
}

// release clears the holder if this candidate still holds the Lease. It
// runs after ctx may have ended, so it has its own RenewDeadline.
func (e *elector) release(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.c.RenewDeadline)
	defer cancel()
	// A conflict here may be a renewal that landed after its caller gave
	// up on it: read again and retry, a few times.
	var err error
	for range 3 {
		var lease *coordinationv1.Lease
		lease, err = e.c.Leases.Get(ctx, e.c.Name, metav1.GetOptions{})
		if err != nil {
			break
		}
		if (observation{spec: lease.Spec}).holder() != e.c.Identity {
			return
		}
		lease.Spec = released(lease.Spec, e.clock.Now())
		if _, err = e.c.Leases.Update(ctx, lease, metav1.UpdateOptions{}); err == nil {
			klog.InfoS("Released lease", "lease", e.c.Name, "identity", e.c.Identity)
			return
		}
		if !apierrors.IsConflict(err) {
			break
		}
	}
	klog.ErrorS(err, "Could not release lease", "lease", e.c.Name, "identity", e.c.Identity)
}

// sleep waits d on the clock and reports false if ctx ended first.
func (e *elector) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := e.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C():
		return true
	}
}
