package disruption

import (
	"context"
	"testing"
	"time"

	"github.com/skiff-io/skiff/server/kubeclient/kubeclienttest"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func controllerRef(kind, name string, uid types.UID) []metav1.OwnerReference {
	yes := true
	return []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: kind, Name: name, UID: uid, Controller: &yes}}
}

// TestScale: a ReplicaSet of a Deployment counts as the Deployment, a
// lone ReplicaSet and a StatefulSet as themselves; a stale UID or an
// unknown kind finds nothing.
func TestScale(t *testing.T) {
	three, five := int32(3), int32(5)
	c := New(kubeclienttest.New(), Options{})
	add := func(obj any) {
		var err error
		switch o := obj.(type) {
		case *appsv1.ReplicaSet:
			err = c.replicaSets.GetIndexer().Add(o)
		case *appsv1.Deployment:
			err = c.deployments.GetIndexer().Add(o)
		case *appsv1.StatefulSet:
			err = c.statefulSets.GetIndexer().Add(o)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	add(&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "d1"}, Spec: appsv1.DeploymentSpec{Replicas: &five}})
	add(&appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "ns", UID: "rs1", OwnerReferences: controllerRef("Deployment", "web", "d1")},
		Spec: appsv1.ReplicaSetSpec{Replicas: &three}})
	add(&appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "lone", Namespace: "ns", UID: "rs2"}, Spec: appsv1.ReplicaSetSpec{Replicas: &three}})
	add(&appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "orphaned", Namespace: "ns", UID: "rs3", OwnerReferences: controllerRef("Deployment", "gone", "d2")}})
	add(&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "ns", UID: "s1"}, Spec: appsv1.StatefulSetSpec{Replicas: &three}})

	tests := []struct {
		ref   metav1.OwnerReference
		uid   types.UID
		n     int32
		found bool
	}{
		{controllerRef("ReplicaSet", "web-1", "rs1")[0], "d1", 5, true},
		{controllerRef("ReplicaSet", "lone", "rs2")[0], "rs2", 3, true},
		{controllerRef("ReplicaSet", "orphaned", "rs3")[0], "", 0, false},
		{controllerRef("ReplicaSet", "lone", "stale")[0], "", 0, false},
		{controllerRef("StatefulSet", "db", "s1")[0], "s1", 3, true},
		{controllerRef("DaemonSet", "agent", "x")[0], "", 0, false},
	}
	for _, tt := range tests {
		uid, n, found := c.Scale("ns", tt.ref)
		if uid != tt.uid || n != tt.n || found != tt.found {
			t.Errorf("Scale(%s/%s) = %q %d %v, want %q %d %v", tt.ref.Kind, tt.ref.Name, uid, n, found, tt.uid, tt.n, tt.found)
		}
	}
}

// TestReconcile: the sync step reads the informers' view and writes the
// status once; unchanged, it writes nothing.
func TestReconcile(t *testing.T) {
	min := ios("1")
	b := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "ns", Generation: 1},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: min, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}}}
	client := kubeclienttest.New(b.DeepCopy())
	c := New(client, Options{Now: func() time.Time { return now }})
	if err := c.pdbs.GetIndexer().Add(b); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*corev1.Pod{pod("a", true), pod("b", true), pod("other", true)} {
		p.Namespace = "ns"
		if p.Name != "other" {
			p.Labels = map[string]string{"app": "x"}
		}
		if err := c.pods.GetIndexer().Add(p); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	if _, err := c.Reconcile(ctx, "ns/b"); err != nil {
		t.Fatal(err)
	}
	got, err := client.PolicyV1().PodDisruptionBudgets("ns").Get(ctx, "b", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st := got.Status; st.DisruptionsAllowed != 1 || st.CurrentHealthy != 2 || st.ExpectedPods != 2 || st.ObservedGeneration != 1 {
		t.Errorf("status %+v", st)
	}
	writes := 0
	for _, a := range client.Actions() {
		if a.GetVerb() == "update" && a.GetSubresource() == "status" {
			writes++
		}
	}
	if err := c.pdbs.GetIndexer().Update(got); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Reconcile(ctx, "ns/b"); err != nil {
		t.Fatal(err)
	}
	again := 0
	for _, a := range client.Actions() {
		if a.GetVerb() == "update" && a.GetSubresource() == "status" {
			again++
		}
	}
	if writes != 1 || again != 1 {
		t.Errorf("status writes: %d, then %d; want 1, then still 1", writes, again)
	}
}
