package history

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/skiff-io/skiff/server/kubeclient/kubeclienttest"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

func template(image string) *corev1.PodTemplateSpec {
	return &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "a"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}},
	}
}

func owner() *appsv1.DaemonSet {
	return &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "ds", Namespace: "ns", UID: "u1",
		Annotations: map[string]string{"kubernetes.io/change-cause": "why"}}}
}

var kind = appsv1.SchemeGroupVersion.WithKind("DaemonSet")

func rev(t *testing.T, image string, n int64) *appsv1.ControllerRevision {
	t.Helper()
	data, err := TemplateData(template(image))
	if err != nil {
		t.Fatal(err)
	}
	return New(owner(), kind, map[string]string{"app": "a"}, data, n, nil)
}

// TestTemplateDataUndo: the data is a patch kubectl rollout undo applies
// to the owner, replacing its template whole (no merged containers).
func TestTemplateDataUndo(t *testing.T) {
	data, err := TemplateData(template("old"))
	if err != nil {
		t.Fatal(err)
	}
	cur := &appsv1.DaemonSet{Spec: appsv1.DaemonSetSpec{Template: *template("new")}}
	cur.Spec.Template.Spec.Containers = append(cur.Spec.Template.Spec.Containers, corev1.Container{Name: "side", Image: "x"})
	raw, _ := json.Marshal(cur)
	out, err := strategicpatch.StrategicMergePatch(raw, data, &appsv1.DaemonSet{})
	if err != nil {
		t.Fatal(err)
	}
	var got appsv1.DaemonSet
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if cs := got.Spec.Template.Spec.Containers; len(cs) != 1 || cs[0].Image != "old" {
		t.Fatalf("undo gives containers %+v", cs)
	}
	back, err := Template(&appsv1.ControllerRevision{Data: runtime.RawExtension{Raw: data}})
	if err != nil || back.Spec.Containers[0].Image != "old" {
		t.Fatalf("Template: %+v %v", back, err)
	}
}

func TestNewAndHash(t *testing.T) {
	r := rev(t, "a", 3)
	h := r.Labels[HashLabel]
	if r.Name != "ds-"+h || r.Revision != 3 || r.Labels["app"] != "a" || r.Annotations["kubernetes.io/change-cause"] != "why" {
		t.Fatalf("revision %+v", r.ObjectMeta)
	}
	if ref := metav1.GetControllerOf(r); ref == nil || ref.UID != "u1" || ref.Kind != "DaemonSet" {
		t.Fatalf("controller ref %+v", ref)
	}
	one := int32(1)
	if Hash(r.Data.Raw, nil) == Hash(r.Data.Raw, &one) {
		t.Fatal("collision count does not change the hash")
	}
	if Hash(r.Data.Raw, nil) == rev(t, "b", 1).Labels[HashLabel] {
		t.Fatal("different templates hash alike")
	}
	if !Equal(r, rev(t, "a", 9)) || Equal(r, rev(t, "b", 3)) {
		t.Fatal("Equal")
	}
}

func TestToDelete(t *testing.T) {
	revs := []*appsv1.ControllerRevision{rev(t, "a", 1), rev(t, "b", 2), rev(t, "c", 3), rev(t, "d", 4)}
	names := func(rs []*appsv1.ControllerRevision) []int64 {
		var out []int64
		for _, r := range rs {
			out = append(out, r.Revision)
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		live  []int
		limit int32
		want  []int64
	}{
		{"under the limit", []int{3}, 10, nil},
		{"oldest dead first", []int{3}, 1, []int64{1, 2}},
		{"live ones are kept", []int{0, 3}, 0, []int64{2, 3}},
		{"limit zero", nil, 0, []int64{1, 2, 3, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			live := map[string]bool{}
			for _, i := range tc.live {
				live[revs[i].Name] = true
			}
			got := names(ToDelete(revs, live, tc.limit))
			if len(got) != len(tc.want) {
				t.Fatalf("got %v want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %v want %v", got, tc.want)
				}
			}
		})
	}
}

func TestEnsure(t *testing.T) {
	ctx := context.Background()
	fake := kubeclienttest.New()
	c := fake.ControllerRevisions("ns")
	var cc int32

	// First template: created.
	r1, err := Ensure(ctx, c, nil, rev(t, "a", 1), &cc)
	if err != nil || r1.Revision != 1 {
		t.Fatalf("create: %+v %v", r1, err)
	}
	// Same template again: reused.
	same, err := Ensure(ctx, c, []*appsv1.ControllerRevision{r1}, rev(t, "a", 2), &cc)
	if err != nil || same.Name != r1.Name || same.Revision != 1 {
		t.Fatalf("reuse: %+v %v", same, err)
	}
	r2, err := Ensure(ctx, c, []*appsv1.ControllerRevision{r1}, rev(t, "b", 2), &cc)
	if err != nil || r2.Revision != 2 {
		t.Fatalf("second: %+v %v", r2, err)
	}
	// Back to the first template (an undo): renumbered to 3.
	r3, err := Ensure(ctx, c, []*appsv1.ControllerRevision{r1, r2}, rev(t, "a", 3), &cc)
	if err != nil || r3.Name != r1.Name || r3.Revision != 3 {
		t.Fatalf("rollback: %+v %v", r3, err)
	}
	// A name taken by a different template: the collision count moves.
	clash := rev(t, "c", 4)
	clash.Name = rev(t, "d", 4).Name
	if _, err := c.Create(ctx, clash, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	r4, err := Ensure(ctx, c, []*appsv1.ControllerRevision{r1, r2}, rev(t, "d", 4), &cc)
	if err != nil || cc != 1 || r4.Name == clash.Name || r4.Labels[HashLabel] != Hash(r4.Data.Raw, &cc) {
		t.Fatalf("collision: %+v cc=%d %v", r4, cc, err)
	}
	// Cleanup removes what ToDelete picks.
	all, _ := c.List(ctx, metav1.ListOptions{})
	var revs []*appsv1.ControllerRevision
	for i := range all.Items {
		revs = append(revs, &all.Items[i])
	}
	if err := Cleanup(ctx, c, revs, map[string]bool{r4.Name: true}, 0); err != nil {
		t.Fatal(err)
	}
	all, _ = c.List(ctx, metav1.ListOptions{})
	if len(all.Items) != 1 || all.Items[0].Name != r4.Name {
		t.Fatalf("after cleanup: %d revisions", len(all.Items))
	}
}
