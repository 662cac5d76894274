package scheduler

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skiff-io/skiff/server/kubeclient/kubeclienttest"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clienttesting "k8s.io/client-go/testing"
)

func TestPriorityQueue(t *testing.T) {
	prio := map[string]int32{"low": -5, "high": 1000, "a": 0, "b": 0, "mid": 10}
	q := &priorityQueue{priority: func(k string) int32 { return prio[k] }}
	for _, k := range []string{"a", "low", "high", "b", "mid"} {
		q.Push(k)
	}
	var got []string
	for q.Len() > 0 {
		got = append(got, q.Pop())
	}
	if want := "high mid a b low"; strings.Join(got, " ") != want {
		t.Fatalf("pop order %q, want %q (priority, then arrival)", strings.Join(got, " "), want)
	}
}

func testNode(name, cpu string) *corev1.Node {
	l := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse("8Gi"), corev1.ResourcePods: resource.MustParse("110")}
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name},
		Status: corev1.NodeStatus{Allocatable: l, Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}
}

func testPod(name, cpu string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}}}}
}

// fakeWithBinding is a fake clientset whose pods/binding sets
// spec.nodeName (and counts the bindings), as the API server does.
func fakeWithBinding(objs ...runtime.Object) (kubeclienttest.Fake, func() int) {
	f := kubeclienttest.New(objs...)
	var mu sync.Mutex
	binds := 0
	f.PrependReactor("create", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "binding" {
			return false, nil, nil
		}
		b := a.(clienttesting.CreateAction).GetObject().(*corev1.Binding)
		obj, err := f.Tracker().Get(corev1.SchemeGroupVersion.WithResource("pods"), b.Namespace, b.Name)
		if err != nil {
			return true, nil, err
		}
		p := obj.(*corev1.Pod).DeepCopy()
		p.Spec.NodeName = b.Target.Name
		mu.Lock()
		binds++
		mu.Unlock()
		return true, nil, f.Tracker().Update(corev1.SchemeGroupVersion.WithResource("pods"), p, b.Namespace)
	})
	return f, func() int { mu.Lock(); defer mu.Unlock(); return binds }
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestControllerBindsAndReports runs the controller against a fake
// clientset: pods are bound without overcommitting, the one that fits
// nowhere gets PodScheduled=False and a FailedScheduling event and is
// bound once a node with room appears, and another scheduler's pod is
// left alone.
func TestControllerBindsAndReports(t *testing.T) {
	// The fake clientset cannot stream a list through a watch (the API
	// server can); informers then list and watch.
	t.Setenv("KUBE_FEATURE_WatchListClient", "false")
	objs := []runtime.Object{testNode("a", "2"), testNode("b", "2")}
	for i := 0; i < 5; i++ {
		objs = append(objs, testPod(fmt.Sprintf("p%d", i), "1"))
	}
	other := testPod("other", "100m")
	other.Spec.SchedulerName = "someone-else"
	objs = append(objs, other)
	f, binds := fakeWithBinding(objs...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	c := New(f, Options{Instance: "test"})
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	pods := func() []corev1.Pod {
		l, err := f.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return l.Items
	}
	var unschedulable *corev1.Pod
	waitFor(t, "four pods bound and one reported unschedulable", func() bool {
		bound, reported := 0, 0
		items := pods()
		for i := range items {
			p := &items[i]
			if p.Spec.NodeName != "" {
				bound++
			}
			for _, cond := range p.Status.Conditions {
				if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse {
					reported++
					unschedulable = p
				}
			}
		}
		return bound == 4 && reported == 1
	})
	cond := unschedulable.Status.Conditions[0]
	if cond.Reason != "Unschedulable" || cond.Message != "0/2 nodes are available: 2 Insufficient cpu." {
		t.Fatalf("condition %+v", cond)
	}
	perNode := map[string]int{}
	for _, p := range pods() {
		perNode[p.Spec.NodeName]++
	}
	if perNode["a"] != 2 || perNode["b"] != 2 {
		t.Fatalf("per node %v: overcommitted", perNode)
	}
	// Events follow the writes they report.
	reasons := map[string]int{}
	waitFor(t, "4 Scheduled events and 1 FailedScheduling", func() bool {
		events, _ := f.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
		clear(reasons)
		for _, e := range events.Items {
			reasons[e.Reason]++
			if e.Reason == "FailedScheduling" && (e.Message != cond.Message || e.InvolvedObject.Name != unschedulable.Name || e.Type != corev1.EventTypeWarning) {
				t.Fatalf("FailedScheduling event %+v", e)
			}
		}
		return reasons["Scheduled"] == 4 && reasons["FailedScheduling"] == 1
	})

	if _, err := f.CoreV1().Nodes().Create(ctx, testNode("c", "4"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the waiting pod bound to the new node", func() bool {
		p, _ := f.CoreV1().Pods("default").Get(ctx, unschedulable.Name, metav1.GetOptions{})
		return p.Spec.NodeName == "c"
	})
	if p, _ := f.CoreV1().Pods("default").Get(ctx, "other", metav1.GetOptions{}); p.Spec.NodeName != "" || len(p.Status.Conditions) != 0 {
		t.Fatalf("another scheduler's pod was touched: %+v", p)
	}
	if binds() != 5 {
		t.Fatalf("%d bindings, want 5", binds())
	}
}
