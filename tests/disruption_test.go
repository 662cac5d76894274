package tests

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
)

// readyPod creates pod name on node with labels, and reports it Running
// and Ready through the status subresource, as the node's agent would.
// Its grace period is 0: with no agent to stop it, a deleted pod goes at
// once.
func readyPod(t *testing.T, c kubernetes.Interface, name, node string, lbls map[string]string) {
	t.Helper()
	ctx := context.Background()
	zero := int64(0)
	p, err := c.CoreV1().Pods("default").Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls},
		Spec: corev1.PodSpec{NodeName: node, TerminationGracePeriodSeconds: &zero,
			Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status.Phase = corev1.PodRunning
	setPodReady(t, c, p, true)
}

func createPDB(t *testing.T, c kubernetes.Interface, name string, spec policyv1.PodDisruptionBudgetSpec) {
	t.Helper()
	if _, err := c.PolicyV1().PodDisruptionBudgets("default").Create(context.Background(),
		&policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// waitAllowed waits until the budget's status, computed for its current
// generation, allows n disruptions.
func waitAllowed(t *testing.T, c kubernetes.Interface, name string, n int32) *policyv1.PodDisruptionBudget {
	t.Helper()
	var pdb *policyv1.PodDisruptionBudget
	eventually(t, 20*time.Second, fmt.Sprintf("PDB %s to allow %d disruptions", name, n), func() bool {
		var err error
		pdb, err = c.PolicyV1().PodDisruptionBudgets("default").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return pdb.Status.ObservedGeneration == pdb.Generation && pdb.Status.DisruptionsAllowed == n
	})
	return pdb
}

func evict(c kubernetes.Interface, name string, opts *metav1.DeleteOptions) error {
	return c.PolicyV1().Evictions("default").Evict(context.Background(), &policyv1.Eviction{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, DeleteOptions: opts})
}

func podGone(t *testing.T, c kubernetes.Interface, name string) bool {
	t.Helper()
	_, err := c.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	return apierrors.IsNotFound(err)
}

// TestDisruptionBudget: the disruption controller computes a budget's
// status (kubectl shows ALLOWED DISRUPTIONS), the eviction API takes from
// it and refuses with 429 and kube's message once it is spent, until the
// status catches up with a new Ready pod; a dry run takes nothing; a pod
// under two budgets is refused with 500; unready pods go under
// AlwaysAllow; pending pods go freely.
func TestDisruptionBudget(t *testing.T) {
	needIntegration(t, "kubectl")
	s := startServer(t)
	c := s.client()
	ctx := context.Background()
	waitDefaultServiceAccount(t, c)
	for _, n := range []string{"n1", "n2", "n3"} {
		schedNode(t, c, n, "4", "8Gi")
	}
	web := map[string]string{"app": "web"}
	for i, n := range []string{"n1", "n2", "n3"} {
		readyPod(t, c, fmt.Sprintf("web-%d", i), n, web)
	}
	two := intstr.FromInt32(2)
	createPDB(t, c, "web", policyv1.PodDisruptionBudgetSpec{MinAvailable: &two, Selector: &metav1.LabelSelector{MatchLabels: web}})
	pdb := waitAllowed(t, c, "web", 1)
	if st := pdb.Status; st.CurrentHealthy != 3 || st.DesiredHealthy != 2 || st.ExpectedPods != 3 {
		t.Errorf("status %+v; want currentHealthy 3, desiredHealthy 2, expectedPods 3", st)
	}
	if cond := meta(pdb.Status.Conditions, policyv1.DisruptionAllowedCondition); cond == nil || cond.Status != metav1.ConditionTrue || cond.Reason != policyv1.SufficientPodsReason {
		t.Errorf("DisruptionAllowed condition %+v; want True SufficientPods", cond)
	}
	out := s.mustKubectl("get", "pdb", "web")
	if f := strings.Fields(strings.Split(out, "\n")[1]); len(f) < 4 || strings.Join(f[:4], " ") != "web 2 N/A 1" {
		t.Errorf("kubectl get pdb:\n%s", out)
	}
	if !strings.Contains(out, "ALLOWED DISRUPTIONS") {
		t.Errorf("kubectl get pdb header:\n%s", out)
	}

	// A dry run takes nothing and deletes nothing.
	if err := evict(c, "web-0", &metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Fatalf("dry-run eviction: %v", err)
	}
	if podGone(t, c, "web-0") {
		t.Fatal("a dry-run eviction deleted the pod")
	}
	waitAllowed(t, c, "web", 1)

	// Two evictions in a row: the first takes the one disruption.
	if err := evict(c, "web-0", nil); err != nil {
		t.Fatalf("first eviction: %v", err)
	}
	if !podGone(t, c, "web-0") {
		t.Fatal("web-0 still exists after its eviction")
	}
	err := evict(c, "web-1", nil)
	if !apierrors.IsTooManyRequests(err) || err.Error() != "Cannot evict pod as it would violate the pod's disruption budget." {
		t.Fatalf("second eviction: %v; want 429", err)
	}
	if se, ok := err.(apierrors.APIStatus); !ok || se.Status().Details == nil || len(se.Status().Details.Causes) != 1 ||
		se.Status().Details.Causes[0].Type != policyv1.DisruptionBudgetCause {
		t.Errorf("second eviction's causes: %+v", err)
	}
	pdb = waitAllowed(t, c, "web", 0)
	if cond := meta(pdb.Status.Conditions, policyv1.DisruptionAllowedCondition); cond == nil || cond.Status != metav1.ConditionFalse || cond.Reason != policyv1.InsufficientPodsReason {
		t.Errorf("DisruptionAllowed condition %+v; want False InsufficientPods", cond)
	}
	// A pod turning Ready elsewhere gives the budget back.
	readyPod(t, c, "web-3", "n1", web)
	waitAllowed(t, c, "web", 1)
	if err := evict(c, "web-1", nil); err != nil {
		t.Fatalf("eviction once the budget caught up: %v", err)
	}

	// Unready pods: kept while the budget is short (IfHealthyBudget),
	// evicted freely under AlwaysAllow.
	waitAllowed(t, c, "web", 0)
	p, err := c.CoreV1().Pods("default").Get(ctx, "web-2", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	setPodReady(t, c, p, false)
	eventually(t, 20*time.Second, "the budget to count web-2 unhealthy", func() bool {
		pdb := waitAllowed(t, c, "web", 0)
		return pdb.Status.CurrentHealthy == 1
	})
	if err := evict(c, "web-2", nil); !apierrors.IsTooManyRequests(err) {
		t.Errorf("evicting an unready pod of a short budget: %v; want 429", err)
	}
	if _, err := c.PolicyV1().PodDisruptionBudgets("default").Patch(ctx, "web", types.MergePatchType,
		[]byte(`{"spec":{"unhealthyPodEvictionPolicy":"AlwaysAllow"}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitAllowed(t, c, "web", 0)
	if err := evict(c, "web-2", nil); err != nil {
		t.Errorf("evicting an unready pod under AlwaysAllow: %v", err)
	}

	// A pending pod is evicted without asking the budget.
	zero := int64(0)
	if _, err := c.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-pending", Labels: web},
		Spec: corev1.PodSpec{NodeName: "n2", TerminationGracePeriodSeconds: &zero,
			Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// (in a policy/v1beta1 body, which older clients send)
	v1beta1 := `{"apiVersion":"policy/v1beta1","kind":"Eviction","metadata":{"name":"web-pending","namespace":"default"}}`
	if err := c.CoreV1().RESTClient().Post().Namespace("default").Resource("pods").Name("web-pending").SubResource("eviction").
		Body([]byte(v1beta1)).SetHeader("Content-Type", "application/json").Do(ctx).Error(); err != nil {
		t.Errorf("evicting a pending pod: %v", err)
	}
	if !podGone(t, c, "web-pending") {
		t.Error("web-pending is still there after its eviction")
	}

	// Two budgets over one pod: 500, as kube answers.
	createPDB(t, c, "web-too", policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &two, Selector: &metav1.LabelSelector{MatchLabels: web}})
	err = evict(c, "web-3", nil)
	if !apierrors.IsInternalError(err) || !strings.Contains(err.Error(), "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.") {
		t.Errorf("eviction under two budgets: %v; want 500", err)
	}
	// maxUnavailable over pods without a controller: nothing to count
	// replicas of, so the budget allows nothing (kube's UnmanagedPods).
	waitAllowed(t, c, "web-too", 0)

	// Validation: exactly one of minAvailable and maxUnavailable.
	_, err = c.PolicyV1().PodDisruptionBudgets("default").Create(ctx, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "both"},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: &two, MaxUnavailable: &two}}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "minAvailable and maxUnavailable cannot be both set") {
		t.Errorf("PDB with both: %v", err)
	}
}

func meta(conds []metav1.Condition, t string) *metav1.Condition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}

// TestDrain: kubectl cordon, drain and uncordon against Node objects.
// drain evicts the pods of n1 through the eviction API; the budget lets
// one go, so drain keeps retrying the other (and a short drain times out
// with the budget's message) until a pod turns Ready on n2.
func TestDrain(t *testing.T) {
	needIntegration(t, "kubectl")
	s := startServer(t)
	c := s.client()
	ctx := context.Background()
	waitDefaultServiceAccount(t, c)
	schedNode(t, c, "n1", "4", "8Gi")
	schedNode(t, c, "n2", "4", "8Gi")
	web := map[string]string{"app": "web"}
	readyPod(t, c, "web-a", "n1", web)
	readyPod(t, c, "web-b", "n1", web)
	readyPod(t, c, "web-c", "n2", web)
	two := intstr.FromInt32(2)
	createPDB(t, c, "web", policyv1.PodDisruptionBudgetSpec{MinAvailable: &two, Selector: &metav1.LabelSelector{MatchLabels: web}})
	waitAllowed(t, c, "web", 1)

	s.mustKubectl("cordon", "n1")
	n1, err := c.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !n1.Spec.Unschedulable {
		t.Fatal("kubectl cordon n1 left it schedulable")
	}

	// The test's pods have no controller, hence --force; they are still
	// evicted through the eviction API.
	drain := []string{"drain", "n1", "--ignore-daemonsets", "--delete-emptydir-data", "--force"}
	out, err := s.kubectl(append(drain, "--timeout=8s")...)
	if err == nil || !strings.Contains(out, "Cannot evict pod as it would violate the pod's disruption budget.") {
		t.Fatalf("drain with a spent budget: %v; want a timeout with the budget's message:\n%s", err, out)
	}
	gone := 0
	for _, n := range []string{"web-a", "web-b"} {
		if podGone(t, c, n) {
			gone++
		}
	}
	if gone != 1 {
		t.Fatalf("after a drain the budget stopped, %d of n1's two pods are gone; want 1", gone)
	}

	// Drain again; it finishes once a pod turns Ready on n2.
	cmd := exec.Command("kubectl", append([]string{"--kubeconfig", s.kubeconfig}, append(drain, "--timeout=60s")...)...)
	buf := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = buf, buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-done
		}
	})
	eventually(t, 20*time.Second, "drain to hit the budget", func() bool {
		return strings.Contains(buf.String(), "Cannot evict pod as it would violate the pod's disruption budget.")
	})
	readyPod(t, c, "web-d", "n2", web)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("drain: %v\n%s", err, buf.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("drain did not finish:\n%s", buf.String())
	}
	if !strings.Contains(buf.String(), "node/n1 drained") {
		t.Errorf("drain output:\n%s", buf.String())
	}
	for _, n := range []string{"web-a", "web-b"} {
		if !podGone(t, c, n) {
			t.Errorf("%s is still there after the drain", n)
		}
	}
	for _, n := range []string{"web-c", "web-d"} {
		if podGone(t, c, n) {
			t.Errorf("%s, on n2, was removed by draining n1", n)
		}
	}

	s.mustKubectl("uncordon", "n1")
	if n1, err = c.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if n1.Spec.Unschedulable {
		t.Error("kubectl uncordon n1 left it unschedulable")
	}
}
