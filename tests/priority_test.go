package tests

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// TestPriorityClasses: the two system classes exist from the start and
// kubectl lists them with kube's columns; a pod's priorityClassName is
// resolved to spec.priority and spec.preemptionPolicy on create (the
// globalDefault class, or 0, when it names none); an unknown class, a
// priority that disagrees, a second default, a reserved name and a
// changed value are refused in kube's words.
func TestPriorityClasses(t *testing.T) {
	needIntegration(t, "kubectl")
	s := startServer(t)
	c := s.client()
	ctx := context.Background()
	waitDefaultServiceAccount(t, c)

	out := s.mustKubectl("get", "pc")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if got := strings.Fields(lines[0]); strings.Join(got, " ") != "NAME VALUE GLOBAL-DEFAULT AGE PREEMPTIONPOLICY" {
		t.Fatalf("kubectl get pc header: %q\n%s", lines[0], out)
	}
	for _, want := range []string{"system-cluster-critical 2000000000 false", "system-node-critical 2000001000 false"} {
		found := false
		for _, l := range lines[1:] {
			f := strings.Fields(l)
			if len(f) == 5 && strings.Join(f[:3], " ") == want && f[4] == "PreemptLowerPriority" {
				found = true
			}
		}
		if !found {
			t.Errorf("kubectl get pc lacks %q:\n%s", want, out)
		}
	}

	s.mustKubectl("create", "priorityclass", "high", "--value=1000", "--preemption-policy=Never", "--description=important")
	pod := func(name, class string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{PriorityClassName: class, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	}
	p, err := c.CoreV1().Pods("default").Create(ctx, pod("hi", "high"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.Priority == nil || *p.Spec.Priority != 1000 || p.Spec.PreemptionPolicy == nil || *p.Spec.PreemptionPolicy != corev1.PreemptNever {
		t.Errorf("pod of class high: priority %v, preemptionPolicy %v; want 1000, Never", p.Spec.Priority, p.Spec.PreemptionPolicy)
	}
	// An update that leaves priority out (kubectl replace of an old
	// manifest) keeps it.
	// (The scheduler writes the pod's status meanwhile: retry on conflict.)
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := c.CoreV1().Pods("default").Get(ctx, "hi", metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Spec.Priority, cur.Spec.PreemptionPolicy = nil, nil
		cur.Labels = map[string]string{"replaced": "yes"}
		p, err = c.CoreV1().Pods("default").Update(ctx, cur, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatalf("updating a pod without its priority: %v", err)
	}
	if p.Spec.Priority == nil || *p.Spec.Priority != 1000 || p.Labels["replaced"] != "yes" {
		t.Errorf("updated pod: priority %v labels %v", p.Spec.Priority, p.Labels)
	}
	p, err = c.CoreV1().Pods("default").Create(ctx, pod("plain", ""), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.Priority == nil || *p.Spec.Priority != 0 || p.Spec.PriorityClassName != "" ||
		p.Spec.PreemptionPolicy == nil || *p.Spec.PreemptionPolicy != corev1.PreemptLowerPriority {
		t.Errorf("pod without class: priority %v class %q policy %v; want 0, \"\", PreemptLowerPriority", p.Spec.Priority, p.Spec.PriorityClassName, p.Spec.PreemptionPolicy)
	}
	p, err = c.CoreV1().Pods("kube-system").Create(ctx, pod("crit", "system-node-critical"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.Priority == nil || *p.Spec.Priority != 2000001000 {
		t.Errorf("system-node-critical pod: priority %v", p.Spec.Priority)
	}

	// An unknown class: 403 in kube's words, through kubectl too.
	_, err = c.CoreV1().Pods("default").Create(ctx, pod("x", "foo"), metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || err.Error() != `pods "x" is forbidden: no PriorityClass with name foo was found` {
		t.Errorf("pod of unknown class: %v", err)
	}
	out, err = s.kubectl("run", "y", "--image=busybox", `--overrides={"spec":{"priorityClassName":"foo"}}`)
	if err == nil || !strings.Contains(out, `pods "y" is forbidden: no PriorityClass with name foo was found`) {
		t.Errorf("kubectl run with an unknown class: %v\n%s", err, out)
	}
	// A priority of the client's own that disagrees with the class.
	bad := pod("z", "high")
	bad.Spec.Priority = new(int32)
	if _, err = c.CoreV1().Pods("default").Create(ctx, bad, metav1.CreateOptions{}); !apierrors.IsForbidden(err) ||
		!strings.Contains(err.Error(), "the integer value of priority (0) must not be provided in pod spec; priority admission controller computed 1000") {
		t.Errorf("pod with a disagreeing priority: %v", err)
	}

	// One global default, which pods without a class get.
	pcs := c.SchedulingV1().PriorityClasses()
	if _, err := pcs.Create(ctx, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "everyone"}, Value: 7, GlobalDefault: true}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = pcs.Create(ctx, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "second"}, Value: 8, GlobalDefault: true}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "PriorityClass everyone is already marked as default. Only one default can exist") {
		t.Errorf("second default: %v", err)
	}
	p, err = c.CoreV1().Pods("default").Create(ctx, pod("defaulted", ""), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.Priority == nil || *p.Spec.Priority != 7 || p.Spec.PriorityClassName != "everyone" {
		t.Errorf("pod under a default class: priority %v class %q; want 7, everyone", p.Spec.Priority, p.Spec.PriorityClassName)
	}

	// Validation.
	for _, tc := range []struct {
		pc   *schedulingv1.PriorityClass
		want string
	}{
		{&schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "huge"}, Value: 1000000001},
			"value: Forbidden: maximum allowed value of a user defined priority is 1000000000"},
		{&schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "system-mine"}, Value: 1},
			"metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-mine is not a known system priority class"},
	} {
		_, err := pcs.Create(ctx, tc.pc, metav1.CreateOptions{})
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("create %s: %v; want Invalid %q", tc.pc.Name, err, tc.want)
		}
	}
	high, err := pcs.Get(ctx, "high", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	high.Value = 2000
	if _, err := pcs.Update(ctx, high, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "value: Forbidden: may not be changed in an update.") {
		t.Errorf("changing a class's value: %v", err)
	}
}
