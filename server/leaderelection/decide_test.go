package leaderelection

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestClaim(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	mt := func(t time.Time) *metav1.MicroTime { m := metav1.NewMicroTime(t); return &m }
	old := t0.Add(-time.Hour)
	spec := func(holder string, seconds *int32, transitions int32) coordinationv1.LeaseSpec {
		return coordinationv1.LeaseSpec{
			HolderIdentity:       ptr.To(holder),
			LeaseDurationSeconds: seconds,
			AcquireTime:          mt(old),
			RenewTime:            mt(old),
			LeaseTransitions:     ptr.To(transitions),
		}
	}
	ten := ptr.To[int32](10)
	for _, tc := range []struct {
		name string
		obs  coordinationv1.LeaseSpec
		// since is how long ago the candidate first saw obs.
		since time.Duration
		ok    bool
		want  coordinationv1.LeaseSpec
	}{{
		name:  "free lease is taken at once",
		obs:   spec("", ptr.To[int32](1), 2),
		since: 0,
		ok:    true,
		want:  coordinationv1.LeaseSpec{HolderIdentity: ptr.To("me"), LeaseDurationSeconds: ten, AcquireTime: mt(t0), RenewTime: mt(t0), LeaseTransitions: ptr.To[int32](3)},
	}, {
		name: "empty spec is taken",
		ok:   true,
		want: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("me"), LeaseDurationSeconds: ten, AcquireTime: mt(t0), RenewTime: mt(t0), LeaseTransitions: ptr.To[int32](1)},
	}, {
		name:  "own lease is renewed, keeping acquireTime and transitions",
		obs:   spec("me", ten, 5),
		since: time.Hour,
		ok:    true,
		want:  coordinationv1.LeaseSpec{HolderIdentity: ptr.To("me"), LeaseDurationSeconds: ten, AcquireTime: mt(old), RenewTime: mt(t0), LeaseTransitions: ptr.To[int32](5)},
	}, {
		name:  "another's lease seen changing 9s ago is live",
		obs:   spec("b", ten, 5),
		since: 9 * time.Second,
	}, {
		name:  "another's lease unchanged for 10s has expired",
		obs:   spec("b", ten, 5),
		since: 10 * time.Second,
		ok:    true,
		want:  coordinationv1.LeaseSpec{HolderIdentity: ptr.To("me"), LeaseDurationSeconds: ten, AcquireTime: mt(t0), RenewTime: mt(t0), LeaseTransitions: ptr.To[int32](6)},
	}, {
		name:  "the holder's advertised duration counts, not the candidate's",
		obs:   spec("b", ptr.To[int32](30), 5),
		since: 20 * time.Second,
	}, {
		name:  "without an advertised duration, the candidate's own counts",
		obs:   spec("b", nil, 5),
		since: 9 * time.Second,
	}, {
		name: "fields of the coordinated election are kept",
		obs:  coordinationv1.LeaseSpec{Strategy: ptr.To(coordinationv1.OldestEmulationVersion), PreferredHolder: ptr.To("me")},
		ok:   true,
		want: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("me"), LeaseDurationSeconds: ten, AcquireTime: mt(t0), RenewTime: mt(t0), LeaseTransitions: ptr.To[int32](1), Strategy: ptr.To(coordinationv1.OldestEmulationVersion), PreferredHolder: ptr.To("me")},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			o := observation{}.observe(tc.obs, t0.Add(-tc.since))
			got, ok := claim(o, "me", t0, 10*time.Second)
			if ok != tc.ok {
				t.Fatalf("claim ok = %v, want %v", ok, tc.ok)
			}
			if diff := cmp.Diff(tc.want, got); ok && diff != "" {
				t.Errorf("claimed spec (-want +got):\n%s", diff)
			}
		})
	}
}

func TestObserveMovesOnlyOnChange(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	renew := metav1.NewMicroTime(t0)
	s := coordinationv1.LeaseSpec{HolderIdentity: ptr.To("b"), RenewTime: &renew}

	o := observation{}.observe(s, t0)
	if !o.at.Equal(t0) {
		t.Fatalf("first observation at %v, want %v", o.at, t0)
	}
	// A new read of the same record, as a distinct object.
	if o = o.observe(*s.DeepCopy(), t0.Add(5*time.Second)); !o.at.Equal(t0) {
		t.Errorf("unchanged spec moved the observation to %v", o.at)
	}
	changed := *s.DeepCopy()
	changed.RenewTime = &metav1.MicroTime{Time: t0.Add(time.Second)}
	if o = o.observe(changed, t0.Add(6*time.Second)); !o.at.Equal(t0.Add(6 * time.Second)) {
		t.Errorf("renewal observed at %v, want %v", o.at, t0.Add(6*time.Second))
	}
}

func TestInitialAndReleased(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := metav1.NewMicroTime(t0)
	got := initial("me", t0, 1500*time.Millisecond)
	want := coordinationv1.LeaseSpec{HolderIdentity: ptr.To("me"), LeaseDurationSeconds: ptr.To[int32](2), AcquireTime: &m, RenewTime: &m, LeaseTransitions: ptr.To[int32](0)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("initial, duration rounded up (-want +got):\n%s", diff)
	}

	held := want
	held.LeaseTransitions = ptr.To[int32](7)
	later := metav1.NewMicroTime(t0.Add(time.Minute))
	want = coordinationv1.LeaseSpec{HolderIdentity: ptr.To(""), LeaseDurationSeconds: ptr.To[int32](1), AcquireTime: &later, RenewTime: &later, LeaseTransitions: ptr.To[int32](7)}
	if diff := cmp.Diff(want, released(held, later.Time)); diff != "" {
		t.Errorf("released (-want +got):\n%s", diff)
	}
}
