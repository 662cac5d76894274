package apiserver

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestPrefixCacheFollowsTheStore: the cache of PriorityClasses answers
// for all of them only once listed and while no write this server
// admitted is missing from it; it follows creates and deletes.
func TestPrefixCacheFollowsTheStore(t *testing.T) {
	store := kineStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const prefix = "/registry/priorityclasses/"
	put := func(name string, value int32, def bool) {
		t.Helper()
		b, err := json.Marshal(&schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Value: value, GlobalDefault: def})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Create(ctx, prefix+name, b, 0); err != nil {
			t.Fatal(err)
		}
	}
	names := func(c *prefixCache[classDigest], now time.Time) (map[string]int32, bool) {
		m := map[string]int32{}
		ok := c.all(now, func(d classDigest) { m[d.name] = d.value })
		return m, ok
	}
	// waitFor polls until cond holds; the test fails only if it never does.
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for !cond() {
			if ctx.Err() != nil {
				t.Fatalf("never: %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	put("a", 5, true)
	c := newPrefixCache(store, prefix, digestClass)
	if _, ok := names(c, time.Now()); ok {
		t.Fatal("answered for all classes before listing them")
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- c.run(runCtx) }()
	defer func() { stop(); <-done }()
	waitFor("the first list", func() bool { m, ok := names(c, time.Now()); return ok && m["a"] == 5 })
	if d, ok := c.get("a"); !ok || !d.globalDefault || d.class().Name != "a" || d.class().Value != 5 {
		t.Fatalf("get a: %+v %v", d, ok)
	}

	// A write this server admitted holds the answers until its event.
	c.notePending("b", time.Now())
	if _, ok := names(c, time.Now()); ok {
		t.Fatal("answered while a write it admitted is not in it")
	}
	put("b", 7, false)
	waitFor("b's event", func() bool { m, ok := names(c, time.Now()); return ok && m["b"] == 7 })

	// One that never happens holds them for pendingWrite only.
	now := time.Now()
	c.notePending("never", now)
	if _, ok := names(c, now); ok {
		t.Fatal("answered while a write it admitted is pending")
	}
	if _, ok := names(c, now.Add(pendingWrite)); !ok {
		t.Fatal("a write that never came holds the cache past pendingWrite")
	}

	kv, _, err := store.Get(ctx, prefix+"a")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.Delete(ctx, prefix+"a", kv.ModRevision); err != nil {
		t.Fatal(err)
	}
	waitFor("a's deletion", func() bool { _, ok := c.get("a"); return !ok })
}

func TestDigestAccount(t *testing.T) {
	b, _ := json.Marshal(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "x"}, AutomountServiceAccountToken: new(bool)})
	d, err := digestAccount(b)
	if err != nil || d.automount == nil || *d.automount {
		t.Fatalf("automount false: %+v %v", d, err)
	}
	b, _ = json.Marshal(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "x"}})
	if d, err = digestAccount(b); err != nil || d.automount != nil {
		t.Fatalf("automount unset: %+v %v", d, err)
	}
}
