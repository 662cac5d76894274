// Command test-image writes the busybox image skiff's tests and examples
// run (built from Debian's busybox-static, no registry needed) as a
// tarball that a skiff agent imports at start from
// <data-dir>/agent/images:
//
//	go run ./hack/test-image /var/lib/skiff/agent/images/busybox.tar
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/skiff-io/skiff/tests/testimage"
)

// Name is the reference the image is imported under.
const Name = "docker.io/library/busybox:latest"

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: test-image <output.tar>")
		os.Exit(2)
	}
	out := os.Args[1]
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "test-image:", err)
		os.Exit(1)
	}
	if err := testimage.Build(out, Name); err != nil {
		fmt.Fprintln(os.Stderr, "test-image:", err)
		os.Exit(1)
	}
	fmt.Printf("wrote %s (%s)\n", out, Name)
}
