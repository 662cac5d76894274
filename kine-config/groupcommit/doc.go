// Package groupcommit is kine's server.Backend for the embedded SQLite
// store, with writes committed in groups.
//
// Plain kine runs every write in its own SQLite transaction (one WAL sync
// each) and learns about its own writes by polling the table. Here a
// single connection writes, and one commit runs at a time: writes that
// arrive while a transaction is being committed wait, and are then
// committed together in the next transaction by the writer goroutine,
// each acknowledged only after that commit. A write that finds nothing
// committing and nothing waiting is committed at once on its caller's
// goroutine, which spares two goroutine hand-offs at concurrency 1. Watch
// events are built from the rows as they are inserted and published after
// the commit, in revision order, so nothing polls the table.
//
// The table, its indexes, revisions (the autoincrement id), the
// compare-and-swap rules, compaction and leases are kine's, so a database
// written by plain kine opens here and the other way round. Reads go
// through kine's own code, with its SQL but for range reads: kine's
// sorts the whole range for every page, so paging through n keys costs
// O(n²); this package's reads a page in key order and stops at its
// limit (list.go), with the same answers. The process is assumed to be
// the only writer of the file: rows written by another process reach
// watchers only when they reconnect.
//
// It must not import the API server.
package groupcommit
