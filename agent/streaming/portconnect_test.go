package streaming

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// portConnect sends a /portConnect request on a new connection to srv
// and returns the connection, its reader and the answer.
func portConnect(t *testing.T, addr, path string, upgrade bool) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	req, _ := http.NewRequest(http.MethodGet, "http://agent"+path, nil)
	if upgrade {
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", PortConnectProtocol)
	}
	if err := req.Write(c); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		t.Fatal(err)
	}
	return c, br, resp
}

func TestPortConnect(t *testing.T) {
	srv := newServer(t, &fakePods{})
	addr := strings.TrimPrefix(srv.URL, "http://")
	port := echoListener(t)

	c, br, resp := portConnect(t, addr, fmt.Sprintf("/portConnect/ns/p/%d", port), true)
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("answer %s, want 101", resp.Status)
	}
	fmt.Fprint(c, "hi")
	got := make([]byte, len("echo:hi"))
	if _, err := io.ReadFull(br, got); err != nil || string(got) != "echo:hi" {
		t.Fatalf("read %q, %v; want echo:hi", got, err)
	}

	closed := freePort(t)
	for _, tc := range []struct {
		path    string
		upgrade bool
		code    int
		msg     string
	}{
		{fmt.Sprintf("/portConnect/ns/p/%d", closed), true, http.StatusBadGateway, "connection refused"},
		{"/portConnect/ns/p/0", true, http.StatusBadRequest, `invalid port "0"`},
		{"/portConnect/ns/p/http", true, http.StatusBadRequest, `invalid port "http"`},
		{fmt.Sprintf("/portConnect/ns/p/%d", port), false, http.StatusBadRequest, "must upgrade to tcp"},
	} {
		_, _, resp := portConnect(t, addr, tc.path, tc.upgrade)
		var st metav1.Status
		err := json.NewDecoder(resp.Body).Decode(&st)
		if resp.StatusCode != tc.code || err != nil || int(st.Code) != tc.code || !strings.Contains(st.Message, tc.msg) {
			t.Errorf("%s (upgrade %v): %s %+v %v; want %d %q", tc.path, tc.upgrade, resp.Status, st, err, tc.code, tc.msg)
		}
	}
}

// freePort returns a local port nothing listens on.
func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
