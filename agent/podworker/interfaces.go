package podworker

import (
	"context"
	"time"

	"github.com/skiff-io/skiff/agent/network"
	"github.com/skiff-io/skiff/agent/podspec"
	"github.com/skiff-io/skiff/agent/runtime"
	"github.com/skiff-io/skiff/agent/volumes"
	"github.com/skiff-io/skiff/protocol"
	corev1 "k8s.io/api/core/v1"
)

// Runtime is the container runtime as the pod worker uses it.
type Runtime interface {
	EnsureImage(ctx context.Context, ref string, policy corev1.PullPolicy, pullSecrets []corev1.Secret, onPull func()) (id string, pulled bool, err error)
	EnsureSandbox(ctx context.Context, podUID, namespace, name, netnsPath string) error
	ReleaseSandbox(ctx context.Context, podUID string) error
	RemoveSandbox(ctx context.Context, podUID string) error
	CreateContainer(ctx context.Context, c runtime.ContainerConfig) (string, error)
	StopContainer(ctx context.Context, id string, grace time.Duration) error
	RemoveContainer(ctx context.Context, id string) error
	Containers(ctx context.Context) ([]runtime.ContainerStatus, error)
	ContainerStatus(ctx context.Context, id string) (runtime.ContainerStatus, error)
	Events(ctx context.Context) <-chan runtime.ContainerEvent
	Exec(ctx context.Context, id string, cmd []string, s runtime.Streams) (int, error)
	Attach(ctx context.Context, id string, s runtime.Streams) error
}

// Network wires pods into the node's pod network.
type Network interface {
	CreateNetNS(podUID string) (string, error)
	DeleteNetNS(podUID string) error
	NetNSPath(podUID string) string
	Setup(ctx context.Context, podUID, netnsPath string, hostPorts []network.HostPort) (network.PodIP, error)
	Teardown(ctx context.Context, podUID, netnsPath string) error
	GC(ctx context.Context, live map[string]bool) error
}

// Volumes materializes pod volumes and pod files.
type Volumes interface {
	Setup(ctx context.Context, pod *corev1.Pod, src podspec.Sources, tokens volumes.TokenSource, node podspec.NodeInfo) (*volumes.PodVolumes, error)
	TerminationMessage(podUID, container string) string
	Teardown(podUID string) error
}

// Outbox queues status for the server (latest wins per key).
type Outbox interface {
	Put(ctx context.Context, key string, it protocol.StatusItem) error
}

// Reports is the node's record of the pod status it queued last, kept
// after the server has it (the server does not send it back): the store.
type Reports interface {
	Reported(ctx context.Context, uid string) (*corev1.PodStatus, error)
	PruneReported(ctx context.Context, keep map[string]bool) error
}
