package tests

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
)

// TestAgentRefusesHostPortConflicts: as the kubelet's admission does, the
// agent refuses a pod the node has no room for (OutOfcpu), and a pod
// whose host port another pod on the node holds (also
// a hostNetwork pod's container port): the pod is Failed with the
// kubelet's reason and message, and nothing of it runs, so that its
// controller replaces it. A port of another protocol is free, and once
// the holder is deleted a new pod gets the port.
func TestAgentRefusesHostPortConflicts(t *testing.T) {
	needAgent(t)
	s := startServer(t, withAgent())
	node := localNode(t)
	waitNodeReady(t, s, node, 60*time.Second)
	waitDefaultServiceAccount(t, s.client())
	// nodeName is set, as the conformance test sets it: the scheduler,
	// which would keep the pods apart, is not asked.
	portPod := func(name, port string) string {
		return `apiVersion: v1
kind: Pod
metadata: {name: ` + name + `}
spec:
  nodeName: ` + node + `
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: ` + TestImage + `
    imagePullPolicy: Never
    command: ["sh", "-c", "echo ` + name + ` > /tmp/index.html; httpd -f -p 8080 -h /tmp"]
    ports: [` + port + `]
`
	}
	// A request above the node's allocatable cpu: refused before anything
	// is set up, with the kubelet's reason and message.
	alloc := resource.MustParse(strings.TrimSpace(s.mustKubectl("get", "node", node, "-o", "jsonpath={.status.allocatable.cpu}")))
	s.mustKubectlStdin(`apiVersion: v1
kind: Pod
metadata: {name: big}
spec:
  nodeName: `+node+`
  containers:
  - name: c
    image: `+TestImage+`
    imagePullPolicy: Never
    command: ["sleep", "3600"]
    resources: {requests: {cpu: "`+strconv.FormatInt(alloc.MilliValue()+1000, 10)+`m"}}
`, "apply", "-f", "-")
	waitPodPhase(t, s, "default", "big", "Failed", 60*time.Second)
	want := fmt.Sprintf("OutOfcpu|Pod was rejected: Node didn't have enough resource: cpu, requested: %d, used: 0, capacity: %d||",
		alloc.MilliValue()+1000, alloc.MilliValue())
	if got := podField(s, "default", "big", "{.status.reason}|{.status.message}|{.status.containerStatuses}|{.status.podIP}"); got != want {
		t.Fatalf("status of the pod too big for the node: %q, want %q", got, want)
	}
	waitEvent(t, s.client(), "Pod", "big", "OutOfcpu", 30*time.Second)
	if hasEvent(t, s.client(), "Pod", "big", "Started") {
		t.Fatal("a container of the pod too big for the node was started")
	}
	s.mustKubectl("delete", "pod", "big", "--wait=true", "--timeout=60s")

	s.mustKubectlStdin(portPod("holder", "{containerPort: 8080, hostPort: 18483}"), "apply", "-f", "-")
	waitPodPhase(t, s, "default", "holder", "Running", 90*time.Second)

	s.mustKubectlStdin(portPod("clash", "{containerPort: 8080, hostPort: 18483}")+"---\n"+
		portPod("udp", "{containerPort: 8080, hostPort: 18483, protocol: UDP}")+`---
apiVersion: v1
kind: Pod
metadata: {name: hostnet}
spec:
  nodeName: `+node+`
  hostNetwork: true
  containers:
  - name: c
    image: `+TestImage+`
    imagePullPolicy: Never
    command: ["sleep", "3600"]
    ports: [{containerPort: 18483}]
`, "apply", "-f", "-")
	const msg = "Pod was rejected: Predicate NodePorts failed: node(s) didn't have free ports for the requested pod ports"
	for _, name := range []string{"clash", "hostnet"} {
		waitPodPhase(t, s, "default", name, "Failed", 60*time.Second)
		if got := podField(s, "default", name, "{.status.reason}|{.status.message}|{.status.containerStatuses}|{.status.podIP}"); got != "NodePorts|"+msg+"||" {
			t.Fatalf("status of the refused pod %s: %q", name, got)
		}
		waitEvent(t, s.client(), "Pod", name, "NodePorts", 30*time.Second)
	}
	waitPodPhase(t, s, "default", "udp", "Running", 60*time.Second)
	// The holder still has its port, and nothing of the refused pods ran.
	hostIP := podField(s, "default", "holder", "{.status.hostIP}")
	if out, err := httpGet("http://" + hostIP + ":18483/index.html"); err != nil || strings.TrimSpace(out) != "holder" {
		t.Fatalf("the holder's host port answers %q, %v", out, err)
	}
	for _, name := range []string{"clash", "hostnet"} {
		if hasEvent(t, s.client(), "Pod", name, "Started") || hasEvent(t, s.client(), "Pod", name, "Pulled") {
			t.Fatalf("a container of the refused pod %s was started", name)
		}
	}
	uid := podField(s, "default", "clash", "{.metadata.uid}")
	if _, err := os.Stat(filepath.Join("/run/skiff/netns", node, uid)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the refused pod has a network namespace: %v", err)
	}
	// A refused pod goes away when deleted.
	s.mustKubectl("delete", "pod", "clash", "hostnet", "--wait=true", "--timeout=60s")

	s.mustKubectl("delete", "pod", "holder", "--wait=true", "--timeout=60s")
	s.mustKubectlStdin(portPod("next", "{containerPort: 8080, hostPort: 18483}"), "apply", "-f", "-")
	waitPodPhase(t, s, "default", "next", "Running", 60*time.Second)
	eventually(t, 30*time.Second, "the freed host port to reach the new pod", func() bool {
		out, err := httpGet("http://" + hostIP + ":18483/index.html")
		return err == nil && strings.TrimSpace(out) == "next"
	})
}

// TestAgentNeverRerunsFinishedPods: a pod that has finished is never run
// again, even when the node has lost its containers (a power cut that
// took containerd's state with it): the agent starts again, finds nothing
// of the pod, and leaves it Succeeded with its exit code, as the kubelet
// does with a pod in a terminal phase.
func TestAgentNeverRerunsFinishedPods(t *testing.T) {
	needAgent(t)
	s := startServer(t)
	agentDir := t.TempDir()
	prepareAgentDir(t, agentDir)
	a := startAgent(t, s, agentDir, "--node-name", "fin1")
	waitNodeReady(t, s, "fin1", 60*time.Second)
	waitDefaultServiceAccount(t, s.client())
	out := t.TempDir()
	s.mustKubectlStdin(`apiVersion: v1
kind: Pod
metadata: {name: once}
spec:
  nodeName: fin1
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  volumes: [{name: out, hostPath: {path: `+out+`}}]
  containers:
  - name: c
    image: `+TestImage+`
    imagePullPolicy: Never
    command: ["sh", "-c", "echo ran >> /out/runs"]
    volumeMounts: [{name: out, mountPath: /out}]
`, "apply", "-f", "-")
	waitPodPhase(t, s, "default", "once", "Succeeded", 90*time.Second)
	const status = "{.status.phase} {.status.containerStatuses[0].state.terminated.exitCode} {.status.containerStatuses[0].state.terminated.reason}"
	before := podField(s, "default", "once", status)
	if before != "Succeeded 0 Completed" {
		t.Fatalf("status of the finished pod: %q", before)
	}

	// Power cut, and containerd's state is lost with it.
	a.kill()
	cleanupAgentProcesses(agentDir)
	if err := os.RemoveAll(filepath.Join(agentDir, "agent", "containerd")); err != nil {
		t.Fatal(err)
	}
	a.start()
	waitNodeReady(t, s, "fin1", 60*time.Second)
	// Give the agent time to (wrongly) start the pod: a node is Ready once
	// it has synced, and pods start within a few seconds of that.
	time.Sleep(10 * time.Second)
	if b, err := os.ReadFile(filepath.Join(out, "runs")); err != nil || string(b) != "ran\n" {
		t.Fatalf("runs of the finished pod: %q, %v; want one", b, err)
	}
	if got := podField(s, "default", "once", status); got != before {
		t.Fatalf("status of the finished pod after the node lost its containers: %q, want %q", got, before)
	}
	s.mustKubectl("delete", "pod", "once", "--wait=true", "--timeout=60s")
}
