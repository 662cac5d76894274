package tunnel

import (
	"io"
	"net"
	"time"

	"github.com/hashicorp/yamux"
)

const (
	// Path is the server endpoint an agent upgrades to open its tunnel.
	Path = "/skiff/v1/tunnel"
	// UpgradeProtocol is the Upgrade header value of the tunnel handshake.
	UpgradeProtocol = "skiff-tunnel/1"

	// DefaultKeepAlive is how often the agent pings an idle tunnel. A ping
	// and its answer are two 12-byte yamux frames, but on the wire (TLS
	// records, TCP/IP headers, ACKs) about 270 bytes: every two minutes
	// keeps an idle node's traffic low, and with the missed-pong timeout
	// (yamuxWriteTimeout) a dead tunnel is noticed within about two
	// minutes. The sync long poll notices a dead link sooner.
	DefaultKeepAlive = 2 * time.Minute

	yamuxWriteTimeout = 10 * time.Second
)

// yamuxConfig returns the session settings for one end. Only the agent
// pings: the server notices silence with a read deadline instead, so an
// idle tunnel costs one ping and one pong per interval.
func yamuxConfig(keepAlive time.Duration, ping bool) *yamux.Config {
	c := yamux.DefaultConfig()
	c.EnableKeepAlive = ping
	c.KeepAliveInterval = keepAlive
	c.ConnectionWriteTimeout = pingTimeout(keepAlive)
	c.LogOutput = io.Discard
	c.Logger = nil
	c.StreamCloseTimeout = time.Minute
	return c
}

// pingTimeout is how long a ping may wait for its pong.
func pingTimeout(keepAlive time.Duration) time.Duration {
	return min(yamuxWriteTimeout, keepAlive)
}

// idleConn fails reads once nothing arrived for timeout: the server end of
// a tunnel whose agent stopped pinging is closed rather than kept forever.
type idleConn struct {
	net.Conn
	timeout time.Duration
}

func (c idleConn) Read(p []byte) (int, error) {
	if c.timeout > 0 {
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
	}
	return c.Conn.Read(p)
}

// bufferedConn returns bytes a handshake reader buffered before reading
// the connection itself.
type bufferedConn struct {
	net.Conn
	r io.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
