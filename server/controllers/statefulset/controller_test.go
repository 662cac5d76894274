package statefulset

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/skiff-io/skiff/server/kubeclient/kubeclienttest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestControllerLoop runs the controller on a fake clientset: web-0 and
// its claim first, web-1 only once web-0 is ready, and the status.
func TestControllerLoop(t *testing.T) {
	// The fake clientset's watch does not stream initial events.
	t.Setenv("KUBE_FEATURE_WatchListClient", "false")
	set := statefulSet(2)
	fake := kubeclienttest.New(set)
	c := New(fake, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = c.Run(ctx) }()
	defer func() { cancel(); wg.Wait() }()

	until := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	pods := func() []corev1.Pod {
		l, _ := fake.CoreV1().Pods("ns").List(ctx, metav1.ListOptions{})
		return l.Items
	}
	until("web-0", func() bool { return len(pods()) == 1 })
	if _, err := fake.CoreV1().PersistentVolumeClaims("ns").Get(ctx, "data-web-0", metav1.GetOptions{}); err != nil {
		t.Fatalf("claim data-web-0: %v", err)
	}
	// web-1 must wait for web-0: give the controller a moment to misbehave.
	time.Sleep(300 * time.Millisecond)
	if n := len(pods()); n != 1 {
		t.Fatalf("%d pods before web-0 is ready", n)
	}
	p := pods()[0]
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	if _, err := fake.CoreV1().Pods("ns").UpdateStatus(ctx, &p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	until("web-1", func() bool { return len(pods()) == 2 })
	until("status", func() bool {
		s, _ := fake.AppsV1().StatefulSets("ns").Get(ctx, "web", metav1.GetOptions{})
		return s.Status.Replicas == 2 && s.Status.ReadyReplicas == 1 && s.Status.UpdateRevision != "" && s.Status.ObservedGeneration == 3
	})
}
