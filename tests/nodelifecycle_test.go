package tests

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// nodeWithLease creates a Ready node and its Lease, renewed now and valid
// for leaseSeconds; the test is its agent and stops renewing.
func nodeWithLease(t *testing.T, c kubernetes.Interface, name string, labels map[string]string, leaseSeconds int32) {
	t.Helper()
	ctx := context.Background()
	schedNode(t, c, name, "4", "8Gi")
	if len(labels) > 0 {
		n, err := c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range labels {
			n.Labels[k] = v
		}
		if _, err := c.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	renewLease(t, c, name, leaseSeconds)
}

// renewLease creates or renews a node's Lease.
func renewLease(t *testing.T, c kubernetes.Interface, name string, seconds int32) {
	t.Helper()
	ctx := context.Background()
	leases := c.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	now := metav1.NowMicro()
	l, err := leases.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = leases.Create(ctx, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: corev1.NamespaceNodeLease},
			Spec:       coordinationv1.LeaseSpec{HolderIdentity: ptr.To(name), LeaseDurationSeconds: ptr.To(seconds), RenewTime: &now},
		}, metav1.CreateOptions{})
	} else if err == nil {
		l.Spec.RenewTime, l.Spec.LeaseDurationSeconds = &now, ptr.To(seconds)
		_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
	}
	if err != nil {
		t.Fatal(err)
	}
}

func nodeReady(c kubernetes.Interface, name string) string {
	n, err := c.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return err.Error()
	}
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return fmt.Sprintf("%s/%s/%s", cond.Status, cond.Reason, cond.Message)
		}
	}
	return "none"
}

func nodeTaints(c kubernetes.Interface, name string) string {
	n, err := c.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, t := range n.Spec.Taints {
		out = append(out, t.Key+":"+string(t.Effect))
	}
	return strings.Join(out, ",")
}

// podState is "gone", "deleting" or the pod's Ready condition status.
func podState(c kubernetes.Interface, name string) string {
	p, err := c.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "gone"
	}
	if err != nil {
		return err.Error()
	}
	if p.DeletionTimestamp != nil {
		return "deleting"
	}
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodReady {
			return "ready=" + string(cond.Status)
		}
	}
	return "no-ready-condition"
}

func tolerateUnreachable(secs *int64) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: corev1.TaintNodeUnreachable,
			Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: secs})
	}
}

const unknownReady = "Unknown/NodeStatusUnknown/Kubelet stopped posting node status."

// TestNodeLifecycle: nodes whose Lease stops being renewed become Unknown
// and tainted; a plain node's pods are evicted after their
// tolerationSeconds, an edge node's stay; a node back in contact is Ready
// and untainted again; deleting a Node deletes its pods. No agent: the
// test writes the nodes, Leases and pod status itself.
func TestNodeLifecycle(t *testing.T) {
	needIntegration(t, "kubectl")
	s := startServer(t)
	c := s.client()
	ctx := context.Background()

	nodeWithLease(t, c, "plain", nil, 3)
	nodeWithLease(t, c, "edgy", map[string]string{"node.skiff.io/edge": "true"}, 3)
	nodeWithLease(t, c, "steady", nil, 3600)
	apiPod(t, c, "victim", "plain", "10.42.1.1", nil, true, tolerateUnreachable(ptr.To[int64](3)))
	apiPod(t, c, "stayer", "plain", "10.42.1.2", nil, true, tolerateUnreachable(nil))
	apiPod(t, c, "edgepod", "edgy", "10.42.1.3", nil, true, tolerateUnreachable(ptr.To[int64](1)))
	apiPod(t, c, "calm", "steady", "10.42.1.4", nil, true, tolerateUnreachable(ptr.To[int64](1)))

	for _, n := range []string{"plain", "edgy"} {
		waitFor(t, n+" Ready", unknownReady, func() string { return nodeReady(c, n) })
	}
	// The silent nodes are tainted, their pods not ready.
	for _, n := range []string{"plain", "edgy"} {
		waitFor(t, n+" taints", "node.kubernetes.io/unreachable:NoSchedule,node.kubernetes.io/unreachable:NoExecute", func() string { return nodeTaints(c, n) })
	}
	waitFor(t, "stayer on an Unknown node", "ready=False", func() string { return podState(c, "stayer") })
	waitFor(t, "edgepod on an Unknown node", "ready=False", func() string { return podState(c, "edgepod") })
	// The victim goes after its 3s; the pod tolerating forever stays.
	waitFor(t, "victim evicted", "deleting", func() string { return podState(c, "victim") })
	ev := s.mustKubectl("get", "events", "-o", "jsonpath={range .items[*]}{.reason}/{.involvedObject.name} {end}")
	for _, want := range []string{"NodeNotReady/plain", "TaintManagerEviction/victim", "RegisteredNode/plain"} {
		if !strings.Contains(ev, want) {
			t.Errorf("no %s event in %s", want, ev)
		}
	}

	// Well past the edge pod's 1s toleration, it is still there, and so is
	// the pod tolerating forever; the node with a live Lease is untouched.
	n, _ := c.CoreV1().Nodes().Get(ctx, "edgy", metav1.GetOptions{})
	var added time.Time
	for _, tt := range n.Spec.Taints {
		if tt.Effect == corev1.TaintEffectNoExecute && tt.TimeAdded != nil {
			added = tt.TimeAdded.Time
		}
	}
	if added.IsZero() {
		t.Fatalf("edgy's NoExecute taint has no timeAdded: %+v", n.Spec.Taints)
	}
	time.Sleep(time.Until(added.Add(5 * time.Second)))
	for pod, want := range map[string]string{"edgepod": "ready=False", "stayer": "ready=False", "calm": "ready=True"} {
		if got := podState(c, pod); got != want {
			t.Errorf("%s: %s, want %s", pod, got, want)
		}
	}
	if got := nodeReady(c, "steady"); !strings.HasPrefix(got, "True/") || nodeTaints(c, "steady") != "" {
		t.Errorf("steady node: %s, taints %q", got, nodeTaints(c, "steady"))
	}

	// The edge node's annotation overrides the default: evicted 2s after
	// the taint.
	s.mustKubectl("annotate", "node", "edgy", "node.skiff.io/eviction-timeout=2s")
	waitFor(t, "edgepod evicted under an eviction-timeout", "deleting", func() string { return podState(c, "edgepod") })

	// Back in contact: Ready as before, untainted, pods ready again.
	renewLease(t, c, "plain", 3600)
	waitFor(t, "plain back", "True/KubeletReady/", func() string { return nodeReady(c, "plain") })
	waitFor(t, "plain untainted", "", func() string { return nodeTaints(c, "plain") })
	waitFor(t, "stayer ready again", "ready=True", func() string { return podState(c, "stayer") })

	// Deleting a Node deletes its pods (after the pod GC's 40s quarantine).
	apiPod(t, c, "orphan", "steady", "10.42.1.5", nil, true)
	if err := c.CoreV1().Nodes().Delete(ctx, "steady", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 90*time.Second, "pods of a deleted node to be deleted", func() bool {
		return podState(c, "orphan") == "gone" && podState(c, "calm") == "gone"
	})
}

// TestPodGC: finished pods beyond --terminated-pod-gc-threshold are
// deleted, oldest first.
func TestPodGC(t *testing.T) {
	needIntegration(t)
	s := startServer(t, withArgs("--terminated-pod-gc-threshold", "2"))
	c := s.client()
	schedNode(t, c, "gc-node", "4", "8Gi")
	for i := 0; i < 4; i++ {
		p := apiPod(t, c, "done-"+strconv.Itoa(i), "gc-node", "", nil, false)
		p.Status.Phase = corev1.PodSucceeded
		setPodReady(t, c, p, false)
	}
	apiPod(t, c, "running", "gc-node", "10.42.2.1", nil, true)
	eventually(t, 30*time.Second, "the two oldest finished pods to be deleted", func() bool {
		return podState(c, "done-0") == "gone" && podState(c, "done-1") == "gone"
	})
	for _, p := range []string{"done-2", "done-3", "running"} {
		if st := podState(c, p); st == "gone" || st == "deleting" {
			t.Errorf("%s: %s", p, st)
		}
	}
}

// TestNodeLifecycleEdgeAgent, with real agents: a Service over the local
// agent's pods lists their pod IPs; an --edge agent on a second test host
// is stopped, its node goes Unknown and tainted, and its pod stays bound
// (even with a 1s toleration), with nothing started in its place.
func TestNodeLifecycleEdgeAgent(t *testing.T) {
	needAgent(t)
	needIntegration(t, "nsenter")
	const host = "skifftest-lc"
	testHost(t, host, "10.199.3.1", "10.199.3.2")
	s := startServer(t, withAgent(), withArgs("--bind-address", "0.0.0.0", "--tls-san", "10.199.3.1"))
	agentDir := t.TempDir()
	prepareAgentDir(t, agentDir)
	edge := startAgentVia(t, s, "https://10.199.3.1:"+strconv.Itoa(s.port), []string{"nsenter", "--net=/run/netns/" + host, "--"},
		agentDir, "--node-name", "edge2", "--edge")
	local := localNode(t)
	waitNodeReady(t, s, local, 90*time.Second)
	waitNodeReady(t, s, "edge2", 90*time.Second)
	c := s.client()
	if got := s.mustKubectl("get", "node", "edge2", "-o", "jsonpath={.metadata.labels.node\\.skiff\\.io/edge}"); got != "true" {
		t.Fatalf("edge2's edge label: %q", got)
	}

	pod := func(name, node, app string) string {
		return `apiVersion: v1
kind: Pod
metadata: {name: ` + name + `, labels: {app: ` + app + `}}
spec:
  nodeName: ` + node + `
  tolerations: [{key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 1}]
  containers:
  - name: c
    image: ` + TestImage + `
    imagePullPolicy: Never
    command: ["sh", "-c", "sleep 3602"]
    ports: [{name: http, containerPort: 8080}]
---
`
	}
	s.mustKubectlStdin(pod("echo-1", local, "echo")+pod("echo-2", local, "echo")+pod("far", "edge2", "far")+`apiVersion: v1
kind: Service
metadata: {name: echo}
spec:
  selector: {app: echo}
  ports: [{port: 80, targetPort: http}]
`, "apply", "-f", "-")
	for _, p := range []string{"echo-1", "echo-2", "far"} {
		waitPodPhase(t, s, "default", p, "Running", 90*time.Second)
	}
	ip1, ip2 := podField(s, "default", "echo-1", "{.status.podIP}"), podField(s, "default", "echo-2", "{.status.podIP}")
	if ip1 == "" || ip2 == "" {
		t.Fatalf("pod IPs %q %q", ip1, ip2)
	}
	want := ip1 + ":8080 " + ip2 + ":8080"
	if ip2 < ip1 {
		want = ip2 + ":8080 " + ip1 + ":8080"
	}
	waitFor(t, "Endpoints of echo", want, func() string { return endpointsOf(c, "echo") })
	waitFor(t, "slices of echo", "1 slices: "+want, func() string { return slicesOf(c, "echo", "endpointslice-controller.k8s.io") })

	// The edge agent goes away. Its Lease is valid for 180s; the test
	// shortens it rather than wait three minutes.
	edge.stop()
	s.mustKubectl("patch", "lease", "-n", "kube-node-lease", "edge2", "--type=merge", "-p", `{"spec":{"leaseDurationSeconds":3}}`)
	eventually(t, 30*time.Second, "edge2 Unknown", func() bool { return nodeReady(c, "edge2") == unknownReady })
	waitFor(t, "edge2 taints", "node.kubernetes.io/unreachable:NoSchedule,node.kubernetes.io/unreachable:NoExecute", func() string { return nodeTaints(c, "edge2") })
	if !strings.Contains(s.mustKubectl("get", "nodes"), "NotReady") {
		t.Errorf("kubectl get nodes does not show edge2 NotReady:\n%s", s.mustKubectl("get", "nodes"))
	}
	waitFor(t, "far on an Unknown node", "ready=False", func() string { return podState(c, "far") })
	time.Sleep(5 * time.Second) // well past far's 1s toleration
	if got := podState(c, "far"); got != "ready=False" {
		t.Fatalf("the edge node's pod: %s, want it bound and kept", got)
	}
	if got := podField(s, "default", "far", "{.spec.nodeName}"); got != "edge2" {
		t.Fatalf("far's node: %q", got)
	}
	if out := s.mustKubectl("get", "pods", "-l", "app=far", "-o", "name"); strings.TrimSpace(out) != "pod/far" {
		t.Fatalf("pods of app=far: %q", out)
	}
	// The local node is untouched and its pods still serve.
	if got := nodeReady(c, local); !strings.HasPrefix(got, "True/") {
		t.Fatalf("local node: %s", got)
	}
	if got := endpointsOf(c, "echo"); got != want {
		t.Fatalf("Endpoints of echo after edge2 left: %s", got)
	}

	// The agent comes back: the node is Ready and untainted again and the
	// pod, which ran all along, is ready (the agent resends nothing that
	// did not change: the controller puts back what it overwrote).
	edge.start()
	waitNodeReady(t, s, "edge2", 60*time.Second)
	waitFor(t, "edge2 untainted", "", func() string { return nodeTaints(c, "edge2") })
	waitFor(t, "far ready again", "ready=True", func() string { return podState(c, "far") })
}
