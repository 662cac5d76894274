package apiserver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	gwebsocket "github.com/gorilla/websocket"
	"github.com/skiff-io/skiff/protocol/tunnel"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/util/exec"
)

type masterTokens struct{}

func (masterTokens) AuthenticateToken(ctx context.Context, token string) (*User, bool, error) {
	return &User{Name: "admin", Groups: []string{"system:masters"}}, token == "admin", nil
}

// fakeAgent stands in for agent/streaming behind a real tunnel: it reports
// the paths it is asked for, answers exec over WebSocket v5 with exit code
// 7, and echoes any other upgraded connection.
type fakeAgent struct {
	mu       sync.Mutex
	requests []string
	auth     []string
}

func (a *fakeAgent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.requests = append(a.requests, r.URL.RequestURI())
	a.auth = append(a.auth, r.Header.Get("Authorization"))
	a.mu.Unlock()
	switch {
	case strings.HasPrefix(r.URL.Path, "/containerLogs/"):
		for i := 0; i < 3; i++ {
			fmt.Fprintf(w, "line %d\n", i)
		}
	case r.Header.Get("Upgrade") == "websocket":
		up := gwebsocket.Upgrader{Subprotocols: []string{"v5.channel.k8s.io"}}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		ws.WriteMessage(gwebsocket.BinaryMessage, append([]byte{1}, strings.Join(r.URL.Query()["command"], " ")+"\n"...))
		ws.WriteMessage(gwebsocket.BinaryMessage, append([]byte{3}, `{"metadata":{},"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"7"}]}}`...))
		ws.WriteMessage(gwebsocket.CloseMessage, gwebsocket.FormatCloseMessage(gwebsocket.CloseNormalClosure, ""))
	case r.Header.Get("Upgrade") != "":
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + r.Header.Get("Upgrade") + "\r\n\r\n")
		brw.Flush()
		io.Copy(c, brw)
	default:
		http.NotFound(w, r)
	}
}

func (a *fakeAgent) last() (string, string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.requests) == 0 {
		return "", ""
	}
	return a.requests[len(a.requests)-1], a.auth[len(a.auth)-1]
}

func TestNodeStreamsThroughTunnel(t *testing.T) {
	store := kineStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The hub takes any caller as node-a: node authentication is
	// protocol/tunnel's test; this one is about the proxying.
	hub := tunnel.NewHub(func(*http.Request) (string, bool) { return "node-a", true }, 0)
	defer hub.Close()
	s, err := New(Config{Store: store, Tokens: masterTokens{}, Nodes: hub})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(tunnel.Path, hub)
	mux.Handle("/", s)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	agent := &fakeAgent{}
	agentCtx, stopAgent := context.WithCancel(ctx)
	agentDone := make(chan struct{})
	go func() {
		defer close(agentDone)
		tunnel.Serve(agentCtx, func(ctx context.Context) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", srv.Listener.Addr().String())
		}, agent)
	}()
	defer func() { stopAgent(); <-agentDone }()

	cfg := &rest.Config{Host: srv.URL, BearerToken: "admin"}
	cs := kubernetes.NewForConfigOrDie(cfg)
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	mkPod := func(name, node string, containers ...string) {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{NodeName: node}}
		for _, c := range containers {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c, Image: "busybox"})
		}
		if _, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mkPod("p", "node-a", "c")
	mkPod("two", "node-a", "a", "b")
	mkPod("away", "node-b", "c")
	deadline := time.Now().Add(10 * time.Second)
	for !hub.Connected("node-a") {
		if time.Now().After(deadline) {
			t.Fatal("no tunnel from the agent")
		}
		time.Sleep(10 * time.Millisecond)
	}

	t.Run("logs", func(t *testing.T) {
		tail := int64(3)
		body, err := cs.CoreV1().Pods("default").GetLogs("p", &corev1.PodLogOptions{Follow: true, TailLines: &tail, Timestamps: true}).DoRaw(ctx)
		if err != nil || string(body) != "line 0\nline 1\nline 2\n" {
			t.Fatalf("logs = %q, %v", body, err)
		}
		uri, auth := agent.last()
		if uri != "/containerLogs/default/p/c?follow=true&tailLines=3&timestamps=true" || auth != "" {
			t.Fatalf("agent saw %q (Authorization %q)", uri, auth)
		}
	})
	t.Run("container must be named", func(t *testing.T) {
		err := cs.CoreV1().Pods("default").GetLogs("two", &corev1.PodLogOptions{}).Do(ctx).Error()
		if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "a container name must be specified for pod two, choose one of: [a b]") {
			t.Fatalf("err = %v", err)
		}
		err = cs.CoreV1().Pods("default").GetLogs("two", &corev1.PodLogOptions{Container: "z"}).Do(ctx).Error()
		if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "container z is not valid for pod two") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("no tunnel", func(t *testing.T) {
		err := cs.CoreV1().Pods("default").GetLogs("away", &corev1.PodLogOptions{}).Do(ctx).Error()
		if !apierrors.IsServiceUnavailable(err) || !strings.Contains(err.Error(), `no connection to the agent on node "node-b"`) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("exec websocket exit code", func(t *testing.T) {
		req := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace("default").Name("p").SubResource("exec").
			VersionedParams(&corev1.PodExecOptions{Command: []string{"sh", "-c", "exit 7"}, Stdout: true, Stderr: true}, scheme.ParameterCodec)
		ex, err := remotecommand.NewWebSocketExecutor(cfg, "GET", req.URL().String())
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &out, Stderr: io.Discard})
		var ee exec.ExitError
		if !errors.As(err, &ee) || ee.ExitStatus() != 7 || out.String() != "sh -c exit 7\n" {
			t.Fatalf("exec: %v, stdout %q", err, out.String())
		}
		uri, auth := agent.last()
		if uri != "/exec/default/p/c?command=sh&command=-c&command=exit+7&stderr=1&stdout=1" || auth != "" {
			t.Fatalf("agent saw %q (Authorization %q)", uri, auth)
		}
	})
	t.Run("upgrade passes through", func(t *testing.T) {
		// A SPDY-style upgrade of portforward; the fake agent echoes.
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(conn, "POST /api/v1/namespaces/default/pods/p/portforward HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer admin\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: portforward.k8s.io\r\nContent-Length: 0\r\n\r\n")
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("upgrade: %v %v", resp, err)
		}
		conn.Write([]byte("frames"))
		got := make([]byte, 6)
		if _, err := io.ReadFull(br, got); err != nil || string(got) != "frames" {
			t.Fatalf("echo %q %v", got, err)
		}
		if uri, _ := agent.last(); uri != "/portForward/default/p" {
			t.Fatalf("agent saw %q", uri)
		}
	})
}
