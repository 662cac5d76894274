package cliconfig

import (
	"context"
	"time"

	"k8s.io/klog/v2"
)

// ReleaseStartupMemoryAfter waits d (or until ctx ends) and then calls
// ReleaseStartupMemory, logging what it did. Server and agent run it once,
// when their start-up is over.
func ReleaseStartupMemoryAfter(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
		return
	case <-time.After(d):
	}
	advised, err := ReleaseStartupMemory()
	if err != nil {
		klog.InfoS("start-up pages of the binary kept resident", "reason", err)
		return
	}
	klog.V(1).InfoS("start-up pages of the binary handed back", "mappedBytes", advised)
}
