package protocol

import (
	"context"
	"time"
)

// Conn is the agent's end of a sync transport. Implementations: HTTP
// (protocol/httpsync); MQTT carries the same messages.
type Conn interface {
	// Desired returns the node's desired document if the server has one
	// newer than since, waiting up to wait for a change; nil and no error
	// when nothing changed. since is the revision the agent has stored:
	// asking with it acknowledges everything up to it.
	Desired(ctx context.Context, since int64, wait time.Duration) (*Desired, error)
	// Report delivers a status batch and returns what the server stored.
	Report(ctx context.Context, b *StatusBatch) (*StatusAck, error)
}

// Hub is the server's end: the node sync hub behind every transport. The
// transport has authenticated node before calling it.
type Hub interface {
	Desired(ctx context.Context, node string, since int64, wait time.Duration) (*Desired, error)
	Report(ctx context.Context, node string, b *StatusBatch) (*StatusAck, error)
}
