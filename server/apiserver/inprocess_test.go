package apiserver

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestInProcess(t *testing.T) {
	base, stopServer := context.WithCancel(context.Background())
	defer stopServer()
	ended := make(chan string, 10)
	tr := NewInProcess(base, User{Name: "system:skiff-controller", Groups: []string{"system:masters"}})
	c := &http.Client{Transport: tr}
	if _, err := c.Get("https://127.0.0.1:6443/early"); err == nil || !strings.Contains(err.Error(), "not serving yet") {
		t.Fatalf("before SetHandler: %v", err)
	}
	tr.SetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := r.Context().Value(inProcessUserKey{}).(*User)
		switch r.URL.Path {
		case "/small":
			body, _ := io.ReadAll(r.Body)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintf(w, "%s %s %s %s %v", r.Method, r.URL.RequestURI(), body, u.Name, u.Groups)
			w.Header().Set("X-Late", "dropped") // after the header was written
		case "/large":
			for i := 0; i < 3000; i++ {
				fmt.Fprintf(w, "line %05d %s\n", i, strings.Repeat("x", 40))
			}
		case "/watch":
			w.Header().Set("Transfer-Encoding", "chunked")
			fmt.Fprintln(w, "buffered before the flush")
			w.(http.Flusher).Flush()
			for i := 0; ; i++ {
				if _, err := fmt.Fprintf(w, "event %d\n", i); err != nil {
					ended <- "watch write: " + err.Error()
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					ended <- "watch ctx: " + r.Context().Err().Error()
					return
				case <-time.After(5 * time.Millisecond):
				}
			}
		case "/hang":
			<-r.Context().Done()
			ended <- "hang: " + r.Context().Err().Error()
		case "/panic":
			panic("boom")
		}
	}))

	resp, err := c.Post("https://127.0.0.1:6443/small?x=1", "application/json", strings.NewReader(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("X-Late") != "" ||
		resp.ContentLength != int64(len(b)) || string(b) != `POST /small?x=1 {"a":1} system:skiff-controller [system:masters]` {
		t.Fatalf("small: %d %v %d %q", resp.StatusCode, resp.Header, resp.ContentLength, b)
	}

	resp, err = c.Get("https://127.0.0.1:6443/large")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if resp.StatusCode != http.StatusOK || len(lines) != 3000 || lines[0] != "line 00000 "+strings.Repeat("x", 40) || !strings.HasPrefix(lines[2999], "line 02999 ") {
		t.Fatalf("large: %d, %d lines, first %q", resp.StatusCode, len(lines), lines[0])
	}

	// A stream: what was written before the flush comes first, events
	// follow as they are written, and closing the body ends the handler.
	resp, err = c.Get("https://127.0.0.1:6443/watch")
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(resp.Body)
	for _, want := range []string{"buffered before the flush\n", "event 0\n", "event 1\n", "event 2\n"} {
		if got, err := r.ReadString('\n'); got != want {
			t.Fatalf("watch: %q, %v; want %q", got, err, want)
		}
	}
	resp.Body.Close()
	waitEnded(t, ended, "watch ")

	// The server shutting down ends a stream too.
	resp, err = c.Get("https://127.0.0.1:6443/watch")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = bufio.NewReader(resp.Body).ReadString('\n')
	stopServer()
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Logf("stream after shutdown: %v", err)
	}
	resp.Body.Close()
	waitEnded(t, ended, "watch ")

	base2, stop2 := context.WithCancel(context.Background())
	defer stop2()
	tr2 := NewInProcess(base2, User{Name: "u"})
	tr2.SetHandler(*tr.handler.Load())
	c2 := &http.Client{Transport: tr2}
	// A client that gives up before any answer: an error, and the handler
	// sees its context end.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://127.0.0.1:6443/hang", nil)
	if _, err := c2.Do(req); err == nil {
		t.Fatal("hang: no error after the client's deadline")
	}
	waitEnded(t, ended, "hang: ")

	if _, err := c2.Get("https://127.0.0.1:6443/panic"); err == nil || !strings.Contains(err.Error(), "panicked: boom") {
		t.Fatalf("panic: %v", err)
	}
}

func waitEnded(t *testing.T, ended chan string, prefix string) {
	t.Helper()
	select {
	case s := <-ended:
		if !strings.HasPrefix(s, prefix) {
			t.Fatalf("ended: %q, want %q…", s, prefix)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("the handler did not end (%s)", prefix)
	}
}

// The API takes an in-process request's user from its context, never
// from anything a network client can send.
func TestInProcessAuthentication(t *testing.T) {
	s := &Server{}
	r, _ := http.NewRequest(http.MethodGet, "/api", nil)
	r.Header.Set("Impersonate-User", "system:skiff-controller")
	if u, err := s.authenticate(r); u != nil || err != nil {
		t.Fatalf("a request without credentials: %+v, %v", u, err)
	}
	in := &User{Name: "system:skiff-controller", Groups: []string{"system:masters"}}
	u, err := s.authenticate(r.WithContext(context.WithValue(r.Context(), inProcessUserKey{}, in)))
	if err != nil || u == nil || u.Name != in.Name || strings.Join(u.Groups, ",") != "system:masters,system:authenticated" {
		t.Fatalf("in-process user: %+v, %v", u, err)
	}
	if len(in.Groups) != 1 {
		t.Fatalf("authenticate changed the transport's user: %v", in.Groups)
	}
}

// A streaming response holds up to its window unread: the handler's
// writes return at once until then, wait while it is full, and fail
// once the client has gone.
func TestWindowPipe(t *testing.T) {
	p := newWindowPipe(10, []byte("ab"))
	if n, err := p.Write([]byte("cdefgh")); n != 6 || err != nil {
		t.Fatalf("write within the window: %d, %v", n, err)
	}
	if n, err := p.Write([]byte("ijk")); n != 3 || err != nil { // 11 held: the window is now full
		t.Fatalf("write filling the window: %d, %v", n, err)
	}
	wrote := make(chan error, 1)
	go func() {
		_, err := p.Write([]byte("l"))
		wrote <- err
	}()
	select {
	case err := <-wrote:
		t.Fatalf("a write into a full window returned at once: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	b := make([]byte, 4)
	if n, _ := p.Read(b); string(b[:n]) != "abcd" {
		t.Fatalf("read %q", b[:n])
	}
	if err := <-wrote; err != nil {
		t.Fatalf("the write waiting for room: %v", err)
	}
	p.closeWrite(io.EOF)
	rest, err := io.ReadAll(p)
	if string(rest) != "efghijkl" || err != nil {
		t.Fatalf("rest %q, %v", rest, err)
	}
	p2 := newWindowPipe(1, []byte("x"))
	go func() { time.Sleep(20 * time.Millisecond); p2.closeRead() }()
	if _, err := p2.Write([]byte("y")); err != io.ErrClosedPipe {
		t.Fatalf("write after the client went away: %v", err)
	}
}
