// Package pki owns the server's credentials on disk: the cluster CA, the
// API serving certificate, the admin client certificate and kubeconfig, and
// the join token, all kept under <data-dir>/server.
//
// Everything is created on first start and reused afterwards; only what is
// stale (changed SANs, near expiry, signed by another CA) is re-issued, so
// agents that pinned the CA through the token keep trusting the server.
//
// pki depends on the standard library and client-go's cert and kubeconfig
// helpers only. It must not import other server packages or agent packages:
// the agent reuses ParseToken, and the server wires the rest.
package pki
