// Package storage is skiff's typed view of the etcd v3 API: keys under
// /registry holding JSON objects, revisions as resource versions, and
// compare-and-swap on the mod revision for every write.
//
// Only the shapes of transaction that kine supports are used (create if
// absent, update or delete if unchanged), so the same code runs on embedded
// kine and on an external etcd cluster. Errors are classified with errdefs.
// It must not import the API server or know about HTTP.
package storage
