// Package runtime runs the agent's containers on containerd through its Go
// client: it starts (or connects to) containerd and supervises the one it
// started, imports air-gap image tarballs, pulls images with registries.yaml
// mirrors and auth, creates, stops, removes and lists containers, streams
// their events, execs into and attaches to them. It owns the containers and
// sandboxes it labels io.skiff.* in the "k8s.io" containerd namespace.
//
// Container output is written in the CRI log format by a log driver the
// containerd shim runs (the skiff binary under the name LogDriverName), so
// logs keep flowing while the agent is down; the agent's main must call
// IsLogDriver/LogDriverMain before anything else.
//
// It must not import server/...; what to run is decided elsewhere
// (agent/plan), this package only carries it out.
package runtime
