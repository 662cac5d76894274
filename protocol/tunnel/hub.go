package tunnel

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/yamux"
)

// ErrNoTunnel is returned (wrapped) by DialNode when the node has no open
// tunnel.
var ErrNoTunnel = errors.New("no tunnel to the node")

// Hub is the server end: it accepts agents' tunnels and opens streams to
// their nodes.
type Hub struct {
	nodeName  func(*http.Request) (string, bool)
	keepAlive time.Duration

	mu    sync.Mutex
	nodes map[string]*yamux.Session
	// joined is closed (and replaced) whenever a tunnel is registered, to
	// wake DialNode calls waiting for one.
	joined chan struct{}
}

// DialWait is how long DialNode waits for a node without a tunnel to open
// one: an agent that has just started, or is reconnecting after a network
// blip, is back within a few seconds, and kubectl exec or logs at that
// moment should not fail for it.
const DialWait = 5 * time.Second

// NewHub returns a Hub that names a tunnel's node with nodeName
// (NodeFromRequest when nil). keepAlive is the agents' ping interval
// (DefaultKeepAlive when zero): a tunnel silent for twice that long plus
// the ping timeout (at most ten seconds) is closed.
func NewHub(nodeName func(*http.Request) (string, bool), keepAlive time.Duration) *Hub {
	if nodeName == nil {
		nodeName = NodeFromRequest
	}
	if keepAlive <= 0 {
		keepAlive = DefaultKeepAlive
	}
	return &Hub{nodeName: nodeName, keepAlive: keepAlive, nodes: map[string]*yamux.Session{}, joined: make(chan struct{})}
}

// NodeFromRequest names the node of a request authenticated with a node
// client certificate: CN "system:node:<name>" in group (O) system:nodes,
// with the client-auth extended key usage.
func NodeFromRequest(r *http.Request) (string, bool) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return "", false
	}
	c := r.TLS.VerifiedChains[0][0]
	if !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
		// Only a certificate issued for client auth names a node; the TLS
		// handshake also admits one without extended key usages.
		return "", false
	}
	name, ok := strings.CutPrefix(c.Subject.CommonName, "system:node:")
	if !ok || name == "" {
		return "", false
	}
	for _, o := range c.Subject.Organization {
		if o == "system:nodes" {
			return name, true
		}
	}
	return "", false
}

// ServeHTTP accepts a tunnel (the Upgrade request at Path). It returns
// when the tunnel closes; a newer tunnel from the same node replaces it.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	node, ok := h.nodeName(r)
	if !ok {
		http.Error(w, "tunnel: a node client certificate is required", http.StatusForbidden)
		return
	}
	if !strings.EqualFold(r.Header.Get("Upgrade"), UpgradeProtocol) || !headerHasToken(r.Header, "Connection", "upgrade") {
		w.Header().Set("Upgrade", UpgradeProtocol)
		http.Error(w, "tunnel: expected Upgrade: "+UpgradeProtocol, http.StatusUpgradeRequired)
		return
	}
	if r.ProtoMajor != 1 {
		http.Error(w, "tunnel: HTTP/1.1 is required", http.StatusHTTPVersionNotSupported)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "tunnel: "+err.Error(), http.StatusInternalServerError)
		return
	}
	_, err = conn.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + UpgradeProtocol + "\r\n\r\n"))
	if err != nil {
		conn.Close()
		return
	}
	_ = conn.SetDeadline(time.Time{})
	disableTCPKeepAlive(conn)
	c := conn
	if brw.Reader.Buffered() > 0 {
		c = &bufferedConn{Conn: conn, r: brw.Reader}
	}
	sess, err := yamux.Client(idleConn{Conn: c, timeout: 2*h.keepAlive + pingTimeout(h.keepAlive)}, yamuxConfig(h.keepAlive, false))
	if err != nil {
		conn.Close()
		return
	}
	h.mu.Lock()
	old := h.nodes[node]
	h.nodes[node] = sess
	close(h.joined)
	h.joined = make(chan struct{})
	h.mu.Unlock()
	if old != nil {
		old.Close()
	}
	select {
	case <-sess.CloseChan():
	case <-r.Context().Done():
		sess.Close()
	}
	h.mu.Lock()
	if h.nodes[node] == sess {
		delete(h.nodes, node)
	}
	h.mu.Unlock()
}

// DialNode opens a stream to node's agent, waiting up to DialWait (or
// until ctx ends) for a node without a tunnel to open one. The error wraps
// ErrNoTunnel when the node has none.
func (h *Hub) DialNode(ctx context.Context, node string) (net.Conn, error) {
	var deadline <-chan time.Time
	var sess *yamux.Session
	for {
		h.mu.Lock()
		sess = h.nodes[node]
		joined := h.joined
		h.mu.Unlock()
		if sess != nil && !sess.IsClosed() {
			break
		}
		if deadline == nil {
			t := time.NewTimer(DialWait)
			defer t.Stop()
			deadline = t.C
		}
		select {
		case <-joined:
		case <-deadline:
			return nil, fmt.Errorf("node %q: %w", node, ErrNoTunnel)
		case <-ctx.Done():
			return nil, fmt.Errorf("node %q: %w: %w", node, ErrNoTunnel, ctx.Err())
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s, err := sess.OpenStream()
	if err != nil {
		return nil, fmt.Errorf("node %q: %w: %w", node, ErrNoTunnel, err)
	}
	return s, nil
}

// Connected reports whether node has an open tunnel.
func (h *Hub) Connected(node string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.nodes[node]
	return s != nil && !s.IsClosed()
}

// RoundTripper returns an HTTP transport whose connections are streams to
// node, for requests to the agent's handler (any URL host will do).
func (h *Hub) RoundTripper(node string) http.RoundTripper {
	return &http.Transport{
		DialContext:       func(ctx context.Context, _, _ string) (net.Conn, error) { return h.DialNode(ctx, node) },
		DisableKeepAlives: true,
		ForceAttemptHTTP2: false,
	}
}

// Close closes every tunnel.
func (h *Hub) Close() error {
	h.mu.Lock()
	sessions := h.nodes
	h.nodes = map[string]*yamux.Session{}
	h.mu.Unlock()
	for _, s := range sessions {
		s.Close()
	}
	return nil
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// disableTCPKeepAlive turns off the listener's TCP keepalive probes (Go's
// default is every 15s) on a tunnel: the agent's pings already cover it,
// and probes would cost more idle bytes than the pings.
func disableTCPKeepAlive(c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if tcp, ok := c.(*net.TCPConn); ok {
		_ = tcp.SetKeepAlive(false)
	}
}
