package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	containerd "github.com/containerd/containerd"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
)

// SandboxID is the containerd id of a pod's sandbox (pause) container.
func SandboxID(podUID string) string {
	sum := sha256.Sum256([]byte("sandbox/" + podUID))
	return hex.EncodeToString(sum[:])
}

// EnsureSandbox runs the pod's sandbox container from Options.PauseImage,
// in the pod's network namespace, holding the IPC namespace the pod's
// containers join. Without a pause image it does nothing: each container
// then has its own IPC namespace, and the pod shares only its network
// namespace (netnsPath) and hostname.
func (r *Runtime) EnsureSandbox(ctx context.Context, podUID, namespace, name, netnsPath string) error {
	if r.opts.PauseImage == "" {
		return nil
	}
	id := SandboxID(podUID)
	ctr, err := r.client.LoadContainer(ctx, id)
	if errdefs.IsNotFound(err) {
		ref, err := NormalizeImage(r.opts.PauseImage)
		if err != nil {
			return fmt.Errorf("runtime: pause image: %w", err)
		}
		if _, _, err := r.EnsureImage(ctx, ref, corev1.PullIfNotPresent, nil, nil); err != nil {
			return fmt.Errorf("runtime: sandbox of %s/%s: %w", namespace, name, err)
		}
		img, err := r.client.GetImage(ctx, ref)
		if err != nil {
			return fmt.Errorf("runtime: pause image: %w", err)
		}
		opts := []oci.SpecOpts{oci.WithImageConfig(img), oci.WithHostname(name), oci.WithCgroup(cgroupParent(podUID) + "/" + id),
			oci.WithAnnotations(map[string]string{shimGroupAnnotation: shimGroup(podUID)})}
		if netnsPath != "" {
			opts = append(opts, oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: netnsPath}))
		} else {
			opts = append(opts, oci.WithHostNamespace(specs.NetworkNamespace))
		}
		ctr, err = r.client.NewContainer(ctx, id, r.withOCIRuntime(
			containerd.WithImage(img),
			containerd.WithSnapshotter(r.snapshotter()),
			containerd.WithNewSnapshot(id, img),
			containerd.WithNewSpec(opts...),
			containerd.WithContainerLabels(map[string]string{
				labelKind: kindSandbox, labelPodUID: podUID, labelPodNamespace: namespace, labelPodName: name,
			}),
		)...)
		if err != nil && !errdefs.IsAlreadyExists(err) {
			return fmt.Errorf("runtime: create sandbox of %s/%s: %w", namespace, name, err)
		}
		if err != nil {
			if ctr, err = r.client.LoadContainer(ctx, id); err != nil {
				return fmt.Errorf("runtime: sandbox of %s/%s: %w", namespace, name, err)
			}
		}
	} else if err != nil {
		return fmt.Errorf("runtime: sandbox of %s/%s: %w", namespace, name, err)
	}

	task, err := ctr.Task(ctx, nil)
	if err == nil {
		st, err := task.Status(ctx)
		if err == nil && st.Status == containerd.Running {
			return nil
		}
		// A dead sandbox is replaced; its pod's containers must be too,
		// which is the caller's decision.
		if _, err := task.Delete(ctx, containerd.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("runtime: sandbox of %s/%s: %w", namespace, name, err)
		}
	} else if !errdefs.IsNotFound(err) {
		return fmt.Errorf("runtime: sandbox of %s/%s: %w", namespace, name, err)
	}
	task, err = ctr.NewTask(ctx, cio.NullIO)
	if err != nil {
		return fmt.Errorf("runtime: sandbox task of %s/%s: %w", namespace, name, err)
	}
	if err := task.Start(ctx); err != nil {
		task.Delete(ctx, containerd.WithProcessKill)
		return fmt.Errorf("runtime: start sandbox of %s/%s: %w", namespace, name, err)
	}
	return nil
}

// sandboxIPC returns the IPC namespace of the pod's running sandbox, "" when
// pods run without sandboxes.
func (r *Runtime) sandboxIPC(ctx context.Context, podUID string) (string, error) {
	if r.opts.PauseImage == "" {
		return "", nil
	}
	ctr, err := r.client.LoadContainer(ctx, SandboxID(podUID))
	if err != nil {
		return "", fmt.Errorf("runtime: sandbox of pod %s (call EnsureSandbox first): %w", podUID, err)
	}
	task, err := ctr.Task(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("runtime: sandbox of pod %s is not running: %w", podUID, err)
	}
	if st, err := task.Status(ctx); err != nil || st.Status != containerd.Running {
		return "", fmt.Errorf("runtime: sandbox of pod %s is not running (%s), call EnsureSandbox", podUID, st.Status)
	}
	return fmt.Sprintf("/proc/%d/ns/ipc", task.Pid()), nil
}

// ReleaseSandbox stops and deletes the pod's sandbox container, if any,
// for a finished pod whose exited containers stay (for their status and
// logs). The pod's cgroup stays too: each kept container's cgroup lives in
// it until the container's task is deleted, so removing it now would fail
// with EBUSY. RemoveSandbox removes it once the containers are gone.
func (r *Runtime) ReleaseSandbox(ctx context.Context, podUID string) error {
	ctr, err := r.client.LoadContainer(ctx, SandboxID(podUID))
	switch {
	case err == nil:
		return r.removeCtr(ctx, ctr)
	case errdefs.IsNotFound(err):
		return nil
	default:
		return fmt.Errorf("runtime: sandbox of pod %s: %w", podUID, err)
	}
}

// RemoveSandbox is called once a pod's containers are removed: it stops
// and deletes the pod's sandbox container, if any, and removes the pod's
// cgroup (runc removes only each container's own).
func (r *Runtime) RemoveSandbox(ctx context.Context, podUID string) error {
	if err := r.ReleaseSandbox(ctx, podUID); err != nil {
		return err
	}
	return removeCgroup(cgroupParent(podUID))
}

// removeCgroup removes an (empty) cgroup from every hierarchy: each v1
// controller mount and the v2 or hybrid unified one.
func removeCgroup(path string) error {
	const root = "/sys/fs/cgroup"
	dirs := []string{filepath.Join(root, path)}
	if entries, err := os.ReadDir(root); err == nil {
		for _, e := range entries {
			if e.IsDir() {
				dirs = append(dirs, filepath.Join(root, e.Name(), path))
			}
		}
	}
	var errs []error
	for _, d := range dirs {
		if err := unix.Rmdir(d); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENOTDIR) {
			errs = append(errs, fmt.Errorf("runtime: remove cgroup %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}
