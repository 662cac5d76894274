package tunnel

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/yamux"
)

// Agent keeps a tunnel to the server open and serves Handler on every
// stream the server opens through it.
type Agent struct {
	// Dial opens an authenticated connection to the server (TLS with the
	// node's client certificate and ALPN http/1.1; see DialTLS).
	Dial func(ctx context.Context) (net.Conn, error)
	// Handler answers the server's requests (agent/streaming).
	Handler http.Handler
	// Host is the Host header of the upgrade request; the dialed
	// connection's TLS server name when empty.
	Host string
	// KeepAlive is the ping interval (DefaultKeepAlive when zero).
	KeepAlive time.Duration
	// MinBackoff and MaxBackoff bound the wait between reconnects
	// (1s and 1m when zero).
	MinBackoff, MaxBackoff time.Duration
	// OnState, when set, is told when the tunnel comes up (err == nil)
	// and when it goes down or fails to come up.
	OnState func(up bool, err error)
}

// Serve runs an Agent with default settings until ctx ends.
func Serve(ctx context.Context, dial func(ctx context.Context) (net.Conn, error), h http.Handler) error {
	return (&Agent{Dial: dial, Handler: h}).Run(ctx)
}

// DialTLS returns a Dial func for addr ("host:port") that forces HTTP/1.1
// through ALPN, since the tunnel is an HTTP/1.1 Upgrade.
func DialTLS(addr string, cfg *tls.Config) func(ctx context.Context) (net.Conn, error) {
	c := cfg.Clone()
	c.NextProtos = []string{"http/1.1"}
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 30 * time.Second, KeepAlive: -1}, Config: c}
	return func(ctx context.Context) (net.Conn, error) {
		return d.DialContext(ctx, "tcp", addr)
	}
}

// Run connects, serves and reconnects with jittered exponential backoff
// until ctx ends; it returns ctx's error after the current session closed.
func (a *Agent) Run(ctx context.Context) error {
	minB, maxB := a.MinBackoff, a.MaxBackoff
	if minB <= 0 {
		minB = time.Second
	}
	if maxB <= 0 {
		maxB = time.Minute
	}
	backoff := minB
	for {
		up, err := a.session(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if a.OnState != nil {
			a.OnState(false, err)
		}
		if up {
			backoff = minB // the tunnel was up: start the backoff over
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		backoff = min(2*backoff, maxB)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// session dials, upgrades and serves one tunnel until it breaks; up says
// whether the upgrade succeeded.
func (a *Agent) session(ctx context.Context) (up bool, err error) {
	conn, err := a.Dial(ctx)
	if err != nil {
		return false, fmt.Errorf("tunnel: dial: %w", err)
	}
	host := a.Host
	if host == "" {
		if tc, ok := conn.(*tls.Conn); ok {
			host = tc.ConnectionState().ServerName
		}
	}
	rw, err := upgrade(ctx, conn, host)
	if err != nil {
		conn.Close()
		return false, err
	}
	ka := a.KeepAlive
	if ka <= 0 {
		ka = DefaultKeepAlive
	}
	sess, err := yamux.Server(rw, yamuxConfig(ka, true))
	if err != nil {
		conn.Close()
		return false, fmt.Errorf("tunnel: %w", err)
	}
	if a.OnState != nil {
		a.OnState(true, nil)
	}
	srv := &http.Server{
		Handler:           a.Handler,
		ReadHeaderTimeout: 30 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	stop := context.AfterFunc(ctx, func() { sess.Close() })
	defer stop()
	err = srv.Serve(sess)
	sess.Close()
	srv.Close()
	if errors.Is(err, yamux.ErrSessionShutdown) || errors.Is(err, http.ErrServerClosed) {
		err = errors.New("tunnel: session closed")
	}
	return true, err
}

// upgrade sends the Upgrade request on conn and reads the 101 answer. The
// returned conn yields whatever the reader buffered past the answer.
func upgrade(ctx context.Context, conn net.Conn, host string) (net.Conn, error) {
	if host == "" {
		host = "skiff"
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	} else {
		_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	}
	req := "GET " + Path + " HTTP/1.1\r\nHost: " + host +
		"\r\nConnection: Upgrade\r\nUpgrade: " + UpgradeProtocol + "\r\nUser-Agent: skiff-agent\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		return nil, fmt.Errorf("tunnel: upgrade: %w", err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, fmt.Errorf("tunnel: upgrade: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body := make([]byte, 512)
		n, _ := resp.Body.Read(body)
		resp.Body.Close()
		return nil, fmt.Errorf("tunnel: upgrade refused: %s: %s", resp.Status, body[:n])
	}
	_ = conn.SetDeadline(time.Time{})
	if br.Buffered() > 0 {
		return &bufferedConn{Conn: conn, r: br}, nil
	}
	return conn, nil
}
