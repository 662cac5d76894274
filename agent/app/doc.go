// Package app wires the skiff agent: configuration, join, the local
// store, the container runtime and pod network, the sync with the server
// (desired state in, status out) and shutdown. Stopping the agent does not
// stop its pods: containers keep running under containerd and are adopted
// by the next start.
//
// It must not import server/.
package app
