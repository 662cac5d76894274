package tests

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// schedNode creates a Ready Node with cpu, memory and room for 110 pods,
// as an agent would register it (no agent runs behind it).
func schedNode(t *testing.T, c kubernetes.Interface, name, cpu, mem string) {
	t.Helper()
	ctx := context.Background()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}}}
	created, err := c.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	list := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse(cpu),
		corev1.ResourceMemory: resource.MustParse(mem),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	created.Status = corev1.NodeStatus{
		Capacity: list, Allocatable: list,
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
			LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}},
	}
	if _, err := c.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func schedPod(name, cpu, mem string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "sched"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox", Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}}}}},
	}
}

func createPods(t *testing.T, c kubernetes.Interface, pods ...*corev1.Pod) {
	t.Helper()
	for _, p := range pods {
		if _, err := c.CoreV1().Pods("default").Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

func getPod(t *testing.T, c kubernetes.Interface, name string) *corev1.Pod {
	t.Helper()
	p, err := c.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func podScheduledCondition(p *corev1.Pod) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodScheduled {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// podEvent returns the Event with reason about pod name, or nil.
func podEvent(t *testing.T, c kubernetes.Interface, name, reason string) *corev1.Event {
	t.Helper()
	evs, err := c.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range evs.Items {
		e := &evs.Items[i]
		if e.InvolvedObject.Kind == "Pod" && e.InvolvedObject.Name == name && e.Reason == reason {
			return e
		}
	}
	return nil
}

func waitDefaultServiceAccount(t *testing.T, c kubernetes.Interface) {
	t.Helper()
	eventually(t, 10*time.Second, "the default ServiceAccount", func() bool {
		_, err := c.CoreV1().ServiceAccounts("default").Get(context.Background(), "default", metav1.GetOptions{})
		return err == nil
	})
}

// TestScheduler: pods are bound and spread over Node objects; a pod too
// big for every node stays Pending with kube-scheduler's condition and
// FailedScheduling event until a big enough node appears; another
// scheduler's pod is left alone; a cordoned node gets no new pods.
func TestScheduler(t *testing.T) {
	needIntegration(t, "kubectl")
	s := startServer(t)
	c := s.client()
	waitDefaultServiceAccount(t, c)
	for _, n := range []string{"n1", "n2", "n3"} {
		schedNode(t, c, n, "4", "8Gi")
	}

	// Six equal pods: least-allocated scoring puts two on each node.
	for i := 0; i < 6; i++ {
		createPods(t, c, schedPod(fmt.Sprintf("web-%d", i), "500m", "256Mi"))
	}
	perNode := map[string]int{}
	eventually(t, 20*time.Second, "six pods bound", func() bool {
		clear(perNode)
		for i := 0; i < 6; i++ {
			p := getPod(t, c, fmt.Sprintf("web-%d", i))
			if p.Spec.NodeName == "" {
				return false
			}
			perNode[p.Spec.NodeName]++
		}
		return true
	})
	if perNode["n1"] != 2 || perNode["n2"] != 2 || perNode["n3"] != 2 {
		t.Fatalf("pods not spread two per node: %v", perNode)
	}
	web0 := getPod(t, c, "web-0")
	if cond := podScheduledCondition(web0); cond == nil || cond.Status != corev1.ConditionTrue {
		t.Errorf("bound pod's PodScheduled condition: %+v", cond)
	}
	eventually(t, 10*time.Second, "a Scheduled event for web-0", func() bool { return podEvent(t, c, "web-0", "Scheduled") != nil })
	ev := podEvent(t, c, "web-0", "Scheduled")
	if want := "Successfully assigned default/web-0 to " + web0.Spec.NodeName; ev.Message != want || ev.Type != corev1.EventTypeNormal || ev.Source.Component != "default-scheduler" {
		t.Errorf("Scheduled event: type %q source %q message %q, want %q", ev.Type, ev.Source.Component, ev.Message, want)
	}

	// A pod of another scheduler, then one too big for every node.
	other := schedPod("other", "100m", "64Mi")
	other.Spec.SchedulerName = "other"
	createPods(t, c, other, schedPod("big", "16", "1Gi"))
	const wantMsg = "0/3 nodes are available: 3 Insufficient cpu."
	eventually(t, 20*time.Second, "big to be reported unschedulable", func() bool {
		cond := podScheduledCondition(getPod(t, c, "big"))
		return cond != nil && cond.Status == corev1.ConditionFalse
	})
	big := getPod(t, c, "big")
	cond := podScheduledCondition(big)
	if big.Spec.NodeName != "" || cond.Reason != corev1.PodReasonUnschedulable || cond.Message != wantMsg {
		t.Fatalf("big: node %q, PodScheduled %+v; want Unschedulable %q", big.Spec.NodeName, cond, wantMsg)
	}
	eventually(t, 10*time.Second, "a FailedScheduling event for big", func() bool { return podEvent(t, c, "big", "FailedScheduling") != nil })
	ev = podEvent(t, c, "big", "FailedScheduling")
	if ev.Message != wantMsg || ev.Type != corev1.EventTypeWarning {
		t.Errorf("FailedScheduling event: type %q message %q, want Warning %q", ev.Type, ev.Message, wantMsg)
	}
	contains(t, s.mustKubectl("describe", "pod", "big"), wantMsg)

	// By now the scheduler has been through the queue: "other" was seen
	// and left alone.
	if p := getPod(t, c, "other"); p.Spec.NodeName != "" || podScheduledCondition(p) != nil {
		t.Fatalf("pod of scheduler \"other\" was touched: node %q, conditions %+v", p.Spec.NodeName, p.Status.Conditions)
	}

	// A node with room appears: big is bound to it.
	schedNode(t, c, "n4", "32", "64Gi")
	eventually(t, 20*time.Second, "big to be bound once n4 exists", func() bool { return getPod(t, c, "big").Spec.NodeName != "" })
	if n := getPod(t, c, "big").Spec.NodeName; n != "n4" {
		t.Fatalf("big bound to %q, want n4", n)
	}

	// A cordoned node gets no new pods, even though it is the emptiest.
	s.mustKubectl("cordon", "n4")
	for i := 0; i < 3; i++ {
		createPods(t, c, schedPod(fmt.Sprintf("late-%d", i), "100m", "64Mi"))
	}
	eventually(t, 20*time.Second, "late pods bound", func() bool {
		for i := 0; i < 3; i++ {
			if getPod(t, c, fmt.Sprintf("late-%d", i)).Spec.NodeName == "" {
				return false
			}
		}
		return true
	})
	for i := 0; i < 3; i++ {
		if n := getPod(t, c, fmt.Sprintf("late-%d", i)).Spec.NodeName; n == "n4" {
			t.Fatalf("late-%d was bound to the cordoned node n4", i)
		}
	}
	if p := getPod(t, c, "other"); p.Spec.NodeName != "" {
		t.Fatalf("pod of scheduler \"other\" was bound to %q", p.Spec.NodeName)
	}
}

// TestSchedulerNoOvercommit: a burst of pods that together ask for more
// than the cluster has. The scheduler counts the pods it just bound before
// its informer shows them, so no node is overcommitted: exactly as many
// pods as fit are bound, the rest wait with kube-scheduler's message.
func TestSchedulerNoOvercommit(t *testing.T) {
	needIntegration(t, "kubectl")
	s := startServer(t)
	c := s.client()
	ctx := context.Background()
	waitDefaultServiceAccount(t, c)
	schedNode(t, c, "a", "2", "4Gi")
	schedNode(t, c, "b", "2", "4Gi")
	const n = 10
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, err := c.CoreV1().Pods("default").Create(ctx, schedPod(fmt.Sprintf("burst-%d", i), "1", "128Mi"), metav1.CreateOptions{})
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var bound, waiting int
	eventually(t, 20*time.Second, "every burst pod bound or reported unschedulable", func() bool {
		bound, waiting = 0, 0
		for i := 0; i < n; i++ {
			p := getPod(t, c, fmt.Sprintf("burst-%d", i))
			if p.Spec.NodeName != "" {
				bound++
			} else if cond := podScheduledCondition(p); cond != nil && cond.Status == corev1.ConditionFalse {
				waiting++
				if !strings.HasSuffix(cond.Message, "2 Insufficient cpu.") {
					t.Fatalf("%s: %q", p.Name, cond.Message)
				}
			}
		}
		return bound+waiting == n
	})
	if bound != 4 {
		t.Fatalf("%d pods bound on two 2-cpu nodes, want 4", bound)
	}
	pods, err := c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	perNode := map[string]int{}
	for _, p := range pods.Items {
		if p.Spec.NodeName != "" {
			perNode[p.Spec.NodeName]++
		}
	}
	if perNode["a"] != 2 || perNode["b"] != 2 {
		t.Fatalf("pods per node %v, want 2 on each", perNode)
	}
}

// TestDisableScheduler: with --disable-scheduler the server's scheduler
// does not run and pods wait for another one; the same data dir started
// without the flag binds them.
func TestDisableScheduler(t *testing.T) {
	needIntegration(t)
	s := startServer(t, withArgs("--disable-scheduler"))
	c := s.client()
	schedNode(t, c, "n1", "4", "8Gi")
	waitDefaultServiceAccount(t, c)
	createPods(t, c, schedPod("held", "100m", "64Mi"))
	// The other controllers run: the ReplicaSet controller makes a pod
	// after "held" was created, and the scheduler would have bound "held"
	// first (its queue is in creation order).
	s.mustKubectl("create", "deployment", "after", "--image=busybox", "--replicas=1")
	eventually(t, 30*time.Second, "the Deployment's pod", func() bool {
		pods, err := c.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app=after"})
		return err == nil && len(pods.Items) == 1
	})
	if !strings.Contains(s.log.String(), "--disable-scheduler") {
		t.Errorf("the server did not log that its scheduler is off:\n%s", tail(s.log.String(), 2000))
	}
	if p := getPod(t, c, "held"); p.Spec.NodeName != "" || podScheduledCondition(p) != nil {
		t.Fatalf("--disable-scheduler: pod was handled by skiff's scheduler: node %q, conditions %v", p.Spec.NodeName, p.Status.Conditions)
	}

	s.stop()
	s.args = nil
	s.start()
	eventually(t, 30*time.Second, "held to be bound once the scheduler runs", func() bool {
		return getPod(t, c, "held").Spec.NodeName == "n1"
	})
}
