package runtime

import (
	"os"
	"testing"

	"github.com/skiff-io/skiff/tests/testimage"
)

// buildBusyboxImage writes the tests' busybox image (tests/testimage) named
// name, whose entrypoint is entrypoint (none: its cmd is sh).
func buildBusyboxImage(t *testing.T, path, name string, entrypoint ...string) {
	t.Helper()
	if _, err := os.Stat(testimage.Busybox); err != nil {
		t.Skipf("integration test needs Debian's busybox-static at %s: %v", testimage.Busybox, err)
	}
	must(t, testimage.Build(path, name, entrypoint...))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
