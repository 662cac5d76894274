package tests

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	agentruntime "github.com/skiff-io/skiff/agent/runtime"
	"github.com/skiff-io/skiff/tests/testimage"
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
	// Without --default-runtime: crun where it is installed and this
	// host's cgroups let it run, runc otherwise (TestServerLocalNodeFlags
	// forces runc).
	want, why, err := agentruntime.ChooseOCIRuntime("")
	if err != nil {
		t.Fatal(err)
	}
	if got := ociRuntimeOf(t, s, "default", "hello", "hello"); got != want {
		t.Fatalf("the container was created by %s, want %s (%s)", got, want, why)
	}
	t.Logf("containers run with %s %s", want, why)
	eventually(t, 30*time.Second, "kubectl logs hello", func() bool {
		out, err := s.kubectl("logs", "hello")
		return err == nil && strings.TrimSpace(out) == "hello"
	})
	if out := s.mustKubectlOut("exec", "hello", "--", "cat", "/etc/hostname"); strings.TrimSpace(out) != "hello" {
		t.Fatalf("exec cat /etc/hostname = %q, want hello", out)
	}
	_, err = s.kubectl("exec", "hello", "--", "sh", "-c", "exit 7")
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
		out, err := httpGet("http://127.0.0.1:" + strconv.Itoa(local) + "/index.html")
		return err == nil && strings.TrimSpace(out) == "served"
	})

	// Pods on one node reach each other.
	webIP := podField(s, "default", "web", "{.status.podIP}")
	if out := s.mustKubectlOut("exec", "hello", "--", "wget", "-q", "-O", "-", "http://"+webIP+":8080/index.html"); strings.TrimSpace(out) != "served" {
		t.Fatalf("pod to pod: %q", out)
	}

	// Stdin reaches exec; kubectl cp (tar through exec) works both ways.
	if out, err := s.kubectlOut("through stdin\n", "exec", "-i", "web", "--", "cat"); err != nil || strings.TrimSpace(out) != "through stdin" {
		t.Fatalf("exec -i cat: %q, %v", out, err)
	}
	src := filepath.Join(t.TempDir(), "copied.txt")
	if err := os.WriteFile(src, []byte("copied in\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.mustKubectl("cp", src, "default/web:/tmp/copied.txt")
	if out := s.mustKubectlOut("exec", "web", "--", "cat", "/tmp/copied.txt"); strings.TrimSpace(out) != "copied in" {
		t.Fatalf("kubectl cp into the pod: %q", out)
	}
	back := filepath.Join(t.TempDir(), "back.txt")
	s.mustKubectl("cp", "default/web:/tmp/copied.txt", back)
	if b, err := os.ReadFile(back); err != nil || strings.TrimSpace(string(b)) != "copied in" {
		t.Fatalf("kubectl cp out of the pod: %q, %v", b, err)
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
	ents, _ := os.ReadDir(filepath.Join("/run/skiff/netns", node))
	if len(ents) != 1 {
		t.Fatalf("network namespaces after deleting one of two pods: %d, want 1", len(ents))
	}
	// What containerd and the network still hold is the other pod's only.
	sock := filepath.Join(s.dataDir, "agent", "containerd", "containerd.sock")
	ctr := func(args ...string) []string {
		out, err := exec.Command("ctr", append([]string{"--address", sock, "-n", "k8s.io"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("ctr %v: %v\n%s", args, err, out)
		}
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n")[1:] {
			if strings.TrimSpace(l) != "" {
				lines = append(lines, l)
			}
		}
		return lines
	}
	if n := len(ctr("containers", "ls")); n != 1 {
		t.Fatalf("containers left after deleting one of two pods: %d, want 1", n)
	}
	if n := len(ctr("tasks", "ls")); n != 1 {
		t.Fatalf("tasks left: %d, want 1", n)
	}
	active := 0
	for _, l := range ctr("snapshots", "ls") {
		if strings.Contains(l, "Active") {
			active++
		}
	}
	if active != 1 {
		t.Fatalf("active snapshots left: %d, want 1", active)
	}
	if out, _ := exec.Command("ip", "-o", "link", "show", "master", "skiff0").Output(); strings.Count(string(out), "veth") != 1 {
		t.Fatalf("veths on the bridge after deleting one of two pods:\n%s", out)
	}
}

// TestAgentRestartsAndReportsFailures: restart policies with back-off,
// and image errors in kube's words.
func TestAgentRestartsAndReportsFailures(t *testing.T) {
	needAgent(t)
	s := startServer(t, withAgent())
	waitNodeReady(t, s, localNode(t), 60*time.Second)
	s.mustKubectl("run", "crash", "--image="+TestImage, "--image-pull-policy=Never", "--restart=OnFailure", "--", "sh", "-c", "exit 3")
	// As the kubelet does, the first exit is restarted at once: the
	// container is in CrashLoopBackOff only from its second exit, for
	// 10 s, then 20 s…
	var early, msg string
	var restarts int
	eventually(t, 90*time.Second, "restarts and CrashLoopBackOff", func() bool {
		f := strings.Split(podField(s, "default", "crash", "{.status.containerStatuses[0].restartCount}|"+
			"{.status.containerStatuses[0].state.waiting.reason}|{.status.containerStatuses[0].state.waiting.message}"), "|")
		if len(f) != 3 {
			return false
		}
		restarts, _ = strconv.Atoi(f[0])
		if restarts == 0 && f[1] == "CrashLoopBackOff" {
			early = f[2]
		}
		msg = f[2]
		return restarts >= 1 && f[1] == "CrashLoopBackOff"
	})
	if early != "" {
		t.Fatalf("CrashLoopBackOff before the first restart: %s", early)
	}
	crashUID := podField(s, "default", "crash", "{.metadata.uid}")
	if want := fmt.Sprintf("back-off %s restarting failed container=crash pod=crash_default(%s)", 10*time.Second<<(restarts-1), crashUID); msg != want {
		t.Fatalf("after %d restarts, waiting message %q, want %q", restarts, msg, want)
	}
	if code := podField(s, "default", "crash", "{.status.containerStatuses[0].lastState.terminated.exitCode}"); code != "3" {
		t.Fatalf("lastState exit code %q, want 3", code)
	}
	// The back-offs have the kubelet's events, in its words.
	waitPodEvent(t, s, "crash", "Warning|BackOff|Back-off restarting failed container crash in pod crash_default("+crashUID+")")
	s.mustKubectl("run", "nosuch", "--image=127.0.0.1:1/no/such:image")
	eventually(t, 60*time.Second, "ErrImagePull or ImagePullBackOff", func() bool {
		r := podField(s, "default", "nosuch", "{.status.containerStatuses[0].state.waiting.reason}")
		return r == "ErrImagePull" || r == "ImagePullBackOff"
	})
	waitPodEvent(t, s, "nosuch", "Warning|Failed|Error: ErrImagePull")
	waitPodEvent(t, s, "nosuch", `Normal|BackOff|Back-off pulling image "127.0.0.1:1/no/such:image"`)
	waitPodEvent(t, s, "nosuch", "Warning|Failed|Error: ImagePullBackOff")
	// An image that is not on the node, under pull policy Never.
	s.mustKubectl("run", "neverpull", "--image=example.invalid/absent:1", "--image-pull-policy=Never")
	neverMsg := `Container image "example.invalid/absent:1" is not present with pull policy of Never`
	eventually(t, 60*time.Second, "ErrImageNeverPull", func() bool {
		return podField(s, "default", "neverpull", "{.status.containerStatuses[0].state.waiting.reason}|{.status.containerStatuses[0].state.waiting.message}") ==
			"ErrImageNeverPull|"+neverMsg
	})
	waitPodEvent(t, s, "neverpull", "Warning|ErrImageNeverPull|"+neverMsg)
	waitPodEvent(t, s, "neverpull", "Warning|Failed|Error: ErrImageNeverPull")
	// A pod update that gives a container another image restarts it with
	// that image, as the kubelet restarts a container whose definition
	// changed: stopped, then started again at once (here "busybox", the
	// same image under its short name).
	s.mustKubectl("run", "swap", "--image="+TestImage, "--image-pull-policy=Never", "--", "sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done")
	waitPodPhase(t, s, "default", "swap", "Running", 60*time.Second)
	s.mustKubectl("set", "image", "pod/swap", "swap=busybox")
	swapped := func() string {
		return podField(s, "default", "swap", "{.status.containerStatuses[0].restartCount} {.status.containerStatuses[0].lastState.terminated.exitCode} "+
			"{.status.containerStatuses[0].state.running.startedAt}")
	}
	eventually(t, 60*time.Second, "the container restarted with its new image", func() bool {
		f := strings.Fields(swapped())
		return len(f) == 3 && f[0] == "1" && f[1] == "0"
	})
	waitPodEvent(t, s, "swap", "Normal|Killing|Container swap definition changed, will be restarted")
	time.Sleep(2 * time.Second)
	if f := strings.Fields(swapped()); len(f) != 3 || f[0] != "1" {
		t.Fatalf("after the image update, restartCount, last exit code and start: %q; want one restart, the new instance running", f)
	}
	s.mustKubectl("run", "done", "--image="+TestImage, "--image-pull-policy=Never", "--restart=Never", "--", "sh", "-c", "echo finished; exit 0")
	waitPodPhase(t, s, "default", "done", "Succeeded", 60*time.Second)
	// A finished pod gives back its network namespace (and with it its
	// IP) as the kubelet does; its status and logs stay until it is deleted.
	uid := podField(s, "default", "done", "{.metadata.uid}")
	eventually(t, 30*time.Second, "the finished pod's network namespace to be released", func() bool {
		_, err := os.Stat(filepath.Join("/run/skiff/netns", localNode(t), uid))
		return errors.Is(err, os.ErrNotExist)
	})
	if out := s.mustKubectl("logs", "done"); strings.TrimSpace(out) != "finished" {
		t.Fatalf("logs of the finished pod: %q", out)
	}
	if got := podField(s, "default", "done", "{.status.phase} {.status.containerStatuses[0].state.terminated.exitCode}"); got != "Succeeded 0" {
		t.Fatalf("status of the finished pod after its release: %q", got)
	}
	// The release succeeded at once: the pod's cgroup, which still holds
	// the kept container's, is left to the pod's final removal (on cgroup
	// v1 removing it failed with EBUSY, and the release was retried every
	// second with an error).
	for _, what := range []string{"the pod sandbox", "the pod's volumes", "the pod's network"} {
		if strings.Contains(s.log.String(), `"removing `+what) {
			t.Errorf("the agent logged a failure removing %s:\n%s", what, tail(s.log.String(), 3000))
		}
	}
	s.mustKubectl("delete", "pod", "done", "--wait=true", "--timeout=60s")
	eventually(t, 30*time.Second, "the deleted pod's cgroup to be removed", func() bool {
		for _, d := range []string{"memory", "pids", "cpu", "unified", ""} {
			if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", d, "skiff", "pod"+uid)); err == nil {
				return false
			}
		}
		return true
	})
}

// waitPodEvent waits for an event about pod name in default, given as
// "type|reason|message".
func waitPodEvent(t *testing.T, s *server, name, want string) {
	t.Helper()
	var got string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		got, _ = s.kubectl("get", "events", "--field-selector", "involvedObject.name="+name,
			"-o", `jsonpath={range .items[*]}{.type}|{.reason}|{.message}{"\n"}{end}`)
		for _, l := range strings.Split(got, "\n") {
			if l == want {
				return
			}
		}
	}
	t.Fatalf("no event %q about pod %s; its events:\n%s", want, name, got)
}

// TestAgentReportsSetupFailures: a pod whose sandbox cannot be made says
// why, in an event and in its containers' status, and keeps retrying.
func TestAgentReportsSetupFailures(t *testing.T) {
	needAgent(t)
	s := startServer(t, withAgent(), withArgs("--pause-image=127.0.0.1:1/no/such:pause"))
	waitNodeReady(t, s, localNode(t), 60*time.Second)
	waitDefaultServiceAccount(t, s.client())
	s.mustKubectl("run", "nosandbox", "--image="+TestImage, "--image-pull-policy=Never", "--", "sleep", "3600")
	waitEvent(t, s.client(), "Pod", "nosandbox", "FailedCreatePodSandBox", 60*time.Second)
	eventually(t, 30*time.Second, "the set-up failure in the container's status", func() bool {
		reason := podField(s, "default", "nosandbox", "{.status.containerStatuses[0].state.waiting.reason}")
		msg := podField(s, "default", "nosandbox", "{.status.containerStatuses[0].state.waiting.message}")
		return reason == "ContainerCreating" && strings.Contains(msg, "Failed to create pod sandbox") && strings.Contains(msg, "no/such:pause")
	})
	if phase := podField(s, "default", "nosandbox", "{.status.phase}"); phase != "Pending" {
		t.Errorf("phase %q, want Pending", phase)
	}
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
---
apiVersion: v1
kind: Pod
metadata: {name: once}
spec:
  nodeName: edge1
  restartPolicy: Never
  containers:
  - name: c
    image: `+TestImage+`
    imagePullPolicy: Never
    command: ["sleep", "3602"]
`, "apply", "-f", "-")
	waitPodPhase(t, s, "default", "keeper", "Running", 90*time.Second)
	waitPodPhase(t, s, "default", "once", "Running", 90*time.Second)
	// The pod's start time is kept through everything below, as the
	// kubelet keeps it: the agent finds its last status in its own store
	// (the server does not send it back).
	startTime := podField(s, "default", "keeper", "{.status.startTime}")

	s.stop()
	time.Sleep(2 * time.Second)
	if !procRunning("sleep 3601") {
		t.Fatal("the pod stopped when the server went away")
	}
	// Power cut on the node: agent, containerd, shims and containers die.
	a.kill()
	cleanupAgentProcesses(agentDir)
	eventually(t, 10*time.Second, "the containers to be dead", func() bool { return !procRunning("sleep 3601") && !procRunning("sleep 3602") })

	a.start()
	eventually(t, 90*time.Second, "the agent to start the pod again with no server", func() bool { return procRunning("sleep 3601") })

	s.start()
	eventually(t, 60*time.Second, "the status gathered offline to reach the server", func() bool {
		n, _ := strconv.Atoi(podField(s, "default", "keeper", "{.status.containerStatuses[0].restartCount}"))
		return n >= 1 && podField(s, "default", "keeper", "{.status.phase}") == "Running"
	})
	if got := podField(s, "default", "keeper", "{.status.startTime}"); got != startTime {
		t.Fatalf("start time after the offline restart: %s, was %s", got, startTime)
	}
	// The killed container's exit status died with containerd: it is
	// reported as lost (255, Unknown), as the kubelet reports a container
	// after a reboot, never as a success. So the restartPolicy Never pod
	// failed and was not started again.
	if got := podField(s, "default", "keeper", "{.status.containerStatuses[0].lastState.terminated.exitCode} {.status.containerStatuses[0].lastState.terminated.reason}"); got != "255 Unknown" {
		t.Fatalf("keeper's last state after the power cut: %q, want 255 Unknown", got)
	}
	eventually(t, 30*time.Second, "the restartPolicy Never pod to fail", func() bool {
		return podField(s, "default", "once", "{.status.phase} {.status.containerStatuses[0].state.terminated.exitCode} {.status.containerStatuses[0].state.terminated.reason}") == "Failed 255 Unknown"
	})
	if procRunning("sleep 3602") {
		t.Fatal("the restartPolicy Never pod was started again")
	}
	// Now the agent restarts alone: the running pod is adopted, not restarted.
	before := podField(s, "default", "keeper", "{.status.containerStatuses[0].containerID}")
	a.stop()
	a.start()
	time.Sleep(5 * time.Second)
	waitNodeReady(t, s, "edge1", 60*time.Second)
	if after := podField(s, "default", "keeper", "{.status.containerStatuses[0].containerID}"); after != before {
		t.Fatalf("the agent restart replaced the container: %s -> %s", before, after)
	}
	if got := podField(s, "default", "keeper", "{.status.startTime}"); got != startTime {
		t.Fatalf("start time after the agent's restart: %s, was %s", got, startTime)
	}
	if out, _ := s.kubectl("logs", "keeper"); !strings.Contains(out, "started") {
		t.Fatalf("logs after the restarts: %q", out)
	}
}

// cleanupAgentProcesses does to the node what a power cut does: containerd,
// its shims and every container die, and what lived in memory (network
// namespaces, tmpfs volumes, the bridge) is gone.
func cleanupAgentProcesses(dir string) { cleanupAgent(nil, dir) }

// TestAgentSecondNodeAndRegistry: an agent on a second test host (its own
// network namespace) joins next to the server's own node; both are Ready
// with their addresses and versions, a pod runs on each, and an image
// pushed to a registry on loopback is pulled and runs. The second node
// runs the agent-only build, which has no server in it.
func TestAgentSecondNodeAndRegistry(t *testing.T) {
	needAgent(t)
	needIntegration(t, "nsenter", "docker-registry")
	const host = "skifftest-n2"
	testHost(t, host, "10.199.0.1", "10.199.0.2")
	s := startServer(t, withAgent(), withArgs("--bind-address", "0.0.0.0", "--tls-san", "10.199.0.1"))
	agentDir := t.TempDir()
	prepareAgentDir(t, agentDir)
	if out, err := exec.Command(agentOnlyBin, "server").CombinedOutput(); err == nil || !strings.Contains(string(out), `unknown command "server"`) {
		t.Fatalf("the agent-only build runs a server: %v %s", err, out)
	}
	startAgentBinVia(t, agentOnlyBin, s, "https://10.199.0.1:"+strconv.Itoa(s.port), []string{"nsenter", "--net=/run/netns/" + host, "--"},
		agentDir, "--node-name", "node2", "--node-label", "site=lab")
	local := localNode(t)
	waitNodeReady(t, s, local, 90*time.Second)
	waitNodeReady(t, s, "node2", 90*time.Second)
	wide := s.mustKubectl("get", "nodes", "-o", "wide")
	for _, want := range []string{local, "node2", "10.199.0.2", "containerd://", "Ready"} {
		if !strings.Contains(wide, want) {
			t.Fatalf("kubectl get nodes -o wide lacks %q:\n%s", want, wide)
		}
	}
	if got := s.mustKubectl("get", "node", "node2", "-o", "jsonpath={.metadata.labels.site} {.status.nodeInfo.kernelVersion} {.status.nodeInfo.osImage}"); !strings.HasPrefix(got, "lab ") || len(strings.Fields(got)) < 3 {
		t.Fatalf("node2 label, kernel and OS image: %q", got)
	}

	s.mustKubectlStdin(`apiVersion: v1
kind: Pod
metadata: {name: on2}
spec:
  nodeName: node2
  containers:
  - name: c
    image: `+TestImage+`
    imagePullPolicy: Never
    command: ["sh", "-c", "echo from-node2; sleep 3600"]
`, "apply", "-f", "-")
	waitPodPhase(t, s, "default", "on2", "Running", 90*time.Second)
	if ip := podField(s, "default", "on2", "{.status.podIP}"); !strings.HasPrefix(ip, "10.42.") {
		t.Fatalf("pod IP on node2: %q", ip)
	}
	eventually(t, 30*time.Second, "logs from node2", func() bool {
		out, err := s.kubectl("logs", "on2")
		return err == nil && strings.TrimSpace(out) == "from-node2"
	})
	if out := s.mustKubectlOut("exec", "on2", "--", "hostname"); strings.TrimSpace(out) != "on2" {
		t.Fatalf("exec on node2: %q", out)
	}

	reg := startRegistry(t)
	if err := testimage.Push(reg, "test/busybox", "pushed"); err != nil {
		t.Fatal(err)
	}
	s.mustKubectlStdin(`apiVersion: v1
kind: Pod
metadata: {name: pulled}
spec:
  nodeName: `+local+`
  containers:
  - name: c
    image: `+reg+`/test/busybox:pushed
    command: ["sh", "-c", "echo pulled; sleep 3600"]
`, "apply", "-f", "-")
	waitPodPhase(t, s, "default", "pulled", "Running", 90*time.Second)
	if ev := s.mustKubectl("get", "events", "--field-selector", "involvedObject.name=pulled", "-o", "jsonpath={.items[*].reason}"); !strings.Contains(ev, "Pulled") || !strings.Contains(ev, "Started") {
		t.Fatalf("events of the pulled pod: %q", ev)
	}
	// Its layer was already on the node (the same busybox), so the pull
	// is quick; the event still says it was pulled, as the kubelet's does.
	if msg := s.mustKubectl("get", "events", "--field-selector", "involvedObject.name=pulled,reason=Pulled", "-o", "jsonpath={.items[*].message}"); !strings.Contains(msg, "Successfully pulled image") {
		t.Fatalf("Pulled event of the pulled pod: %q", msg)
	}
	if msg := s.mustKubectl("get", "events", "--field-selector", "involvedObject.name=pulled,reason=Pulling", "-o", "jsonpath={.items[*].message}"); msg != `Pulling image "`+reg+`/test/busybox:pushed"` {
		t.Fatalf("Pulling event of the pulled pod: %q", msg)
	}
}

// startRegistry runs Debian's docker-registry on a free loopback port.
func startRegistry(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s/data\nhttp:\n  addr: %s\n", dir, addr)
	if err := os.WriteFile(dir+"/config.yml", []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("docker-registry", "serve", dir+"/config.yml")
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	eventually(t, 20*time.Second, "the registry at "+addr, func() bool {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return addr
}

// TestAgentJoinRefusals: a wrong token, a token for another CA, and a node
// name that belongs to another machine are each refused with one readable
// line and a non-zero exit, and nothing is registered.
func TestAgentJoinRefusals(t *testing.T) {
	needIntegration(t)
	s := startServer(t)
	tokenB, err := os.ReadFile(filepath.Join(s.dataDir, "server", "token"))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(tokenB))
	hash, rest, _ := strings.Cut(strings.TrimPrefix(token, "K10"), "::")
	id, _, _ := strings.Cut(rest, ":")
	join := func(dir, node, tok string) (string, error) {
		cmd := exec.Command(skiffBin, "agent", "--data-dir", dir, "--server", s.url(), "--token", tok,
			"--node-name", node, "--config", "", "--container-runtime-endpoint", "/nonexistent.sock")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	last := func(out string) string {
		lines := strings.Split(strings.TrimSpace(out), "\n")
		return lines[len(lines)-1]
	}
	out, err := join(t.TempDir(), "n1", "K10"+hash+"::"+id+":wrongsecret")
	if err == nil || !strings.HasPrefix(last(out), "skiff: ") || !strings.Contains(last(out), "join token is not this server's") {
		t.Fatalf("wrong token: err %v, output:\n%s", err, out)
	}
	other := strings.Repeat("ab", 32)
	out, err = join(t.TempDir(), "n1", "K10"+other+"::"+rest)
	if err == nil || !strings.Contains(last(out), "expects "+other) {
		t.Fatalf("wrong CA hash: err %v, output:\n%s", err, out)
	}
	if strings.Contains(out, "wrongsecret") {
		t.Fatal("the secret was echoed")
	}
	// The first machine takes the name n2; a second machine with its own
	// password cannot. (The runtime is missing, so the agent stops after
	// joining; the join itself is what is checked.)
	first := t.TempDir()
	if out, _ := join(first, "n2", token); !strings.Contains(out, "container runtime") {
		t.Fatalf("first join of n2 should pass and then stop at the missing runtime:\n%s", out)
	}
	out, err = join(t.TempDir(), "n2", token)
	if err == nil || !strings.Contains(last(out), `node name "n2" belongs to another machine`) {
		t.Fatalf("stolen node name: err %v, output:\n%s", err, out)
	}
	// The first machine may join again (certificate renewal).
	if err := os.RemoveAll(filepath.Join(first, "agent", "cred")); err != nil {
		t.Fatal(err)
	}
	if out, _ := join(first, "n2", token); !strings.Contains(out, "container runtime") {
		t.Fatalf("the owner of n2 could not join again:\n%s", out)
	}
	if out := s.mustKubectl("get", "nodes", "-o", "name"); strings.Contains(out, "node/n1") {
		t.Fatalf("a refused join registered a node:\n%s", out)
	}
}

// TestAgentVolumesAndEnv: ConfigMaps, Secrets, the downward API and
// service account tokens reach a pod as env and files, and a ConfigMap
// changed while the pod runs shows in its volume.
func TestAgentVolumesAndEnv(t *testing.T) {
	needAgent(t)
	s := startServer(t, withAgent())
	waitNodeReady(t, s, localNode(t), 60*time.Second)
	s.mustKubectlStdin(`apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {greeting: hello, file.txt: v1}
---
apiVersion: v1
kind: Secret
metadata: {name: sec}
stringData: {password: s3cret}
---
apiVersion: v1
kind: Pod
metadata: {name: vols, labels: {app: vols}}
spec:
  containers:
  - name: c
    image: `+TestImage+`
    imagePullPolicy: Never
    command: ["sh", "-c", "sleep 3600"]
    env:
    - {name: GREETING, valueFrom: {configMapKeyRef: {name: cfg, key: greeting}}}
    - {name: PASSWORD, valueFrom: {secretKeyRef: {name: sec, key: password}}}
    - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: MSG, value: "$(GREETING) from $(POD_NAME)"}
    volumeMounts:
    - {name: cfg, mountPath: /cfg}
    - {name: sec, mountPath: /sec}
    - {name: info, mountPath: /info}
    - {name: token, mountPath: /token}
    - {name: scratch, mountPath: /scratch}
  volumes:
  - {name: cfg, configMap: {name: cfg}}
  - {name: sec, secret: {secretName: sec}}
  - {name: info, downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]}}
  - {name: token, projected: {sources: [{serviceAccountToken: {path: token, expirationSeconds: 3600}}]}}
  - {name: scratch, emptyDir: {medium: Memory}}
`, "apply", "-f", "-")
	waitPodPhase(t, s, "default", "vols", "Running", 90*time.Second)
	exec := func(cmd string) string {
		t.Helper()
		return strings.TrimSpace(s.mustKubectlOut("exec", "vols", "--", "sh", "-c", cmd))
	}
	if got := exec(`echo "$MSG/$PASSWORD"`); got != "hello from vols/s3cret" {
		t.Fatalf("env: %q", got)
	}
	if got := exec("cat /cfg/file.txt /sec/password /info/labels"); got != "v1s3cretapp=\"vols\"" {
		t.Fatalf("volumes: %q", got)
	}
	if got := exec("cut -d. -f1 /token/token | wc -c"); got == "0" || got == "1" {
		t.Fatalf("no service account token in the projected volume: %q", got)
	}
	if got := exec("touch /cfg/x 2>&1 || echo read-only"); !strings.Contains(got, "read-only") && !strings.Contains(got, "Read-only") {
		t.Fatalf("configMap volume is writable: %q", got)
	}
	if got := exec("grep ' /scratch ' /proc/mounts | cut -d' ' -f3"); got != "tmpfs" {
		t.Fatalf("Memory emptyDir is %q, want tmpfs", got)
	}
	s.mustKubectl("patch", "configmap", "cfg", "--type=merge", "-p", `{"data":{"file.txt":"v2"}}`)
	eventually(t, 60*time.Second, "the ConfigMap change in the running pod", func() bool {
		out, err := s.kubectlOut("", "exec", "vols", "--", "cat", "/cfg/file.txt")
		return err == nil && strings.TrimSpace(out) == "v2"
	})
}

// TestAgentProbesHostNetworkAndPorts: readiness and liveness probes drive
// Ready and restarts; hostNetwork pods use the node's address; a hostPort
// reaches its pod from the node; `kubectl logs --previous` shows the
// instance before a restart.
func TestAgentProbesHostNetworkAndPorts(t *testing.T) {
	needAgent(t)
	s := startServer(t, withAgent())
	node := localNode(t)
	waitNodeReady(t, s, node, 60*time.Second)
	s.mustKubectlStdin(`apiVersion: v1
kind: Pod
metadata: {name: probed}
spec:
  containers:
  - name: c
    image: `+TestImage+`
    imagePullPolicy: Never
    command: ["sh", "-c", "echo run-$(date +%s%N); touch /tmp/alive; sleep 3600"]
    readinessProbe: {exec: {command: ["test", "-f", "/tmp/ready"]}, periodSeconds: 1}
    livenessProbe: {exec: {command: ["test", "-f", "/tmp/alive"]}, periodSeconds: 1, failureThreshold: 2}
---
apiVersion: v1
kind: Pod
metadata: {name: hostnet}
spec:
  hostNetwork: true
  containers:
  - name: c
    image: `+TestImage+`
    imagePullPolicy: Never
    command: ["sh", "-c", "sleep 3600"]
---
apiVersion: v1
kind: Pod
metadata: {name: hostport}
spec:
  containers:
  - name: c
    image: `+TestImage+`
    imagePullPolicy: Never
    command: ["sh", "-c", "echo via-hostport > /tmp/index.html; httpd -f -p 8080 -h /tmp"]
    ports: [{containerPort: 8080, hostPort: 18481}]
`, "apply", "-f", "-")
	waitPodPhase(t, s, "default", "probed", "Running", 90*time.Second)
	time.Sleep(3 * time.Second)
	if r := podField(s, "default", "probed", "{.status.containerStatuses[0].ready}"); r != "false" {
		t.Fatalf("ready before the readiness probe passes: %q", r)
	}
	s.mustKubectl("exec", "probed", "--", "touch", "/tmp/ready")
	eventually(t, 20*time.Second, "Ready after the readiness probe passes", func() bool {
		return podField(s, "default", "probed", `{.status.conditions[?(@.type=="Ready")].status}`) == "True"
	})
	first := strings.TrimSpace(s.mustKubectl("logs", "probed"))
	s.mustKubectl("exec", "probed", "--", "rm", "/tmp/alive")
	eventually(t, 60*time.Second, "a restart after the liveness probe fails", func() bool {
		n, _ := strconv.Atoi(podField(s, "default", "probed", "{.status.containerStatuses[0].restartCount}"))
		return n >= 1
	})
	if prev := strings.TrimSpace(s.mustKubectl("logs", "probed", "--previous")); prev != first {
		t.Fatalf("logs --previous = %q, want the first instance's %q", prev, first)
	}
	if ev := s.mustKubectl("get", "events", "--field-selector", "involvedObject.name=probed,reason=Unhealthy", "-o", "name"); strings.TrimSpace(ev) == "" {
		t.Fatal("no Unhealthy event for the failed probes")
	}

	waitPodPhase(t, s, "default", "hostnet", "Running", 60*time.Second)
	hostIP := podField(s, "default", "hostnet", "{.status.hostIP}")
	if ip := podField(s, "default", "hostnet", "{.status.podIP}"); ip == "" || ip != hostIP {
		t.Fatalf("hostNetwork pod IP %q, want the node's %q", ip, hostIP)
	}
	waitPodPhase(t, s, "default", "hostport", "Running", 60*time.Second)
	eventually(t, 30*time.Second, "the hostPort to answer on the node's address", func() bool {
		out, err := httpGet("http://" + hostIP + ":18481/index.html")
		return err == nil && strings.TrimSpace(out) == "via-hostport"
	})
}

// httpGet fetches url with a short timeout.
func httpGet(url string) (string, error) {
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", url, resp.Status)
	}
	return string(b), err
}

// TestServerEvictionHard: the server hands --eviction-hard to its local
// agent, whose node then reports the pressure; a malformed threshold stops
// the server before it starts, with one line.
func TestServerEvictionHard(t *testing.T) {
	needAgent(t)
	out, err := exec.Command(skiffBin, "server", "--config", "", "--data-dir", t.TempDir(), "--eviction-hard", "nodefs.available<200%").CombinedOutput()
	if err == nil || strings.Count(strings.TrimSpace(string(out)), "\n") != 0 || !strings.Contains(string(out), "percentage must be in (0, 100]") {
		t.Fatalf("a bad --eviction-hard: %v %q", err, out)
	}
	s := startServer(t, withAgent(), withArgs("--node-name", "squeezed-server", "--eviction-hard", "memory.available<1Ei"))
	eventually(t, 60*time.Second, "MemoryPressure on the server's own node", func() bool {
		got, _ := s.kubectl("get", "node", "squeezed-server", "-o", `jsonpath={.status.conditions[?(@.type=="MemoryPressure")].status}`)
		return got == "True"
	})
}

// TestAgentMemoryPressure: an agent whose --eviction-hard threshold the
// node is under reports MemoryPressure, the server taints the node against
// new pods, and the scheduler says why a pod stays Pending. A malformed
// threshold is refused with one line.
func TestAgentMemoryPressure(t *testing.T) {
	needAgent(t)
	out, err := exec.Command(skiffBin, "agent", "--eviction-hard", "memory.free<1Gi", "--server", "https://127.0.0.1:1", "--token", "x").CombinedOutput()
	if err == nil || strings.Count(strings.TrimSpace(string(out)), "\n") != 0 || !strings.Contains(string(out), `unknown signal "memory.free"`) {
		t.Fatalf("a bad --eviction-hard: %v %q", err, out)
	}
	s := startServer(t)
	agentDir := t.TempDir()
	prepareAgentDir(t, agentDir)
	// No node has an exbibyte available: the threshold is always crossed.
	startAgent(t, s, agentDir, "--node-name", "squeezed", "--eviction-hard", "memory.available<1Ei")
	waitNodeReady(t, s, "squeezed", 60*time.Second)
	eventually(t, 30*time.Second, "MemoryPressure and its taint", func() bool {
		got := s.mustKubectl("get", "node", "squeezed", "-o",
			`jsonpath={.status.conditions[?(@.type=="MemoryPressure")].status} {.status.conditions[?(@.type=="MemoryPressure")].reason} {.spec.taints[*].key}`)
		return strings.HasPrefix(got, "True KubeletHasInsufficientMemory ") && strings.Contains(got, "node.kubernetes.io/memory-pressure")
	})
	if got := s.mustKubectl("get", "node", "squeezed", "-o", `jsonpath={.status.conditions[?(@.type=="DiskPressure")].status}`); got != "False" {
		t.Fatalf("DiskPressure %q with only memory short", got)
	}
	s.mustKubectl("run", "wants-room", "--image="+TestImage, "--image-pull-policy=Never", "--", "sleep", "3600")
	eventually(t, 30*time.Second, "FailedScheduling for the memory-pressure taint", func() bool {
		ev, _ := s.kubectl("get", "events", "--field-selector", "involvedObject.name=wants-room,reason=FailedScheduling", "-o", "jsonpath={.items[*].message}")
		return strings.Contains(ev, "node.kubernetes.io/memory-pressure")
	})
	if node := podField(s, "default", "wants-room", "{.spec.nodeName}"); node != "" {
		t.Fatalf("a pod was scheduled onto a node under memory pressure: %q", node)
	}
}
