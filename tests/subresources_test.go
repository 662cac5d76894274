package tests

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestPodBindingStatusAndLog: binding assigns a node once; status writes
// change only status; logs of a pod whose node has no agent connected answer 503.
func TestPodBindingStatusAndLog(t *testing.T) {
	needIntegration(t, "kubectl")
	s := startServer(t)
	ctx := context.Background()
	pods := s.client().CoreV1().Pods("default")
	// Another scheduler's pod: skiff's scheduler leaves it for the test to bind.
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{SchedulerName: "test-binder", Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	if _, err := pods.Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// No node yet: logs are a client error.
	if err := pods.GetLogs("p", &corev1.PodLogOptions{}).Do(ctx).Error(); !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "does not have a host assigned") {
		t.Fatalf("logs of an unscheduled pod: %v", err)
	}
	bind := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Target: corev1.ObjectReference{Kind: "Node", Name: "node-a"}}
	if err := pods.Bind(ctx, bind, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, _ := pods.Get(ctx, "p", metav1.GetOptions{})
	if got.Spec.NodeName != "node-a" {
		t.Fatalf("nodeName after binding = %q", got.Spec.NodeName)
	}
	if err := pods.Bind(ctx, bind, metav1.CreateOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("second binding: %v, want 409", err)
	}
	// Status writes keep the spec (and, as kube-apiserver, take the label
	// and annotation changes they carry); spec writes keep the status.
	got.Status.Phase = corev1.PodRunning
	got.Spec.ActiveDeadlineSeconds = ptrTo(int64(5))
	got.Labels = map[string]string{"set-by-status": "yes"}
	got.Annotations = map[string]string{"note": "from status"}
	upd, err := pods.UpdateStatus(ctx, got, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if upd.Status.Phase != corev1.PodRunning || upd.Labels["set-by-status"] != "yes" || upd.Annotations["note"] != "from status" || upd.Spec.ActiveDeadlineSeconds != nil {
		t.Fatalf("after status update: phase %s labels %v annotations %v deadline %v", upd.Status.Phase, upd.Labels, upd.Annotations, upd.Spec.ActiveDeadlineSeconds)
	}
	upd.Status.Phase = corev1.PodFailed
	upd.Labels = map[string]string{"kept": "yes"}
	upd2, err := pods.Update(ctx, upd, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if upd2.Status.Phase != corev1.PodRunning || upd2.Labels["kept"] != "yes" {
		t.Fatalf("after main update: phase %s labels %v", upd2.Status.Phase, upd2.Labels)
	}
	// node-a has no agent connected: a clear 503.
	out, err := s.kubectl("logs", "p")
	if err == nil || !strings.Contains(out, "node-a") {
		t.Fatalf("kubectl logs: %v\n%s", err, out)
	}
	if err := pods.GetLogs("p", &corev1.PodLogOptions{}).Do(ctx).Error(); !apierrors.IsServiceUnavailable(err) {
		t.Fatalf("logs of a scheduled pod: %v, want 503", err)
	}
	// Deleting a pod on a node is graceful: it stays, marked, until its
	// node confirms; grace period 0 removes it at once.
	if err := pods.Delete(ctx, "p", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err = pods.Get(ctx, "p", metav1.GetOptions{})
	if err != nil || got.DeletionTimestamp == nil || got.DeletionGracePeriodSeconds == nil || *got.DeletionGracePeriodSeconds != 30 {
		t.Fatalf("graceful delete: %v %+v", err, got.ObjectMeta)
	}
	zero := int64(0)
	if err := pods.Delete(ctx, "p", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(ctx, "p", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("after grace 0: %v", err)
	}
}

// TestBindingWritePath: pods/binding validates, honours dryRun and
// preconditions, and refuses a Binding named for another pod, as
// kube-apiserver's binding does.
func TestBindingWritePath(t *testing.T) {
	needIntegration(t)
	s := startServer(t)
	ctx := context.Background()
	pods := s.client().CoreV1().Pods("default")
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: corev1.PodSpec{SchedulerName: "test-binder", Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	created, err := pods.Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	unbound := func() {
		t.Helper()
		if got, _ := pods.Get(ctx, "b", metav1.GetOptions{}); got.Spec.NodeName != "" {
			t.Fatalf("pod bound to %q", got.Spec.NodeName)
		}
	}
	target := corev1.ObjectReference{Kind: "Node", Name: "node-a"}

	err = pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Target: target}, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatalf("dry-run binding: %v", err)
	}
	unbound()

	err = pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Target: corev1.ObjectReference{Kind: "Node"}}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "target.name: Required value") {
		t.Fatalf("binding without a target: %v, want 422 naming target.name", err)
	}
	err = pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Target: corev1.ObjectReference{Kind: "Pod", Name: "x"}}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "target.kind") {
		t.Fatalf("binding to a Pod: %v, want 422 naming target.kind", err)
	}
	// client-go posts to the URL of the Binding's name; another name in
	// the body is refused.
	res := s.client().CoreV1().RESTClient().Post().Namespace("default").Resource("pods").Name("b").SubResource("binding").
		Body(&corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "other"}, Target: target}).Do(ctx)
	if err := res.Error(); !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("binding named for another pod: %v, want 400", err)
	}
	err = pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "b", ResourceVersion: "1"}, Target: target}, metav1.CreateOptions{})
	if !apierrors.IsConflict(err) {
		t.Fatalf("binding with a stale resourceVersion: %v, want 409", err)
	}
	unbound()

	err = pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "b", UID: created.UID, ResourceVersion: created.ResourceVersion}, Target: target}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("binding with current preconditions: %v", err)
	}
	if got, _ := pods.Get(ctx, "b", metav1.GetOptions{}); got.Spec.NodeName != "node-a" {
		t.Fatalf("not bound: %q", got.Spec.NodeName)
	}
}

func ptrTo[T any](v T) *T { return &v }

// TestDeploymentStatusKeepsLabels: a Deployment's status write keeps its
// stored labels and takes annotation changes, as kube-apiserver's
// deployment status strategy does.
func TestDeploymentStatusKeepsLabels(t *testing.T) {
	needIntegration(t)
	s := startServer(t)
	ctx := context.Background()
	c := s.client().AppsV1().Deployments("default")
	lbl := map[string]string{"app": "d"}
	d, err := c.Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d", Labels: lbl},
		Spec: appsv1.DeploymentSpec{Replicas: ptrTo(int32(0)), Selector: &metav1.LabelSelector{MatchLabels: lbl},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: lbl}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}}},
		metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for {
		d.Labels = map[string]string{"app": "d", "extra": "ignored"}
		d.Annotations = map[string]string{"note": "kept"}
		upd, err := c.UpdateStatus(ctx, d, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			// The deployment controller wrote status meanwhile.
			if d, err = c.Get(ctx, "d", metav1.GetOptions{}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if upd.Labels["extra"] != "" || upd.Annotations["note"] != "kept" {
			t.Fatalf("after a Deployment status write: labels %v annotations %v", upd.Labels, upd.Annotations)
		}
		return
	}
}
