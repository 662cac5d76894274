package apiserver

import (
	"encoding/json"
	"testing"

	"github.com/skiff-io/skiff/server/storage"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

func storedPod(t *testing.T, name string, labels map[string]string, rev int64) storage.KV {
	t.Helper()
	b, err := json.Marshal(&corev1.Pod{TypeMeta: metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"}, ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: labels}})
	if err != nil {
		t.Fatal(err)
	}
	return storage.KV{Key: "/registry/pods/ns/" + name, Value: b, ModRevision: rev}
}

// TestTranslateSelectorTransitions: an object moving into a watcher's
// selector is ADDED for it, moving out is DELETED, as kube-apiserver does.
func TestTranslateSelectorTransitions(t *testing.T) {
	var pods *resource
	for _, r := range catalogue() {
		if r.plural == "pods" {
			pods = r
		}
	}
	s := &Server{}
	sel, err := parseSelector("app=web", "", pods)
	if err != nil {
		t.Fatal(err)
	}
	web := map[string]string{"app": "web"}
	other := map[string]string{"app": "db"}
	for _, tc := range []struct {
		name      string
		ev        storage.Event
		want      watch.EventType
		wantRV    string
		wantEmpty bool
	}{
		{"create matching", storage.Event{Type: storage.Put, KV: storedPod(t, "p", web, 5), Revision: 5}, watch.Added, "5", false},
		{"create not matching", storage.Event{Type: storage.Put, KV: storedPod(t, "p", other, 5), Revision: 5}, "", "", true},
		{"update still matching", storage.Event{Type: storage.Put, KV: storedPod(t, "p", web, 6), Prev: storedPod(t, "p", web, 5), Revision: 6}, watch.Modified, "6", false},
		{"update into selector", storage.Event{Type: storage.Put, KV: storedPod(t, "p", web, 6), Prev: storedPod(t, "p", other, 5), Revision: 6}, watch.Added, "6", false},
		{"update out of selector", storage.Event{Type: storage.Put, KV: storedPod(t, "p", other, 6), Prev: storedPod(t, "p", web, 5), Revision: 6}, watch.Deleted, "6", false},
		{"delete matching", storage.Event{Type: storage.Deleted, KV: storage.KV{Key: "/registry/pods/ns/p", ModRevision: 7}, Prev: storedPod(t, "p", web, 6), Revision: 7}, watch.Deleted, "7", false},
		{"delete not matching", storage.Event{Type: storage.Deleted, KV: storage.KV{Key: "/registry/pods/ns/p", ModRevision: 7}, Prev: storedPod(t, "p", other, 6), Revision: 7}, "", "", true},
	} {
		typ, obj, err := s.translate(pods, tc.ev, sel)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if tc.wantEmpty {
			if obj != nil {
				t.Errorf("%s: got %s, want no event", tc.name, typ)
			}
			continue
		}
		if typ != tc.want || obj.(*corev1.Pod).ResourceVersion != tc.wantRV {
			t.Errorf("%s: got %s rv=%s, want %s rv=%s", tc.name, typ, obj.(*corev1.Pod).ResourceVersion, tc.want, tc.wantRV)
		}
	}
}

func TestTranslateWithoutSelector(t *testing.T) {
	var pods *resource
	for _, r := range catalogue() {
		if r.plural == "pods" {
			pods = r
		}
	}
	s := &Server{}
	everything, _ := parseSelector("", "", pods)
	web := map[string]string{"app": "web"}
	typ, obj, err := s.translate(pods, storage.Event{Type: storage.Put, KV: storedPod(t, "p", web, 5), Revision: 5}, everything)
	if err != nil || typ != watch.Added || obj.(*corev1.Pod).ResourceVersion != "5" {
		t.Fatalf("create: %s %v", typ, err)
	}
	typ, _, err = s.translate(pods, storage.Event{Type: storage.Put, KV: storedPod(t, "p", web, 6), Prev: storedPod(t, "p", web, 5), Revision: 6}, everything)
	if err != nil || typ != watch.Modified {
		t.Fatalf("update: %s %v", typ, err)
	}
	typ, obj, err = s.translate(pods, storage.Event{Type: storage.Deleted, KV: storage.KV{Key: "/registry/pods/ns/p", ModRevision: 7}, Prev: storedPod(t, "p", web, 6), Revision: 7}, everything)
	if err != nil || typ != watch.Deleted || obj.(*corev1.Pod).ResourceVersion != "7" {
		t.Fatalf("delete: %s %v", typ, err)
	}
}
