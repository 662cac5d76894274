// Package history keeps the ControllerRevisions of DaemonSets and
// StatefulSets, as Kubernetes' controller history does, so that
// `kubectl rollout history` and `kubectl rollout undo` work on them.
//
// A revision's data is a strategic merge patch that replaces the owner's
// spec.template; it is named "<owner>-<hash>" with the hash of that data
// (and of the owner's collisionCount), labelled with the owner's template
// labels plus controller-revision-hash, and controlled by its owner so the
// garbage collector removes it with the owner. Re-applying an older
// template (an undo) reuses that template's revision and moves it to the
// newest revision number.
//
// The decisions (hashing, equality, numbering, which revisions history
// cleanup deletes) are pure functions; Client applies them through the
// server's HTTP API (server/kubeclient). It must not import storage, the
// apiserver or anything under agent/.
package history
