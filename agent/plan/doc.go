// Package plan decides what the agent does next for one pod: which
// container to start, stop or remove, when to try again, and what the
// pod's status is. It is pure — no goroutines, clock or I/O: callers pass
// the time and what they observed and carry out the actions it returns.
//
// It must not import server/ or any package that does I/O.
package plan
