package printers

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Container states, for brevity.
var (
	running = corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}

	waiting = func(reason string) corev1.ContainerState {
		return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}
	}
	terminated = func(code, signal int32, reason string) corev1.ContainerState {
		return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Signal: signal, Reason: reason}}
	}
	lastTerminated = func(d time.Duration) corev1.ContainerState {
		return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, FinishedAt: ago(d)}}
	}
)

func containers(names ...string) []corev1.Container {
	out := make([]corev1.Container, len(names))
	for i, n := range names {
		out[i] = corev1.Container{Name: n}
	}
	return out
}

func sidecar(name string) corev1.Container {
	return corev1.Container{Name: name, RestartPolicy: ptr(corev1.ContainerRestartPolicyAlways)}
}

func TestPodReadyStatusRestarts(t *testing.T) {
	deleting := ptr(ago(time.Minute))
	tests := []struct {
		name string
		pod  corev1.Pod
		// READY, STATUS, RESTARTS
		ready, status, restarts string
	}{
		{
			name:  "new pod",
			pod:   corev1.Pod{Spec: corev1.PodSpec{Containers: containers("a")}},
			ready: "0/1", status: "Pending", restarts: "0",
		},
		{
			name: "scheduling gated",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: containers("a")},
				Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{
					{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonSchedulingGated},
				}},
			},
			ready: "0/1", status: "SchedulingGated", restarts: "0",
		},
		{
			name: "running and ready",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: containers("a", "b")},
				Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
					{Name: "a", Ready: true, State: running},
					{Name: "b", Ready: true, State: running},
				}},
			},
			ready: "2/2", status: "Running", restarts: "0",
		},
		{
			name: "waiting for image",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: containers("a")},
				Status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{
					{Name: "a", State: waiting("ContainerCreating")},
				}},
			},
			ready: "0/1", status: "ContainerCreating", restarts: "0",
		},
		{
			name: "crash loop, restarts with last time",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: containers("a")},
				Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
					{Name: "a", RestartCount: 3, State: waiting("CrashLoopBackOff"), LastTerminationState: lastTerminated(5 * time.Minute)},
				}},
			},
			ready: "0/1", status: "CrashLoopBackOff", restarts: "3 (5m ago)",
		},
		{
			name: "restarts summed, latest termination shown",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: containers("a", "b")},
				Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
					{Name: "a", Ready: true, RestartCount: 2, State: running, LastTerminationState: lastTerminated(2 * time.Hour)},
					{Name: "b", Ready: true, RestartCount: 1, State: running, LastTerminationState: lastTerminated(90 * time.Second)},
				}},
			},
			ready: "2/2", status: "Running", restarts: "3 (90s ago)",
		},
		{
			name: "restarts without a termination time",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: containers("a")},
				Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
					{Name: "a", Ready: true, RestartCount: 4, State: running},
				}},
			},
			ready: "1/1", status: "Running", restarts: "4",
		},
		{
			name: "first container's reason wins",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: containers("a", "b")},
				Status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{
					{Name: "a", State: waiting("ErrImagePull")},
					{Name: "b", State: waiting("ImagePullBackOff")},
				}},
			},
			ready: "0/2", status: "ErrImagePull", restarts: "0",
		},
		{
			name: "completed",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: containers("a")},
				Status: corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{
					{Name: "a", State: terminated(0, 0, "Completed")},
				}},
			},
			ready: "0/1", status: "Completed", restarts: "0",
		},
		{
			name: "error, OOMKilled",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: containers("a", "b")},
				Status: corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{
					{Name: "a", State: terminated(137, 0, "OOMKilled")},
					{Name: "b", State: terminated(1, 0, "Error")},
				}},
			},
			ready: "0/2", status: "OOMKilled", restarts: "0",
		},
		{
			name: "terminated without reason: signal",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: containers("a")},
				Status: corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{
					{Name: "a", State: terminated(137, 9, "")},
				}},
			},
			ready: "0/1", status: "Signal:9", restarts: "0",
		},
		{
			name: "terminated without reason: exit code",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: containers("a")},
				Status: corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{
					{Name: "a", State: terminated(2, 0, "")},
				}},
			},
			ready: "0/1", status: "ExitCode:2", restarts: "0",
		},
		{
			name: "one completed, one still running and pod ready",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: containers("a", "b")},
				Status: corev1.PodStatus{
					Phase:      corev1.PodRunning,
					Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
					ContainerStatuses: []corev1.ContainerStatus{
						{Name: "a", State: terminated(0, 0, "Completed")},
						{Name: "b", Ready: true, State: running},
					},
				},
			},
			ready: "1/2", status: "Running", restarts: "0",
		},
		{
			name: "one completed, one still running, pod not ready",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: containers("a", "b")},
				Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
					{Name: "a", State: terminated(0, 0, "Completed")},
					{Name: "b", Ready: true, State: running},
				}},
			},
			ready: "1/2", status: "NotReady", restarts: "0",
		},
		{
			name: "evicted",
			pod: corev1.Pod{
				Spec:   corev1.PodSpec{Containers: containers("a")},
				Status: corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted"},
			},
			ready: "0/1", status: "Evicted", restarts: "0",
		},
		{
			name: "init: waiting for the second of three",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{InitContainers: containers("i1", "i2", "i3"), Containers: containers("a")},
				Status: corev1.PodStatus{
					Phase: corev1.PodPending,
					InitContainerStatuses: []corev1.ContainerStatus{
						{Name: "i1", State: terminated(0, 0, "Completed")},
						{Name: "i2", State: running},
						{Name: "i3", State: waiting("PodInitializing")},
					},
					ContainerStatuses: []corev1.ContainerStatus{{Name: "a", State: waiting("PodInitializing")}},
				},
			},
			ready: "0/1", status: "Init:1/3", restarts: "0",
		},
		{
			name: "init: PodInitializing is not a reason",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{InitContainers: containers("i1"), Containers: containers("a")},
				Status: corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{
					{Name: "i1", State: waiting("PodInitializing")},
				}},
			},
			ready: "0/1", status: "Init:0/1", restarts: "0",
		},
		{
			name: "init: crash loop counts init restarts",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{InitContainers: containers("i1"), Containers: containers("a")},
				Status: corev1.PodStatus{
					Phase: corev1.PodPending,
					InitContainerStatuses: []corev1.ContainerStatus{
						{Name: "i1", RestartCount: 5, State: waiting("CrashLoopBackOff"), LastTerminationState: lastTerminated(30 * time.Second)},
					},
					ContainerStatuses: []corev1.ContainerStatus{{Name: "a", State: waiting("PodInitializing")}},
				},
			},
			ready: "0/1", status: "Init:CrashLoopBackOff", restarts: "5 (30s ago)",
		},
		{
			name: "init: failed with reason",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{InitContainers: containers("i1"), Containers: containers("a")},
				Status: corev1.PodStatus{Phase: corev1.PodFailed, InitContainerStatuses: []corev1.ContainerStatus{
					{Name: "i1", State: terminated(1, 0, "Error")},
				}},
			},
			ready: "0/1", status: "Init:Error", restarts: "0",
		},
		{
			name: "init: failed by signal",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{InitContainers: containers("i1"), Containers: containers("a")},
				Status: corev1.PodStatus{Phase: corev1.PodFailed, InitContainerStatuses: []corev1.ContainerStatus{
					{Name: "i1", State: terminated(143, 15, "")},
				}},
			},
			ready: "0/1", status: "Init:Signal:15", restarts: "0",
		},
		{
			name: "init: failed with exit code",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{InitContainers: containers("i1"), Containers: containers("a")},
				Status: corev1.PodStatus{Phase: corev1.PodFailed, InitContainerStatuses: []corev1.ContainerStatus{
					{Name: "i1", State: terminated(3, 0, "")},
				}},
			},
			ready: "0/1", status: "Init:ExitCode:3", restarts: "0",
		},
		{
			name: "init done: main containers decide, init restarts forgotten",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{InitContainers: containers("i1"), Containers: containers("a")},
				Status: corev1.PodStatus{
					Phase: corev1.PodRunning,
					InitContainerStatuses: []corev1.ContainerStatus{
						{Name: "i1", RestartCount: 2, State: terminated(0, 0, "Completed"), LastTerminationState: lastTerminated(time.Hour)},
					},
					ContainerStatuses: []corev1.ContainerStatus{{Name: "a", Ready: true, State: running}},
				},
			},
			ready: "1/1", status: "Running", restarts: "0",
		},
		{
			name: "sidecar counts towards ready and restarts",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{
					InitContainers: []corev1.Container{{Name: "i1"}, sidecar("proxy")},
					Containers:     containers("a"),
				},
				Status: corev1.PodStatus{
					Phase:      corev1.PodRunning,
					Conditions: []corev1.PodCondition{{Type: corev1.PodInitialized, Status: corev1.ConditionTrue}},
					InitContainerStatuses: []corev1.ContainerStatus{
						{Name: "i1", RestartCount: 7, State: terminated(0, 0, "Completed"), LastTerminationState: lastTerminated(time.Hour)},
						{Name: "proxy", Ready: true, Started: ptr(true), RestartCount: 1, State: running, LastTerminationState: lastTerminated(2 * time.Minute)},
					},
					ContainerStatuses: []corev1.ContainerStatus{{Name: "a", Ready: true, State: running}},
				},
			},
			ready: "2/2", status: "Running", restarts: "1 (2m ago)",
		},
		{
			name: "sidecar not started yet blocks",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{InitContainers: []corev1.Container{sidecar("proxy"), {Name: "i2"}}, Containers: containers("a")},
				Status: corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{
					{Name: "proxy", Started: ptr(false), State: running},
					{Name: "i2", State: waiting("PodInitializing")},
				}},
			},
			ready: "0/2", status: "Init:0/2", restarts: "0",
		},
		{
			name: "terminating",
			pod: corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: deleting},
				Spec:       corev1.PodSpec{Containers: containers("a")},
				Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
					{Name: "a", Ready: true, State: running},
				}},
			},
			ready: "1/1", status: "Terminating", restarts: "0",
		},
		{
			name: "deleting a finished pod keeps its status",
			pod: corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: deleting},
				Spec:       corev1.PodSpec{Containers: containers("a")},
				Status: corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{
					{Name: "a", State: terminated(0, 0, "Completed")},
				}},
			},
			ready: "0/1", status: "Completed", restarts: "0",
		},
		{
			name: "node lost",
			pod: corev1.Pod{
				Spec:   corev1.PodSpec{Containers: containers("a")},
				Status: corev1.PodStatus{Phase: corev1.PodRunning, Reason: "NodeLost"},
			},
			ready: "0/1", status: "NodeLost", restarts: "0",
		},
		{
			name: "node lost and being deleted",
			pod: corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: deleting},
				Spec:       corev1.PodSpec{Containers: containers("a")},
				Status:     corev1.PodStatus{Phase: corev1.PodRunning, Reason: "NodeLost"},
			},
			ready: "0/1", status: "Unknown", restarts: "0",
		},
	}
	p, _ := For(schema.GroupKind{Kind: "Pod"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			row := p.Row(&tt.pod, now)
			got := []interface{}{row[1], row[2], row[3]}
			want := []interface{}{tt.ready, tt.status, tt.restarts}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("READY, STATUS, RESTARTS (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPodWideCells(t *testing.T) {
	tests := []struct {
		name string
		pod  corev1.Pod
		want []interface{} // IP, NODE, NOMINATED NODE, READINESS GATES
	}{
		{"none", corev1.Pod{}, []interface{}{"<none>", "<none>", "<none>", "<none>"}},
		{
			"podIP only, as an older writer leaves it",
			corev1.Pod{Status: corev1.PodStatus{PodIP: "10.0.0.1", NominatedNodeName: "node-b"}},
			[]interface{}{"10.0.0.1", "<none>", "node-b", "<none>"},
		},
		{
			"gates without conditions",
			corev1.Pod{Spec: corev1.PodSpec{NodeName: "n", ReadinessGates: []corev1.PodReadinessGate{{ConditionType: "x"}}}},
			[]interface{}{"<none>", "n", "<none>", "0/1"},
		},
	}
	p, _ := For(schema.GroupKind{Kind: "Pod"})
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, p.Row(&tt.pod, now)[5:]); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}
