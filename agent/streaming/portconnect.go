package streaming

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PortConnectProtocol is the Upgrade token of /portConnect: after the 101
// answer the connection carries raw TCP to the pod's port. The API server
// speaks HTTP over it for the pods/proxy and services/proxy subresources.
const PortConnectProtocol = "tcp"

// servePortConnect answers /portConnect/{ns}/{pod}/{port} by upgrading
// the request to a plain byte stream to the port inside the pod's network
// namespace (the same connection port-forward makes). Errors before the
// port answers are a metav1.Status: 404 for a pod the node does not have,
// 502 when the port cannot be reached.
func (h *Handler) servePortConnect(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), PortConnectProtocol) {
		writeStatus(w, http.StatusBadRequest, "the request must upgrade to "+PortConnectProtocol)
		return
	}
	port, err := strconv.ParseUint(r.PathValue("port"), 10, 16)
	if err != nil || port == 0 {
		writeStatus(w, http.StatusBadRequest, fmt.Sprintf("invalid port %q", r.PathValue("port")))
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		writeStatus(w, http.StatusInternalServerError, err.Error())
		return
	}
	defer conn.Close()
	pc := &upgradedConn{conn: conn, r: brw.Reader}
	err = h.pods.PortForward(r.Context(), r.PathValue("ns"), r.PathValue("pod"), int32(port), pc)
	if err != nil && !pc.upgraded() {
		code := http.StatusBadGateway
		if errors.Is(err, ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			code = http.StatusNotFound
		}
		_ = writeRawStatus(conn, code, err.Error())
	}
}

// upgradedConn sends the 101 answer on first use: PortForward reads and
// writes only after it reached the port, so a failed dial can still be
// answered with an error status.
type upgradedConn struct {
	conn net.Conn
	r    *bufio.Reader
	once sync.Once
	err  error
	done atomic.Bool
}

func (c *upgradedConn) upgrade() error {
	c.once.Do(func() {
		_, c.err = io.WriteString(c.conn, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: "+PortConnectProtocol+"\r\n\r\n")
		c.done.Store(true)
	})
	return c.err
}

// upgraded reports whether the 101 went out.
func (c *upgradedConn) upgraded() bool { return c.done.Load() }

func (c *upgradedConn) Read(p []byte) (int, error) {
	if err := c.upgrade(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func (c *upgradedConn) Write(p []byte) (int, error) {
	if err := c.upgrade(); err != nil {
		return 0, err
	}
	return c.conn.Write(p)
}

func (c *upgradedConn) Close() error { return c.conn.Close() }

// writeRawStatus writes an HTTP/1.1 response carrying a metav1.Status on
// a hijacked connection.
func writeRawStatus(conn net.Conn, code int, msg string) error {
	b, err := json.Marshal(&metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure, Message: msg, Reason: statusReason(code), Code: int32(code),
	})
	if err != nil {
		return err
	}
	resp := &http.Response{
		StatusCode: code, ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(bytes.NewReader(b)),
		ContentLength: int64(len(b)),
		Close:         true,
	}
	return resp.Write(conn)
}
