package tests

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/kubernetes"
)

// These tests cover the garbage collector (server/controllers/
// garbagecollector). Without it every one of them fails: nothing deletes
// dependents, and owners deleted in Foreground or with Orphan keep their
// finalizer for ever.

// gcTimeout is how long the collector gets to act.
const gcTimeout = 15 * time.Second

const holdFinalizer = "skiff.test/hold"

// gcChain is a ConfigMap c owned by a ConfigMap b owned by a cluster-scoped
// PersistentVolume a.
type gcChain struct {
	ns      string
	a, b, c string
	aUID    types.UID
	bUID    types.UID
}

func newGCChain(t *testing.T, cs kubernetes.Interface, ns, prefix string, block bool, cFinalizers ...string) gcChain {
	t.Helper()
	ctx := context.Background()
	ch := gcChain{ns: ns, a: prefix + "-a", b: prefix + "-b", c: prefix + "-c"}
	ch.aUID = createPV(t, cs, ch.a)
	b, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name: ch.b, OwnerReferences: []metav1.OwnerReference{gcRef("v1", "PersistentVolume", ch.a, ch.aUID, block)},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ch.bUID = b.UID
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name: ch.c, Finalizers: cFinalizers,
		OwnerReferences: []metav1.OwnerReference{gcRef("v1", "ConfigMap", ch.b, ch.bUID, block)},
	}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return ch
}

// createPV creates a cluster-scoped owner and returns its uid.
func createPV(t *testing.T, cs kubernetes.Interface, name string) types.UID {
	t.Helper()
	created, err := cs.CoreV1().PersistentVolumes().Create(context.Background(), newPV(name), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return created.UID
}

func newPV(name string) *corev1.PersistentVolume {
	return &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/" + name}},
		},
	}
}

func gcRef(apiVersion, kind, name string, uid types.UID, block bool) metav1.OwnerReference {
	r := metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, UID: uid}
	if block {
		r.BlockOwnerDeletion = &block
	}
	return r
}

func deletePV(t *testing.T, cs kubernetes.Interface, name string, policy metav1.DeletionPropagation) {
	t.Helper()
	if err := cs.CoreV1().PersistentVolumes().Delete(context.Background(), name, metav1.DeleteOptions{PropagationPolicy: &policy}); err != nil {
		t.Fatal(err)
	}
}

// gone reports whether get finds nothing.
func gone(t *testing.T, get func() error) bool {
	t.Helper()
	err := get()
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	return apierrors.IsNotFound(err)
}

func (ch gcChain) pvGone(t *testing.T, cs kubernetes.Interface) bool {
	return gone(t, func() error {
		_, err := cs.CoreV1().PersistentVolumes().Get(context.Background(), ch.a, metav1.GetOptions{})
		return err
	})
}

func cmGone(t *testing.T, cs kubernetes.Interface, ns, name string) bool {
	return gone(t, func() error {
		_, err := cs.CoreV1().ConfigMaps(ns).Get(context.Background(), name, metav1.GetOptions{})
		return err
	})
}

func getCM(t *testing.T, cs kubernetes.Interface, ns, name string) *corev1.ConfigMap {
	t.Helper()
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cm
}

func hasFinalizer(m metav1.Object, f string) bool {
	for _, x := range m.GetFinalizers() {
		if x == f {
			return true
		}
	}
	return false
}

// gcBarrier waits until the collector has caught up with every change made
// before it: it creates a ConfigMap whose owner never existed and waits for
// the collector to delete it. The collector handles changes in the order
// the datastore made them, so once the barrier is gone it has seen, and
// queued ahead of the barrier, everything written earlier. Tests that
// assert something was NOT collected check after a barrier, not a sleep.
func gcBarrier(t *testing.T, cs kubernetes.Interface, ns string) {
	t.Helper()
	name := fmt.Sprintf("gc-barrier-%d", time.Now().UnixNano())
	_, err := cs.CoreV1().ConfigMaps(ns).Create(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name: name, OwnerReferences: []metav1.OwnerReference{gcRef("v1", "PersistentVolume", "gc-barrier-never-created", types.UID(uuid.NewUUID()), false)},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, gcTimeout, "the collector to reach barrier "+name, func() bool { return cmGone(t, cs, ns, name) })
}

// removeFinalizers lets a held object go.
func removeFinalizers(t *testing.T, cs kubernetes.Interface, ns, name string) {
	t.Helper()
	_, err := cs.CoreV1().ConfigMaps(ns).Patch(context.Background(), name, types.MergePatchType,
		[]byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
}

// TestGCOwnerChains deletes the cluster-scoped head of a ConfigMap chain
// with each propagation policy, through client-go.
func TestGCOwnerChains(t *testing.T) {
	needIntegration(t)
	s := startServer(t)
	cs := s.client()
	ctx := context.Background()
	const ns = "default"

	t.Run("background", func(t *testing.T) {
		ch := newGCChain(t, cs, ns, "bg", false)
		// Owners that exist are never taken for gone, even when the
		// dependents are seen first.
		gcBarrier(t, cs, ns)
		if cmGone(t, cs, ns, ch.b) || cmGone(t, cs, ns, ch.c) {
			t.Fatal("a dependent of a live owner was deleted")
		}
		deletePV(t, cs, ch.a, metav1.DeletePropagationBackground)
		if !ch.pvGone(t, cs) {
			t.Fatal("background deletion did not delete the owner at once")
		}
		eventually(t, gcTimeout, "b and c to be collected", func() bool {
			return cmGone(t, cs, ns, ch.b) && cmGone(t, cs, ns, ch.c)
		})
	})

	t.Run("foreground", func(t *testing.T) {
		// c holds a finalizer of its own, so the foreground deletion of a
		// waits for it: a and b stay marked until c goes.
		ch := newGCChain(t, cs, ns, "fg", true, holdFinalizer)
		deletePV(t, cs, ch.a, metav1.DeletePropagationForeground)
		eventually(t, gcTimeout, "c to be marked for deletion", func() bool {
			return getCM(t, cs, ns, ch.c).DeletionTimestamp != nil
		})
		b := getCM(t, cs, ns, ch.b)
		if b.DeletionTimestamp == nil || !hasFinalizer(b, metav1.FinalizerDeleteDependents) {
			t.Fatalf("b, which has a blocking dependent, is not deleted in foreground: %+v", b.ObjectMeta)
		}
		// Still waiting once the collector has caught up.
		gcBarrier(t, cs, ns)
		pv, err := cs.CoreV1().PersistentVolumes().Get(ctx, ch.a, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("owner gone before its blocking dependents: %v", err)
		}
		if pv.DeletionTimestamp == nil || !hasFinalizer(pv, metav1.FinalizerDeleteDependents) {
			t.Fatalf("owner not waiting with foregroundDeletion: %+v", pv.ObjectMeta)
		}
		if cmGone(t, cs, ns, ch.b) {
			t.Fatal("b gone before its blocking dependent c")
		}
		// c goes, then b, then a.
		removeFinalizers(t, cs, ns, ch.c)
		eventually(t, gcTimeout, "the whole chain to go", func() bool {
			return ch.pvGone(t, cs) && cmGone(t, cs, ns, ch.b) && cmGone(t, cs, ns, ch.c)
		})
	})

	t.Run("foreground without blockOwnerDeletion", func(t *testing.T) {
		// Dependents that do not block are deleted, but the owner does not
		// wait for them.
		ch := newGCChain(t, cs, ns, "fgnb", false, holdFinalizer)
		deletePV(t, cs, ch.a, metav1.DeletePropagationForeground)
		eventually(t, gcTimeout, "a to go and b to be collected", func() bool {
			return ch.pvGone(t, cs) && cmGone(t, cs, ns, ch.b)
		})
		eventually(t, gcTimeout, "c to be marked for deletion", func() bool {
			return getCM(t, cs, ns, ch.c).DeletionTimestamp != nil
		})
		removeFinalizers(t, cs, ns, ch.c)
		eventually(t, gcTimeout, "c to go", func() bool { return cmGone(t, cs, ns, ch.c) })
	})

	t.Run("orphan", func(t *testing.T) {
		ch := newGCChain(t, cs, ns, "orphan", true)
		deletePV(t, cs, ch.a, metav1.DeletePropagationOrphan)
		eventually(t, gcTimeout, "a to go once its dependents are orphaned", func() bool { return ch.pvGone(t, cs) })
		b := getCM(t, cs, ns, ch.b)
		if len(b.OwnerReferences) != 0 || b.DeletionTimestamp != nil {
			t.Fatalf("b after its owner was deleted with Orphan: %+v", b.ObjectMeta)
		}
		c := getCM(t, cs, ns, ch.c)
		if len(c.OwnerReferences) != 1 || c.OwnerReferences[0].UID != ch.bUID || c.DeletionTimestamp != nil {
			t.Fatalf("c, owned by b, changed: %+v", c.ObjectMeta)
		}
		// And they stay.
		gcBarrier(t, cs, ns)
		if cmGone(t, cs, ns, ch.b) || cmGone(t, cs, ns, ch.c) {
			t.Fatal("orphaned dependents were deleted")
		}
	})

	t.Run("orphan with a dependent that has other owners", func(t *testing.T) {
		other, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "orphan2-other"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ch := newGCChain(t, cs, ns, "orphan2", false)
		b := getCM(t, cs, ns, ch.b)
		b.OwnerReferences = append([]metav1.OwnerReference{gcRef("v1", "ConfigMap", other.Name, other.UID, false)}, b.OwnerReferences...)
		if _, err := cs.CoreV1().ConfigMaps(ns).Update(ctx, b, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		deletePV(t, cs, ch.a, metav1.DeletePropagationOrphan)
		eventually(t, gcTimeout, "a to go", func() bool { return ch.pvGone(t, cs) })
		b = getCM(t, cs, ns, ch.b)
		if len(b.OwnerReferences) != 1 || b.OwnerReferences[0].UID != other.UID {
			t.Fatalf("b should keep only its other owner: %+v", b.OwnerReferences)
		}
	})

	t.Run("owner with the wrong uid", func(t *testing.T) {
		// An owner with the referenced name exists, but not with the
		// referenced uid; another names no object at all; a third names a
		// live owner and must stay.
		live, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "live-owner"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		mk := func(name string, ref metav1.OwnerReference) {
			t.Helper()
			if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
				Name: name, OwnerReferences: []metav1.OwnerReference{ref},
			}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		mk("wrong-uid", gcRef("v1", "ConfigMap", "live-owner", "00000000-0000-0000-0000-000000000001", false))
		mk("no-owner", gcRef("v1", "PersistentVolume", "never-created", "00000000-0000-0000-0000-000000000002", false))
		mk("good-uid", gcRef("v1", "ConfigMap", "live-owner", live.UID, false))
		eventually(t, gcTimeout, "dependents of absent owners to be deleted", func() bool {
			return cmGone(t, cs, ns, "wrong-uid") && cmGone(t, cs, ns, "no-owner")
		})
		gcBarrier(t, cs, ns)
		for _, name := range []string{"good-uid", "live-owner"} {
			if cmGone(t, cs, ns, name) {
				t.Fatalf("%s, whose owner exists, was deleted", name)
			}
		}
	})

	t.Run("owners created just before their dependents", func(t *testing.T) {
		// Owner and dependent come through different watches, so under
		// load the collector sees some dependents before their owners: it
		// must look such an owner up rather than take it for gone.
		const n = 100
		names := make(chan string, n)
		for i := 0; i < n; i++ {
			names <- fmt.Sprintf("race-%03d", i)
		}
		close(names)
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for w := 0; w < 16; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for name := range names {
					pv, err := cs.CoreV1().PersistentVolumes().Create(ctx, newPV(name), metav1.CreateOptions{})
					if err == nil {
						_, err = cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
							Name: name, OwnerReferences: []metav1.OwnerReference{gcRef("v1", "PersistentVolume", name, pv.UID, false)},
						}}, metav1.CreateOptions{})
					}
					if err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		gcBarrier(t, cs, ns)
		for i := 0; i < n; i++ {
			if cmGone(t, cs, ns, fmt.Sprintf("race-%03d", i)) {
				t.Fatalf("race-%03d deleted although its owner exists", i)
			}
		}
		for i := 0; i < n; i++ {
			deletePV(t, cs, fmt.Sprintf("race-%03d", i), metav1.DeletePropagationBackground)
		}
		eventually(t, gcTimeout, "every dependent to be collected", func() bool {
			list, err := cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, cm := range list.Items {
				if strings.HasPrefix(cm.Name, "race-") {
					return false
				}
			}
			return true
		})
	})

	t.Run("owner recreated under the same name", func(t *testing.T) {
		// The new a has another uid: it owns nothing, and b and c go.
		ch := newGCChain(t, cs, ns, "recreate", false)
		deletePV(t, cs, ch.a, metav1.DeletePropagationBackground)
		again := createPV(t, cs, ch.a)
		eventually(t, gcTimeout, "b and c to be collected", func() bool {
			return cmGone(t, cs, ns, ch.b) && cmGone(t, cs, ns, ch.c)
		})
		pv, err := cs.CoreV1().PersistentVolumes().Get(ctx, ch.a, metav1.GetOptions{})
		if err != nil || pv.UID != again {
			t.Fatalf("the new a: %v %+v", err, pv)
		}
	})
}

// mustKubectlT is s.mustKubectl failing t, the (sub)test that runs it.
func mustKubectlT(t *testing.T, s *server, args ...string) string {
	t.Helper()
	out, err := s.kubectl(args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// TestGCKubectlCascade deletes a Deployment that owns ReplicaSets made by
// hand, with each `kubectl delete --cascade` mode.
func TestGCKubectlCascade(t *testing.T) {
	needIntegration(t, "kubectl")
	s := startServer(t)
	cs := s.client()
	ctx := context.Background()

	setup := func(t *testing.T, ns string) types.UID {
		t.Helper()
		mustKubectlT(t, s, "create", "namespace", ns)
		mustKubectlT(t, s, "create", "deployment", "web", "-n", ns, "--image=busybox", "--replicas=0")
		uid := types.UID(strings.TrimSpace(mustKubectlT(t, s, "get", "deploy", "web", "-n", ns, "-o", "jsonpath={.metadata.uid}")))
		for _, name := range []string{"rs1", "rs2"} {
			// Labels the Deployment's selector does not match, and no
			// controller flag: a deployment controller leaves these alone.
			manifest := fmt.Sprintf(`apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: %s
  namespace: %s
  ownerReferences:
  - apiVersion: apps/v1
    kind: Deployment
    name: web
    uid: %s
    blockOwnerDeletion: true
spec:
  replicas: 0
  selector:
    matchLabels: {gc-test: %s}
  template:
    metadata:
      labels: {gc-test: %s}
    spec:
      containers:
      - name: c
        image: busybox
`, name, ns, uid, name, name)
			if out, err := s.kubectlStdin(manifest, "apply", "-f", "-"); err != nil {
				t.Fatalf("kubectl apply: %v\n%s", err, out)
			}
		}
		return uid
	}
	rsGone := func(t *testing.T, ns, name string) bool {
		return gone(t, func() error {
			_, err := cs.AppsV1().ReplicaSets(ns).Get(ctx, name, metav1.GetOptions{})
			return err
		})
	}
	deployGone := func(t *testing.T, ns string) bool {
		return gone(t, func() error {
			_, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
			return err
		})
	}

	t.Run("background", func(t *testing.T) {
		setup(t, "cascade-bg")
		out := mustKubectlT(t, s, "delete", "deploy", "web", "-n", "cascade-bg", "--cascade=background")
		contains(t, out, `deployment.apps "web" deleted`)
		eventually(t, gcTimeout, "the ReplicaSets to be collected", func() bool {
			return rsGone(t, "cascade-bg", "rs1") && rsGone(t, "cascade-bg", "rs2")
		})
	})

	t.Run("foreground", func(t *testing.T) {
		setup(t, "cascade-fg")
		// Hold one ReplicaSet so that the Deployment is seen waiting.
		mustKubectlT(t, s, "patch", "rs", "rs1", "-n", "cascade-fg", "--type=merge", "-p", `{"metadata":{"finalizers":["`+holdFinalizer+`"]}}`)
		mustKubectlT(t, s, "delete", "deploy", "web", "-n", "cascade-fg", "--cascade=foreground", "--wait=false")
		eventually(t, gcTimeout, "rs2 to be collected", func() bool { return rsGone(t, "cascade-fg", "rs2") })
		d, err := cs.AppsV1().Deployments("cascade-fg").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("deployment gone while rs1 blocks it: %v", err)
		}
		if d.DeletionTimestamp == nil || !hasFinalizer(d, metav1.FinalizerDeleteDependents) {
			t.Fatalf("deployment not waiting in foreground: %+v", d.ObjectMeta)
		}
		rs1, err := cs.AppsV1().ReplicaSets("cascade-fg").Get(ctx, "rs1", metav1.GetOptions{})
		if err != nil || rs1.DeletionTimestamp == nil {
			t.Fatalf("rs1 not marked for deletion: %v %+v", err, rs1)
		}
		mustKubectlT(t, s, "patch", "rs", "rs1", "-n", "cascade-fg", "--type=json", "-p", `[{"op":"remove","path":"/metadata/finalizers"}]`)
		eventually(t, gcTimeout, "the deployment to go after its ReplicaSets", func() bool {
			return deployGone(t, "cascade-fg") && rsGone(t, "cascade-fg", "rs1")
		})
	})

	t.Run("foreground waits", func(t *testing.T) {
		// kubectl's own wait: the command returns once everything is gone.
		setup(t, "cascade-fgw")
		mustKubectlT(t, s, "delete", "deploy", "web", "-n", "cascade-fgw", "--cascade=foreground", "--timeout=30s")
		if !deployGone(t, "cascade-fgw") || !rsGone(t, "cascade-fgw", "rs1") || !rsGone(t, "cascade-fgw", "rs2") {
			t.Fatal("kubectl delete --cascade=foreground returned before the tree was gone")
		}
	})

	t.Run("orphan", func(t *testing.T) {
		uid := setup(t, "cascade-orphan")
		mustKubectlT(t, s, "delete", "deploy", "web", "-n", "cascade-orphan", "--cascade=orphan", "--timeout=30s")
		if !deployGone(t, "cascade-orphan") {
			t.Fatal("deployment still present")
		}
		for _, name := range []string{"rs1", "rs2"} {
			rs, err := cs.AppsV1().ReplicaSets("cascade-orphan").Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatalf("orphaned %s: %v", name, err)
			}
			for _, r := range rs.OwnerReferences {
				if r.UID == uid {
					t.Fatalf("%s still references the deleted deployment: %+v", name, rs.OwnerReferences)
				}
			}
			if rs.DeletionTimestamp != nil {
				t.Fatalf("%s marked for deletion", name)
			}
		}
	})
}
