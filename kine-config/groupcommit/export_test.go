package groupcommit

// SetBeforeCommit makes b call f with the revisions each batch inserted,
// just before committing it. Set it before Start.
func SetBeforeCommit(b *Backend, f func(first, last int64)) { b.beforeCommit = f }

// WALRestartFrames is the WAL length at which the writer lets the WAL
// start again.
const WALRestartFrames = walRestartFrames

// Queued is how many writes wait for the writer goroutine.
func Queued(b *Backend) int32 { return b.queued.Load() }
