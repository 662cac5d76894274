package leaderelection

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/skiff-io/skiff/server/errdefs"
	"github.com/skiff-io/skiff/server/kubeclient"
	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/utils/clock"
)

// jitterFactor spreads the candidates' attempts over [RetryPeriod,
// 2.2×RetryPeriod), as client-go does.
const jitterFactor = 1.2

// Config describes one candidate in one election.
type Config struct {
	// Leases is the Lease client, scoped to the Lease's namespace.
	Leases kubeclient.Client[*coordinationv1.Lease, *coordinationv1.LeaseList]
	// Name is the Lease's name.
	Name string
	// Identity names this candidate in spec.holderIdentity. It must be
	// unique among the candidates.
	Identity string

	// LeaseDuration is how long the holder's lease lasts: a candidate takes
	// over a Lease it has not seen change for this long, measured on its own
	// clock. It is written to the Lease in whole seconds, rounded up.
	LeaseDuration time.Duration
	// RenewDeadline is how long the leader keeps failing to renew, counted
	// from its last successful write, before it stops leading.
	RenewDeadline time.Duration
	// RetryPeriod is the time between attempts, jittered while campaigning.
	RetryPeriod time.Duration
	// ReleaseOnCancel makes the leader clear the holder when it stops
	// leading, so that a standby takes over at once instead of after
	// LeaseDuration. Set it only when OnStartedLeading's work has stopped
	// by the time it returns.
	ReleaseOnCancel bool

	// OnStartedLeading runs in its own goroutine while this candidate
	// leads; its context ends when leadership ends. Run waits for it to
	// return.
	OnStartedLeading func(ctx context.Context)
	// OnStoppedLeading, if set, is called once OnStartedLeading has
	// returned, after the Lease is released.
	OnStoppedLeading func()
	// OnNewLeader, if set, is called with each new holder this candidate
	// observes, itself included. It runs on Run's goroutine and must not
	// block.
	OnNewLeader func(identity string)

	// Clock measures every duration above; nil means the real clock.
	Clock clock.Clock
}

// ValidateTimings checks the three durations alone, as Validate does, so a
// command line can refuse bad flags before anything starts. Messages name
// the Config fields LeaseDuration, RenewDeadline and RetryPeriod.
func ValidateTimings(leaseDuration, renewDeadline, retryPeriod time.Duration) error {
	if problems := timingProblems(leaseDuration, renewDeadline, retryPeriod); len(problems) > 0 {
		return fmt.Errorf("%w leader election timings: %s", errdefs.ErrInvalid, strings.Join(problems, "; "))
	}
	return nil
}

func timingProblems(leaseDuration, renewDeadline, retryPeriod time.Duration) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	positive := true
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"LeaseDuration", leaseDuration}, {"RenewDeadline", renewDeadline}, {"RetryPeriod", retryPeriod}} {
		if d.v <= 0 {
			add("%s must be positive, got %v", d.name, d.v)
			positive = false
		}
	}
	if positive {
		// The leader must give up before a standby may take over, and have
		// time for more than one attempt before it does.
		if leaseDuration <= renewDeadline {
			add("LeaseDuration (%v) must be longer than RenewDeadline (%v)", leaseDuration, renewDeadline)
		}
		if minDeadline := time.Duration(jitterFactor * float64(retryPeriod)); renewDeadline <= minDeadline {
			add("RenewDeadline (%v) must be longer than %v × RetryPeriod (%v), i.e. %v", renewDeadline, jitterFactor, retryPeriod, minDeadline)
		}
	}
	return problems
}

// Validate reports every problem with c at once, as an errdefs.ErrInvalid.
func (c Config) Validate() error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if c.Leases == nil {
		add("Leases client is not set")
	}
	if c.Name == "" {
		add("Lease Name is empty")
	}
	if c.Identity == "" {
		add("Identity is empty")
	}
	if c.OnStartedLeading == nil {
		add("OnStartedLeading is not set")
	}
	problems = append(problems, timingProblems(c.LeaseDuration, c.RenewDeadline, c.RetryPeriod)...)
	if len(problems) > 0 {
		return fmt.Errorf("%w leader election config: %s", errdefs.ErrInvalid, strings.Join(problems, "; "))
	}
	return nil
}
