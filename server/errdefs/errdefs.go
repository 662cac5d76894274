// Package errdefs holds skiff's error classes. Code everywhere wraps these
// with %w; the API edge maps a class to an HTTP status and a metav1.Status
// reason, and nothing else chooses wire codes.
//
// It must not import anything from skiff.
package errdefs

import "errors"

// Error classes, checked with errors.Is.
var (
	ErrNotFound      = errors.New("not found")
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict: the object changed since the caller read it.
	ErrConflict = errors.New("conflict")
	// ErrGone: the requested revision has been compacted away.
	ErrGone        = errors.New("revision compacted")
	ErrInvalid     = errors.New("invalid")
	ErrUnavailable = errors.New("unavailable")
	ErrTooLarge    = errors.New("too large")
)
