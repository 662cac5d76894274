package app

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/skiff-io/skiff/agent/runtime"
)

// Config is the whole agent configuration, built from flags, SKIFF_*
// environment variables and the config file by agent/cmd, or by `skiff
// server` for its local agent.
type Config struct {
	Version  string
	Server   string // https://host:6443
	Token    string
	DataDir  string // the agent keeps its state in DataDir/agent
	NodeName string
	NodeIP   string
	Labels   map[string]string
	Taints   []corev1.Taint
	Edge     bool
	Runtime  string // containerd socket; "" starts containerd
	Pause    string // pause image; "" runs pods without a sandbox container
	// OCIRuntime is the OCI runtime new containers run with (crun, runc
	// or a path to one); "" picks crun when it is on PATH and can run on
	// the host's cgroups, else runc (runtime.ChooseOCIRuntime).
	OCIRuntime string
	ResolvConf string
	Registries string // registries.yaml
	// ControlPlane marks the node of a server's local agent.
	ControlPlane bool
	// PollWait is how long a desired-state poll waits for a change: the
	// longest an idle node stays silent.
	PollWait time.Duration
	// EvictionHard are the thresholds under which the node reports
	// memory, disk or PID pressure (ParseEvictionHard).
	EvictionHard []Threshold
	Debug        bool
	// PprofAddress, when set, is a loopback host:port where the agent
	// serves Go's /debug/pprof (profiling a node's pod starts); "" is off.
	PprofAddress string
}

// Dir is where the agent keeps its own state.
func (c Config) Dir() string { return filepath.Join(c.DataDir, "agent") }

// ParseLabels reads --node-label values (key=value).
func ParseLabels(in []string) (map[string]string, error) {
	out := map[string]string{}
	for _, l := range in {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			return nil, fmt.Errorf("--node-label %q: want key=value", l)
		}
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return nil, fmt.Errorf("--node-label %q: key %s", l, strings.Join(errs, "; "))
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			return nil, fmt.Errorf("--node-label %q: value %s", l, strings.Join(errs, "; "))
		}
		out[k] = v
	}
	return out, nil
}

// ParseTaints reads --node-taint values (key=value:Effect or key:Effect).
func ParseTaints(in []string) ([]corev1.Taint, error) {
	var out []corev1.Taint
	for _, t := range in {
		kv, effect, ok := strings.Cut(t, ":")
		if !ok {
			return nil, fmt.Errorf("--node-taint %q: want key=value:Effect", t)
		}
		k, v, _ := strings.Cut(kv, "=")
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return nil, fmt.Errorf("--node-taint %q: key %s", t, strings.Join(errs, "; "))
		}
		if v != "" {
			if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
				return nil, fmt.Errorf("--node-taint %q: value %s", t, strings.Join(errs, "; "))
			}
		}
		switch e := corev1.TaintEffect(effect); e {
		case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
			out = append(out, corev1.Taint{Key: k, Value: v, Effect: e})
		default:
			return nil, fmt.Errorf("--node-taint %q: effect %q is not NoSchedule, PreferNoSchedule or NoExecute", t, effect)
		}
	}
	return out, nil
}

// DefaultNodeName is the host name, lower-cased as node names must be.
func DefaultNodeName() string {
	h, _ := os.Hostname()
	return strings.ToLower(h)
}

// Check refuses settings that could never work, before anything starts:
// one line naming the flag.
func (c Config) Check() error {
	if c.NodeIP != "" && net.ParseIP(c.NodeIP) == nil {
		return fmt.Errorf("--node-ip %q is not an IP address", c.NodeIP)
	}
	if c.Pause != "" {
		if _, err := runtime.NormalizeImage(c.Pause); err != nil {
			return fmt.Errorf("--pause-image %q: %v", c.Pause, err)
		}
	}
	if _, _, err := runtime.ChooseOCIRuntime(c.OCIRuntime); err != nil {
		return fmt.Errorf("--default-runtime: %w", err)
	}
	if err := runtime.CheckRegistriesFile(c.Registries); err != nil {
		return fmt.Errorf("--private-registry: %w", err)
	}
	if c.PprofAddress != "" {
		if err := checkLoopback(c.PprofAddress); err != nil {
			return fmt.Errorf("--pprof-address %q: %w", c.PprofAddress, err)
		}
	}
	return nil
}

// checkLoopback accepts host:port with a loopback IP address: the
// profiling endpoint has no authentication, so only the node itself may
// reach it.
func checkLoopback(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("want a loopback address such as 127.0.0.1:%s (it serves without authentication)", port)
	}
	return nil
}
