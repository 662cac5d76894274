package tests

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

const statefulSetYAML = `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: web
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: c
        image: busybox:1
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata:
      name: data
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
`

// stsImages returns pod name -> image of the set's pods not being deleted.
func stsImages(t *testing.T, c kubernetes.Interface, app string) map[string]string {
	t.Helper()
	list, err := c.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			out[p.Name] = p.Spec.Containers[0].Image
		}
	}
	return out
}

// kubeletOrder checks that in the fake kubelet's log every entry of
// before comes before after's.
func kubeletOrder(t *testing.T, k *fakeKubelet, before, after string) {
	t.Helper()
	log := k.events()
	i, j := -1, -1
	for n, e := range log {
		if strings.HasPrefix(e, before) && i < 0 {
			i = n
		}
		if strings.HasPrefix(e, after) && j < 0 {
			j = n
		}
	}
	if i < 0 || j < 0 || i > j {
		t.Fatalf("want %q before %q; kubelet saw:\n%s", before, after, strings.Join(log, "\n"))
	}
}

// TestStatefulSetAPI drives the StatefulSet controller with Node objects
// and a fake kubelet: ordered creation with claims, ordered scale-down that
// keeps the claims, a partitioned rolling update and kubectl rollout.
func TestStatefulSetAPI(t *testing.T) {
	needIntegration(t, "kubectl")
	s := startServer(t)
	c := s.client()
	ctx := context.Background()
	schedNode(t, c, "n1", "4", "8Gi")
	schedNode(t, c, "n2", "4", "8Gi")
	k := startFakeKubelet(t, c, 500*time.Millisecond)

	if out, err := s.kubectlStdin(statefulSetYAML, "apply", "-f", "-"); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	eventually(t, 60*time.Second, "web-0, web-1, web-2", func() bool { return len(stsImages(t, c, "web")) == 3 })
	s.mustKubectl("rollout", "status", "sts/web", "--timeout=60s")
	// Strictly in order: web-N is created only once web-(N-1) is Ready.
	kubeletOrder(t, k, "ready web-0 ", "add web-1 ")
	kubeletOrder(t, k, "ready web-1 ", "add web-2 ")
	for i := 0; i < 3; i++ {
		name := fmt.Sprintf("web-%d", i)
		p, err := c.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Spec.Hostname != name || p.Spec.Subdomain != "web" ||
			p.Labels["statefulset.kubernetes.io/pod-name"] != name || p.Labels["apps.kubernetes.io/pod-index"] != fmt.Sprint(i) ||
			!strings.HasPrefix(p.Labels["controller-revision-hash"], "web-") {
			t.Errorf("%s: hostname %q subdomain %q labels %v", name, p.Spec.Hostname, p.Spec.Subdomain, p.Labels)
		}
		claim := "data-" + name
		var vol string
		for _, v := range p.Spec.Volumes {
			if v.Name == "data" && v.PersistentVolumeClaim != nil {
				vol = v.PersistentVolumeClaim.ClaimName
			}
		}
		if vol != claim {
			t.Errorf("%s: volume data claims %q, want %q", name, vol, claim)
		}
		pvc, err := c.CoreV1().PersistentVolumeClaims("default").Get(ctx, claim, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("claim of %s: %v", name, err)
		}
		if pvc.CreationTimestamp.After(p.CreationTimestamp.Time) || len(pvc.OwnerReferences) != 0 || pvc.Labels["app"] != "web" {
			t.Errorf("claim %s: created %v (pod %v), owners %v, labels %v", claim, pvc.CreationTimestamp, p.CreationTimestamp, pvc.OwnerReferences, pvc.Labels)
		}
	}
	out := s.mustKubectl("get", "events", "--field-selector", "involvedObject.kind=StatefulSet,involvedObject.name=web")
	for _, msg := range []string{"create Pod web-0 in StatefulSet web successful", "create Claim data-web-0 Pod web-0 in StatefulSet web success"} {
		if !strings.Contains(out, msg) {
			t.Errorf("events lack %q:\n%s", msg, out)
		}
	}

	// Scale down: web-2 goes entirely before web-1 starts going; claims stay.
	s.mustKubectl("scale", "sts/web", "--replicas=1")
	eventually(t, 60*time.Second, "only web-0", func() bool {
		list, _ := c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		return len(list.Items) == 1 && list.Items[0].Name == "web-0"
	})
	kubeletOrder(t, k, "gone web-2", "terminating web-1 ")
	for i := 0; i < 3; i++ {
		if _, err := c.CoreV1().PersistentVolumeClaims("default").Get(ctx, fmt.Sprintf("data-web-%d", i), metav1.GetOptions{}); err != nil {
			t.Errorf("claim data-web-%d after scale-down: %v", i, err)
		}
	}
	s.mustKubectl("scale", "sts/web", "--replicas=3")
	s.mustKubectl("rollout", "status", "sts/web", "--timeout=60s")

	// Partitioned rolling update: only ordinals >= 2 move.
	s.mustKubectl("patch", "sts/web", "-p", `{"spec":{"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":2}}}}`)
	s.mustKubectl("set", "image", "sts/web", "c=busybox:2")
	eventually(t, 60*time.Second, "web-2 at busybox:2", func() bool {
		im := stsImages(t, c, "web")
		return im["web-2"] == "busybox:2"
	})
	out = s.mustKubectl("rollout", "status", "sts/web", "--timeout=60s")
	if !strings.Contains(out, "partitioned roll out complete") {
		t.Errorf("rollout status with a partition: %s", out)
	}
	if im := stsImages(t, c, "web"); im["web-0"] != "busybox:1" || im["web-1"] != "busybox:1" {
		t.Fatalf("below the partition: %v", im)
	}
	st, _ := c.AppsV1().StatefulSets("default").Get(ctx, "web", metav1.GetOptions{})
	if st.Status.CurrentRevision == st.Status.UpdateRevision || st.Status.UpdatedReplicas != 1 || st.Status.CurrentReplicas != 2 {
		t.Errorf("status during a partitioned update: %+v", st.Status)
	}
	s.mustKubectl("patch", "sts/web", "-p", `{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}`)
	s.mustKubectl("rollout", "status", "sts/web", "--timeout=90s")
	if im := stsImages(t, c, "web"); len(im) != 3 || im["web-0"] != "busybox:2" || im["web-1"] != "busybox:2" {
		t.Fatalf("after the update: %v", im)
	}
	st, _ = c.AppsV1().StatefulSets("default").Get(ctx, "web", metav1.GetOptions{})
	if st.Status.CurrentRevision != st.Status.UpdateRevision || st.Status.UpdatedReplicas != 3 || st.Status.ReadyReplicas != 3 ||
		st.Status.AvailableReplicas != 3 || st.Status.Replicas != 3 || st.Status.ObservedGeneration != st.Generation {
		t.Errorf("status after the update: %+v", st.Status)
	}
	// The update rolled from the highest ordinal down.
	kubeletOrder(t, k, "terminating web-1 ", "terminating web-0 ")

	// kubectl rollout history and undo.
	out = s.mustKubectl("rollout", "history", "sts/web")
	if !strings.Contains(out, "1 ") || !strings.Contains(out, "2 ") {
		t.Fatalf("rollout history:\n%s", out)
	}
	s.mustKubectl("rollout", "undo", "sts/web")
	s.mustKubectl("rollout", "status", "sts/web", "--timeout=90s")
	eventually(t, 30*time.Second, "web back at busybox:1", func() bool {
		im := stsImages(t, c, "web")
		return len(im) == 3 && im["web-0"] == "busybox:1" && im["web-1"] == "busybox:1" && im["web-2"] == "busybox:1"
	})
}

// TestStatefulSetClaimRetention checks persistentVolumeClaimRetentionPolicy:
// whenScaled Delete hands a scaled-away pod's claim to the pod (the
// garbage collector removes it with the pod), whenDeleted Delete makes the
// set own the claims.
func TestStatefulSetClaimRetention(t *testing.T) {
	needIntegration(t, "kubectl")
	s := startServer(t)
	c := s.client()
	ctx := context.Background()
	schedNode(t, c, "n1", "4", "8Gi")
	startFakeKubelet(t, c, 100*time.Millisecond)
	yaml := strings.Replace(statefulSetYAML, "  serviceName: web\n", "  serviceName: web\n  podManagementPolicy: Parallel\n  persistentVolumeClaimRetentionPolicy: {whenDeleted: Delete, whenScaled: Delete}\n", 1)
	if out, err := s.kubectlStdin(yaml, "apply", "-f", "-"); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	s.mustKubectl("rollout", "status", "sts/web", "--timeout=60s")
	set, _ := c.AppsV1().StatefulSets("default").Get(ctx, "web", metav1.GetOptions{})
	pvc, err := c.CoreV1().PersistentVolumeClaims("default").Get(ctx, "data-web-2", metav1.GetOptions{})
	if err != nil || len(pvc.OwnerReferences) != 1 || pvc.OwnerReferences[0].UID != set.UID {
		t.Fatalf("claim data-web-2 owners %v (%v), want the set", pvc.OwnerReferences, err)
	}
	s.mustKubectl("scale", "sts/web", "--replicas=2")
	eventually(t, 60*time.Second, "data-web-2 collected with web-2", func() bool {
		_, err := c.CoreV1().PersistentVolumeClaims("default").Get(ctx, "data-web-2", metav1.GetOptions{})
		return err != nil && strings.Contains(err.Error(), "not found")
	})
	s.mustKubectl("delete", "sts/web")
	eventually(t, 60*time.Second, "claims collected with the set", func() bool {
		list, _ := c.CoreV1().PersistentVolumeClaims("default").List(ctx, metav1.ListOptions{})
		return len(list.Items) == 0
	})
}

// TestStatefulSetAgent runs a two-replica StatefulSet on the server's real
// local agent: web-0 before web-1, and each pod's hostname is its name.
func TestStatefulSetAgent(t *testing.T) {
	needAgent(t)
	s := startServer(t, withAgent())
	waitNodeReady(t, s, localNode(t), 60*time.Second)
	yaml := `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: web
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
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
	s.mustKubectl("rollout", "status", "sts/web", "--timeout=120s")
	c := s.client()
	p0, err0 := c.CoreV1().Pods("default").Get(context.Background(), "web-0", metav1.GetOptions{})
	p1, err1 := c.CoreV1().Pods("default").Get(context.Background(), "web-1", metav1.GetOptions{})
	if err0 != nil || err1 != nil {
		t.Fatal(err0, err1)
	}
	// web-1 was created only after web-0 was Ready.
	var ready0 time.Time
	for _, cond := range p0.Status.Conditions {
		if cond.Type == "Ready" {
			ready0 = cond.LastTransitionTime.Time
		}
	}
	if ready0.IsZero() || p1.CreationTimestamp.Time.Before(ready0) {
		t.Errorf("web-1 created %v, web-0 Ready since %v", p1.CreationTimestamp, ready0)
	}
	if out := strings.TrimSpace(s.mustKubectlOut("exec", "web-1", "--", "hostname")); out != "web-1" {
		t.Fatalf("kubectl exec web-1 -- hostname = %q", out)
	}
}

// TestStatefulSetAdoptsOrphans: after `kubectl delete --cascade=orphan`
// and a re-create, the new set takes over the running pods (no restart)
// and the rollout history.
func TestStatefulSetAdoptsOrphans(t *testing.T) {
	needIntegration(t, "kubectl")
	s := startServer(t)
	c := s.client()
	ctx := context.Background()
	schedNode(t, c, "n1", "4", "8Gi")
	startFakeKubelet(t, c, 100*time.Millisecond)
	yaml := strings.Replace(statefulSetYAML, "  replicas: 3\n", "  replicas: 2\n", 1)
	if out, err := s.kubectlStdin(yaml, "apply", "-f", "-"); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	s.mustKubectl("rollout", "status", "sts/web", "--timeout=60s")
	uids := map[string]string{}
	for _, name := range []string{"web-0", "web-1"} {
		p, err := c.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		uids[name] = string(p.UID)
	}
	s.mustKubectl("delete", "sts/web", "--cascade=orphan")
	if out, err := s.kubectlStdin(yaml, "apply", "-f", "-"); err != nil {
		t.Fatalf("re-apply: %v\n%s", err, out)
	}
	set, err := c.AppsV1().StatefulSets("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "pods adopted by the new set", func() bool {
		for name, uid := range uids {
			p, err := c.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
			if err != nil || string(p.UID) != uid {
				t.Fatalf("%s replaced or gone: %v", name, err)
			}
			if ref := metav1.GetControllerOf(p); ref == nil || ref.UID != set.UID {
				return false
			}
		}
		return true
	})
	s.mustKubectl("rollout", "status", "sts/web", "--timeout=60s")
	if out := s.mustKubectl("rollout", "history", "sts/web"); !strings.Contains(out, "1 ") {
		t.Fatalf("rollout history after adoption:\n%s", out)
	}
}
