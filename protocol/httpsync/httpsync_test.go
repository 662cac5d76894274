package httpsync

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/skiff-io/skiff/protocol"
)

// hub is a protocol.Hub that answers from fixed values; the transport is
// what is under test.
type hub struct {
	// waitForEnd makes Desired wait for its context to end, as the sync
	// hub's long-poll does when a server stops.
	waitForEnd bool
	doc        *protocol.Desired
	since      int64
	wait       time.Duration
	batches    []*protocol.StatusBatch
}

func (h *hub) Desired(ctx context.Context, node string, since int64, wait time.Duration) (*protocol.Desired, error) {
	if h.waitForEnd {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	h.since, h.wait = since, wait
	return h.doc, nil
}

func (h *hub) Report(_ context.Context, node string, b *protocol.StatusBatch) (*protocol.StatusAck, error) {
	h.batches = append(h.batches, b)
	return &protocol.StatusAck{APIVersion: protocol.APIVersion, Seq: b.Items[len(b.Items)-1].Seq}, nil
}

// serve runs the handler; the node name comes from a header here, from the
// client certificate in the server.
func serve(t *testing.T, h *hub) *httptest.Server {
	srv := httptest.NewServer(Handler(h, func(r *http.Request) (string, bool) {
		n := r.Header.Get("X-Node")
		return n, n != ""
	}))
	t.Cleanup(srv.Close)
	return srv
}

type asNode struct{ node string }

func (a asNode) RoundTrip(r *http.Request) (*http.Response, error) {
	r.Header.Set("X-Node", a.node)
	return http.DefaultTransport.RoundTrip(r)
}

func TestDesiredAndReportRoundTrip(t *testing.T) {
	h := &hub{}
	srv := serve(t, h)
	c := NewClient(srv.URL, "n1", &http.Client{Transport: asNode{"n1"}})
	ctx := context.Background()
	doc, err := c.Desired(ctx, 7, 2*time.Second)
	if err != nil || doc != nil {
		t.Fatalf("no change: doc %v err %v", doc, err)
	}
	if h.since != 7 || h.wait != 2*time.Second {
		t.Fatalf("hub asked since %d wait %s", h.since, h.wait)
	}
	h.doc = &protocol.Desired{APIVersion: protocol.APIVersion, Node: "n1", Revision: 9}
	if doc, err = c.Desired(ctx, 7, time.Second); err != nil || doc == nil || doc.Revision != 9 {
		t.Fatalf("document: %+v %v", doc, err)
	}
	ack, err := c.Report(ctx, &protocol.StatusBatch{APIVersion: protocol.APIVersion, Node: "n1", Items: []protocol.StatusItem{{Seq: 3}, {Seq: 4}}})
	if err != nil || ack.Seq != 4 || len(h.batches) != 1 {
		t.Fatalf("report: %+v %v", ack, err)
	}
}

func TestHandlerRefusesBadRequests(t *testing.T) {
	h := &hub{}
	srv := serve(t, h)
	do := func(node, method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if node != "" {
			req.Header.Set("X-Node", node)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tests := []struct {
		node, method, path, body string
		code                     int
		msg                      string
	}{
		{"", "GET", "/skiff/v1/nodes/n1/desired", "", 401, "node credential"},
		{"n2", "GET", "/skiff/v1/nodes/n1/desired", "", 403, `node "n2" may not sync as node "n1"`},
		{"n1", "GET", "/skiff/v1/nodes/n1/desired?since=x", "", 400, "since"},
		{"n1", "GET", "/skiff/v1/nodes/n1/desired?wait=soon", "", 400, "wait"},
		{"n1", "POST", "/skiff/v1/nodes/n1/desired", "", 405, "GET"},
		{"n1", "POST", "/skiff/v1/nodes/n1/status", "{", 400, "decoding"},
		{"n1", "POST", "/skiff/v1/nodes/n1/status", `{"apiVersion":"v0","items":[]}`, 400, "apiVersion"},
		{"n1", "GET", "/skiff/v1/nodes/n1/other", "", 404, "no such sync path"},
	}
	for _, tc := range tests {
		code, msg := do(tc.node, tc.method, tc.path, tc.body)
		if code != tc.code || !strings.Contains(msg, tc.msg) {
			t.Errorf("%s %s as %q: %d %q, want %d with %q", tc.method, tc.path, tc.node, code, msg, tc.code, tc.msg)
		}
	}
	if len(h.batches) != 0 {
		t.Fatal("a refused batch reached the hub")
	}
}

// TestDesiredWhileTheServerStops: a long-poll the stopping server ends
// gets 503 with a message, not an empty 200 the agent cannot decode.
func TestDesiredWhileTheServerStops(t *testing.T) {
	h := &hub{waitForEnd: true}
	stopping, stop := context.WithCancel(context.Background())
	defer stop()
	srv := httptest.NewUnstartedServer(Handler(h, func(r *http.Request) (string, bool) { return "n1", true }))
	srv.Config.BaseContext = func(net.Listener) context.Context { return stopping }
	srv.Start()
	t.Cleanup(srv.Close)
	c := NewClient(srv.URL, "n1", srv.Client())
	time.AfterFunc(200*time.Millisecond, stop)
	_, err := c.Desired(context.Background(), 1, time.Minute)
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusServiceUnavailable || !strings.Contains(se.Message, "shutting down") {
		t.Fatalf("long-poll ended by the server's stop: %v", err)
	}
}
