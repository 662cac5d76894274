package httpsync

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/skiff-io/skiff/protocol"
)

// MaxWait bounds the long poll a client may ask for.
const MaxWait = 5 * time.Minute

// maxBatch bounds a status batch's body.
const maxBatch = 16 << 20

// Handler serves protocol.PathNodes for the hub. nodeOf names the node a
// request's credentials belong to (false: not a node); a node may only use
// its own paths.
func Handler(hub protocol.Hub, nodeOf func(*http.Request) (string, bool)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest := strings.TrimPrefix(r.URL.Path, protocol.PathNodes)
		node, op, ok := strings.Cut(rest, "/")
		if !ok || node == "" {
			httpError(w, http.StatusNotFound, "no such sync path %q", r.URL.Path)
			return
		}
		who, isNode := nodeOf(r)
		if !isNode {
			httpError(w, http.StatusUnauthorized, "a node credential is required")
			return
		}
		if who != node {
			httpError(w, http.StatusForbidden, "node %q may not sync as node %q", who, node)
			return
		}
		switch op {
		case "desired":
			if r.Method != http.MethodGet {
				httpError(w, http.StatusMethodNotAllowed, "use GET")
				return
			}
			serveDesired(w, r, hub, node)
		case "status":
			if r.Method != http.MethodPost {
				httpError(w, http.StatusMethodNotAllowed, "use POST")
				return
			}
			serveStatus(w, r, hub, node)
		default:
			httpError(w, http.StatusNotFound, "no such sync path %q", r.URL.Path)
		}
	})
}

func serveDesired(w http.ResponseWriter, r *http.Request, hub protocol.Hub, node string) {
	q := r.URL.Query()
	var since int64
	if v := q.Get("since"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			httpError(w, http.StatusBadRequest, "since=%q is not a revision", v)
			return
		}
		since = n
	}
	var wait time.Duration
	if v := q.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			httpError(w, http.StatusBadRequest, "wait=%q is not a duration", v)
			return
		}
		wait = min(d, MaxWait)
	}
	doc, err := hub.Desired(r.Context(), node, since, wait)
	if err != nil {
		if r.Context().Err() != nil {
			// The server is stopping (or the agent went away, and the
			// answer goes nowhere): say so rather than end the long-poll
			// with an empty 200, which the agent cannot decode.
			httpError(w, http.StatusServiceUnavailable, "the server is shutting down")
			return
		}
		httpError(w, http.StatusServiceUnavailable, "%v", err)
		return
	}
	if doc == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, doc)
}

func serveStatus(w http.ResponseWriter, r *http.Request, hub protocol.Hub, node string) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBatch+1))
	if err != nil {
		httpError(w, http.StatusBadRequest, "reading the batch: %v", err)
		return
	}
	if len(body) > maxBatch {
		httpError(w, http.StatusRequestEntityTooLarge, "a status batch is limited to %d bytes", maxBatch)
		return
	}
	var b protocol.StatusBatch
	if err := json.Unmarshal(body, &b); err != nil {
		httpError(w, http.StatusBadRequest, "decoding the batch: %v", err)
		return
	}
	if b.APIVersion != protocol.APIVersion {
		httpError(w, http.StatusBadRequest, "apiVersion %q is not %q", b.APIVersion, protocol.APIVersion)
		return
	}
	ack, err := hub.Report(r.Context(), node, &b)
	if err != nil {
		httpError(w, http.StatusServiceUnavailable, "%v", err)
		return
	}
	writeJSON(w, ack)
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		httpError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// httpError answers with a one-line plain-text reason, which the agent
// logs as it is.
func httpError(w http.ResponseWriter, code int, format string, args ...any) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = fmt.Fprintf(w, format+"\n", args...)
}

// StatusError is a non-2xx answer from the server.
type StatusError struct {
	Code    int
	Message string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("server answered %d %s: %s", e.Code, http.StatusText(e.Code), e.Message)
}

// IsStatus reports whether err is a StatusError with the code.
func IsStatus(err error, code int) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Code == code
}
