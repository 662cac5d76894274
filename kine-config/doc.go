// Package kineconfig turns skiff's datastore settings (--data-dir,
// --datastore-endpoint and the datastore TLS files) into a running etcd v3
// endpoint: kine embedded in the server on a unix socket, backed by SQLite by
// default or by another kine backend (PostgreSQL, MySQL), or an external etcd
// cluster that skiff talks to directly.
//
// It owns the embedded kine's lifetime and its tuning (compaction, polling,
// SQLite pragmas chosen for SD cards), and selects the group-commit SQLite
// backend (package groupcommit) for the embedded store. It must not import
// the API server.
package kineconfig
