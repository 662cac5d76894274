package apiserver

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/skiff-io/skiff/server/storage"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
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
	pods := catalogueResource(t, "pods")
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
		typ, obj, err := s.translate(pods, tc.ev, sel, false)
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
	pods := catalogueResource(t, "pods")
	s := &Server{}
	everything, _ := parseSelector("", "", pods)
	web := map[string]string{"app": "web"}
	typ, obj, err := s.translate(pods, storage.Event{Type: storage.Put, KV: storedPod(t, "p", web, 5), Revision: 5}, everything, false)
	if err != nil || typ != watch.Added || obj.(*corev1.Pod).ResourceVersion != "5" {
		t.Fatalf("create: %s %v", typ, err)
	}
	typ, _, err = s.translate(pods, storage.Event{Type: storage.Put, KV: storedPod(t, "p", web, 6), Prev: storedPod(t, "p", web, 5), Revision: 6}, everything, false)
	if err != nil || typ != watch.Modified {
		t.Fatalf("update: %s %v", typ, err)
	}
	typ, obj, err = s.translate(pods, storage.Event{Type: storage.Deleted, KV: storage.KV{Key: "/registry/pods/ns/p", ModRevision: 7}, Prev: storedPod(t, "p", web, 6), Revision: 7}, everything, false)
	if err != nil || typ != watch.Deleted || obj.(*corev1.Pod).ResourceVersion != "7" {
		t.Fatalf("delete: %s %v", typ, err)
	}
}

func TestTranslateSkipsOtherNamesWithoutDecoding(t *testing.T) {
	cms := catalogueResource(t, "configmaps")
	s := &Server{}
	byName, err := parseSelector("", "metadata.name=kube-root-ca.crt", cms)
	if err != nil {
		t.Fatal(err)
	}
	// Not JSON at all: decoding it would fail, so no error means the event
	// was skipped on its key alone.
	garbage := storage.KV{Key: "/registry/configmaps/ns/other", Value: []byte("not json"), ModRevision: 5}
	if typ, obj, err := s.translate(cms, storage.Event{Type: storage.Put, KV: garbage, Prev: garbage, Revision: 5}, byName, false); err != nil || obj != nil || typ != "" {
		t.Fatalf("other name: %s %v %v", typ, obj, err)
	}
	mine := storage.KV{Key: "/registry/configmaps/ns/kube-root-ca.crt", ModRevision: 6,
		Value: []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"kube-root-ca.crt","namespace":"ns"},"data":{"ca.crt":"x"}}`)}
	if typ, obj, err := s.translate(cms, storage.Event{Type: storage.Put, KV: mine, Revision: 6}, byName, false); err != nil || typ != watch.Added || obj == nil {
		t.Fatalf("matching name: %s %v %v", typ, obj, err)
	}
}

func TestTranslateMetadataOnly(t *testing.T) {
	cms := catalogueResource(t, "configmaps")
	s := &Server{}
	sel, _ := parseSelector("app=web", "", cms)
	if !sel.metadataOnly() {
		t.Fatal("a label selector is metadata-only")
	}
	// data holds a number, which a ConfigMap cannot decode: only the
	// metadata may be read.
	kv := storage.KV{Key: "/registry/configmaps/ns/a", ModRevision: 9,
		Value: []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","namespace":"ns","labels":{"app":"web"},"ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"o","uid":"u1"}]},"data":{"k":1}}`)}
	typ, obj, err := s.translate(cms, storage.Event{Type: storage.Put, KV: kv, Revision: 9}, sel, true)
	if err != nil || typ != watch.Added {
		t.Fatalf("translate: %s %v", typ, err)
	}
	pm, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok || pm.Name != "a" || pm.ResourceVersion != "9" || len(pm.OwnerReferences) != 1 || pm.OwnerReferences[0].UID != "u1" {
		t.Fatalf("metadata: %#v", obj)
	}
	other, _ := parseSelector("app=db", "", cms)
	if typ, obj, err := s.translate(cms, storage.Event{Type: storage.Put, KV: kv, Revision: 9}, other, true); err != nil || obj != nil {
		t.Fatalf("non-matching label: %s %v %v", typ, obj, err)
	}
	if onNode, err := parseSelector("", "spec.nodeName=n1", catalogueResource(t, "pods")); err != nil || onNode.metadataOnly() {
		t.Fatalf("spec.nodeName needs the object: metadataOnly=%v err=%v", onNode.metadataOnly(), err)
	}
}

func catalogueResource(t *testing.T, plural string) *resource {
	t.Helper()
	for _, r := range catalogue() {
		if r.plural == plural {
			return r
		}
	}
	t.Fatalf("no %s resource", plural)
	return nil
}

// TestWatchEventLine: the framed event is byte for byte what encoding
// WatchEvent gives, escapes and all, so clients decode it the same.
func TestWatchEventLine(t *testing.T) {
	for _, obj := range []any{
		&corev1.Pod{TypeMeta: metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
			ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", Annotations: map[string]string{"note": "<\"quoted\" & \u2028 é>"}}},
		&metav1.Status{Status: metav1.StatusFailure, Message: "too old resource version: 1 (5)", Code: 410},
	} {
		raw, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		for _, typ := range []watch.EventType{watch.Added, watch.Modified, watch.Deleted, watch.Bookmark, watch.Error} {
			want, err := json.Marshal(metav1.WatchEvent{Type: string(typ), Object: runtime.RawExtension{Raw: raw}})
			if err != nil {
				t.Fatal(err)
			}
			if got := watchEventLine(typ, raw); string(got) != string(want)+"\n" {
				t.Errorf("%s:\n got %s\nwant %s", typ, got, want)
			}
		}
	}
}

// TestStoredEventIsTranslateEncoded: the stored bytes a watcher is sent
// are, byte for byte, what encoding translate's object writes, for every
// kind of transition, with and without a selector; a value storedWithRV
// cannot splice is left to translate.
func TestStoredEventIsTranslateEncoded(t *testing.T) {
	pods := catalogueResource(t, "pods")
	s := &Server{}
	stored := func(name string, labels map[string]string, rev int64) storage.KV {
		t.Helper()
		ts := metav1.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		b, err := json.Marshal(&corev1.Pod{TypeMeta: metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: "u-" + types.UID(name), Labels: labels, CreationTimestamp: ts},
			Spec:       corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Image: "i"}}},
			Status:     corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: ts}}}})
		if err != nil {
			t.Fatal(err)
		}
		return storage.KV{Key: "/registry/pods/ns/" + name, Value: b, ModRevision: rev}
	}
	web, other := map[string]string{"app": "web"}, map[string]string{"app": "db"}
	gone := storage.KV{Key: "/registry/pods/ns/p", ModRevision: 7}
	events := []storage.Event{
		{Type: storage.Put, KV: stored("p", web, 5), Revision: 5},
		{Type: storage.Put, KV: stored("p", other, 5), Revision: 5},
		{Type: storage.Put, KV: stored("p", web, 6), Prev: stored("p", web, 5), Revision: 6},
		{Type: storage.Put, KV: stored("p", web, 6), Prev: stored("p", other, 5), Revision: 6},
		{Type: storage.Put, KV: stored("p", other, 6), Prev: stored("p", web, 5), Revision: 6},
		{Type: storage.Deleted, KV: gone, Prev: stored("p", web, 6), Revision: 7},
		{Type: storage.Deleted, KV: gone, Prev: stored("p", other, 6), Revision: 7},
	}
	for _, selStr := range []string{"", "app=web"} {
		sel, err := parseSelector(selStr, "", pods)
		if err != nil {
			t.Fatal(err)
		}
		for i, ev := range events {
			typ, raw, ok := s.storedEvent(pods, ev, sel)
			wantTyp, obj, err := s.translate(pods, ev, sel, false)
			if err != nil || !ok {
				t.Fatalf("selector %q, event %d: ok=%v, translate: %v", selStr, i, ok, err)
			}
			if obj == nil {
				if raw != nil {
					t.Errorf("selector %q, event %d: sent %s %s, translate sends nothing", selStr, i, typ, raw)
				}
				continue
			}
			want, err := json.Marshal(obj)
			if err != nil {
				t.Fatal(err)
			}
			if typ != wantTyp || string(raw) != string(want) {
				t.Errorf("selector %q, event %d:\n got %s %s\nwant %s %s", selStr, i, typ, raw, wantTyp, want)
			}
		}
	}
	// Without a uid storedWithRV does not know where the resourceVersion
	// goes: translate encodes.
	everything, _ := parseSelector("", "", pods)
	if _, _, ok := s.storedEvent(pods, storage.Event{Type: storage.Put, KV: storedPod(t, "p", web, 5), Revision: 5}, everything); ok {
		t.Error("a stored pod without a uid was sent as stored")
	}
}
