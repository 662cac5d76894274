package apiserver

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// TestHandlerPool checks that pooled handlers run to completion before
// serve returns, concurrently, and that a handler's panic reaches the
// caller's goroutine with its value, as net/http needs for
// http.ErrAbortHandler.
func TestHandlerPool(t *testing.T) {
	p := newHandlerPool()
	var mu sync.Mutex
	seen := 0
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen++
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	})
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := httptest.NewRecorder()
			p.serve(h, rec, httptest.NewRequest(http.MethodPost, "/", nil))
			if rec.Code != http.StatusCreated {
				t.Errorf("code %d after serve returned", rec.Code)
			}
		}()
	}
	wg.Wait()
	if seen != 50 {
		t.Fatalf("%d handlers ran, want 50", seen)
	}

	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Fatalf("recovered %v, want http.ErrAbortHandler", v)
		}
	}()
	p.serve(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }),
		httptest.NewRecorder(), httptest.NewRequest(http.MethodPut, "/", nil))
	t.Fatal("serve returned after a panic")
}
