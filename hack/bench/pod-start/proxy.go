package main

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// countingProxy forwards TCP connections from a listener on 127.0.0.1 to
// target and counts the bytes in each direction: the payload of the TCP
// streams (TLS records included), not the TCP/IP headers.
type countingProxy struct {
	ln     net.Listener
	target string
	up     atomic.Int64 // agent → server
	down   atomic.Int64 // server → agent
	conns  atomic.Int64 // connections accepted
}

// sample is the proxy's counters at one moment.
type sample struct{ up, down, conns int64 }

func listenProxy(target string) (*countingProxy, error) {
	// No TCP keepalive probes from the proxy toward the agent: the probes
	// counted on the agent's side are then the agent's own.
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return &countingProxy{ln: ln, target: target}, nil
}

// Addr is host:port the agent dials.
func (p *countingProxy) Addr() string { return p.ln.Addr().String() }

// Port is the proxy's port.
func (p *countingProxy) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

func (p *countingProxy) sample() sample {
	return sample{up: p.up.Load(), down: p.down.Load(), conns: p.conns.Load()}
}

// Run accepts and forwards until ctx ends, then closes the listener and
// every forwarded connection and returns once their goroutines are done.
func (p *countingProxy) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-ctx.Done()
		p.ln.Close()
	}()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		p.conns.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.forward(ctx, c)
		}()
	}
}

// forward copies both ways between the accepted connection and a new one
// to the target until either side closes or ctx ends.
func (p *countingProxy) forward(ctx context.Context, client net.Conn) {
	defer client.Close()
	d := net.Dialer{KeepAlive: -1}
	server, err := d.DialContext(ctx, "tcp", p.target)
	if err != nil {
		return
	}
	defer server.Close()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn, n *atomic.Int64) {
		_, _ = io.Copy(&countingWriter{w: dst, n: n}, src)
		// Half-close so the other side sees EOF, as a direct connection would.
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(server, client, &p.up)
	go pipe(client, server, &p.down)
	for left := 2; left > 0; {
		select {
		case <-done:
			left--
		case <-ctx.Done():
			client.Close()
			server.Close()
			for ; left > 0; left-- {
				<-done
			}
		}
	}
}

type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n.Add(int64(n))
	return n, err
}
