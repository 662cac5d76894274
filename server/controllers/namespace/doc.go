// Package namespace is the namespace lifecycle controller (the role of
// kube-controller-manager's namespace controller): when a namespace is
// deleted it deletes every namespaced object of every resource the server
// serves, reports progress in the namespace's status conditions with kube's
// types, reasons and messages, waits for the objects' own finalizers and
// then removes the "kubernetes" finalizer through /finalize so that the API
// removes the namespace.
//
// It talks to the server only through its HTTP API (client-go typed,
// metadata and discovery clients) and keeps no cache of namespace content.
// It must not import storage, the apiserver or the agent.
package namespace
