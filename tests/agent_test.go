package tests

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// localNode is the name of the server's own node (the host name).
func localNode(t *testing.T) string {
	h, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	return strings.ToLower(h)
}

// TestAgentRunsPods is the path a new user takes: a server with its local
// agent runs `kubectl run`, logs, exec and port-forward work, and deleting
// the pod leaves nothing behind.
func TestAgentRunsPods(t *testing.T) {
	needAgent(t)
	s := startServer(t, withAgent())
	node := localNode(t)
	waitNodeReady(t, s, node, 60*time.Second)

	out := s.mustKubectl("get", "node", node, "-o", "jsonpath={.status.nodeInfo.containerRuntimeVersion} {.spec.podCIDR} {.metadata.labels.node-role\\.kubernetes\\.io/control-plane}")
	if !strings.HasPrefix(out, "containerd://") || !strings.Contains(out, "10.42.") || !strings.HasSuffix(out, "true") {
		t.Fatalf("node runtime, pod CIDR and role: %q", out)
	}

	s.mustKubectl("run", "hello", "--image="+TestImage, "--image-pull-policy=Never", "--", "sh", "-c", "echo hello; sleep 3600")
	waitPodPhase(t, s, "default", "hello", "Running", 90*time.Second)
	ip := podField(s, "default", "hello", "{.status.podIP}")
	if net.ParseIP(ip) == nil || !strings.HasPrefix(ip, "10.42.") {
		t.Fatalf("pod IP %q is not from the cluster CIDR", ip)
	}
	eventually(t, 30*time.Second, "kubectl logs hello", func() bool {
		out, err := s.kubectl("logs", "hello")
		return err == nil && strings.TrimSpace(out) == "hello"
	})
	if out := s.mustKubectl("exec", "hello", "--", "cat", "/etc/hostname"); strings.TrimSpace(out) != "hello" {
		t.Fatalf("exec cat /etc/hostname = %q, want hello", out)
	}
	_, err := s.kubectl("exec", "hello", "--", "sh", "-c", "exit 7")
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 7 {
		t.Fatalf("exec exit 7: %v", err)
	}

	// A server in a pod answers through port-forward.
	s.mustKubectl("run", "web", "--image="+TestImage, "--image-pull-policy=Never", "--port=8080", "--",
		"sh", "-c", "echo served > /tmp/index.html; httpd -f -p 8080 -h /tmp")
	waitPodPhase(t, s, "default", "web", "Running", 90*time.Second)
	local := freePort(t)
	pf := exec.Command("kubectl", "--kubeconfig", s.kubeconfig, "port-forward", "pod/web", fmt.Sprintf("%d:8080", local))
	pfLog := &lockedBuffer{}
	pf.Stdout, pf.Stderr = pfLog, pfLog
	if err := pf.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pf.Process.Kill(); _ = pf.Wait() }()
	eventually(t, 30*time.Second, "port-forward answers", func() bool {
		out, err := exec.Command("busybox", "wget", "-q", "-O", "-", "http://127.0.0.1:"+strconv.Itoa(local)+"/index.html").Output()
		return err == nil && strings.TrimSpace(string(out)) == "served"
	})

	// Pods on one node reach each other.
	webIP := podField(s, "default", "web", "{.status.podIP}")
	if out := s.mustKubectl("exec", "hello", "--", "wget", "-q", "-O", "-", "http://"+webIP+":8080/index.html"); strings.TrimSpace(out) != "served" {
		t.Fatalf("pod to pod: %q", out)
	}

	// Deleting stops it within its grace period and leaves nothing.
	start := time.Now()
	s.mustKubectl("delete", "pod", "hello", "--grace-period=5", "--wait=true", "--timeout=60s")
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("delete took %s", d)
	}
	if procRunning("sleep 3600") {
		t.Fatal("the container's process still runs after the pod was deleted")
	}
	ents, _ := os.ReadDir("/run/skiff/netns")
	if len(ents) != 1 {
		t.Fatalf("network namespaces after deleting one of two pods: %d, want 1", len(ents))
	}
}

// TestAgentRestartsAndReportsFailures: restart policies with back-off,
// and image errors in kube's words.
func TestAgentRestartsAndReportsFailures(t *testing.T) {
	needAgent(t)
	s := startServer(t, withAgent())
	waitNodeReady(t, s, localNode(t), 60*time.Second)
	s.mustKubectl("run", "crash", "--image="+TestImage, "--image-pull-policy=Never", "--restart=OnFailure", "--", "sh", "-c", "exit 3")
	eventually(t, 90*time.Second, "restarts and CrashLoopBackOff", func() bool {
		n, _ := strconv.Atoi(podField(s, "default", "crash", "{.status.containerStatuses[0].restartCount}"))
		reason := podField(s, "default", "crash", "{.status.containerStatuses[0].state.waiting.reason}")
		return n >= 1 && reason == "CrashLoopBackOff"
	})
	if code := podField(s, "default", "crash", "{.status.containerStatuses[0].lastState.terminated.exitCode}"); code != "3" {
		t.Fatalf("lastState exit code %q, want 3", code)
	}
	s.mustKubectl("run", "nosuch", "--image=127.0.0.1:1/no/such:image")
	eventually(t, 60*time.Second, "ErrImagePull or ImagePullBackOff", func() bool {
		r := podField(s, "default", "nosuch", "{.status.containerStatuses[0].state.waiting.reason}")
		return r == "ErrImagePull" || r == "ImagePullBackOff"
	})
	s.mustKubectl("run", "done", "--image="+TestImage, "--image-pull-policy=Never", "--restart=Never", "--", "sh", "-c", "exit 0")
	waitPodPhase(t, s, "default", "done", "Succeeded", 60*time.Second)
}

// TestAgentOffline: a separate agent keeps its pod running while the server
// is down, starts it again from its local store after everything on the
// node was killed with no server, and reports in once the server is back,
// without recreating what runs.
func TestAgentOffline(t *testing.T) {
	needAgent(t)
	s := startServer(t)
	agentDir := t.TempDir()
	prepareAgentDir(t, agentDir)
	a := startAgent(t, s, agentDir, "--node-name", "edge1", "--edge", "--sync-interval", "5s")
	waitNodeReady(t, s, "edge1", 60*time.Second)
	s.mustKubectlStdin(`apiVersion: v1
kind: Pod
metadata: {name: keeper}
spec:
  nodeName: edge1
  containers:
  - name: c
    image: `+TestImage+`
    imagePullPolicy: Never
    command: ["sh", "-c", "echo started; sleep 3601"]
`, "apply", "-f", "-")
	waitPodPhase(t, s, "default", "keeper", "Running", 90*time.Second)

	s.stop()
	time.Sleep(2 * time.Second)
	if !procRunning("sleep 3601") {
		t.Fatal("the pod stopped when the server went away")
	}
	// Power cut on the node: agent, containerd, shims and containers die.
	a.kill()
	cleanupAgentProcesses(agentDir)
	eventually(t, 10*time.Second, "the container to be dead", func() bool { return !procRunning("sleep 3601") })

	a.start()
	eventually(t, 90*time.Second, "the agent to start the pod again with no server", func() bool { return procRunning("sleep 3601") })

	s.start()
	eventually(t, 60*time.Second, "the status gathered offline to reach the server", func() bool {
		n, _ := strconv.Atoi(podField(s, "default", "keeper", "{.status.containerStatuses[0].restartCount}"))
		return n >= 1 && podField(s, "default", "keeper", "{.status.phase}") == "Running"
	})
	// Now the agent restarts alone: the running pod is adopted, not restarted.
	before := podField(s, "default", "keeper", "{.status.containerStatuses[0].containerID}")
	a.stop()
	a.start()
	time.Sleep(5 * time.Second)
	waitNodeReady(t, s, "edge1", 60*time.Second)
	if after := podField(s, "default", "keeper", "{.status.containerStatuses[0].containerID}"); after != before {
		t.Fatalf("the agent restart replaced the container: %s -> %s", before, after)
	}
	if out, _ := s.kubectl("logs", "keeper"); !strings.Contains(out, "started") {
		t.Fatalf("logs after the restarts: %q", out)
	}
}

// cleanupAgentProcesses does to the node what a power cut does: containerd,
// its shims and every container die, and what lived in memory (network
// namespaces, tmpfs volumes, the bridge) is gone.
func cleanupAgentProcesses(dir string) { cleanupAgent(nil, dir) }
