package tunnel

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// testPKI is a CA with a serving certificate for 127.0.0.1 and a way to
// mint client certificates.
type testPKI struct {
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	pool   *x509.CertPool
	server tls.Certificate
	serial int64
}

func newPKI(t *testing.T) *testPKI {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	p := &testPKI{ca: ca, caKey: key, pool: x509.NewCertPool(), serial: 1}
	p.pool.AddCert(ca)
	p.server = p.issue(t, pkix.Name{CommonName: "skiff-server"}, x509.ExtKeyUsageServerAuth, []net.IP{net.ParseIP("127.0.0.1")})
	return p
}

func (p *testPKI) issue(t *testing.T, subj pkix.Name, usage x509.ExtKeyUsage, ips []net.IP) tls.Certificate {
	t.Helper()
	p.serial++
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial), Subject: subj,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func (p *testPKI) nodeClient(t *testing.T, node string) *tls.Config {
	c := p.issue(t, pkix.Name{CommonName: "system:node:" + node, Organization: []string{"system:nodes"}}, x509.ExtKeyUsageClientAuth, nil)
	return &tls.Config{RootCAs: p.pool, Certificates: []tls.Certificate{c}}
}

// startServer runs an HTTPS server like the API server's: client
// certificates verified when given, HTTP/2 offered, the hub at Path.
func startServer(t *testing.T, p *testPKI, hub *Hub) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(Path, hub)
	srv := httptest.NewUnstartedServer(mux)
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}, ClientCAs: p.pool, ClientAuth: tls.VerifyClientCertIfGiven}
	srv.StartTLS()
	t.Cleanup(func() { hub.Close(); srv.Close() })
	return srv
}

// runAgent runs a until the test ends.
func runAgent(t *testing.T, a *Agent) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v", err)
		}
	})
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func text(s string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, s+" "+r.URL.Path) })
}

func get(t *testing.T, rt http.RoundTripper, path string) (string, error) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://agent"+path, nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestRequestsReachTheAgent(t *testing.T) {
	p := newPKI(t)
	hub := NewHub(nil, 0)
	srv := startServer(t, p, hub)
	runAgent(t, &Agent{Dial: DialTLS(srv.Listener.Addr().String(), p.nodeClient(t, "n1")), Handler: text("n1")})
	eventually(t, "tunnel from n1", func() bool { return hub.Connected("n1") })

	for i := 0; i < 3; i++ {
		got, err := get(t, hub.RoundTripper("n1"), "/containerLogs/a/b/c")
		if err != nil || got != "n1 /containerLogs/a/b/c" {
			t.Fatalf("GET through the tunnel = %q, %v", got, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := hub.DialNode(ctx, "n2"); !errors.Is(err, ErrNoTunnel) {
		t.Fatalf("DialNode(n2) = %v, want ErrNoTunnel", err)
	}
}

// TestDialWaitsForTunnel: a request for a node whose agent is just
// connecting (started, or back after a blip) waits for its tunnel rather
// than failing.
func TestDialWaitsForTunnel(t *testing.T) {
	p := newPKI(t)
	hub := NewHub(nil, 0)
	srv := startServer(t, p, hub)
	type result struct {
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		body, err := get(t, hub.RoundTripper("n1"), "/containerLogs/a/b/c")
		done <- result{body, err}
	}()
	time.Sleep(300 * time.Millisecond)
	select {
	case r := <-done:
		t.Fatalf("request to a node without a tunnel ended before it connected: %q, %v", r.body, r.err)
	default:
	}
	runAgent(t, &Agent{Dial: DialTLS(srv.Listener.Addr().String(), p.nodeClient(t, "n1")), Handler: text("n1")})
	select {
	case r := <-done:
		if r.err != nil || r.body != "n1 /containerLogs/a/b/c" {
			t.Fatalf("GET once the tunnel opened = %q, %v", r.body, r.err)
		}
	case <-time.After(DialWait + 5*time.Second):
		t.Fatal("request still waiting after the tunnel opened")
	}
}

func TestUpgradedStreamThroughTunnel(t *testing.T) {
	p := newPKI(t)
	hub := NewHub(nil, 0)
	srv := startServer(t, p, hub)
	// The agent's handler hijacks the stream as exec does and echoes.
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		brw.Flush()
		io.Copy(c, brw)
	})
	runAgent(t, &Agent{Dial: DialTLS(srv.Listener.Addr().String(), p.nodeClient(t, "n1")), Handler: echo})
	eventually(t, "tunnel", func() bool { return hub.Connected("n1") })

	req, _ := http.NewRequest(http.MethodGet, "http://agent/exec", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "echo")
	resp, err := hub.RoundTripper("n1").RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	rwc := resp.Body.(io.ReadWriteCloser)
	defer rwc.Close()
	rwc.Write([]byte("ping"))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(rwc, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo = %q, %v", buf, err)
	}
}

func TestNewerTunnelReplacesOlder(t *testing.T) {
	p := newPKI(t)
	hub := NewHub(nil, 0)
	srv := startServer(t, p, hub)
	addr := srv.Listener.Addr().String()
	var firstDown atomic.Bool
	first := &Agent{Dial: DialTLS(addr, p.nodeClient(t, "n1")), Handler: text("first"), MinBackoff: time.Hour,
		OnState: func(up bool, err error) {
			if !up {
				firstDown.Store(true)
			}
		}}
	runAgent(t, first)
	eventually(t, "first tunnel", func() bool { return hub.Connected("n1") })
	runAgent(t, &Agent{Dial: DialTLS(addr, p.nodeClient(t, "n1")), Handler: text("second")})
	eventually(t, "first tunnel replaced", firstDown.Load)
	got, err := get(t, hub.RoundTripper("n1"), "/x")
	if err != nil || got != "second /x" {
		t.Fatalf("GET = %q, %v; want the second agent", got, err)
	}
}

func TestTunnelNeedsNodeCertificate(t *testing.T) {
	p := newPKI(t)
	hub := NewHub(nil, 0)
	srv := startServer(t, p, hub)
	admin := p.issue(t, pkix.Name{CommonName: "admin", Organization: []string{"system:masters"}}, x509.ExtKeyUsageClientAuth, nil)
	for name, cfg := range map[string]*tls.Config{
		"no client certificate": {RootCAs: p.pool},
		"not a node":            {RootCAs: p.pool, Certificates: []tls.Certificate{admin}},
	} {
		t.Run(name, func(t *testing.T) {
			errs := make(chan error, 1)
			runAgent(t, &Agent{Dial: DialTLS(srv.Listener.Addr().String(), cfg), Handler: text("x"), MinBackoff: time.Hour,
				OnState: func(up bool, err error) {
					select {
					case errs <- err:
					default:
					}
				}})
			select {
			case err := <-errs:
				if err == nil || !strings.Contains(err.Error(), "403") {
					t.Fatalf("agent error = %v, want a 403 refusal", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("agent did not report the refusal")
			}
		})
	}
}

func TestAgentReconnects(t *testing.T) {
	p := newPKI(t)
	hub := NewHub(nil, 0)
	srv := startServer(t, p, hub)
	var ups atomic.Int32
	runAgent(t, &Agent{Dial: DialTLS(srv.Listener.Addr().String(), p.nodeClient(t, "n1")), Handler: text("n1"),
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		OnState: func(up bool, err error) {
			if up {
				ups.Add(1)
			}
		}})
	eventually(t, "tunnel", func() bool { return hub.Connected("n1") })
	hub.Close() // the server drops every tunnel
	eventually(t, "reconnect", func() bool { return ups.Load() >= 2 && hub.Connected("n1") })
	if got, err := get(t, hub.RoundTripper("n1"), "/y"); err != nil || got != "n1 /y" {
		t.Fatalf("GET after reconnect = %q, %v", got, err)
	}
}

// pipeProxy forwards TCP between the agent and the server, counts the
// bytes it forwards and can freeze (stop forwarding without closing), as a
// dead NAT mapping does.
type pipeProxy struct {
	ln     net.Listener
	target string
	bytes  atomic.Int64
	frozen atomic.Bool
}

func newPipeProxy(t *testing.T, target string) *pipeProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pp := &pipeProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			go pp.copy(u, c)
			go pp.copy(c, u)
		}
	}()
	return pp
}

func (pp *pipeProxy) copy(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !pp.frozen.Load() {
			pp.bytes.Add(int64(n))
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func TestDeadLinkIsNoticed(t *testing.T) {
	p := newPKI(t)
	const ka = 200 * time.Millisecond
	hub := NewHub(nil, ka)
	srv := startServer(t, p, hub)
	pp := newPipeProxy(t, srv.Listener.Addr().String())
	var downs atomic.Int32
	runAgent(t, &Agent{Dial: DialTLS(pp.ln.Addr().String(), p.nodeClient(t, "n1")), Handler: text("n1"), KeepAlive: ka,
		MinBackoff: time.Hour,
		OnState: func(up bool, err error) {
			if !up {
				downs.Add(1)
			}
		}})
	eventually(t, "tunnel", func() bool { return hub.Connected("n1") })
	pp.frozen.Store(true)
	start := time.Now()
	eventually(t, "the agent to notice", func() bool { return downs.Load() > 0 })
	eventually(t, "the server to notice", func() bool { return !hub.Connected("n1") })
	if d := time.Since(start); d > 2*(2*ka+ka)+time.Second {
		t.Errorf("dead link noticed after %v", d)
	}
}

// TestIdleCost measures the bytes an idle tunnel exchanges (TLS records,
// both directions, without TCP/IP headers) per keepalive interval.
func TestIdleCost(t *testing.T) {
	if testing.Short() {
		t.Skip("measures an idle period; skipped under -short")
	}
	p := newPKI(t)
	const ka = 50 * time.Millisecond
	hub := NewHub(nil, ka)
	srv := startServer(t, p, hub)
	pp := newPipeProxy(t, srv.Listener.Addr().String())
	runAgent(t, &Agent{Dial: DialTLS(pp.ln.Addr().String(), p.nodeClient(t, "n1")), Handler: text("n1"), KeepAlive: ka})
	eventually(t, "tunnel", func() bool { return hub.Connected("n1") })
	time.Sleep(2 * ka) // let the handshake's trailing bytes pass
	before, start := pp.bytes.Load(), time.Now()
	time.Sleep(40 * ka) // measuring an idle period is the point here
	used, elapsed := pp.bytes.Load()-before, time.Since(start)
	perPing := float64(used) / (float64(elapsed) / float64(ka))
	perHour := perPing * float64(time.Hour/DefaultKeepAlive)
	t.Logf("idle: %.1f bytes per ping round trip; %.0f bytes/hour at the default %v interval (TCP/IP headers not counted)", perPing, perHour, DefaultKeepAlive)
	if perPing <= 0 || perPing > 200 {
		t.Errorf("idle cost %.1f bytes per ping, want (0, 200]", perPing)
	}
}
