// Package streaming is the agent's kubelet-like HTTP handler for the
// requests the API server sends down the tunnel: container logs (CRI log
// files), exec and attach (WebSocket v5/v4 and SPDY remotecommand
// protocols) and port-forward (SPDY, plain or tunnelled in a WebSocket).
//
// It adapts these wire protocols to the Pods interface, which the agent's
// runtime implements; it owns no containers itself. It must not import
// server/...; it builds on k8s.io/streaming and client-go's protocol
// constants rather than k8s.io/kubernetes.
package streaming
