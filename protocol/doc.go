// Package protocol holds the sync messages that skiff servers and agents
// exchange, whatever carries them (HTTP today, MQTT next): the per-node
// desired-state document, status batches and their acknowledgements, the
// join exchange, and the join token's format.
//
// The messages are versioned JSON (APIVersion "sync.skiff.io/v1"). Both
// roles import this package; it must import neither server/ nor agent/,
// and does no I/O: transports live in subpackages.
package protocol
