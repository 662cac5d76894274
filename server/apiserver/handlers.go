package apiserver

import (
	"net/http"
	"time"
)

// handlerIdle is how long a handler goroutine waits for another request
// before it ends.
const handlerIdle = 10 * time.Second

// handlerPool runs write requests on goroutines that outlive one request.
// net/http starts every request on a fresh goroutine with a small stack,
// and a write (decoding, defaults, managed fields, encoding) grows it
// several times over, copying it each time: 7–10% of the server's CPU at
// concurrency 16 and 64. A goroutine that stays keeps the stack it grew.
// The pool has no bound: a request that finds no idle goroutine starts
// one, which ends after handlerIdle without work, so an idle server holds
// none.
type handlerPool struct {
	tasks chan func() // unbuffered: a send succeeds only into an idle goroutine
}

func newHandlerPool() *handlerPool { return &handlerPool{tasks: make(chan func())} }

// serve runs h on a pooled goroutine and returns when it has returned; a
// panic in h is raised again here, on the request's own goroutine, where
// net/http expects it (http.ErrAbortHandler included).
func (p *handlerPool) serve(h http.Handler, w http.ResponseWriter, r *http.Request) {
	done := make(chan struct{})
	var panicked any
	task := func() {
		defer close(done)
		defer func() { panicked = recover() }()
		h.ServeHTTP(w, r)
	}
	select {
	case p.tasks <- task:
	default:
		go p.work(task)
	}
	<-done
	if panicked != nil {
		panic(panicked)
	}
}

func (p *handlerPool) work(task func()) {
	idle := time.NewTimer(handlerIdle)
	defer idle.Stop()
	for {
		task()
		idle.Reset(handlerIdle)
		select {
		case task = <-p.tasks:
		case <-idle.C:
			return
		}
	}
}

// pooled says which requests run on the pool: writes, which are short.
// Reads and watches keep net/http's goroutine.
func pooled(r *http.Request) bool {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}
