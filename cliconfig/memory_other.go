//go:build !linux

package cliconfig

import (
	"errors"
	"runtime/debug"
)

// ReleaseStartupMemory returns the heap start-up left free to the OS; the
// binary's pages are only handed back on Linux.
func ReleaseStartupMemory() (int64, error) {
	debug.FreeOSMemory()
	return 0, errors.New("releasing the binary's pages needs Linux")
}
