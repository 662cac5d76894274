package apiserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"k8s.io/klog/v2"
)

// inProcessUserKey marks a request made by InProcess: its value is the
// user the request runs as. A context value cannot come from the
// network, so no client can claim it.
type inProcessUserKey struct{}

// inProcessBuffer is how much of a response InProcess keeps before it
// hands the client a stream: most answers fit and are passed on whole,
// without a goroutine hand-off per write; a large list streams.
const inProcessBuffer = 64 << 10

// InProcess is the round tripper of the server's own API clients (its
// controllers, the node sync hub, the join endpoint): each request is
// served by the handler set with SetHandler, in this process, as user,
// with no socket, no TLS and no HTTP/2 framing. The request runs through
// the same handler as a client's (authorization, admission, storage);
// only authentication is given. On a two-core node this saves every
// controller request and watch event an encryption, a decryption and
// their framing, and the goroutines and buffers of ~25 loopback streams.
//
// A request's context ends when the client's does, when the client
// closes the response body, or when base ends (the server shutting down,
// as the HTTPS server's handlers see it end).
type InProcess struct {
	user    User
	base    context.Context
	handler atomic.Pointer[http.Handler]
}

// NewInProcess returns an InProcess transport for user; requests fail
// until SetHandler is called.
func NewInProcess(base context.Context, user User) *InProcess {
	return &InProcess{user: user, base: base}
}

// SetHandler sets the handler requests are served by: the server's whole
// HTTPS handler.
func (t *InProcess) SetHandler(h http.Handler) { t.handler.Store(&h) }

// RoundTrip serves req in process.
func (t *InProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	h := t.handler.Load()
	if h == nil {
		closeBody(req)
		return nil, errors.New("in-process API client: the API is not serving yet")
	}
	ctx, cancel := context.WithCancel(req.Context())
	stop := context.AfterFunc(t.base, cancel)
	r := req.Clone(context.WithValue(ctx, inProcessUserKey{}, &t.user))
	r.RequestURI = req.URL.RequestURI()
	r.RemoteAddr = "127.0.0.1:0"
	r.Host = req.URL.Host
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	if r.Body == nil {
		r.Body = http.NoBody
	}
	w := &inProcessWriter{header: http.Header{}, ready: make(chan struct{})}
	go func() {
		defer stop()
		defer func() {
			if p := recover(); p != nil && p != http.ErrAbortHandler {
				klog.ErrorS(fmt.Errorf("%v", p), "in-process API request panicked", "method", r.Method, "path", r.URL.Path)
				w.abort(fmt.Errorf("in-process API client: the handler panicked: %v", p))
				return
			}
			w.finish()
		}()
		(*h).ServeHTTP(w, r)
	}()
	select {
	case <-w.ready:
	case <-ctx.Done():
		// The handler sees ctx end; the writer drops what it writes.
		w.abort(ctx.Err())
		cancel()
		return nil, ctx.Err()
	}
	w.mu.Lock()
	aborted, pipe := w.aborted, w.pipe
	w.mu.Unlock()
	if aborted != nil && pipe == nil {
		cancel()
		return nil, aborted
	}
	resp := &http.Response{
		Status:     strconv.Itoa(w.status) + " " + http.StatusText(w.status),
		StatusCode: w.status,
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  w.sent,
		Request: req,
	}
	if pipe != nil {
		resp.ContentLength = -1
		resp.Body = &inProcessBody{r: pipe, pipe: pipe, cancel: cancel}
	} else {
		resp.ContentLength = int64(w.buf.Len())
		resp.Body = &inProcessBody{r: bytes.NewReader(w.buf.Bytes()), cancel: cancel}
	}
	return resp, nil
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// inProcessWriter is the handler's side of an in-process response. Until
// the handler flushes, returns, or writes more than inProcessBuffer, the
// body is buffered; then RoundTrip hands out the status and headers
// (ready), and a body larger or longer-lived than the buffer goes on
// through a pipe with a window of its own (streamWindow), as an HTTP/2
// stream has: a watch handler does not wait for its client to decode
// each event, and falls behind the datastore only when the client does
// by more than the window.
type inProcessWriter struct {
	header http.Header

	mu       sync.Mutex
	status   int
	sent     http.Header   // the headers as they were when ready closed
	ready    chan struct{} // closed once status, sent and the body's form are set
	released bool          // ready is closed
	buf      bytes.Buffer
	pipe     *windowPipe // once streaming
	aborted  error
}

func (w *inProcessWriter) Header() http.Header { return w.header }

func (w *inProcessWriter) WriteHeader(code int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.status == 0 {
		w.status = code
		w.sent = w.header.Clone()
	}
}

func (w *inProcessWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	if w.status == 0 {
		w.status = http.StatusOK
		w.sent = w.header.Clone()
	}
	if w.aborted != nil {
		w.mu.Unlock()
		return 0, w.aborted
	}
	if w.pipe == nil && w.buf.Len()+len(b) <= inProcessBuffer {
		w.buf.Write(b)
		w.mu.Unlock()
		return len(b), nil
	}
	w.startStream()
	pipe := w.pipe
	w.mu.Unlock()
	return pipe.Write(b)
}

// Flush sends what was written so far: the response turns into a stream
// (a watch).
func (w *inProcessWriter) Flush() {
	w.mu.Lock()
	if w.status == 0 {
		w.status = http.StatusOK
		w.sent = w.header.Clone()
	}
	if w.aborted == nil {
		w.startStream()
	}
	w.mu.Unlock()
}

// startStream switches to a pipe and releases the response, the
// buffered body first. Called with w.mu held.
func (w *inProcessWriter) startStream() {
	if w.pipe != nil {
		return
	}
	// The client reads what was buffered first.
	w.pipe = newWindowPipe(streamWindow, w.buf.Bytes())
	w.buf = bytes.Buffer{}
	w.release()
}

// release closes ready once. Called with w.mu held.
func (w *inProcessWriter) release() {
	if !w.released {
		w.released = true
		close(w.ready)
	}
}

// finish ends the response when the handler returns.
func (w *inProcessWriter) finish() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.status == 0 {
		w.status = http.StatusOK
		w.sent = w.header.Clone()
	}
	if w.pipe != nil {
		w.pipe.closeWrite(io.EOF)
	}
	w.release()
}

// abort ends the response with err: a client still reading gets it.
func (w *inProcessWriter) abort(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.aborted == nil {
		w.aborted = err
	}
	if w.pipe != nil {
		w.pipe.closeWrite(err)
	}
	if w.status == 0 {
		w.status = http.StatusInternalServerError
		w.sent = http.Header{}
	}
	w.release()
}

// inProcessBody is the client's end of an in-process response; closing
// it ends the request's context, so a watch the client stops reading
// ends on the server too.
type inProcessBody struct {
	r      io.Reader
	pipe   *windowPipe // nil: a whole body
	cancel context.CancelFunc
	once   sync.Once
}

func (b *inProcessBody) Read(p []byte) (int, error) { return b.r.Read(p) }

func (b *inProcessBody) Close() error {
	b.once.Do(func() {
		b.cancel()
		if b.pipe != nil {
			b.pipe.closeRead()
		}
	})
	return nil
}

// streamWindow is how much a streaming in-process response holds that its
// client has not read: HTTP/2's default stream window in Go's client.
const streamWindow = 4 << 20

// windowPipe is a pipe that holds up to window bytes: writes return once
// their bytes are held, and wait only while the window is full.
type windowPipe struct {
	mu      sync.Mutex
	cond    sync.Cond
	buf     bytes.Buffer
	window  int
	werr    error // the writer's end is closed: io.EOF or why
	rclosed bool
}

func newWindowPipe(window int, initial []byte) *windowPipe {
	p := &windowPipe{window: window}
	p.cond.L = &p.mu
	p.buf.Write(initial)
	return p
}

func (p *windowPipe) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.buf.Len() >= p.window && !p.rclosed && p.werr == nil {
		p.cond.Wait()
	}
	switch {
	case p.rclosed:
		return 0, io.ErrClosedPipe
	case p.werr != nil:
		return 0, p.werr
	}
	p.buf.Write(b)
	p.cond.Broadcast()
	return len(b), nil
}

func (p *windowPipe) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.buf.Len() == 0 && p.werr == nil && !p.rclosed {
		p.cond.Wait()
	}
	if p.rclosed {
		return 0, io.ErrClosedPipe
	}
	if p.buf.Len() > 0 {
		n, _ := p.buf.Read(b)
		p.cond.Broadcast()
		return n, nil
	}
	return 0, p.werr
}

// closeWrite ends the stream: the reader gets what is held, then err.
func (p *windowPipe) closeWrite(err error) {
	p.mu.Lock()
	if p.werr == nil {
		p.werr = err
	}
	p.cond.Broadcast()
	p.mu.Unlock()
}

// closeRead is the client going away: writes fail from now on.
func (p *windowPipe) closeRead() {
	p.mu.Lock()
	p.rclosed = true
	p.buf = bytes.Buffer{}
	p.cond.Broadcast()
	p.mu.Unlock()
}
