package podworker

import (
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

var t0 = time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)

func onePod(name, image string, policy corev1.RestartPolicy) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Spec: corev1.PodSpec{RestartPolicy: policy, Containers: []corev1.Container{
			{Name: "c", Image: image, ImagePullPolicy: corev1.PullIfNotPresent}}},
	}
}

func checkEvent(t *testing.T, out *fakeOutbox, typ, reason, msg string, count int32) {
	t.Helper()
	ev := out.event(reason, msg)
	switch {
	case ev == nil:
		t.Fatalf("no %s event %q", reason, msg)
	case ev.Type != typ || ev.Count != count || ev.InvolvedObject.FieldPath != "spec.containers{c}":
		t.Fatalf("%s event %q: type %s, count %d, fieldPath %q; want %s, %d, spec.containers{c}",
			reason, msg, ev.Type, ev.Count, ev.InvolvedObject.FieldPath, typ, count)
	}
}

// TestEventsFromProbes: probes queue events from their own goroutines
// while the pod's worker queues its own; every one is counted (and the
// race detector sees no unguarded map).
func TestEventsFromProbes(t *testing.T) {
	spec := onePod("probed", "img", corev1.RestartPolicyAlways)
	out := newFakeOutbox()
	p := syncedPod(spec, &fakeRuntime{}, out, &fakeClock{t: t0})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				p.event(spec, "c", corev1.EventTypeWarning, "Unhealthy", "Readiness probe failed: refused")
			}
		}()
	}
	wg.Wait()
	checkEvent(t, out, corev1.EventTypeWarning, "Unhealthy", "Readiness probe failed: refused", 400)
	if last := out.events[len(out.events)-1]; last.Count != 400 {
		t.Fatalf("the last count queued is %d, want 400", last.Count)
	}
}

// TestEventNamesDiffer: events first queued at the same instant have
// names of their own, or the server would take the second for a repeat
// of the first.
func TestEventNamesDiffer(t *testing.T) {
	spec := onePod("named", "img", corev1.RestartPolicyAlways)
	out := newFakeOutbox()
	p := syncedPod(spec, &fakeRuntime{}, out, &fakeClock{t: t0})
	p.event(spec, "c", corev1.EventTypeWarning, "Failed", "Failed to pull image \"img\": refused")
	p.event(spec, "c", corev1.EventTypeWarning, "Failed", "Error: ErrImagePull")
	p.event(spec, "c", corev1.EventTypeWarning, "Failed", "Error: ErrImagePull")
	if a, b := out.events[0].Name, out.events[1].Name; a == b {
		t.Fatalf("two events share the name %s", a)
	}
	if a, b := out.events[1].Name, out.events[2].Name; a != b {
		t.Fatalf("a repeat was named %s, its first %s", b, a)
	}
}
