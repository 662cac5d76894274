package tests

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

func storageClaim(name string, class *string, size string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: class,
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}},
		},
	}
}

func claimPod(name, claim string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "c", Image: "busybox",
				VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}},
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}},
		},
	}
}

func getClaim(t *testing.T, c kubernetes.Interface, name string) *corev1.PersistentVolumeClaim {
	t.Helper()
	pvc, err := c.CoreV1().PersistentVolumeClaims("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return pvc
}

// TestStorageClassAPI: the built-in local-path class is served and is the
// default; claims without a class get it; classes are validated.
func TestStorageClassAPI(t *testing.T) {
	needIntegration(t, "kubectl")
	s := startServer(t)
	c := s.client()
	ctx := context.Background()

	out := s.mustKubectl("get", "sc")
	if !strings.Contains(out, "local-path (default)") || !strings.Contains(out, "rancher.io/local-path") ||
		!strings.Contains(out, "Delete") || !strings.Contains(out, "WaitForFirstConsumer") {
		t.Errorf("kubectl get sc:\n%s", out)
	}
	for _, col := range []string{"NAME", "PROVISIONER", "RECLAIMPOLICY", "VOLUMEBINDINGMODE", "ALLOWVOLUMEEXPANSION", "AGE"} {
		if !strings.Contains(out, col) {
			t.Errorf("kubectl get sc: no %s column:\n%s", col, out)
		}
	}
	if out := s.mustKubectl("api-resources", "--api-group=storage.k8s.io"); !strings.Contains(out, "storageclasses") || !strings.Contains(out, "sc ") ||
		!strings.Contains(out, "csidrivers") || !strings.Contains(out, "volumeattachments") {
		t.Errorf("api-resources:\n%s", out)
	}
	s.mustKubectl("get", "csidrivers,csinodes,volumeattachments")

	if _, err := c.CoreV1().PersistentVolumeClaims("default").Create(ctx, storageClaim("plain", nil, "1Gi"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := getClaim(t, c, "plain").Spec.StorageClassName; got == nil || *got != "local-path" {
		t.Errorf("claim without class got class %v, want local-path", got)
	}
	if _, err := c.CoreV1().PersistentVolumeClaims("default").Create(ctx, storageClaim("static", ptr.To(""), "1Gi"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := getClaim(t, c, "static").Spec.StorageClassName; got == nil || *got != "" {
		t.Errorf(`claim with class "" got %v`, got)
	}

	bad := "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: bad}\nprovisioner: example.com/x\nreclaimPolicy: Recycle\nvolumeBindingMode: Later\n"
	out, err := s.kubectlStdin(bad, "apply", "-f", "-")
	if err == nil || !strings.Contains(out, "reclaimPolicy") || !strings.Contains(out, "volumeBindingMode") {
		t.Errorf("invalid class accepted or wrong message: %v\n%s", err, out)
	}
	good := "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: fast}\nprovisioner: example.com/x\n"
	s.mustKubectlStdin(good, "apply", "-f", "-")
	sc, err := c.StorageV1().StorageClasses().Get(ctx, "fast", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *sc.ReclaimPolicy != corev1.PersistentVolumeReclaimDelete || string(*sc.VolumeBindingMode) != "Immediate" {
		t.Errorf("defaults: %v %v", *sc.ReclaimPolicy, *sc.VolumeBindingMode)
	}
	out, err = s.kubectlStdin(strings.Replace(good, "example.com/x", "example.com/y", 1), "apply", "-f", "-")
	if err == nil || !strings.Contains(out, "provisioner: Invalid value") || !strings.Contains(out, "field is immutable") {
		t.Errorf("provisioner update: %v\n%s", err, out)
	}
}

// TestStorageLocalPathProvisioning: a pod using a local-path claim is
// scheduled; the claim gets the node, a volume pvc-<uid> pinned to that
// node is provisioned under <data-dir>/storage and bound; deleting the
// claim deletes the volume, which waits for its node's cleanup (here the
// Node object is deleted, so the controller gives up waiting).
func TestStorageLocalPathProvisioning(t *testing.T) {
	needIntegration(t, "kubectl")
	s := startServer(t)
	c := s.client()
	ctx := context.Background()
	waitDefaultServiceAccount(t, c)
	schedNode(t, c, "edge-1", "4", "8Gi")

	if _, err := c.CoreV1().PersistentVolumeClaims("default").Create(ctx, storageClaim("data", nil, "2Gi"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// WaitForFirstConsumer: nothing happens before a pod uses the claim.
	eventually(t, 10*time.Second, "WaitForFirstConsumer event", func() bool {
		evs, err := c.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=data,reason=WaitForFirstConsumer"})
		return err == nil && len(evs.Items) > 0
	})
	if pvc := getClaim(t, c, "data"); pvc.Spec.VolumeName != "" || pvc.Status.Phase != corev1.ClaimPending {
		t.Fatalf("claim bound before a consumer: %+v", pvc.Status)
	}
	createPods(t, c, claimPod("user", "data"))
	var pvc *corev1.PersistentVolumeClaim
	eventually(t, 20*time.Second, "claim bound", func() bool {
		pvc = getClaim(t, c, "data")
		return pvc.Status.Phase == corev1.ClaimBound
	})
	if got := getPod(t, c, "user").Spec.NodeName; got != "edge-1" {
		t.Errorf("pod on %q", got)
	}
	if pvc.Annotations["volume.kubernetes.io/selected-node"] != "edge-1" || pvc.Annotations["pv.kubernetes.io/bind-completed"] != "yes" {
		t.Errorf("claim annotations: %v", pvc.Annotations)
	}
	want := "pvc-" + string(pvc.UID)
	if pvc.Spec.VolumeName != want {
		t.Fatalf("volume %q, want %q", pvc.Spec.VolumeName, want)
	}
	pv, err := c.CoreV1().PersistentVolumes().Get(ctx, want, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pv.Status.Phase != corev1.VolumeBound || pv.Spec.ClaimRef == nil || pv.Spec.ClaimRef.UID != pvc.UID {
		t.Errorf("volume: phase %s claimRef %+v", pv.Status.Phase, pv.Spec.ClaimRef)
	}
	terms := pv.Spec.NodeAffinity.Required.NodeSelectorTerms
	if len(terms) != 1 || terms[0].MatchExpressions[0].Values[0] != "edge-1" {
		t.Errorf("node affinity: %+v", terms)
	}
	if p := pv.Spec.HostPath.Path; !strings.HasPrefix(p, s.dataDir+"/storage/"+want+"_default_data") {
		t.Errorf("path %q", p)
	}
	if q := pv.Spec.Capacity[corev1.ResourceStorage]; q.String() != "2Gi" || pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete {
		t.Errorf("capacity %s policy %s", q.String(), pv.Spec.PersistentVolumeReclaimPolicy)
	}
	if out := s.mustKubectl("get", "pvc", "data"); !strings.Contains(out, "Bound") || !strings.Contains(out, want) {
		t.Errorf("kubectl get pvc:\n%s", out)
	}

	// Delete: the volume is deleted, held by the cleanup finalizer while
	// its node may still remove the directory.
	if err := c.CoreV1().Pods("default").Delete(ctx, "user", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		t.Fatal(err)
	}
	if err := c.CoreV1().PersistentVolumeClaims("default").Delete(ctx, "data", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "volume being deleted", func() bool {
		pv, err := c.CoreV1().PersistentVolumes().Get(ctx, want, metav1.GetOptions{})
		return err == nil && pv.DeletionTimestamp != nil
	})
	if err := c.CoreV1().Nodes().Delete(ctx, "edge-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "volume gone once its node is", func() bool {
		_, err := c.CoreV1().PersistentVolumes().Get(ctx, want, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
}

// TestStorageStaticBinding: a pre-created volume binds a matching claim
// (smallest fit, class, selector); pods of an unbound Immediate claim stay
// Pending with kube-scheduler's message; Retain releases the volume when
// the claim goes, Delete deletes it.
func TestStorageStaticBinding(t *testing.T) {
	needIntegration(t, "kubectl")
	s := startServer(t)
	c := s.client()
	ctx := context.Background()
	waitDefaultServiceAccount(t, c)
	schedNode(t, c, "n1", "4", "8Gi")

	mkPV := func(name, size string, policy corev1.PersistentVolumeReclaimPolicy, labels map[string]string) {
		pv := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)},
				AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				PersistentVolumeReclaimPolicy: policy,
				StorageClassName:              "manual",
				PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/srv/" + name}},
			},
		}
		if _, err := c.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mkPV("big", "10Gi", corev1.PersistentVolumeReclaimRetain, nil)
	mkPV("small", "1Gi", corev1.PersistentVolumeReclaimRetain, nil)
	mkPV("labelled", "20Gi", corev1.PersistentVolumeReclaimDelete, map[string]string{"tier": "gold"})
	eventually(t, 10*time.Second, "volumes Available", func() bool {
		l, err := c.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{})
		if err != nil || len(l.Items) != 3 {
			return false
		}
		for _, pv := range l.Items {
			if pv.Status.Phase != corev1.VolumeAvailable {
				return false
			}
		}
		return true
	})

	// No volume of class "manual" is big enough: the claim (Immediate
	// binding, no class object) stays Pending, and so does its pod.
	if _, err := c.CoreV1().PersistentVolumeClaims("default").Create(ctx, storageClaim("huge", ptr.To("manual"), "50Gi"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	createPods(t, c, claimPod("waiter", "huge"))
	eventually(t, 10*time.Second, "pod unschedulable", func() bool {
		cond := podScheduledCondition(getPod(t, c, "waiter"))
		return cond != nil && cond.Status == corev1.ConditionFalse &&
			strings.Contains(cond.Message, "pod has unbound immediate PersistentVolumeClaims")
	})

	// The smallest volume that fits binds.
	if _, err := c.CoreV1().PersistentVolumeClaims("default").Create(ctx, storageClaim("fits", ptr.To("manual"), "2Gi"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	claim := storageClaim("gold", ptr.To("manual"), "1Gi")
	claim.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "gold"}}
	if _, err := c.CoreV1().PersistentVolumeClaims("default").Create(ctx, claim, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "claims bound", func() bool {
		return getClaim(t, c, "fits").Status.Phase == corev1.ClaimBound && getClaim(t, c, "gold").Status.Phase == corev1.ClaimBound
	})
	if v := getClaim(t, c, "fits").Spec.VolumeName; v != "big" {
		t.Errorf("fits bound to %q, want big (small is too small, labelled is bigger)", v)
	}
	if v := getClaim(t, c, "gold").Spec.VolumeName; v != "labelled" {
		t.Errorf("gold bound to %q", v)
	}
	if getClaim(t, c, "huge").Status.Phase != corev1.ClaimPending {
		t.Error("huge claim bound")
	}
	pv, _ := c.CoreV1().PersistentVolumes().Get(ctx, "big", metav1.GetOptions{})
	if pv.Status.Phase != corev1.VolumeBound || pv.Annotations["pv.kubernetes.io/bound-by-controller"] != "yes" {
		t.Errorf("big: %s %v", pv.Status.Phase, pv.Annotations)
	}

	// Retain: released, kept.
	if err := c.CoreV1().PersistentVolumeClaims("default").Delete(ctx, "fits", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "big Released", func() bool {
		pv, err := c.CoreV1().PersistentVolumes().Get(ctx, "big", metav1.GetOptions{})
		return err == nil && pv.Status.Phase == corev1.VolumeReleased
	})
	// Delete: deleted.
	if err := c.CoreV1().PersistentVolumeClaims("default").Delete(ctx, "gold", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "labelled deleted", func() bool {
		_, err := c.CoreV1().PersistentVolumes().Get(ctx, "labelled", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})

	// A volume pre-bound to a claim by name (claimRef) goes to that claim
	// only.
	pre := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "reserved"},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("60Gi")},
			AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName:       "manual",
			ClaimRef:               &corev1.ObjectReference{Namespace: "default", Name: "huge"},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/srv/reserved"}},
		},
	}
	if _, err := c.CoreV1().PersistentVolumes().Create(ctx, pre, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "huge bound to reserved and its pod scheduled", func() bool {
		return getClaim(t, c, "huge").Spec.VolumeName == "reserved" && getPod(t, c, "waiter").Spec.NodeName == "n1"
	})
}

// TestLocalPathWithAgent: on a real node, a pod writes into a local-path
// claim; a new pod using the claim after the first is deleted sees the
// file; deleting the claim removes the directory under <data-dir>/storage
// and then the volume.
func TestLocalPathWithAgent(t *testing.T) {
	needAgent(t)
	s := startServer(t, withAgent())
	node := localNode(t)
	waitNodeReady(t, s, node, 60*time.Second)
	c := s.client()
	ctx := context.Background()
	pod := func(name, cmd string) string {
		return `apiVersion: v1
kind: Pod
metadata: {name: ` + name + `}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: ` + TestImage + `
    imagePullPolicy: Never
    command: ["sh", "-c", "` + cmd + `"]
    volumeMounts: [{name: data, mountPath: /data}]
  volumes:
  - {name: data, persistentVolumeClaim: {claimName: data}}
`
	}
	s.mustKubectlStdin(`apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
`+pod("writer", "echo kept > /data/file; sleep 3600"), "apply", "-f", "-")
	waitPodPhase(t, s, "default", "writer", "Running", 90*time.Second)
	pvc := getClaim(t, c, "data")
	if pvc.Status.Phase != corev1.ClaimBound {
		t.Fatalf("claim %s", pvc.Status.Phase)
	}
	pv, err := c.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := pv.Spec.HostPath.Path
	if !strings.HasPrefix(dir, s.dataDir+"/storage/pvc-") {
		t.Fatalf("volume directory %q", dir)
	}
	eventually(t, 30*time.Second, "the file on the node", func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "file"))
		return err == nil && string(b) == "kept\n"
	})
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o777 {
		t.Errorf("directory mode: %v %v", fi.Mode(), err)
	}

	s.mustKubectl("delete", "pod", "writer", "--wait=true", "--timeout=60s")
	s.mustKubectlStdin(pod("reader", "cat /data/file; sleep 3600"), "apply", "-f", "-")
	waitPodPhase(t, s, "default", "reader", "Running", 90*time.Second)
	eventually(t, 30*time.Second, "the reader sees the file", func() bool {
		out, err := s.kubectl("logs", "reader")
		return err == nil && strings.TrimSpace(out) == "kept"
	})

	s.mustKubectl("delete", "pod", "reader", "--wait=true", "--timeout=60s")
	s.mustKubectl("delete", "pvc", "data", "--wait=true", "--timeout=60s")
	eventually(t, 60*time.Second, "the volume deleted and its directory gone", func() bool {
		_, err := c.CoreV1().PersistentVolumes().Get(ctx, pv.Name, metav1.GetOptions{})
		_, statErr := os.Stat(dir)
		return apierrors.IsNotFound(err) && os.IsNotExist(statErr)
	})
}
