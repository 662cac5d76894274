package apiserver

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/skiff-io/skiff/server/storage"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestBindingTrustsCacheOnlyThroughTheSwap: pods/binding reads the pod
// from the recent-writes cache, but a cached value that is stale neither
// lets it overwrite what the datastore holds nor makes it refuse a
// binding the datastore allows.
func TestBindingTrustsCacheOnlyThroughTheSwap(t *testing.T) {
	s, store, admin := kineServer(t, false)

	encode := func(name, node string, labels map[string]string) []byte {
		t.Helper()
		p := &corev1.Pod{TypeMeta: metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name), Labels: labels},
			Spec:       corev1.PodSpec{NodeName: node, SchedulerName: "other", Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
		v, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	key := func(name string) string { return "/registry/pods/default/" + name }
	bind := func(name, rv string) (int, string) {
		t.Helper()
		body, _ := json.Marshal(&corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: name, ResourceVersion: rv},
			Target: corev1.ObjectReference{Kind: "Node", Name: "node-a"}})
		r := httptest.NewRequest(http.MethodPost, "/api/v1/namespaces/default/pods/"+name+"/binding", strings.NewReader(string(body))).WithContext(admin)
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		s.mux.ServeHTTP(w, r)
		return w.Code, w.Body.String()
	}
	stored := func(name string) (*corev1.Pod, storage.KV) {
		t.Helper()
		kv, _, err := store.Get(admin, key(name))
		if err != nil {
			t.Fatal(err)
		}
		var p corev1.Pod
		if err := json.Unmarshal(kv.Value, &p); err != nil {
			t.Fatal(err)
		}
		return &p, kv
	}
	// create stores the pod and returns its revision; update replaces it
	// behind the cache's back, as a write this server did not see would.
	create := func(name string, v []byte) int64 {
		t.Helper()
		rev, err := store.Create(admin, key(name), v, 0)
		if err != nil {
			t.Fatal(err)
		}
		return rev
	}
	update := func(name string, v []byte, rev int64) int64 {
		t.Helper()
		rev, _, err := store.Update(admin, key(name), v, rev, 0)
		if err != nil {
			t.Fatal(err)
		}
		return rev
	}

	// Cached and current: bound, and the cache holds the bound pod.
	v := encode("fresh", "", nil)
	s.recent.put(storage.KV{Key: key("fresh"), Value: v, ModRevision: create("fresh", v)})
	if code, body := bind("fresh", ""); code != http.StatusCreated {
		t.Fatalf("binding a cached pod: %d %s", code, body)
	}
	p, kv := stored("fresh")
	if p.Spec.NodeName != "node-a" || len(p.Status.Conditions) != 1 || p.Status.Conditions[0].Type != corev1.PodScheduled {
		t.Fatalf("stored after binding: node %q conditions %v", p.Spec.NodeName, p.Status.Conditions)
	}
	if got, ok := s.recent.get(key("fresh")); !ok || got.ModRevision != kv.ModRevision {
		t.Fatalf("cache after binding: %v at %d, stored at %d", ok, got.ModRevision, kv.ModRevision)
	}

	// The cache shows the pod unbound, the datastore bound elsewhere: 409,
	// and the other node stays.
	v = encode("taken", "", nil)
	rev := create("taken", v)
	s.recent.put(storage.KV{Key: key("taken"), Value: v, ModRevision: rev})
	update("taken", encode("taken", "node-x", nil), rev)
	if code, body := bind("taken", ""); code != http.StatusConflict || !strings.Contains(body, `already assigned to node \"node-x\"`) {
		t.Fatalf("binding a pod bound behind a stale cache: %d %s", code, body)
	}
	if p, _ := stored("taken"); p.Spec.NodeName != "node-x" {
		t.Fatalf("stale cache let the binding move the pod to %q", p.Spec.NodeName)
	}

	// The cache shows the pod bound, the datastore unbound: the refusal is
	// checked against the datastore, which allows the binding.
	v = encode("unbound", "", nil)
	rev = create("unbound", v)
	s.recent.put(storage.KV{Key: key("unbound"), Value: encode("unbound", "node-y", nil), ModRevision: rev})
	if code, body := bind("unbound", ""); code != http.StatusCreated {
		t.Fatalf("binding a pod the cache wrongly shows bound: %d %s", code, body)
	}

	// The datastore has a newer unbound revision: the binding applies to
	// it and keeps what it changed; a Binding naming the cached revision
	// is refused.
	v = encode("moved", "", nil)
	rev = create("moved", v)
	s.recent.put(storage.KV{Key: key("moved"), Value: v, ModRevision: rev})
	update("moved", encode("moved", "", map[string]string{"new": "label"}), rev)
	if code, body := bind("moved", strconv.FormatInt(rev, 10)); code != http.StatusConflict || !strings.Contains(body, "Precondition failed: ResourceVersion") {
		t.Fatalf("binding naming a stale revision: %d %s", code, body)
	}
	s.recent.put(storage.KV{Key: key("moved"), Value: v, ModRevision: rev})
	if code, body := bind("moved", ""); code != http.StatusCreated {
		t.Fatalf("binding a pod changed behind the cache: %d %s", code, body)
	}
	if p, _ := stored("moved"); p.Spec.NodeName != "node-a" || p.Labels["new"] != "label" {
		t.Fatalf("after binding: node %q labels %v", p.Spec.NodeName, p.Labels)
	}

	// Not cached, not stored: 404.
	if code, body := bind("absent", ""); code != http.StatusNotFound {
		t.Fatalf("binding a missing pod: %d %s", code, body)
	}
}
