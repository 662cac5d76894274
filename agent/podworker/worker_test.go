package podworker

import (
	"testing"

	"github.com/skiff-io/skiff/agent/store"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func poked(p *pod) bool {
	select {
	case <-p.kick:
		return true
	default:
		return false
	}
}

// TestSetDesiredPokesOnChange: a pod is poked when its object or its
// deletion changed, or when told to; not for a document change that left
// it alone.
func TestSetDesiredPokesOnChange(t *testing.T) {
	a := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "a", UID: "u"}}
	p := newPod(&Worker{}, a, false)
	for i, step := range []struct {
		spec            *corev1.Pod
		deleting, force bool
		want            bool
	}{
		{a, false, false, false},           // the same object again
		{a.DeepCopy(), false, false, true}, // a new object (its row changed)
		{nil, false, false, false},         // nil keeps the last
		{nil, false, true, true},           // forced (resync, a ConfigMap changed)
		{nil, true, false, true},           // deletion began
		{nil, true, false, false},          // still deleting
	} {
		before := p.current()
		p.setDesired(step.spec, step.deleting, step.force)
		if got := poked(p); got != step.want {
			t.Fatalf("step %d: poked %v, want %v", i, got, step.want)
		}
		if step.spec == nil && p.current() != before {
			t.Fatalf("step %d: nil replaced the pod", i)
		}
	}
}

func TestSameSources(t *testing.T) {
	cm := &corev1.ConfigMap{}
	sec := &corev1.Secret{}
	doc := func(cms map[string]*corev1.ConfigMap) *store.Desired {
		return &store.Desired{ConfigMaps: cms, Secrets: map[string]*corev1.Secret{"ns/s": sec}}
	}
	if !sameSources(doc(map[string]*corev1.ConfigMap{"ns/c": cm}), doc(map[string]*corev1.ConfigMap{"ns/c": cm})) {
		t.Fatal("the same objects: not the same sources")
	}
	for name, other := range map[string]map[string]*corev1.ConfigMap{
		"changed": {"ns/c": {}},
		"removed": {},
		"added":   {"ns/c": cm, "ns/d": cm},
		"renamed": {"ns/d": cm},
	} {
		if sameSources(doc(map[string]*corev1.ConfigMap{"ns/c": cm}), doc(other)) {
			t.Fatalf("%s ConfigMap: the same sources", name)
		}
	}
}
