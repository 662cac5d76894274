package cliconfig

import (
	"flag"
	"fmt"
	"strconv"

	"k8s.io/klog/v2"
)

// DebugVerbosity is the log verbosity --debug sets at least: Kubernetes'
// "debug" level (its logging conventions put extended information about
// changes at 3 and debug-level detail at 4).
const DebugVerbosity = 4

// VerbosityUsage is the help of the -v flag of server and agent.
const VerbosityUsage = "log verbosity, as Kubernetes components' -v: 0 logs what an operator needs, 2 also what controllers, informers and leader election do, 4 debugging detail; --debug sets at least 4"

// SetLogVerbosity sets the verbosity of skiff's logs and those of the
// Kubernetes libraries it runs (klog's -v) to v, or to DebugVerbosity if
// debug asks for more. It returns the verbosity in force.
func SetLogVerbosity(v int, debug bool) (int, error) {
	if v < 0 {
		return 0, fmt.Errorf("-v %d: want 0 or more", v)
	}
	if debug {
		v = max(v, DebugVerbosity)
	}
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	if err := fs.Set("v", strconv.Itoa(v)); err != nil {
		return 0, fmt.Errorf("-v %d: %w", v, err)
	}
	return v, nil
}
