package deployment

import (
	"context"
	"testing"
	"time"

	"github.com/skiff-io/skiff/server/kubeclient/kubeclienttest"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestSyncCreatesAndResolvesCollisions: the first sync creates
// <deployment>-<hash>; when that name is taken by a ReplicaSet of another
// template, collisionCount goes up and the next sync uses another name.
func TestSyncCreatesAndResolvesCollisions(t *testing.T) {
	ctx := context.Background()
	d := deploy(3, "v1")
	hash := ComputeHash(&d.Spec.Template, nil)
	squatter := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-" + hash, Namespace: "default", UID: "squatter"},
		Spec: appsv1.ReplicaSetSpec{Template: template("other")}}
	f := kubeclienttest.New(d, squatter)
	c := New(f, Options{Now: func() time.Time { return t0 }})
	_ = c.dInformer.GetIndexer().Add(d)

	if _, err := c.Sync(ctx, "default/web"); err == nil {
		t.Fatal("a name collision must fail the sync")
	}
	got, err := f.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.CollisionCount == nil || *got.Status.CollisionCount != 1 {
		t.Fatalf("collisionCount %v, want 1", got.Status.CollisionCount)
	}
	_ = c.dInformer.GetIndexer().Update(got)
	if _, err := c.Sync(ctx, "default/web"); err != nil {
		t.Fatal(err)
	}
	want := "web-" + ComputeHash(&d.Spec.Template, got.Status.CollisionCount)
	rs, err := f.AppsV1().ReplicaSets("default").Get(ctx, want, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("ReplicaSet %s: %v", want, err)
	}
	if *rs.Spec.Replicas != 3 || rs.Annotations[RevisionAnnotation] != "1" {
		t.Fatalf("new ReplicaSet %+v", rs)
	}
	got, _ = f.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
	if got.Annotations[RevisionAnnotation] != "1" || cond(got.Status, appsv1.DeploymentProgressing) != "True/NewReplicaSetCreated" {
		t.Fatalf("deployment annotations %v conditions %+v", got.Annotations, got.Status.Conditions)
	}
}
