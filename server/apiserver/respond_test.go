package apiserver

import (
	"encoding/json"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// TestStoredWithRV checks that the response spliced from a stored
// encoding is byte for byte what encoding the object gives, and that
// encodings it cannot splice are refused.
func TestStoredWithRV(t *testing.T) {
	now := metav1.Unix(1700000000, 0)
	cm := schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	cases := []struct {
		name   string
		obj    runtime.Object
		gvk    schema.GroupVersionKind
		splice bool
	}{
		{"configmap", &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "ns", UID: "u-1", CreationTimestamp: now, Labels: map[string]string{"uid": `"x"`}},
			Data:       map[string]string{"k": `v "uid":"y"`},
		}, cm, true},
		{"generateName and escapes", &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: `we<ird"\`, GenerateName: `g\"`, Namespace: "n\u00e9", UID: "u-2",
				ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "m", Operation: metav1.ManagedFieldsOperationUpdate, Time: &now}}},
		}, cm, true},
		{"cluster-scoped", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns", UID: "u-3", Generation: 4}},
			schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, true},
		{"group", &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d", Namespace: "ns", UID: "u-4", Generation: 2}},
			schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, true},
		{"no uid", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "ns", Generation: 1}}, cm, false},
		{"other kind", &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "ns", UID: "u-5"}}, cm, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.obj.GetObjectKind().SetGroupVersionKind(c.gvk)
			if c.name == "other kind" {
				c.obj.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{Version: "v1", Kind: "Secret"})
			}
			stored, err := json.Marshal(c.obj)
			if err != nil {
				t.Fatal(err)
			}
			setRV(c.obj, 12345)
			want, err := json.Marshal(c.obj)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := storedWithRV(stored, c.gvk, "12345")
			if ok != c.splice {
				t.Fatalf("spliced = %v, want %v (%s)", ok, c.splice, stored)
			}
			if ok && string(got) != string(want) {
				t.Fatalf("spliced\n %s\nwant\n %s", got, want)
			}
		})
	}
	// Truncated encodings are refused, never read past.
	stored, _ := json.Marshal(&corev1.ConfigMap{TypeMeta: metav1.TypeMeta{Kind: "ConfigMap", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "ns", UID: "u"}})
	for n := range len(stored) - 1 {
		if _, ok := storedWithRV(stored[:n], cm, "1"); ok && n < len(`{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"a","namespace":"ns","uid":"u"`) {
			t.Fatalf("spliced a truncated encoding: %s", stored[:n])
		}
	}
}

// storedWithRV is what writeWritten answers: stored with
// "resourceVersion":rv inserted at rvInsertAt.
func storedWithRV(stored []byte, gvk schema.GroupVersionKind, rv string) ([]byte, bool) {
	at, ok := rvInsertAt(stored, gvk)
	if !ok {
		return nil, false
	}
	out := append([]byte(nil), stored[:at]...)
	out = append(out, `,"resourceVersion":"`+rv+`"`...)
	return append(out, stored[at:]...), true
}
