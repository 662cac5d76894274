// Package runtime runs the agent's containers on containerd through its Go
// client: it starts (or connects to) containerd and supervises the one it
// started, imports air-gap image tarballs, pulls images with registries.yaml
// mirrors and auth, creates, stops, removes and lists containers, streams
// their events, execs into and attaches to them. It owns the containers and
// sandboxes it labels io.skiff.* in the "k8s.io" containerd namespace.
//
// Container output reaches the agent through FIFOs the containerd shim
// writes; the Runtime copies them into CRI log files (logcopy.go) and
// reopens them when it starts again, so output written while the agent was
// down is drained then. IsLogDriver/LogDriverMain serve the log-writer
// processes of containers an earlier agent started.
//
// It must not import server/...; what to run is decided elsewhere
// (agent/plan), this package only carries it out.
package runtime
