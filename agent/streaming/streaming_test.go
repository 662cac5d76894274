package streaming

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/client-go/util/exec"
)

func newServer(t *testing.T, pods Pods) *httptest.Server {
	srv := httptest.NewServer(New(pods))
	t.Cleanup(srv.Close)
	return srv
}

// executors returns client-go's WebSocket (v5) and SPDY (v4) executors for
// path, the two kubectl uses.
func executors(t *testing.T, srv *httptest.Server, path string) map[string]remotecommand.Executor {
	t.Helper()
	cfg := &rest.Config{Host: srv.URL}
	u, _ := url.Parse(srv.URL + path)
	ws, err := remotecommand.NewWebSocketExecutor(cfg, "GET", u.String())
	if err != nil {
		t.Fatal(err)
	}
	sp, err := remotecommand.NewSPDYExecutor(cfg, "POST", u)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]remotecommand.Executor{"websocket": ws, "spdy": sp}
}

func TestExec(t *testing.T) {
	srv := newServer(t, &fakePods{})
	tests := []struct {
		name, query    string
		stdin          string
		tty            bool
		wantOut        string
		wantErr        string
		wantCode       int
		wantAnyFailure bool
	}{
		{name: "exit code", query: "command=exit&command=7&stdout=1&stderr=1", wantCode: 7},
		{name: "stdin to stdout", query: "command=cat&stdin=1&stdout=1&stderr=1", stdin: "hello\nworld\n", wantOut: "hello\nworld\n"},
		{name: "stdout and stderr", query: "command=echo&command=a&command=b&stdout=1&stderr=1", wantOut: "a b\n", wantErr: "err\n"},
		{name: "tty merges stderr", query: "command=echo&command=t&stdout=1&stderr=1&tty=1", tty: true, wantOut: "t\n"},
		{name: "runtime error", query: "command=exit&command=0&stdout=1", wantAnyFailure: true},
	}
	for _, tc := range tests {
		for proto, ex := range executors(t, srv, "/exec/ns/p/c?"+tc.query) {
			if tc.name == "runtime error" {
				ex = executors(t, srv, "/exec/ns/p/missing?"+tc.query)[proto]
			}
			t.Run(tc.name+"/"+proto, func(t *testing.T) {
				var out, errOut bytes.Buffer
				opts := remotecommand.StreamOptions{Stdout: &out, Tty: tc.tty}
				if strings.Contains(tc.query, "stderr=1") && !tc.tty {
					opts.Stderr = &errOut
				}
				if strings.Contains(tc.query, "stdin=1") {
					opts.Stdin = strings.NewReader(tc.stdin)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				err := ex.StreamWithContext(ctx, opts)
				var ee exec.ExitError
				switch {
				case tc.wantAnyFailure:
					if err == nil || !strings.Contains(err.Error(), "not found") {
						t.Fatalf("err = %v, want the runtime's error", err)
					}
					return
				case tc.wantCode != 0:
					if !errors.As(err, &ee) || ee.ExitStatus() != tc.wantCode {
						t.Fatalf("err = %v, want exit code %d", err, tc.wantCode)
					}
				case err != nil:
					t.Fatal(err)
				}
				if out.String() != tc.wantOut || errOut.String() != tc.wantErr {
					t.Fatalf("stdout %q stderr %q, want %q %q", out.String(), errOut.String(), tc.wantOut, tc.wantErr)
				}
			})
		}
	}
}

type sizeQueue chan remotecommand.TerminalSize

func (q sizeQueue) Next() *remotecommand.TerminalSize {
	s, ok := <-q
	if !ok {
		return nil
	}
	return &s
}

func TestExecTerminalResize(t *testing.T) {
	srv := newServer(t, &fakePods{})
	for proto, ex := range executors(t, srv, "/exec/ns/p/c?command=size&stdin=1&stdout=1&tty=1") {
		t.Run(proto, func(t *testing.T) {
			q := make(sizeQueue, 1)
			q <- remotecommand.TerminalSize{Width: 132, Height: 43}
			defer close(q)
			pr, pw := io.Pipe()
			defer pw.Close()
			var out bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: pr, Stdout: &out, Tty: true, TerminalSizeQueue: q})
			if err != nil || out.String() != "132x43" {
				t.Fatalf("out %q err %v, want 132x43", out.String(), err)
			}
		})
	}
}

func TestAttach(t *testing.T) {
	srv := newServer(t, &fakePods{})
	for proto, ex := range executors(t, srv, "/attach/ns/p/c?stdin=1&stdout=1") {
		t.Run(proto, func(t *testing.T) {
			var out bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: strings.NewReader("shout\n"), Stdout: &out})
			if err != nil || out.String() != "SHOUT\n" {
				t.Fatalf("out %q err %v", out.String(), err)
			}
		})
	}
}

func TestExecBadRequests(t *testing.T) {
	srv := newServer(t, &fakePods{})
	for path, want := range map[string]string{
		"/exec/ns/p/c?stdout=1":            "at least one command",
		"/exec/ns/p/c?command=ls":          "at least 1 of stdin, stdout, stderr",
		"/exec/ns/p/c?command=ls&tty=what": "invalid tty",
	} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), want) {
			t.Errorf("%s: %d %s, want 400 %q", path, resp.StatusCode, b, want)
		}
	}
}

// echoListener accepts TCP connections and echoes them with a prefix.
func echoListener(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.WriteString(c, "echo:")
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestPortForward(t *testing.T) {
	srv := newServer(t, &fakePods{})
	port := echoListener(t)
	cfg := &rest.Config{Host: srv.URL}
	u, _ := url.Parse(srv.URL + "/portForward/ns/p")
	tunnelled, err := portforward.NewSPDYOverWebsocketDialer(u, cfg)
	if err != nil {
		t.Fatal(err)
	}
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	plain := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, "POST", u)
	// kubectl's order: the WebSocket tunnel first, SPDY if the upgrade fails.
	for name, dialer := range map[string]httpstream.Dialer{"websocket-tunnel": tunnelled, "spdy": plain} {
		t.Run(name, func(t *testing.T) {
			stop, ready := make(chan struct{}), make(chan struct{})
			errOut := &lockedBuffer{}
			pf, err := portforward.New(dialer, []string{fmt.Sprintf("0:%d", port)}, stop, ready, io.Discard, errOut)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- pf.ForwardPorts() }()
			defer func() {
				close(stop)
				if err := <-done; err != nil {
					t.Errorf("ForwardPorts: %v", err)
				}
			}()
			select {
			case <-ready:
			case err := <-done:
				t.Fatalf("ForwardPorts: %v (%s)", err, errOut.String())
			case <-time.After(10 * time.Second):
				t.Fatal("port-forward not ready")
			}
			ports, err := pf.GetPorts()
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2; i++ { // two connections over one forward
				c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0].Local))
				if err != nil {
					t.Fatal(err)
				}
				c.SetDeadline(time.Now().Add(10 * time.Second))
				fmt.Fprintf(c, "hi %d", i)
				want := fmt.Sprintf("echo:hi %d", i)
				got := make([]byte, len(want))
				if _, err := io.ReadFull(c, got); err != nil || string(got) != want {
					t.Fatalf("read %q, %v; want %q", got, err, want)
				}
				c.Close()
			}
		})
	}
}

// lockedBuffer collects what the port forwarder's goroutines write.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
