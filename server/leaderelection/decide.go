package leaderelection

import (
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// observation is what a candidate knows of the Lease: its spec as last read
// or written, and when, on the candidate's own clock, that spec was first
// seen. Expiry is judged from that time and never from spec.renewTime,
// which was stamped by the holder's clock.
type observation struct {
	seen bool
	spec coordinationv1.LeaseSpec
	at   time.Time
}

// observe returns o updated with spec read at now. The time of observation
// moves only when the spec has changed since the last read.
func (o observation) observe(spec coordinationv1.LeaseSpec, now time.Time) observation {
	if o.seen && equality.Semantic.DeepEqual(o.spec, spec) {
		return o
	}
	return observation{seen: true, spec: *spec.DeepCopy(), at: now}
}

func (o observation) holder() string {
	return ptr.Deref(o.spec.HolderIdentity, "")
}

// expired reports whether the holder's lease has run out at now: the spec
// has not changed for the lease duration it advertises (fallback when it
// advertises none).
func (o observation) expired(now time.Time, fallback time.Duration) bool {
	d := fallback
	if s := ptr.Deref(o.spec.LeaseDurationSeconds, 0); s > 0 {
		d = time.Duration(s) * time.Second
	}
	return !now.Before(o.at.Add(d))
}

// claim decides whether identity may write the Lease at now, and returns
// the spec to write: a renewal when identity holds it, a takeover when the
// Lease is free or its holder's lease has expired. It refuses while another
// holder's lease is live.
func claim(o observation, identity string, now time.Time, leaseDuration time.Duration) (coordinationv1.LeaseSpec, bool) {
	holder := o.holder()
	if holder != "" && holder != identity && !o.expired(now, leaseDuration) {
		return coordinationv1.LeaseSpec{}, false
	}
	// Copy so that fields this package does not manage (the coordinated
	// election's strategy and preferred holder) survive the write.
	spec := *o.spec.DeepCopy()
	t := metav1.NewMicroTime(now)
	spec.HolderIdentity = ptr.To(identity)
	spec.LeaseDurationSeconds = ptr.To(durationSeconds(leaseDuration))
	spec.RenewTime = &t
	if holder != identity || spec.AcquireTime == nil {
		spec.AcquireTime = &t
	}
	if holder != identity {
		spec.LeaseTransitions = ptr.To(ptr.Deref(spec.LeaseTransitions, 0) + 1)
	}
	return spec, true
}

// initial is the spec of a Lease identity creates: a first holder is not a
// transition.
func initial(identity string, now time.Time, leaseDuration time.Duration) coordinationv1.LeaseSpec {
	t := metav1.NewMicroTime(now)
	return coordinationv1.LeaseSpec{
		HolderIdentity:       ptr.To(identity),
		LeaseDurationSeconds: ptr.To(durationSeconds(leaseDuration)),
		AcquireTime:          &t,
		RenewTime:            &t,
		LeaseTransitions:     ptr.To[int32](0),
	}
}

// released is spec given up by its holder at now: no holder, and a one
// second duration for readers that ignore an empty holder.
func released(spec coordinationv1.LeaseSpec, now time.Time) coordinationv1.LeaseSpec {
	out := *spec.DeepCopy()
	t := metav1.NewMicroTime(now)
	out.HolderIdentity = ptr.To("")
	out.LeaseDurationSeconds = ptr.To[int32](1)
	out.AcquireTime = &t
	out.RenewTime = &t
	return out
}

// durationSeconds rounds d up: advertising less than the candidate's own
// duration would let others take over while it still leads.
func durationSeconds(d time.Duration) int32 {
	return int32((d + time.Second - 1) / time.Second)
}
