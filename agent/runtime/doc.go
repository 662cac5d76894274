// Package runtime runs the agent's containers on containerd through its Go
// client: it starts (or connects to) containerd, imports air-gap image
// tarballs, pulls images with registries.yaml mirrors and auth, creates,
// stops and removes containers with their CRI-format logs, and streams exec
// and attach. It owns the "k8s.io" containerd namespace objects it labels.
//
// It must not import server/... packages; decisions about what to run are
// the caller's (agent/plan), this package only carries them out.
package runtime
