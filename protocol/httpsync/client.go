package httpsync

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/skiff-io/skiff/protocol"
)

// Client is the agent's end: a protocol.Conn over HTTPS.
type Client struct {
	base string // https://host:port
	node string
	http *http.Client
}

var _ protocol.Conn = (*Client)(nil)

// NewClient talks to the server at base (https://host:6443) as node with
// the given HTTP client, which carries the node's TLS credentials.
func NewClient(base, node string, hc *http.Client) *Client {
	return &Client{base: strings.TrimSuffix(base, "/"), node: node, http: hc}
}

// Desired implements protocol.Conn.
func (c *Client) Desired(ctx context.Context, since int64, wait time.Duration) (*protocol.Desired, error) {
	u := c.base + protocol.PathNodes + url.PathEscape(c.node) + "/desired?since=" + strconv.FormatInt(since, 10) + "&wait=" + wait.String()
	// The server answers within wait; the margin covers a slow link.
	rctx, cancel := context.WithTimeout(ctx, wait+30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNoContent {
		return nil, nil
	}
	var doc protocol.Desired
	if err := decode(resp, &doc); err != nil {
		return nil, err
	}
	if doc.APIVersion != protocol.APIVersion {
		return nil, fmt.Errorf("desired document of apiVersion %q, want %q", doc.APIVersion, protocol.APIVersion)
	}
	return &doc, nil
}

// Report implements protocol.Conn.
func (c *Client) Report(ctx context.Context, b *protocol.StatusBatch) (*protocol.StatusAck, error) {
	body, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, c.base+protocol.PathNodes+url.PathEscape(c.node)+"/status", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var ack protocol.StatusAck
	if err := decode(resp, &ack); err != nil {
		return nil, err
	}
	return &ack, nil
}

func decode(resp *http.Response, v any) error {
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return &StatusError{Code: resp.StatusCode, Message: strings.TrimSpace(string(body))}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("decoding the server's answer: %w", err)
	}
	return nil
}
