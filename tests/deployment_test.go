package tests

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// podsOf lists the pods with label app=app.
func podsOf(t *testing.T, c kubernetes.Interface, app string) []corev1.Pod {
	t.Helper()
	l, err := c.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// livePods are the pods of app not being deleted, and how many are ready.
func livePods(t *testing.T, c kubernetes.Interface, app string) (live []corev1.Pod, ready int) {
	for _, p := range podsOf(t, c, app) {
		if p.DeletionTimestamp == nil {
			live = append(live, p)
			if podReady(&p) {
				ready++
			}
		}
	}
	return live, ready
}

func replicaSetsOf(t *testing.T, c kubernetes.Interface, app string) []appsv1.ReplicaSet {
	t.Helper()
	l, err := c.AppsV1().ReplicaSets("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}

func deploymentManifest(name, image string, replicas int, strategy string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
spec:
  replicas: %[3]d
  revisionHistoryLimit: 3
  selector:
    matchLabels: {app: %[1]s}
  strategy:
%[4]s
  template:
    metadata:
      labels: {app: %[1]s}
    spec:
      containers:
      - name: c
        image: %[2]s
        resources: {requests: {cpu: 100m, memory: 64Mi}}
`, name, image, replicas, strategy)
}

const rolling25 = `    type: RollingUpdate
    rollingUpdate: {maxSurge: 25%, maxUnavailable: 25%}`

// watchBounds polls app's pods until stop is closed and reports the
// lowest ready and highest live counts it saw.
func watchBounds(t *testing.T, c kubernetes.Interface, app string) (stop func() (minReady, maxLive int, mixed bool)) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	minReady, maxLive, mixed := 1<<30, 0, false
	wg.Add(1)
	go func() {
		defer wg.Done()
		ctx := context.Background()
		for {
			select {
			case <-done:
				return
			default:
			}
			l, err := c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
			if err != nil {
				continue
			}
			live, ready := 0, 0
			images := map[string]bool{}
			for i := range l.Items {
				p := &l.Items[i]
				images[p.Spec.Containers[0].Image] = true
				if p.DeletionTimestamp == nil {
					live++
					if podReady(p) {
						ready++
					}
				}
			}
			minReady, maxLive = min(minReady, ready), max(maxLive, live)
			mixed = mixed || len(images) > 1
		}
	}()
	return func() (int, int, bool) { close(done); wg.Wait(); return minReady, maxLive, mixed }
}

func podImages(t *testing.T, c kubernetes.Interface, app string) map[string]int {
	live, _ := livePods(t, c, app)
	out := map[string]int{}
	for _, p := range live {
		out[p.Spec.Containers[0].Image]++
	}
	return out
}

// TestDeployment drives Deployments with the real kubectl against Node
// objects and a stand-in kubelet: spreading, a rolling update within
// maxSurge/maxUnavailable, history, undo, scale, restart, pause/resume,
// Recreate and the progress deadline.
func TestDeployment(t *testing.T) {
	needIntegration(t, "kubectl")
	s := startServer(t)
	c := s.client()
	ctx := context.Background()
	for _, n := range []string{"n1", "n2", "n3"} {
		schedNode(t, c, n, "4", "8Gi")
	}
	waitDefaultServiceAccount(t, c)
	startFakeKubelet(t, c, 0)

	rollout := func(name string) {
		t.Helper()
		s.mustKubectl("rollout", "status", "deployment/"+name, "--timeout=90s")
	}

	t.Run("RollingUpdate", func(t *testing.T) {
		if out, err := s.kubectlStdin(deploymentManifest("web", "busybox:1", 5, rolling25), "apply", "-f", "-"); err != nil {
			t.Fatalf("apply: %v\n%s", err, out)
		}
		rollout("web")
		live, ready := livePods(t, c, "web")
		nodes := map[string]bool{}
		for _, p := range live {
			nodes[p.Spec.NodeName] = true
		}
		if len(live) != 5 || ready != 5 || len(nodes) != 3 {
			t.Fatalf("5 ready pods over 3 nodes: %d pods, %d ready, nodes %v", len(live), ready, nodes)
		}
		rss := replicaSetsOf(t, c, "web")
		if len(rss) != 1 {
			t.Fatalf("%d ReplicaSets, want 1", len(rss))
		}
		first := rss[0]
		hash := first.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
		if hash == "" || first.Name != "web-"+hash || first.Annotations["deployment.kubernetes.io/revision"] != "1" ||
			first.Annotations["deployment.kubernetes.io/desired-replicas"] != "5" || first.Annotations["deployment.kubernetes.io/max-replicas"] != "7" {
			t.Fatalf("first ReplicaSet %s labels %v annotations %v", first.Name, first.Labels, first.Annotations)
		}
		if ref := metav1.GetControllerOf(&first); ref == nil || ref.Kind != "Deployment" || ref.Name != "web" || ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
			t.Fatalf("ReplicaSet owner %+v", first.OwnerReferences)
		}
		for _, p := range live {
			if p.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != hash || !strings.HasPrefix(p.Name, first.Name+"-") {
				t.Fatalf("pod %s labels %v", p.Name, p.Labels)
			}
		}

		// 25% of 5: maxSurge rounds up to 2, maxUnavailable down to 1.
		stop := watchBounds(t, c, "web")
		s.mustKubectl("set", "image", "deployment/web", "c=busybox:2")
		rollout("web")
		minReady, maxLive, _ := stop()
		if minReady < 4 || maxLive > 7 {
			t.Fatalf("during the rollout: at least %d ready (want >= 4), at most %d pods (want <= 7)", minReady, maxLive)
		}
		if img := podImages(t, c, "web"); img["busybox:2"] != 5 || len(img) != 1 {
			t.Fatalf("pods after set image: %v", img)
		}
		d, err := c.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Annotations["deployment.kubernetes.io/revision"] != "2" || d.Status.UpdatedReplicas != 5 || d.Status.AvailableReplicas != 5 ||
			d.Status.ObservedGeneration != d.Generation {
			t.Fatalf("deployment after rollout: annotations %v status %+v", d.Annotations, d.Status)
		}
		if cond := deployCondition(d, appsv1.DeploymentProgressing); cond == nil || cond.Reason != "NewReplicaSetAvailable" {
			t.Fatalf("Progressing condition %+v", cond)
		}
		if cond := deployCondition(d, appsv1.DeploymentAvailable); cond == nil || cond.Reason != "MinimumReplicasAvailable" {
			t.Fatalf("Available condition %+v", cond)
		}
		if ev := eventWith(t, c, "web", "ScalingReplicaSet", "Scaled up replica set web-"); ev == nil {
			t.Fatal("no ScalingReplicaSet event")
		}

		hist := s.mustKubectl("rollout", "history", "deployment/web")
		if !strings.Contains(hist, "\n1 ") || !strings.Contains(hist, "\n2 ") {
			t.Fatalf("rollout history:\n%s", hist)
		}

		s.mustKubectl("rollout", "undo", "deployment/web")
		rollout("web")
		if img := podImages(t, c, "web"); img["busybox:1"] != 5 || len(img) != 1 {
			t.Fatalf("pods after undo: %v", img)
		}
		rss = replicaSetsOf(t, c, "web")
		if len(rss) != 2 {
			t.Fatalf("%d ReplicaSets after undo, want the 2 of before", len(rss))
		}
		reused, err := c.AppsV1().ReplicaSets("default").Get(ctx, first.Name, metav1.GetOptions{})
		if err != nil || reused.UID != first.UID || *reused.Spec.Replicas != 5 || reused.Annotations["deployment.kubernetes.io/revision"] != "3" {
			t.Fatalf("undo did not reuse %s at revision 3: %v %+v", first.Name, err, reused)
		}
		hist = s.mustKubectl("rollout", "history", "deployment/web")
		if !strings.Contains(hist, "\n2 ") || !strings.Contains(hist, "\n3 ") || strings.Contains(hist, "\n1 ") {
			t.Fatalf("rollout history after undo:\n%s", hist)
		}

		s.mustKubectl("scale", "deployment/web", "--replicas=7")
		rollout("web")
		eventually(t, 30*time.Second, "7 ready pods", func() bool { l, r := livePods(t, c, "web"); return len(l) == 7 && r == 7 })
		s.mustKubectl("scale", "deployment/web", "--replicas=2")
		eventually(t, 30*time.Second, "2 pods", func() bool { l, r := livePods(t, c, "web"); return len(l) == 2 && r == 2 })
		rollout("web")

		before := map[string]bool{}
		live, _ = livePods(t, c, "web")
		for _, p := range live {
			before[string(p.UID)] = true
		}
		s.mustKubectl("rollout", "restart", "deployment/web")
		rollout("web")
		eventually(t, 30*time.Second, "every pod replaced", func() bool {
			live, ready := livePods(t, c, "web")
			for _, p := range live {
				if before[string(p.UID)] {
					return false
				}
			}
			return len(live) == 2 && ready == 2
		})

		s.mustKubectl("rollout", "pause", "deployment/web")
		s.mustKubectl("set", "image", "deployment/web", "c=busybox:3")
		eventually(t, 30*time.Second, "the paused condition", func() bool {
			d, err := c.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
			cond := deployCondition(d, appsv1.DeploymentProgressing)
			return err == nil && d.Status.ObservedGeneration == d.Generation && cond != nil && cond.Reason == "DeploymentPaused"
		})
		if img := podImages(t, c, "web"); img["busybox:3"] != 0 {
			t.Fatalf("a paused Deployment rolled: %v", img)
		}
		s.mustKubectl("rollout", "resume", "deployment/web")
		rollout("web")
		if img := podImages(t, c, "web"); img["busybox:3"] != 2 || len(img) != 1 {
			t.Fatalf("pods after resume: %v", img)
		}
		// revisionHistoryLimit 3 keeps 3 old ReplicaSets beside the new one.
		eventually(t, 30*time.Second, "old ReplicaSets cleaned up", func() bool { return len(replicaSetsOf(t, c, "web")) == 4 })
	})

	t.Run("Recreate", func(t *testing.T) {
		if out, err := s.kubectlStdin(deploymentManifest("rec", "busybox:1", 3, "    type: Recreate"), "apply", "-f", "-"); err != nil {
			t.Fatalf("apply: %v\n%s", err, out)
		}
		rollout("rec")
		stop := watchBounds(t, c, "rec")
		s.mustKubectl("set", "image", "deployment/rec", "c=busybox:2")
		rollout("rec")
		_, _, mixed := stop()
		if mixed {
			t.Fatal("Recreate ran old and new pods at the same time")
		}
		if img := podImages(t, c, "rec"); img["busybox:2"] != 3 || len(img) != 1 {
			t.Fatalf("pods after Recreate: %v", img)
		}

		// Deleted with its dependents orphaned and applied again, the
		// Deployment adopts its ReplicaSet (and so its pods) back.
		rss := replicaSetsOf(t, c, "rec")
		live, _ := livePods(t, c, "rec")
		s.mustKubectl("delete", "deployment/rec", "--cascade=orphan")
		eventually(t, 30*time.Second, "ReplicaSets orphaned", func() bool {
			for _, rs := range replicaSetsOf(t, c, "rec") {
				if metav1.GetControllerOf(&rs) != nil {
					return false
				}
			}
			return true
		})
		m := deploymentManifest("rec", "busybox:2", 3, "    type: Recreate")
		if out, err := s.kubectlStdin(m, "apply", "-f", "-"); err != nil {
			t.Fatalf("apply: %v\n%s", err, out)
		}
		rollout("rec")
		eventually(t, 30*time.Second, "ReplicaSets adopted", func() bool {
			for _, rs := range replicaSetsOf(t, c, "rec") {
				if ref := metav1.GetControllerOf(&rs); ref == nil || ref.Name != "rec" {
					return false
				}
			}
			return true
		})
		if after := replicaSetsOf(t, c, "rec"); len(after) != len(rss) {
			t.Fatalf("%d ReplicaSets after adoption, want the %d of before", len(after), len(rss))
		}
		after, _ := livePods(t, c, "rec")
		if len(after) != 3 || len(live) != 3 {
			t.Fatalf("pods before %d, after %d", len(live), len(after))
		}
		for i := range after {
			if after[i].UID != live[0].UID && after[i].UID != live[1].UID && after[i].UID != live[2].UID {
				t.Fatalf("pod %s is new: adoption should keep the pods", after[i].Name)
			}
		}
	})

	t.Run("MinReadySeconds", func(t *testing.T) {
		m := deploymentManifest("slow", "busybox:1", 2, rolling25)
		m = strings.Replace(m, "  revisionHistoryLimit: 3\n", "  revisionHistoryLimit: 3\n  minReadySeconds: 5\n", 1)
		if out, err := s.kubectlStdin(m, "apply", "-f", "-"); err != nil {
			t.Fatalf("apply: %v\n%s", err, out)
		}
		eventually(t, 30*time.Second, "2 ready pods", func() bool {
			d, err := c.AppsV1().Deployments("default").Get(ctx, "slow", metav1.GetOptions{})
			return err == nil && d.Status.ReadyReplicas == 2
		})
		d, err := c.AppsV1().Deployments("default").Get(ctx, "slow", metav1.GetOptions{})
		if err != nil || d.Status.AvailableReplicas == 2 {
			t.Fatalf("pods ready for less than minReadySeconds counted available: %v %+v", err, d.Status)
		}
		rollout("slow")
		d, _ = c.AppsV1().Deployments("default").Get(ctx, "slow", metav1.GetOptions{})
		rs := replicaSetsOf(t, c, "slow")
		if d.Status.AvailableReplicas != 2 || len(rs) != 1 || rs[0].Spec.MinReadySeconds != 5 {
			t.Fatalf("after minReadySeconds: %+v, %d ReplicaSets", d.Status, len(rs))
		}
	})

	t.Run("ProgressDeadline", func(t *testing.T) {
		m := deploymentManifest("stuck", neverReady, 2, rolling25)
		m = strings.Replace(m, "  revisionHistoryLimit: 3\n", "  revisionHistoryLimit: 3\n  progressDeadlineSeconds: 2\n", 1)
		if out, err := s.kubectlStdin(m, "apply", "-f", "-"); err != nil {
			t.Fatalf("apply: %v\n%s", err, out)
		}
		eventually(t, 30*time.Second, "ProgressDeadlineExceeded", func() bool {
			d, err := c.AppsV1().Deployments("default").Get(ctx, "stuck", metav1.GetOptions{})
			cond := deployCondition(d, appsv1.DeploymentProgressing)
			return err == nil && cond != nil && cond.Status == corev1.ConditionFalse && cond.Reason == "ProgressDeadlineExceeded"
		})
		out, err := s.kubectl("rollout", "status", "deployment/stuck", "--timeout=20s")
		if err == nil || !strings.Contains(out, "exceeded its progress deadline") {
			t.Fatalf("rollout status of a stuck Deployment: %v\n%s", err, out)
		}
		d, _ := c.AppsV1().Deployments("default").Get(ctx, "stuck", metav1.GetOptions{})
		if cond := deployCondition(d, appsv1.DeploymentAvailable); cond == nil || cond.Status != corev1.ConditionFalse || cond.Reason != "MinimumReplicasUnavailable" {
			t.Fatalf("Available condition of a stuck Deployment: %+v", cond)
		}
	})
}

func deployCondition(d *appsv1.Deployment, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	if d == nil {
		return nil
	}
	for i := range d.Status.Conditions {
		if d.Status.Conditions[i].Type == t {
			return &d.Status.Conditions[i]
		}
	}
	return nil
}

// eventWith returns an Event about object name with reason whose message
// starts with prefix, or nil.
func eventWith(t *testing.T, c kubernetes.Interface, name, reason, prefix string) *corev1.Event {
	t.Helper()
	var found *corev1.Event
	eventually(t, 10*time.Second, reason+" event about "+name, func() bool {
		evs, err := c.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false
		}
		for i := range evs.Items {
			e := &evs.Items[i]
			if e.InvolvedObject.Name == name && e.Reason == reason && strings.HasPrefix(e.Message, prefix) {
				found = e
				return true
			}
		}
		return false
	})
	return found
}

// TestReplicaSet: a ReplicaSet adopts an orphan its selector matches,
// releases a pod relabelled out of it (and replaces it), deletes
// surplus pods, and reports FailedCreate when the API refuses its pods.
func TestReplicaSet(t *testing.T) {
	needIntegration(t, "kubectl")
	s := startServer(t)
	c := s.client()
	ctx := context.Background()
	schedNode(t, c, "n1", "4", "8Gi")
	waitDefaultServiceAccount(t, c)
	startFakeKubelet(t, c, 0)

	orphan := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "orphan", Labels: map[string]string{"app": "orph"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	createPods(t, c, orphan)
	rs := `apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: orph}
spec:
  replicas: 2
  selector: {matchLabels: {app: orph}}
  template:
    metadata: {labels: {app: orph}}
    spec:
      containers: [{name: c, image: busybox}]
`
	if out, err := s.kubectlStdin(rs, "apply", "-f", "-"); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	eventually(t, 30*time.Second, "the orphan adopted and one more pod", func() bool {
		p := getPod(t, c, "orphan")
		ref := metav1.GetControllerOf(p)
		live, ready := livePods(t, c, "orph")
		return ref != nil && ref.Kind == "ReplicaSet" && ref.Name == "orph" && len(live) == 2 && ready == 2
	})
	eventually(t, 30*time.Second, "ReplicaSet status", func() bool {
		r, err := c.AppsV1().ReplicaSets("default").Get(ctx, "orph", metav1.GetOptions{})
		return err == nil && r.Status.Replicas == 2 && r.Status.ReadyReplicas == 2 && r.Status.AvailableReplicas == 2 &&
			r.Status.FullyLabeledReplicas == 2 && r.Status.ObservedGeneration == r.Generation
	})
	if n := len(podsOf(t, c, "orph")); n != 2 {
		t.Fatalf("%d pods, want 2 (the orphan counted)", n)
	}

	s.mustKubectl("label", "pod", "orphan", "app=gone", "--overwrite")
	eventually(t, 30*time.Second, "the relabelled pod released and replaced", func() bool {
		p := getPod(t, c, "orphan")
		live, ready := livePods(t, c, "orph")
		return len(p.OwnerReferences) == 0 && len(live) == 2 && ready == 2
	})
	ev := eventWith(t, c, "orph", "SuccessfulCreate", "Created pod: orph-")
	if ev.Type != corev1.EventTypeNormal {
		t.Fatalf("event %+v", ev)
	}

	s.mustKubectl("scale", "rs/orph", "--replicas=1")
	eventually(t, 30*time.Second, "scaled down to 1", func() bool { l, _ := livePods(t, c, "orph"); return len(l) == 1 })
	eventWith(t, c, "orph", "SuccessfulDelete", "Deleted pod: orph-")

	// Pods naming a ServiceAccount that does not exist are refused.
	bad := strings.ReplaceAll(rs, "orph", "nosa")
	bad = strings.Replace(bad, "    spec:\n", "    spec:\n      serviceAccountName: missing\n", 1)
	if out, err := s.kubectlStdin(bad, "apply", "-f", "-"); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	eventually(t, 30*time.Second, "the ReplicaFailure condition", func() bool {
		r, err := c.AppsV1().ReplicaSets("default").Get(ctx, "nosa", metav1.GetOptions{})
		if err != nil {
			return false
		}
		for _, cond := range r.Status.Conditions {
			if cond.Type == appsv1.ReplicaSetReplicaFailure && cond.Status == corev1.ConditionTrue && cond.Reason == "FailedCreate" &&
				strings.Contains(cond.Message, "missing") {
				return true
			}
		}
		return false
	})
	eventWith(t, c, "nosa", "FailedCreate", "Error creating: ")
	// Once the pods can be created the condition goes.
	if _, err := c.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "missing"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the ReplicaFailure condition cleared and pods running", func() bool {
		r, err := c.AppsV1().ReplicaSets("default").Get(ctx, "nosa", metav1.GetOptions{})
		return err == nil && len(r.Status.Conditions) == 0 && r.Status.ReadyReplicas == 2
	})
}

// TestDeploymentAgent runs a Deployment's pods for real on the local
// agent: 3/3 ready, then rolled to new pods by set image and set env.
func TestDeploymentAgent(t *testing.T) {
	needAgent(t)
	s := startServer(t, withAgent())
	c := s.client()
	waitNodeReady(t, s, localNode(t), 60*time.Second)
	m := fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: bb}
spec:
  replicas: 3
  selector: {matchLabels: {app: bb}}
  template:
    metadata: {labels: {app: bb}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: c
        image: %s
        imagePullPolicy: Never
        command: [sh, -c, 'sleep 3600']
`, TestImage)
	if out, err := s.kubectlStdin(m, "apply", "-f", "-"); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	status := func() {
		t.Helper()
		if out, err := s.kubectl("rollout", "status", "deployment/bb", "--timeout=180s"); err != nil {
			t.Fatalf("rollout status: %v\n%s\n%s", err, out, s.mustKubectl("get", "pods", "-o", "wide"))
		}
	}
	status()
	if out := s.mustKubectl("get", "deployment", "bb", "-o", "jsonpath={.status.readyReplicas}/{.status.replicas}"); out != "3/3" {
		t.Fatalf("ready/replicas %s", out)
	}
	uids := map[string]bool{}
	live, _ := livePods(t, c, "bb")
	for _, p := range live {
		uids[string(p.UID)] = true
	}
	// Another tag of the same image, so that the new pods run too.
	s.mustKubectl("set", "env", "deployment/bb", "ROUND=2")
	status()
	eventually(t, 60*time.Second, "3 new running pods with ROUND=2", func() bool {
		live, ready := livePods(t, c, "bb")
		for _, p := range live {
			if uids[string(p.UID)] || p.Status.Phase != corev1.PodRunning || len(p.Spec.Containers[0].Env) == 0 {
				return false
			}
		}
		return len(live) == 3 && ready == 3
	})
	// The same image by its short name: a new template whose pods run.
	live, _ = livePods(t, c, "bb")
	for _, p := range live {
		uids[string(p.UID)] = true
	}
	s.mustKubectl("set", "image", "deployment/bb", "c=busybox:latest")
	status()
	eventually(t, 60*time.Second, "3 new running pods of busybox:latest", func() bool {
		live, ready := livePods(t, c, "bb")
		for _, p := range live {
			if uids[string(p.UID)] || p.Status.Phase != corev1.PodRunning || p.Spec.Containers[0].Image != "busybox:latest" {
				return false
			}
		}
		return len(live) == 3 && ready == 3
	})
	out, err := exec.Command("kubectl", "--kubeconfig", s.kubeconfig, "rollout", "history", "deployment/bb").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "\n3 ") {
		t.Fatalf("rollout history: %v\n%s", err, out)
	}
}
