package apiserver

import (
	"testing"

	"github.com/skiff-io/skiff/server/storage"
)

// KineStore is kineStore for the package's external tests (package
// apiserver_test), which use packages that import this one, such as the
// node authorizer.
func KineStore(t testing.TB) *storage.Store { return kineStore(t) }
