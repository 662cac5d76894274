// Package store is the agent's local state in one SQLite file
// (<data-dir>/agent/state.db): the desired document as the server last
// sent it, the status outbox, and the status last reported for each pod
// (the server does not send a node its own reports back). It is what lets a node run its pods
// after a reboot with no network, and lose no status while it is away.
//
// Writes happen only when something changes, so an idle node does not
// wear its SD card. It must not import server/.
package store
