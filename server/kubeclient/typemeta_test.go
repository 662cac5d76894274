package kubeclient

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/client-go/rest"
)

// typeMetaFactory answers as client-go's DefaultMetaFactory for every
// input, and reads what the API server writes (objects, watch event
// frames) without falling back to it.
func TestTypeMetaFactory(t *testing.T) {
	for _, tc := range []struct {
		in   string
		fast bool // read by the scan, not DefaultMetaFactory
	}{
		{`{"kind":"Pod","apiVersion":"v1","metadata":{"name":"a","kind":"x"},"spec":{"containers":[{"name":"c","args":["}","\"kind\":\"X\"","]"]}]}}`, true},
		{`{"type":"MODIFIED","object":{"kind":"Pod","apiVersion":"v1","metadata":{"name":"a"}}}`, true},
		{`{"apiVersion":"apps/v1","kind":"Deployment","spec":{"replicas":3,"paused":false,"x":null,"f":-1.5e3}}`, true},
		{"{\n  \"kind\" : \"Pod\" ,\n\t\"apiVersion\":\"v1\"\r\n}\n", true},
		{`{"kind":"A","apiVersion":"v1","kind":"B"}`, true},
		{`{}`, true},
		{` { } `, true},
		{`{"metadata":{"annotations":{"a":"\"}\\"}},"kind":"Secret","apiVersion":"v1"}`, true},
		{`{"Kind":"Pod","apiVersion":"v1"}`, false},
		{`{"kind":"Pod","APIVERSION":"v1"}`, false},
		{`{"kind":"P\u006fd","apiVersion":"v1"}`, false},
		{`{"k\u0069nd":"Pod","apiVersion":"v1"}`, false},
		{`{"kind":null,"apiVersion":"v1"}`, false},
		{`{"kind":3,"apiVersion":"v1"}`, false},
		{`{"kind":"Pöd","apiVersion":"v1"}`, false},
		{`{"kind":"Pod"`, false},
		{`{"kind":"Pod"} x`, false},
		{`{"kind":"Pod",}`, false},
		{`{"apiVersion":"a/b/c","kind":"X"}`, true},
		{`[{"kind":"Pod"}]`, false},
		{``, false},
		{`{"a":[1,2,{"b":"]"}],"kind":"K","apiVersion":"g.io/v1beta1"}`, true},
	} {
		want, wantErr := json.DefaultMetaFactory.Interpret([]byte(tc.in))
		got, err := typeMetaFactory{}.Interpret([]byte(tc.in))
		if (err != nil) != (wantErr != nil) || (err == nil && *got != *want) {
			t.Errorf("%s: got %v, %v; DefaultMetaFactory says %v, %v", tc.in, got, err, want, wantErr)
		}
		if _, _, ok := topLevelTypeMeta([]byte(tc.in)); ok != tc.fast {
			t.Errorf("%s: read by the scan %v, want %v", tc.in, ok, tc.fast)
		}
	}
}

// The clientset decodes responses and watch events with it.
func TestClientsetDecodesWithTypeMetaFactory(t *testing.T) {
	// A plain watch, not a watch-list. client-go reads its feature gates
	// once per process: the informer tests after this one rely on it too.
	t.Setenv("KUBE_FEATURE_WatchListClient", "false")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("watch") == "true" {
			_, _ = w.Write([]byte(`{"type":"ADDED","object":{"kind":"Pod","apiVersion":"v1","metadata":{"name":"w","namespace":"ns","resourceVersion":"7"}}}` + "\n"))
			return
		}
		_, _ = w.Write([]byte(`{"kind":"Pod","apiVersion":"v1","metadata":{"name":"a","namespace":"ns","resourceVersion":"5"},"spec":{"nodeName":"n1"}}`))
	}))
	defer srv.Close()
	c, err := NewForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p, err := c.Pods("ns").Get(ctx, "a", metav1.GetOptions{})
	if err != nil || p.Name != "a" || p.Spec.NodeName != "n1" || p.ResourceVersion != "5" {
		t.Fatalf("get: %+v, %v", p, err)
	}
	w, err := c.Pods("ns").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	ev := <-w.ResultChan()
	if pod, ok := ev.Object.(*corev1.Pod); !ok || pod.Name != "w" || pod.ResourceVersion != "7" {
		t.Fatalf("watch event: %v %#v", ev.Type, ev.Object)
	}
}
