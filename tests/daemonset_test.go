package tests

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

const daemonSetYAML = `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels: {app: agent}
  updateStrategy:
    type: RollingUpdate
    rollingUpdate: {maxUnavailable: 1}
  template:
    metadata:
      labels: {app: agent}
    spec:
      nodeSelector: {role: worker}
      tolerations:
      - {key: dedicated, operator: Equal, value: edge, effect: NoSchedule}
      containers:
      - name: c
        image: busybox:1
`

// dsPods returns node -> image of the DaemonSet's pods that are not being
// deleted.
func dsPods(t *testing.T, c kubernetes.Interface, app string) map[string][]string {
	t.Helper()
	list, err := c.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, p := range list.Items {
		if p.DeletionTimestamp != nil {
			continue
		}
		out[p.Spec.NodeName] = append(out[p.Spec.NodeName], p.Spec.Containers[0].Image)
	}
	return out
}

func sameImages(got map[string][]string, nodes []string, image string) bool {
	if len(got) != len(nodes) {
		return false
	}
	for _, n := range nodes {
		if len(got[n]) != 1 || got[n][0] != image {
			return false
		}
	}
	return true
}

// TestDaemonSetAPI drives the DaemonSet controller with Node objects and a
// fake kubelet: placement by nodeSelector and taints, a new node, a rolling
// update through kubectl that never has two nodes down, and rollout
// history and undo.
func TestDaemonSetAPI(t *testing.T) {
	needIntegration(t, "kubectl")
	s := startServer(t)
	c := s.client()
	ctx := context.Background()
	worker := map[string]string{"role": "worker"}
	taintedNode(t, c, "n1", worker)
	taintedNode(t, c, "n2", worker)
	taintedNode(t, c, "n3", worker, corev1.Taint{Key: "dedicated", Value: "edge", Effect: corev1.TaintEffectNoSchedule})
	taintedNode(t, c, "n4", worker, corev1.Taint{Key: "gpu", Value: "yes", Effect: corev1.TaintEffectNoSchedule})
	taintedNode(t, c, "n5", map[string]string{"role": "gateway"})
	k := startFakeKubelet(t, c, 300*time.Millisecond)

	if out, err := s.kubectlStdin(daemonSetYAML, "apply", "-f", "-"); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	want := []string{"n1", "n2", "n3"}
	eventually(t, 30*time.Second, "one agent pod on n1, n2, n3", func() bool {
		return sameImages(dsPods(t, c, "agent"), want, "busybox:1")
	})
	// The pods are pinned by node affinity and bound by the scheduler,
	// and carry the daemon tolerations.
	list, _ := c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=agent"})
	p := list.Items[0]
	terms := p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) != 1 || terms[0].MatchFields[0].Key != "metadata.name" || terms[0].MatchFields[0].Values[0] != p.Spec.NodeName {
		t.Fatalf("daemon pod affinity: %+v", terms)
	}
	var keys []string
	for _, tol := range p.Spec.Tolerations {
		keys = append(keys, tol.Key+":"+string(tol.Effect))
	}
	if j := strings.Join(keys, ","); !strings.Contains(j, "node.kubernetes.io/unreachable:NoExecute") || !strings.Contains(j, "node.kubernetes.io/unschedulable:NoSchedule") {
		t.Fatalf("daemon pod tolerations: %s", j)
	}
	eventually(t, 30*time.Second, "status 3/3 ready", func() bool {
		ds, err := c.AppsV1().DaemonSets("default").Get(ctx, "agent", metav1.GetOptions{})
		st := ds.Status
		return err == nil && st.DesiredNumberScheduled == 3 && st.CurrentNumberScheduled == 3 && st.NumberReady == 3 &&
			st.NumberAvailable == 3 && st.UpdatedNumberScheduled == 3 && st.NumberMisscheduled == 0 && st.ObservedGeneration == ds.Generation
	})

	// A new matching node gets a pod.
	taintedNode(t, c, "n6", worker)
	want = append(want, "n6")
	eventually(t, 30*time.Second, "a pod on the new node n6", func() bool {
		return sameImages(dsPods(t, c, "agent"), want, "busybox:1")
	})
	s.mustKubectl("rollout", "status", "ds/agent", "--timeout=60s")

	// Rolling update: never more than one of the four nodes without an
	// available (ready, not terminating) pod.
	var mu sync.Mutex
	maxDown := 0
	k.setObserve(func(pods []*corev1.Pod) {
		up := map[string]bool{}
		for _, p := range pods {
			if p.Labels["app"] == "agent" && p.DeletionTimestamp == nil && podReady(p) {
				up[p.Spec.NodeName] = true
			}
		}
		down := 0
		for _, n := range want {
			if !up[n] {
				down++
			}
		}
		mu.Lock()
		if down > maxDown {
			maxDown = down
		}
		mu.Unlock()
	})
	s.mustKubectl("set", "image", "ds/agent", "c=busybox:2")
	s.mustKubectl("rollout", "status", "ds/agent", "--timeout=90s")
	eventually(t, 30*time.Second, "every pod at busybox:2", func() bool {
		return sameImages(dsPods(t, c, "agent"), want, "busybox:2")
	})
	k.setObserve(nil)
	mu.Lock()
	if maxDown != 1 {
		t.Errorf("during the rolling update up to %d nodes were without an available pod, want exactly 1 (maxUnavailable); kubelet saw:\n%s",
			maxDown, strings.Join(k.events(), "\n"))
	}
	mu.Unlock()

	// History and undo through kubectl.
	out := s.mustKubectl("rollout", "history", "ds/agent")
	if !strings.Contains(out, "1 ") || !strings.Contains(out, "2 ") {
		t.Fatalf("rollout history:\n%s", out)
	}
	out = s.mustKubectl("rollout", "history", "ds/agent", "--revision=1")
	if !strings.Contains(out, "busybox:1") {
		t.Fatalf("rollout history --revision=1:\n%s", out)
	}
	s.mustKubectl("rollout", "undo", "ds/agent")
	s.mustKubectl("rollout", "status", "ds/agent", "--timeout=90s")
	eventually(t, 30*time.Second, "every pod back at busybox:1", func() bool {
		return sameImages(dsPods(t, c, "agent"), want, "busybox:1")
	})
	revs, err := c.AppsV1().ControllerRevisions("default").List(ctx, metav1.ListOptions{LabelSelector: "app=agent"})
	if err != nil {
		t.Fatal(err)
	}
	var nums []int
	for _, r := range revs.Items {
		if !strings.HasPrefix(r.Name, "agent-") || r.Labels[appsv1.ControllerRevisionHashLabelKey] == "" {
			t.Errorf("revision %s labels %v", r.Name, r.Labels)
		}
		nums = append(nums, int(r.Revision))
	}
	sort.Ints(nums)
	if len(nums) != 2 || nums[0] != 2 || nums[1] != 3 {
		t.Errorf("revisions after undo: %v, want [2 3] (the undone template renumbered)", nums)
	}

	// The events kubectl describe shows.
	out = s.mustKubectl("get", "events", "--field-selector", "involvedObject.kind=DaemonSet,involvedObject.name=agent")
	if !strings.Contains(out, "SuccessfulCreate") || !strings.Contains(out, "SuccessfulDelete") || !strings.Contains(out, "Created pod: agent-") {
		t.Errorf("DaemonSet events:\n%s", out)
	}

	// A node that stops matching loses its pod.
	n, _ := c.CoreV1().Nodes().Get(ctx, "n6", metav1.GetOptions{})
	n.Labels["role"] = "gateway"
	if _, err := c.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	want = want[:3]
	eventually(t, 30*time.Second, "n6's pod removed", func() bool {
		return sameImages(dsPods(t, c, "agent"), want, "busybox:1")
	})
}

// TestDaemonSetAgent runs a DaemonSet on the server's real local agent.
func TestDaemonSetAgent(t *testing.T) {
	needAgent(t)
	s := startServer(t, withAgent())
	node := localNode(t)
	waitNodeReady(t, s, node, 60*time.Second)
	yaml := `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: sleeper
spec:
  selector:
    matchLabels: {app: sleeper}
  template:
    metadata:
      labels: {app: sleeper}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: ` + TestImage + `
        imagePullPolicy: Never
        command: [sleep, "3600"]
`
	if out, err := s.kubectlStdin(yaml, "apply", "-f", "-"); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	s.mustKubectl("rollout", "status", "ds/sleeper", "--timeout=120s")
	c := s.client()
	list, err := c.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app=sleeper"})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].Spec.NodeName != node || list.Items[0].Status.Phase != corev1.PodRunning || !podReady(&list.Items[0]) {
		t.Fatalf("want one Running, Ready pod on %s, got %d: %+v", node, len(list.Items), list.Items)
	}
	ds, _ := c.AppsV1().DaemonSets("default").Get(context.Background(), "sleeper", metav1.GetOptions{})
	if ds.Status.DesiredNumberScheduled != 1 || ds.Status.NumberReady != 1 || ds.Status.NumberAvailable != 1 {
		t.Fatalf("status %+v", ds.Status)
	}
}
