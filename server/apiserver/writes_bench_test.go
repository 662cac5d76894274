package apiserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BenchmarkConfigMapWrites creates a 1 KiB ConfigMap and updates it once,
// as hack/bench/api-writes does, through the server's handler on a real
// kine called in process: the API's CPU and allocations per pair, client
// side (encoding the requests, decoding the answers) included.
func BenchmarkConfigMapWrites(b *testing.B) {
	s, _, admin := kineServer(b, true)
	// The namespace cache's watch, as the server runs it.
	ctx, cancel := context.WithCancel(admin)
	ran := make(chan struct{})
	go func() { _ = s.Run(ctx); close(ran) }()
	defer func() { cancel(); <-ran }()
	do := func(method, url string, body []byte) []byte {
		r := httptest.NewRequest(method, url, bytes.NewReader(body)).WithContext(admin)
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("User-Agent", "api-writes/v0.0.0")
		w := httptest.NewRecorder()
		s.mux.ServeHTTP(w, r)
		if w.Code >= 300 {
			b.Fatalf("%s %s: %d %s", method, url, w.Code, w.Body.String())
		}
		return w.Body.Bytes()
	}
	do(http.MethodPost, "/api/v1/namespaces", []byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"bench"}}`))
	payload := strings.Repeat("a", 1024)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cm := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{Kind: "ConfigMap", APIVersion: "v1"},
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%d", i), Namespace: "bench"},
			Data:       map[string]string{"payload": payload}}
		body, _ := json.Marshal(cm)
		out := do(http.MethodPost, "/api/v1/namespaces/bench/configmaps", body)
		var created corev1.ConfigMap
		if err := json.Unmarshal(out, &created); err != nil {
			b.Fatal(err)
		}
		created.Data["payload"] = strings.Repeat("b", 1024)
		body, _ = json.Marshal(&created)
		do(http.MethodPut, "/api/v1/namespaces/bench/configmaps/"+created.Name, body)
	}
}
