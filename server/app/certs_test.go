package app

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/skiff-io/skiff/server/pki"
)

func TestCertLifetimes(t *testing.T) {
	tests := []struct {
		env                   string
		validity, renewBefore time.Duration
		wantErr               bool
	}{
		{env: "", validity: 0, renewBefore: 0},
		{env: "20s", validity: 20 * time.Second, renewBefore: 10 * time.Second},
		{env: "20s,5s", validity: 20 * time.Second, renewBefore: 5 * time.Second},
		{env: "20s,20s", wantErr: true},
		{env: "soon", wantErr: true},
		{env: "-1s", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			t.Setenv(TestCertLifetimeEnv, tt.env)
			v, r, err := CertLifetimes()
			if (err != nil) != tt.wantErr || v != tt.validity || r != tt.renewBefore {
				t.Errorf("got %s, %s, %v; want %s, %s, error %v", v, r, err, tt.validity, tt.renewBefore, tt.wantErr)
			}
		})
	}
}

// TestLoopbackTransportRotates checks that after a rotation new requests
// present the new client certificate while a stream opened before it
// carries on over its old connection.
func TestLoopbackTransportRotates(t *testing.T) {
	b, err := pki.Ensure(pki.Options{Dir: t.TempDir(), HostIPs: func() ([]net.IP, error) { return nil, nil }})
	if err != nil {
		t.Fatal(err)
	}
	tlsConfig, err := b.ServerTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cn := r.TLS.PeerCertificates[0].Subject.CommonName
		fmt.Fprintln(w, cn)
		if r.URL.Path == "/stream" {
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
			fmt.Fprintln(w, "end of stream for "+cn)
		}
	}))
	// httptest would serve its own certificate otherwise.
	serving, err := tls.LoadX509KeyPair(b.ServingCertFile, b.ServingKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	tlsConfig.Certificates = []tls.Certificate{serving}
	srv.TLS = tlsConfig
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()

	first, firstKey, err := b.IssueClientCert("first", nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	second, secondKey, err := b.IssueClientCert("second", nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	lt, err := newLoopbackTransport(b.ServerCAPEM, first, firstKey)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: lt, Timeout: 10 * time.Second}
	get := func(path string) string {
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		line, _ := bufio.NewReader(resp.Body).ReadString('\n')
		return line
	}
	if got := get("/"); got != "first\n" {
		t.Fatalf("before rotation: %q", got)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/stream", nil)
	stream, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	if stream.ProtoMajor != 2 {
		t.Errorf("stream over %s, want HTTP/2 as client-go uses", stream.Proto)
	}
	sr := bufio.NewReader(stream.Body)
	if line, _ := sr.ReadString('\n'); line != "first\n" {
		t.Fatalf("stream: %q", line)
	}

	if err := lt.rotate(second, secondKey); err != nil {
		t.Fatal(err)
	}
	if got := get("/"); got != "second\n" {
		t.Errorf("after rotation a new request presented %q, want the new certificate", got)
	}
	close(release)
	rest, _ := io.ReadAll(sr)
	if string(rest) != "end of stream for first\n" {
		t.Errorf("stream opened before the rotation ended with %q", rest)
	}
}
