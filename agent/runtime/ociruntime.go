package runtime

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	containerd "github.com/containerd/containerd"
	runcoptions "github.com/containerd/containerd/api/types/runc/options"
	"github.com/containerd/containerd/plugin"
	"golang.org/x/sys/unix"
)

// OCI runtimes containerd's runc v2 shim can run containers with: both
// take runc's command line.
const (
	OCIRuntimeRunc = "runc"
	OCIRuntimeCrun = "crun"
)

// ChooseOCIRuntime returns the OCI runtime binary the agent's containers
// run with, and why when it is not the one asked for. An empty name picks
// crun when it is on PATH and can run containers on this host's cgroups
// (it starts a container with a fraction of runc's CPU: runc re-executes
// its Go binary inside every new container, crun is C), and runc
// otherwise. A name given must be on PATH or a path to an executable; crun
// asked for on a host whose cgroups it refuses is an error.
func ChooseOCIRuntime(name string) (chosen, note string, err error) {
	if name == "" {
		if _, err := exec.LookPath(OCIRuntimeCrun); err != nil {
			return OCIRuntimeRunc, "crun is not on PATH", nil
		}
		if problem := crunCgroupProblem("/sys/fs/cgroup"); problem != "" {
			return OCIRuntimeRunc, problem, nil
		}
		return OCIRuntimeCrun, "", nil
	}
	if _, err := exec.LookPath(name); err != nil {
		return "", "", fmt.Errorf("%q is not an executable on PATH or a path to one", name)
	}
	if filepath.Base(name) == OCIRuntimeCrun {
		if problem := crunCgroupProblem("/sys/fs/cgroup"); problem != "" {
			return "", "", fmt.Errorf("%q cannot run containers here: %s; use runc", name, problem)
		}
	}
	return name, "", nil
}

// crunCgroupProblem says why crun cannot put containers in cgroups on this
// host, "" when it can. crun (1.8 and later alike) supports cgroup v2, and
// cgroup v1 with or without the v2 hierarchy mounted at root/unified (the
// "hybrid" layout of systemd hosts) only while that v2 hierarchy has no
// controllers: it would otherwise refuse every container ("cgroups in
// hybrid mode not supported").
func crunCgroupProblem(root string) string {
	if isCgroup2(root) {
		return ""
	}
	unified := filepath.Join(root, "unified")
	if !isCgroup2(unified) {
		return ""
	}
	b, err := os.ReadFile(filepath.Join(unified, "cgroup.controllers"))
	if err != nil {
		return fmt.Sprintf("crun cannot read %s: %v", unified, err)
	}
	if c := strings.TrimSpace(string(b)); c != "" {
		return fmt.Sprintf("crun does not support cgroup v1 beside a v2 hierarchy with controllers (%s at %s)", c, unified)
	}
	return ""
}

func isCgroup2(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// withOCIRuntime adds to a new container's options that the shim runs it
// with r.opts.OCIRuntime. The choice is stored with the container (and by
// the shim in its bundle), so a container keeps the runtime it was created
// with across agent restarts, also when the agent's choice changes. runc,
// the shim's own default, leaves the container's runtime options empty, as
// containers were created before crun was an option.
func (r *Runtime) withOCIRuntime(opts ...containerd.NewContainerOpts) []containerd.NewContainerOpts {
	bin := r.opts.OCIRuntime
	if bin == "" || bin == OCIRuntimeRunc {
		return opts
	}
	return append(opts, containerd.WithRuntime(plugin.RuntimeRuncV2, &runcoptions.Options{BinaryName: bin}))
}
