package runtime

import (
	"context"
	"fmt"
	"strings"

	containerd "github.com/containerd/containerd"
	"github.com/containerd/containerd/containers"
	"github.com/containerd/containerd/oci"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	corev1 "k8s.io/api/core/v1"
)

// Mount is a bind mount of a host path into a container.
type Mount struct {
	HostPath, ContainerPath string
	ReadOnly                bool
	// Propagation is "" (private), "HostToContainer" or "Bidirectional".
	Propagation string
}

// cgroupParent is the per-pod cgroup the pod's containers are created in.
func cgroupParent(podUID string) string {
	return "/skiff/pod" + podUID
}

// shimGroupAnnotation makes containerd's runc v2 shim host every container
// whose OCI spec carries the same value: the first such container starts
// the shim, later ones join it (containerd's CRI plugin groups a pod's
// containers the same way, by sandbox id).
const shimGroupAnnotation = "io.containerd.runc.v2.group"

// shimGroup is the shim a pod's containers (and its sandbox) share: one shim
// per pod. See docs/agent.md for why not one per node.
func shimGroup(podUID string) string {
	return "skiff-pod-" + podUID
}

// processArgs applies the Kubernetes rules for command and args over the
// image's entrypoint and cmd.
func processArgs(c ContainerConfig, ic ocispec.ImageConfig) []string {
	switch {
	case len(c.Command) > 0:
		return append(append([]string{}, c.Command...), c.Args...)
	case len(c.Args) > 0:
		return append(append([]string{}, ic.Entrypoint...), c.Args...)
	default:
		return append(append([]string{}, ic.Entrypoint...), ic.Cmd...)
	}
}

// specOpts builds the OCI spec of a pod container. ipcPath is the sandbox's
// IPC namespace to join, "" for none.
func (r *Runtime) specOpts(c ContainerConfig, img containerd.Image, ic ocispec.ImageConfig, id, ipcPath string) ([]oci.SpecOpts, error) {
	opts := []oci.SpecOpts{
		oci.WithImageConfig(img),
		oci.WithProcessArgs(processArgs(c, ic)...),
	}
	if len(processArgs(c, ic)) == 0 {
		return nil, fmt.Errorf("runtime: container %q has no command and its image no entrypoint", c.Name)
	}
	if len(c.Env) > 0 {
		opts = append(opts, oci.WithEnv(c.Env))
	}
	if c.WorkingDir != "" {
		opts = append(opts, oci.WithProcessCwd(c.WorkingDir))
	}
	if c.TTY {
		opts = append(opts, oci.WithTTY)
	}

	// Namespaces: network, and UTS with it, from the pod; IPC from the
	// sandbox when there is one; PID private unless hostPID.
	switch {
	case c.HostNetwork:
		// The host's hostname comes with its UTS namespace; runc refuses
		// to set one in a namespace it does not own.
		opts = append(opts, oci.WithHostNamespace(specs.NetworkNamespace), oci.WithHostNamespace(specs.UTSNamespace))
	default:
		if c.NetNSPath != "" {
			opts = append(opts, oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: c.NetNSPath}))
		}
		if c.Hostname != "" {
			opts = append(opts, oci.WithHostname(c.Hostname))
		}
	}
	switch {
	case c.HostIPC:
		opts = append(opts, oci.WithHostNamespace(specs.IPCNamespace))
	case ipcPath != "":
		opts = append(opts, oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.IPCNamespace, Path: ipcPath}))
	}
	if c.HostPID {
		opts = append(opts, oci.WithHostNamespace(specs.PIDNamespace))
	}

	mounts, rootPropagation := bindMounts(c.Mounts)
	opts = append(opts, oci.WithMounts(mounts))
	if rootPropagation != "" {
		opts = append(opts, func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
			s.Linux.RootfsPropagation = rootPropagation
			return nil
		})
	}

	opts = append(opts, oci.WithCgroup(cgroupParent(c.PodUID)+"/"+id))
	opts = append(opts, oci.WithAnnotations(map[string]string{shimGroupAnnotation: shimGroup(c.PodUID)}))
	opts = append(opts, resourceOpts(c.Resources)...)
	sec, err := securityOpts(c.SecurityContext, c.PodSecurityContext)
	if err != nil {
		return nil, err
	}
	opts = append(opts, sec...)
	return opts, nil
}

func bindMounts(ms []Mount) (mounts []specs.Mount, rootPropagation string) {
	for _, m := range ms {
		o := []string{"rbind"}
		if m.ReadOnly {
			o = append(o, "ro")
		} else {
			o = append(o, "rw")
		}
		switch m.Propagation {
		case "Bidirectional":
			o = append(o, "rshared")
			rootPropagation = "rshared"
		case "HostToContainer":
			o = append(o, "rslave")
			if rootPropagation == "" {
				rootPropagation = "rslave"
			}
		default:
			o = append(o, "rprivate")
		}
		mounts = append(mounts, specs.Mount{Destination: m.ContainerPath, Type: "bind", Source: m.HostPath, Options: o})
	}
	return mounts, rootPropagation
}

const cpuPeriod = 100000 // µs, the CFS default the kubelet uses

// resourceOpts maps requests to cpu shares and limits to cpu quota and a
// memory limit.
func resourceOpts(res corev1.ResourceRequirements) []oci.SpecOpts {
	var opts []oci.SpecOpts
	cpuReq, hasReq := res.Requests[corev1.ResourceCPU]
	cpuLim, hasLim := res.Limits[corev1.ResourceCPU]
	if !hasReq && hasLim {
		cpuReq, hasReq = cpuLim, true // requests default to limits
	}
	shares := uint64(2) // the kubelet's minimum, for pods without requests
	if hasReq {
		shares = max(uint64(cpuReq.MilliValue())*1024/1000, 2)
	}
	opts = append(opts, oci.WithCPUShares(shares))
	if hasLim && cpuLim.MilliValue() > 0 {
		quota := max(cpuLim.MilliValue()*cpuPeriod/1000, 1000)
		opts = append(opts, oci.WithCPUCFS(quota, cpuPeriod))
	}
	if mem, ok := res.Limits[corev1.ResourceMemory]; ok && mem.Value() > 0 {
		opts = append(opts, oci.WithMemoryLimit(uint64(mem.Value())))
	}
	return opts
}

func capName(c corev1.Capability) string {
	s := strings.ToUpper(string(c))
	if !strings.HasPrefix(s, "CAP_") {
		s = "CAP_" + s
	}
	return s
}

// securityOpts applies the container's security context over the pod's.
// Capabilities start from containerd's default set, the one its CRI plugin
// gives Kubernetes containers.
func securityOpts(sc *corev1.SecurityContext, psc *corev1.PodSecurityContext) ([]oci.SpecOpts, error) {
	var opts []oci.SpecOpts
	var uid, gid *int64
	var groups []int64
	if psc != nil {
		uid, gid = psc.RunAsUser, psc.RunAsGroup
		groups = append(groups, psc.SupplementalGroups...)
		if psc.FSGroup != nil {
			groups = append(groups, *psc.FSGroup)
		}
	}
	if sc != nil {
		if sc.RunAsUser != nil {
			uid = sc.RunAsUser
		}
		if sc.RunAsGroup != nil {
			gid = sc.RunAsGroup
		}
	}
	if uid != nil {
		// Looks the primary group up in the image's /etc/passwd.
		opts = append(opts, oci.WithUserID(uint32(*uid)))
	}
	if gid != nil || len(groups) > 0 {
		g, extra := gid, groups
		opts = append(opts, func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
			prev := s.Process.User.GID
			if g != nil {
				s.Process.User.GID = uint32(*g)
			}
			// The primary group first, then the image's groups for the user
			// (without the primary group runAsGroup replaced), then the pod's.
			seen := map[uint32]bool{}
			if g != nil && prev != uint32(*g) {
				seen[prev] = true
			}
			var add []uint32
			for _, x := range append([]uint32{s.Process.User.GID}, s.Process.User.AdditionalGids...) {
				if !seen[x] {
					seen[x] = true
					add = append(add, x)
				}
			}
			for _, x := range extra {
				if !seen[uint32(x)] {
					seen[uint32(x)] = true
					add = append(add, uint32(x))
				}
			}
			s.Process.User.AdditionalGids = add
			return nil
		})
	}
	if sc == nil {
		return opts, nil
	}
	if sc.Privileged != nil && *sc.Privileged {
		opts = append(opts, oci.WithPrivileged, oci.WithAllDevicesAllowed, oci.WithHostDevices)
	} else if sc.Capabilities != nil {
		var add, drop []string
		dropAll, addAll := false, false
		for _, c := range sc.Capabilities.Drop {
			if strings.EqualFold(string(c), "ALL") {
				dropAll = true
				continue
			}
			drop = append(drop, capName(c))
		}
		for _, c := range sc.Capabilities.Add {
			if strings.EqualFold(string(c), "ALL") {
				addAll = true
				continue
			}
			add = append(add, capName(c))
		}
		if dropAll {
			opts = append(opts, oci.WithCapabilities(nil))
		}
		if addAll {
			opts = append(opts, oci.WithAllKnownCapabilities)
		}
		opts = append(opts, oci.WithAddedCapabilities(add), oci.WithDroppedCapabilities(drop))
	}
	if sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem {
		opts = append(opts, oci.WithRootFSReadonly())
	}
	if sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
		opts = append(opts, oci.WithNoNewPrivileges)
	}
	return opts, nil
}
