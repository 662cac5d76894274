package streaming

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Pods is what the handler needs from the agent's runtime.
type Pods interface {
	// LogFiles returns the container's CRI-format log files, oldest first
	// (rotated ones first); previous selects the last terminated instance.
	LogFiles(ns, pod, container string, previous bool) ([]string, error)
	// Exec runs cmd in the container and returns its exit code.
	Exec(ctx context.Context, ns, pod, container string, cmd []string, s Streams) (exitCode int, err error)
	// Attach connects s to the container's main process until the client
	// or the process goes away.
	Attach(ctx context.Context, ns, pod, container string, s Streams) error
	// PortForward copies between conn and port inside the pod's network
	// namespace until either side ends.
	PortForward(ctx context.Context, ns, pod string, port int32, conn io.ReadWriteCloser) error
}

// ContainerRunning is optionally implemented by Pods: a followed log ends
// once the container is no longer running and its file was read to the
// end (as kubectl logs -f ends when the container exits).
type ContainerRunning interface {
	ContainerRunning(ns, pod, container string) bool
}

// Streams are the client's standard streams of an exec or attach. Stdin,
// Stdout and Stderr are nil when the client did not ask for them.
// Implementations should return when writes to Stdout fail (the client
// went away) or, for attach, when Stdin ends.
type Streams struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	TTY            bool
	// Resize delivers terminal sizes (TTY only); it is closed when the
	// client can send no more.
	Resize <-chan TermSize
}

// TermSize is a terminal's size in characters.
type TermSize struct {
	Width, Height uint16
}

// ErrNotFound is wrapped by Pods errors for a pod or container the node
// does not have (404 rather than 400).
var ErrNotFound = errors.New("not found")

// Handler serves the kubelet paths the API server proxies to:
//
//	GET      /containerLogs/{ns}/{pod}/{container}
//	GET|POST /exec/{ns}/{pod}/{container}?command=...&stdin=1&stdout=1&stderr=1&tty=1
//	GET|POST /attach/{ns}/{pod}/{container}?stdin=1&stdout=1&stderr=1&tty=1
//	GET|POST /portForward/{ns}/{pod}
//	GET      /portConnect/{ns}/{pod}/{port}  (Upgrade: tcp)
type Handler struct {
	pods Pods
	mux  *http.ServeMux
	// pollInterval is how often a followed log looks for new lines.
	pollInterval time.Duration
}

// New returns the handler for pods.
func New(pods Pods) *Handler {
	h := &Handler{pods: pods, mux: http.NewServeMux(), pollInterval: 200 * time.Millisecond}
	h.mux.HandleFunc("GET /containerLogs/{ns}/{pod}/{container}", h.serveLogs)
	h.mux.HandleFunc("/exec/{ns}/{pod}/{container}", h.serveExec)
	h.mux.HandleFunc("/attach/{ns}/{pod}/{container}", h.serveAttach)
	h.mux.HandleFunc("/portForward/{ns}/{pod}", h.servePortForward)
	h.mux.HandleFunc("GET /portConnect/{ns}/{pod}/{port}", h.servePortConnect)
	return h
}

// ServeHTTP dispatches to the handler's paths.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// writeStatus answers with a metav1.Status, which the API server passes
// on to the client unchanged.
func writeStatus(w http.ResponseWriter, code int, msg string) {
	st := metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure, Message: msg, Reason: statusReason(code), Code: int32(code),
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(&st)
}

// statusReason is the metav1.Status reason of an HTTP status code.
func statusReason(code int) metav1.StatusReason {
	switch code {
	case http.StatusBadRequest:
		return metav1.StatusReasonBadRequest
	case http.StatusNotFound:
		return metav1.StatusReasonNotFound
	case http.StatusMethodNotAllowed:
		return metav1.StatusReasonMethodNotAllowed
	case http.StatusBadGateway, http.StatusServiceUnavailable:
		return metav1.StatusReasonServiceUnavailable
	}
	return metav1.StatusReasonInternalError
}

// writeError answers with the status class of a Pods error.
func writeError(w http.ResponseWriter, err error) {
	code := http.StatusBadRequest
	if errors.Is(err, ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		code = http.StatusNotFound
	}
	writeStatus(w, code, err.Error())
}
