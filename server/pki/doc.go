// Package pki owns the server's credentials on disk: the server, client
// and request-header CAs, the API serving certificate, the admin,
// controller and front-proxy client certificates, the admin kubeconfig,
// and the join token, all kept under <data-dir>/server. RotateCA and
// FinishCARotation replace the CAs through a transition in which the old
// ones are still trusted.
//
// Everything is created on first start and reused afterwards; only what is
// stale (changed SANs, near expiry, signed by another CA) is re-issued, so
// agents that pinned the server CA through the token keep trusting the
// server.
// A Renewer re-checks the leaves while the server runs (Bundle.Renew) and
// tells the server which ones to swap in. Due and NextCheck are the pure
// renewal decision.
//
// pki depends on the standard library, client-go's cert and kubeconfig
// helpers and klog only. It must not import other server packages or agent
// packages: the agent reuses ParseToken, and the server wires the rest.
package pki
