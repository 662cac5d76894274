// Command test-image writes the busybox image skiff's tests and examples
// run (built from Debian's busybox-static, no registry needed) as a
// tarball that a skiff agent imports at start from
// <data-dir>/agent/images:
//
//	go run ./hack/test-image /var/lib/skiff/agent/images/busybox.tar
//
// With -conformance it writes, into a directory, stand-ins for the images
// Kubernetes' conformance suite runs (agnhost, pause, busybox, nginx under
// their registry.k8s.io names), made of the same busybox: enough for the
// workload tests (Deployments, ReplicaSets, StatefulSets, Jobs,
// DaemonSets), whose pods sleep, exit, or serve HTTP. hack/conformance
// uses them when it runs the suite with a node:
//
//	go run ./hack/test-image -conformance /var/lib/skiff/agent/images
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/skiff-io/skiff/tests/testimage"
)

// Name is the reference the image is imported under.
const Name = "docker.io/library/busybox:latest"

// sleepForever is a pause container that ends on SIGTERM (a shell as PID 1
// gets the signal only through a trap).
const sleepForever = `trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done`

// agnhost stands in for the e2e suite's swiss-army binary: the subcommands
// the workload tests start (pause, test-webserver, serve-hostname,
// netexec's HTTP side) and a sleep for the rest. $0 is "agnhost", $1 the
// subcommand the pod's args give. Like agnhost's test-webserver it serves
// the root directory, where the StatefulSet tests' readiness probe reads
// /localhost.crt (and moves it away to make a pod unready). serve-hostname
// and netexec's /hostname answer the bare name, with no newline: the
// ReplicaSet and ReplicationController tests compare it byte for byte.
const agnhost = `printf %s "$(hostname)" > /index.html; printf %s "$(hostname)" > /hostname; echo ok > /localhost.crt
port=80
case "$1" in
serve-hostname) port=9376 ;;
netexec) port=8080; for a in "$@"; do case "$a" in --http-port=*) port=${a#*=} ;; esac; done ;;
test-webserver) ;;
*) ` + sleepForever + ` ;;
esac
trap 'exit 0' TERM INT
httpd -f -p "$port" -h / & wait $!`

// nginx serves /www on port 80, as the suite's nginx pods are reached.
const nginx = `mkdir -p /www; echo ok > /www/index.html; trap 'exit 0' TERM INT; httpd -f -p 80 -h /www & wait $!`

// conformanceImages are the references kubernetes v1.37.2's
// test/utils/image gives, with their stand-in entrypoints.
var conformanceImages = []struct {
	file, name string
	entrypoint []string
}{
	{"agnhost.tar", "registry.k8s.io/e2e-test-images/agnhost:2.66.1", []string{"sh", "-c", agnhost, "agnhost"}},
	{"agnhost-prev.tar", "registry.k8s.io/e2e-test-images/agnhost:2.55", []string{"sh", "-c", agnhost, "agnhost"}},
	{"e2e-busybox.tar", "registry.k8s.io/e2e-test-images/busybox:1.37.0-2", nil},
	{"pause.tar", "registry.k8s.io/pause:3.10.2", []string{"sh", "-c", sleepForever}},
	{"nginx.tar", "registry.k8s.io/e2e-test-images/nginx:1.27.0-2", []string{"sh", "-c", nginx}},
	{"nginx-new.tar", "registry.k8s.io/e2e-test-images/nginx:1.28.0-2", []string{"sh", "-c", nginx}},
}

func main() {
	conformance := flag.Bool("conformance", false, "write the conformance suite's stand-in images into the directory given")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: test-image <output.tar> | test-image -conformance <dir>")
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *conformance); err != nil {
		fmt.Fprintln(os.Stderr, "test-image:", err)
		os.Exit(1)
	}
}

func run(out string, conformance bool) error {
	if !conformance {
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		if err := testimage.Build(out, Name); err != nil {
			return err
		}
		fmt.Printf("wrote %s (%s)\n", out, Name)
		return nil
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, img := range conformanceImages {
		path := filepath.Join(out, img.file)
		if err := testimage.Build(path, img.name, img.entrypoint...); err != nil {
			return err
		}
		fmt.Printf("wrote %s (%s)\n", path, img.name)
	}
	return nil
}
