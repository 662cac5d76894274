// Package tests holds skiff's integration and end-to-end tests. They build
// the real skiff binary, start it on temporary data directories and drive
// it with the real kubectl, client-go and etcd, as users do.
//
// They are skipped under `go test -short`; `.ci/run` runs them all with
// every prerequisite installed, so CI skips none.
package tests
