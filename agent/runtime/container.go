package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	containerd "github.com/containerd/containerd"
	"github.com/containerd/containerd/api/services/tasks/v1"
	tasktypes "github.com/containerd/containerd/api/types/task"
	containerdcio "github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/errdefs"
	corev1 "k8s.io/api/core/v1"
)

// ContainerConfig describes a pod container to create and start.
type ContainerConfig struct {
	PodUID, PodNamespace, PodName, Name string
	Attempt                             int
	// BackoffFrom is kept with the container for agent/plan's crash loop
	// back-off (plan.Container.BackoffFrom).
	BackoffFrom int

	Image                 string
	Command               []string
	Args                  []string
	WorkingDir            string
	Env                   []string // "K=V", already resolved
	Mounts                []Mount
	Hostname              string
	NetNSPath             string // the pod's network namespace; "" with HostNetwork
	HostNetwork           bool
	HostPID               bool
	HostIPC               bool
	Resources             corev1.ResourceRequirements
	SecurityContext       *corev1.SecurityContext
	PodSecurityContext    *corev1.PodSecurityContext
	TTY, Stdin, StdinOnce bool
	// LogPath receives stdout and stderr in the CRI log format, rotated at
	// 10 MiB into LogPath.1 (newest) … LogPath.4. "" discards the output.
	LogPath string
}

// State is a container's lifecycle state.
type State string

// Container states.
const (
	StateCreated State = "Created"
	StateRunning State = "Running"
	StateExited  State = "Exited"
	StateUnknown State = "Unknown"
)

// ContainerStatus is what the runtime knows of a skiff container.
type ContainerStatus struct {
	ID, PodUID, PodNamespace, PodName, Name string
	Attempt                                 int
	BackoffFrom                             int // as created (ContainerConfig)
	Image, ImageID                          string
	State                                   State
	ExitCode                                int
	Reason                                  string // OOMKilled, Error, Completed
	StartedAt, FinishedAt                   time.Time
	LogPath                                 string
}

// Labels on skiff's containerd containers.
const (
	labelKind         = "io.skiff.kind" // "container" or "sandbox"
	labelPodUID       = "io.skiff.pod.uid"
	labelPodNamespace = "io.skiff.pod.namespace"
	labelPodName      = "io.skiff.pod.name"
	labelName         = "io.skiff.container.name"
	labelAttempt      = "io.skiff.container.attempt"
	labelBackoffFrom  = "io.skiff.container.backoff-from"
	labelImage        = "io.skiff.image"
	labelImageID      = "io.skiff.image-id"
	labelLogPath      = "io.skiff.log-path"
	labelTTY          = "io.skiff.tty"
	labelStdin        = "io.skiff.stdin"
	labelStdinOnce    = "io.skiff.stdin-once"
	labelStartedAt    = "io.skiff.started-at"
	labelFinishedAt   = "io.skiff.finished-at"
	labelExitCode     = "io.skiff.exit-code"
	labelOOM          = "io.skiff.oom-killed"
	// labelLost marks a container whose task vanished with its exit
	// status (containerd lost its state: a reboot, or containerd killed
	// with its containers); it is recorded as exit code lostExitCode.
	labelLost = "io.skiff.lost"

	kindContainer = "container"
	kindSandbox   = "sandbox"
)

// Log rotation, the kubelet's defaults.
const (
	logMaxSize  = 10 << 20
	logMaxFiles = 5
)

// ContainerID is the containerd id of a pod container's attempt; it makes
// CreateContainer idempotent.
func ContainerID(podUID, name string, attempt int) string {
	sum := sha256.Sum256([]byte(podUID + "/" + name + "/" + strconv.Itoa(attempt)))
	return hex.EncodeToString(sum[:])
}

// CreateContainer creates and starts a container. The caller has made the
// image present (EnsureImage). Calling it again for the same (PodUID, Name,
// Attempt) returns the same id and starts the container only if it never
// had a task.
func (r *Runtime) CreateContainer(ctx context.Context, c ContainerConfig) (string, error) {
	id := ContainerID(c.PodUID, c.Name, c.Attempt)
	ctr, err := r.client.LoadContainer(ctx, id)
	if err == nil {
		if _, err := ctr.Task(ctx, nil); err == nil {
			return id, nil
		} else if !errdefs.IsNotFound(err) {
			return "", fmt.Errorf("runtime: container %s: %w", c.Name, err)
		}
		return id, r.startTask(ctx, ctr, c)
	}
	if !errdefs.IsNotFound(err) {
		return "", fmt.Errorf("runtime: container %s: %w", c.Name, err)
	}

	name, err := NormalizeImage(c.Image)
	if err != nil {
		return "", fmt.Errorf("runtime: %w", err)
	}
	img, err := r.client.GetImage(ctx, name)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return "", fmt.Errorf("runtime: image %q is not present: %w", c.Image, ErrNotFound)
		}
		return "", fmt.Errorf("runtime: image %q: %w", c.Image, err)
	}
	if err := r.unpack(ctx, img.Metadata()); err != nil {
		return "", fmt.Errorf("runtime: image %q: unpack: %w", c.Image, err)
	}
	ocImg, err := img.Spec(ctx)
	if err != nil {
		return "", fmt.Errorf("runtime: image %q config: %w", c.Image, err)
	}
	ipcPath, err := r.sandboxIPC(ctx, c.PodUID)
	if err != nil {
		return "", err
	}
	specOpts, err := r.specOpts(c, img, ocImg.Config, id, ipcPath)
	if err != nil {
		return "", err
	}
	labels := map[string]string{
		labelKind:         kindContainer,
		labelPodUID:       c.PodUID,
		labelPodNamespace: c.PodNamespace,
		labelPodName:      c.PodName,
		labelName:         c.Name,
		labelAttempt:      strconv.Itoa(c.Attempt),
		labelBackoffFrom:  strconv.Itoa(c.BackoffFrom),
		labelImage:        c.Image,
		labelImageID:      imageID(name, img.Metadata()),
		labelLogPath:      c.LogPath,
		labelTTY:          strconv.FormatBool(c.TTY),
		labelStdin:        strconv.FormatBool(c.Stdin),
		labelStdinOnce:    strconv.FormatBool(c.StdinOnce),
	}
	if ocImg.Config.StopSignal != "" {
		labels[containerd.StopSignalLabel] = ocImg.Config.StopSignal
	}
	ctr, err = r.client.NewContainer(ctx, id, r.withOCIRuntime(
		containerd.WithImage(img),
		containerd.WithSnapshotter(r.snapshotter()),
		containerd.WithNewSnapshot(id, img),
		containerd.WithNewSpec(specOpts...),
		containerd.WithContainerLabels(labels),
	)...)
	if errdefs.IsAlreadyExists(err) { // a concurrent create of the same attempt
		return r.CreateContainer(ctx, c)
	}
	if err != nil {
		return "", fmt.Errorf("runtime: create container %s: %w", c.Name, err)
	}
	if err := r.startTask(ctx, ctr, c); err != nil {
		return id, err
	}
	return id, nil
}

// ioDir holds a container's stdio FIFOs (stdout, stderr, stdin).
func (r *Runtime) ioDir(id string) string { return filepath.Join(r.opts.Dir, "io", id) }

func (r *Runtime) startTask(ctx context.Context, ctr containerd.Container, c ContainerConfig) error {
	if c.LogPath != "" {
		if err := os.MkdirAll(filepath.Dir(c.LogPath), 0o755); err != nil {
			return fmt.Errorf("runtime: log dir: %w", err)
		}
	}
	ci, err := r.openContainerIO(ctr.ID(), c)
	if err != nil {
		return err
	}
	task, err := ctr.NewTask(ctx, func(string) (containerdcio.IO, error) { return &shimIO{cfg: ci.cfg}, nil })
	if err != nil {
		ci.close()
		return fmt.Errorf("runtime: create task for %s: %w", c.Name, err)
	}
	// The shim has opened the FIFOs' write ends: copy from now on.
	r.logs.start(ctr.ID(), c.LogPath, ci)
	// Taken before Start: a quick process may have exited when Start returns.
	startedAt := time.Now()
	if err := task.Start(ctx); err != nil {
		task.Delete(ctx, containerd.WithProcessKill)
		return fmt.Errorf("runtime: start %s: %w", c.Name, err)
	}
	if _, err := ctr.SetLabels(ctx, map[string]string{labelStartedAt: startedAt.UTC().Format(time.RFC3339Nano)}); err != nil {
		return fmt.Errorf("runtime: record start of %s: %w", c.Name, err)
	}
	return nil
}

func (r *Runtime) loadSkiff(ctx context.Context, id string) (containerd.Container, map[string]string, error) {
	ctr, err := r.client.LoadContainer(ctx, id)
	if errdefs.IsNotFound(err) {
		return nil, nil, fmt.Errorf("runtime: container %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("runtime: container %s: %w", id, err)
	}
	// LoadContainer read the record: no second round trip for the labels.
	info, err := ctr.Info(ctx, containerd.WithoutRefreshedMetadata)
	if err != nil {
		return nil, nil, fmt.Errorf("runtime: container %s: %w", id, err)
	}
	labels := info.Labels
	if labels[labelKind] == "" {
		return nil, nil, fmt.Errorf("runtime: container %s is not skiff's: %w", id, ErrNotFound)
	}
	return ctr, labels, nil
}

// StopContainer sends the image's stop signal (SIGTERM by default), then
// SIGKILL after grace, and returns once the container has exited. Stopping
// a container that is not running is no error.
func (r *Runtime) StopContainer(ctx context.Context, id string, grace time.Duration) error {
	ctr, _, err := r.loadSkiff(ctx, id)
	if err != nil {
		return err
	}
	task, err := ctr.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("runtime: stop %s: %w", id, err)
	}
	return stopTask(ctx, ctr, task, grace)
}

func stopTask(ctx context.Context, ctr containerd.Container, task containerd.Task, grace time.Duration) error {
	st, err := task.Status(ctx)
	if err != nil {
		return fmt.Errorf("runtime: stop %s: %w", ctr.ID(), err)
	}
	if st.Status == containerd.Stopped {
		return nil
	}
	exitCh, err := task.Wait(ctx)
	if err != nil {
		return fmt.Errorf("runtime: stop %s: %w", ctr.ID(), err)
	}
	sig, err := containerd.GetStopSignal(ctx, ctr, syscall.SIGTERM)
	if err != nil {
		sig = syscall.SIGTERM
	}
	if grace > 0 {
		if err := task.Kill(ctx, sig); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("runtime: signal %s: %w", ctr.ID(), err)
		}
		timer := time.NewTimer(grace)
		defer timer.Stop()
		select {
		case <-exitCh:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
	}
	if err := task.Kill(ctx, syscall.SIGKILL, containerd.WithKillAll); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("runtime: kill %s: %w", ctr.ID(), err)
	}
	select {
	case <-exitCh:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// RemoveContainer kills the container if it still runs and deletes its
// task, container and snapshot. Removing an absent container is no error.
func (r *Runtime) RemoveContainer(ctx context.Context, id string) error {
	ctr, _, err := r.loadSkiff(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return r.removeCtr(ctx, ctr)
}

func (r *Runtime) removeCtr(ctx context.Context, ctr containerd.Container) error {
	id := ctr.ID()
	task, err := ctr.Task(ctx, nil)
	switch {
	case err == nil:
		if err := stopTask(ctx, ctr, task, 0); err != nil {
			return err
		}
		if _, err := task.Delete(ctx); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("runtime: delete task %s: %w", id, err)
		}
	case !errdefs.IsNotFound(err):
		return fmt.Errorf("runtime: remove %s: %w", id, err)
	}
	if err := ctr.Delete(ctx, containerd.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("runtime: delete container %s: %w", id, err)
	}
	r.logs.stop(id)
	os.RemoveAll(r.ioDir(id))
	return nil
}

// Containers lists every skiff container, found by its labels, so it works
// as well for containers created before the agent restarted.
func (r *Runtime) Containers(ctx context.Context) ([]ContainerStatus, error) {
	ctrs, err := r.client.Containers(ctx, `labels."`+labelKind+`"==`+kindContainer)
	if err != nil {
		return nil, fmt.Errorf("runtime: list containers: %w", err)
	}
	out := make([]ContainerStatus, 0, len(ctrs))
	for _, ctr := range ctrs {
		st, err := r.status(ctx, ctr)
		if errdefs.IsNotFound(err) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// ContainerStatus returns the status of one container.
func (r *Runtime) ContainerStatus(ctx context.Context, id string) (ContainerStatus, error) {
	ctr, _, err := r.loadSkiff(ctx, id)
	if err != nil {
		return ContainerStatus{}, err
	}
	return r.status(ctx, ctr)
}

func (r *Runtime) status(ctx context.Context, ctr containerd.Container) (ContainerStatus, error) {
	info, err := ctr.Info(ctx, containerd.WithoutRefreshedMetadata)
	if err != nil {
		return ContainerStatus{}, err
	}
	l := info.Labels
	st := ContainerStatus{
		ID:           ctr.ID(),
		PodUID:       l[labelPodUID],
		PodNamespace: l[labelPodNamespace],
		PodName:      l[labelPodName],
		Name:         l[labelName],
		Image:        l[labelImage],
		ImageID:      l[labelImageID],
		LogPath:      l[labelLogPath],
		State:        StateCreated,
	}
	st.Attempt, _ = strconv.Atoi(l[labelAttempt])
	// Containers made before the label existed count from 0.
	st.BackoffFrom, _ = strconv.Atoi(l[labelBackoffFrom])
	st.StartedAt, _ = time.Parse(time.RFC3339Nano, l[labelStartedAt])
	ts, err := r.taskState(ctx, ctr.ID())
	if err != nil && !errdefs.IsNotFound(err) {
		return ContainerStatus{}, err
	}
	if err != nil {
		// No task: never started, or its task is gone (a reboot, or a
		// containerd that lost its state). Use what the events recorded.
		if l[labelFinishedAt] != "" {
			st.State = StateExited
			st.FinishedAt, _ = time.Parse(time.RFC3339Nano, l[labelFinishedAt])
			st.ExitCode, _ = strconv.Atoi(l[labelExitCode])
			st.Reason = exitReason(st.ExitCode, l[labelOOM] == "true")
			if l[labelLost] == "true" {
				st.Reason = lostReason
			}
		} else if !st.StartedAt.IsZero() {
			// Started, and gone without a recorded exit: until the event
			// relay records the loss (unrecordedExits), report it as lost.
			st.State = StateUnknown
			st.ExitCode, st.Reason = lostExitCode, lostReason
		}
		return st, nil
	}
	switch ts.Status {
	case containerd.Running, containerd.Paused, containerd.Pausing:
		st.State = StateRunning
	case containerd.Created:
		st.State = StateCreated
	case containerd.Stopped:
		st.State = StateExited
		st.ExitCode = int(ts.ExitStatus)
		st.FinishedAt = ts.ExitTime
		oom := l[labelOOM] == "true" || r.oomKilled(ctx, ctr)
		st.Reason = exitReason(st.ExitCode, oom)
	default:
		st.State = StateUnknown
	}
	return st, nil
}

// taskState asks containerd once for a container's task and its process
// state (the client's Task and then Status would ask twice).
func (r *Runtime) taskState(ctx context.Context, id string) (containerd.Status, error) {
	resp, err := r.client.TaskService().Get(ctx, &tasks.GetRequest{ContainerID: id})
	if err != nil {
		return containerd.Status{}, errdefs.FromGRPC(err)
	}
	p := resp.Process
	if p == nil {
		return containerd.Status{}, fmt.Errorf("runtime: task of %s: %w", id, errdefs.ErrNotFound)
	}
	st := containerd.Status{ExitStatus: p.ExitStatus}
	switch p.Status {
	case tasktypes.Status_CREATED:
		st.Status = containerd.Created
	case tasktypes.Status_RUNNING:
		st.Status = containerd.Running
	case tasktypes.Status_STOPPED:
		st.Status = containerd.Stopped
	case tasktypes.Status_PAUSED:
		st.Status = containerd.Paused
	case tasktypes.Status_PAUSING:
		st.Status = containerd.Pausing
	default:
		st.Status = containerd.Unknown
	}
	if p.ExitedAt != nil {
		st.ExitTime = p.ExitedAt.AsTime()
	}
	return st, nil
}

// A container whose exit status is lost is reported as containerd's CRI
// plugin reports one to the kubelet: exit code 255, reason "Unknown". It
// counts as a failure, so restartPolicy OnFailure starts it again and
// Never leaves the pod Failed, as after a node's reboot in Kubernetes.
const (
	lostExitCode = 255
	lostReason   = "Unknown"
)

func exitReason(code int, oom bool) string {
	switch {
	case oom:
		return "OOMKilled"
	case code == 0:
		return "Completed"
	default:
		return "Error"
	}
}
