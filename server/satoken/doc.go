// Package satoken issues and checks service account tokens: the signing
// key under <data-dir>/server/tls, JWTs with kube-apiserver's claims for
// the TokenRequest API, and the bearer-token authenticator that accepts
// them while their ServiceAccount (and bound object) still exists.
//
// It reads objects only through the small UIDGetter interface it declares;
// it must not import storage or the agent.
package satoken
