package streaming

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	gwebsocket "github.com/gorilla/websocket"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"
	"k8s.io/streaming/pkg/httpstream/wsstream"
)

const (
	// portForwardProtocol is the only port-forward protocol version.
	portForwardProtocol = "portforward.k8s.io"
	// tunnelledPortForwardProtocol carries the SPDY port-forward protocol
	// inside WebSocket binary messages (what kubectl tries first).
	tunnelledPortForwardProtocol = "SPDY/3.1+" + portForwardProtocol
)

var wsUpgrader = gwebsocket.Upgrader{
	Subprotocols:    []string{tunnelledPortForwardProtocol},
	ReadBufferSize:  32 << 10,
	WriteBufferSize: 32 << 10,
	// The API server authorized the request; the agent only sees it
	// through the tunnel, so the browser Origin check does not apply.
	CheckOrigin: func(*http.Request) bool { return true },
}

func (h *Handler) servePortForward(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		writeStatus(w, http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed")
		return
	}
	ns, pod := r.PathValue("ns"), r.PathValue("pod")
	streams := make(chan httpstream.Stream)
	stop := make(chan struct{})
	defer close(stop)
	onStream := func(s httpstream.Stream, replySent <-chan struct{}) error {
		select {
		case streams <- s:
		case <-stop:
			s.Reset()
		}
		return nil
	}
	var conn httpstream.Connection
	switch {
	case wsstream.IsWebSocketRequestWithTunnelingProtocol(r):
		ws, err := wsUpgrader.Upgrade(w, r, nil)
		if err != nil {
			return // the upgrader answered
		}
		if ws.Subprotocol() != tunnelledPortForwardProtocol {
			ws.Close()
			return
		}
		conn, err = spdy.NewServerConnection(portforward.NewTunnelingConnection("agent", ws), onStream)
		if err != nil {
			ws.Close()
			return
		}
	case wsstream.IsWebSocketRequest(r):
		writeStatus(w, http.StatusBadRequest, "port-forward over plain WebSocket channels is not supported; use "+tunnelledPortForwardProtocol+" or SPDY")
		return
	default:
		if _, err := httpstream.Handshake(r, w, []string{portForwardProtocol}); err != nil {
			return
		}
		if conn = spdy.NewResponseUpgrader().UpgradeResponse(w, r, onStream); conn == nil {
			return
		}
	}
	defer conn.Close()
	conn.SetIdleTimeout(streamIdleTimeout)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	h.pairStreams(ctx, conn, streams, ns, pod)
}

// streamPair is one forwarded connection: a data and an error stream the
// client opened with the same requestID.
type streamPair struct {
	data, errs httpstream.Stream
	created    time.Time
}

// pairStreams matches streams into pairs and forwards each complete pair
// until the connection closes; it returns after every forward ended.
func (h *Handler) pairStreams(ctx context.Context, conn httpstream.Connection, streams <-chan httpstream.Stream, ns, pod string) {
	pairs := map[string]*streamPair{}
	done := make(chan struct{})
	running := 0
	defer func() {
		conn.Close() // ends the forwards' streams
		for ; running > 0; running-- {
			<-done
		}
	}()
	sweep := time.NewTicker(streamCreationTimeout / 4)
	defer sweep.Stop()
	for {
		select {
		case <-conn.CloseChan():
			return
		case <-ctx.Done():
			return
		case <-done:
			running--
		case now := <-sweep.C:
			for id, p := range pairs {
				if now.Sub(p.created) > streamCreationTimeout {
					delete(pairs, id)
					for _, s := range []httpstream.Stream{p.data, p.errs} {
						if s != nil {
							s.Reset()
						}
					}
				}
			}
		case s := <-streams:
			id := s.Headers().Get(corev1.PortForwardRequestIDHeader)
			p := pairs[id]
			if p == nil {
				p = &streamPair{created: time.Now()}
				pairs[id] = p
			}
			switch s.Headers().Get(corev1.StreamType) {
			case corev1.StreamTypeData:
				p.data = s
			case corev1.StreamTypeError:
				p.errs = s
			default:
				s.Reset()
			}
			if p.data == nil || p.errs == nil {
				continue
			}
			delete(pairs, id)
			running++
			go func() {
				defer func() { done <- struct{}{} }()
				h.forward(ctx, conn, p, ns, pod)
			}()
		}
	}
}

func (h *Handler) forward(ctx context.Context, conn httpstream.Connection, p *streamPair, ns, pod string) {
	defer conn.RemoveStreams(p.data, p.errs)
	defer p.errs.Close()
	defer p.data.Close()
	port, err := strconv.ParseUint(p.data.Headers().Get(corev1.PortHeader), 10, 16)
	if err == nil && port == 0 {
		err = errors.New("port 0")
	}
	if err == nil {
		err = h.pods.PortForward(ctx, ns, pod, int32(port), p.data)
	}
	if err != nil {
		fmt.Fprintf(p.errs, "error forwarding port %s to pod %s/%s: %v", p.data.Headers().Get(corev1.PortHeader), ns, pod, err)
	}
}
