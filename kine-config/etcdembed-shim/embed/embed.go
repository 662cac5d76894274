// Package embed stands in for go.etcd.io/etcd/server/v3/embed in skiff's
// build. kine's gRPC server package needs one thing from etcd's server
// module: the request size limit below. Linking the real package brings in
// all of etcd's server (raft, bbolt, WAL) through its init functions, and
// one of them (golang.org/x/net/trace registering /debug/requests) reaches
// html/template, whose reflective method calls turn off the Go linker's
// dead-method elimination for the whole program. With this stand-in the
// skiff binary is a third smaller and so is the code the server keeps in
// memory.
//
// When kine is upgraded the build fails here if it starts to use more of
// etcd's server; then either add what it needs (with etcd's value) or drop
// the replace directive.
package embed

// DefaultMaxRequestBytes is etcd's default limit on a request's size
// (1.5 MiB); kine sizes its range-stream batches and its gRPC receive limit
// from it.
const DefaultMaxRequestBytes = 1.5 * 1024 * 1024
