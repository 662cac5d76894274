package runtime

import "errors"

// Error classes returned by this package, checked with errors.Is. They match
// the waiting reasons the kubelet reports for a container.
var (
	// ErrImagePull: the image could not be pulled (the message names the
	// image and the cause).
	ErrImagePull = errors.New("ErrImagePull")
	// ErrImageNeverPull: the pull policy is Never and the image is absent.
	ErrImageNeverPull = errors.New("ErrImageNeverPull")
	// ErrNotFound: no skiff container or sandbox has that id.
	ErrNotFound = errors.New("not found")
)
