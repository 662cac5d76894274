// Package tunnel carries the API server's node-bound requests (logs, exec,
// attach, port-forward) over a connection the agent opened, because nodes
// sit behind NAT and the server may never dial them.
//
// The agent dials the server over TLS with its node client certificate,
// sends an HTTP/1.1 Upgrade to Path, and then serves plain HTTP on every
// stream the server opens through a yamux session on that connection
// (Agent, Serve). The server keeps one session per node (Hub) and hands out
// streams as net.Conns (Hub.DialNode) for its reverse proxy.
//
// Both roles import this package, so it must not import agent/... or
// server/...; it imports only the standard library and yamux.
package tunnel
