// Package garbagecollector is skiff's garbage collector (kube-controller-
// manager's): it honours metadata.ownerReferences for every served
// resource. Dependents of a deleted owner are deleted (Background), an
// owner deleted in Foreground keeps its foregroundDeletion finalizer until
// its blocking dependents are gone, an owner deleted with Orphan has its
// dependents' references removed before its orphan finalizer, and
// dependents whose owner does not exist with the referenced uid are
// deleted.
//
// The ownership graph is built from metadata-only watches (informers over
// PartialObjectMetadata, of which the graph keeps uid, name, owner
// references, finalizers and deletion state), never from relists per event. Decide is the pure
// decision core; the controller carries its Plan out through the API with
// uid preconditions. An owner referenced but not yet seen is read once
// (GET) before anything is decided about its dependents.
//
// It talks to the server only through its HTTP API (the loopback config),
// and must not import server/apiserver or server/storage.
package garbagecollector
