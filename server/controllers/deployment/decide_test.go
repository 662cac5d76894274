package deployment

import (
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func template(image string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}},
	}
}

func ptr[T any](v T) *T { return &v }

// deploy is a RollingUpdate Deployment with maxSurge and maxUnavailable
// of 25%, as the API defaults them.
func deploy(replicas int32, image string) *appsv1.Deployment {
	q := intstr.FromString("25%")
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "d-uid", Generation: 2},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: template(image),
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &q, MaxUnavailable: &q}},
			RevisionHistoryLimit:    ptr(int32(10)),
			ProgressDeadlineSeconds: ptr(int32(600)),
		},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 1},
	}
}

// rs is a ReplicaSet of d's for image, created age ago, with replicas
// of which available are available, at revision rev, sized for a
// Deployment of desired (max-replicas desired+surge).
func rs(d *appsv1.Deployment, image string, replicas, available int32, rev int, age time.Duration) *appsv1.ReplicaSet {
	tmpl := template(image)
	hash := ComputeHash(&tmpl, nil)
	tmpl.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = hash
	desired := *d.Spec.Replicas
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web-" + hash, Namespace: "default", UID: types.UID("uid-" + image),
			CreationTimestamp: metav1.NewTime(t0.Add(-age)), Labels: tmpl.Labels,
			Annotations: map[string]string{RevisionAnnotation: fmt.Sprint(rev),
				DesiredReplicasAnnotation: fmt.Sprint(desired), MaxReplicasAnnotation: fmt.Sprint(desired + MaxSurge(d))},
			OwnerReferences: []metav1.OwnerReference{{Kind: "Deployment", Name: "web", UID: d.UID, Controller: ptr(true)}}},
		Spec: appsv1.ReplicaSetSpec{Replicas: &replicas, Template: tmpl,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", appsv1.DefaultDeploymentUniqueLabelKey: hash}}},
		Status: appsv1.ReplicaSetStatus{Replicas: replicas, ReadyReplicas: available, AvailableReplicas: available},
	}
}

// summary renders a plan's ReplicaSet writes: "create web-x 5", "update
// web-x 5->4", "delete web-x", by image.
func summary(p Plan) string {
	var out []string
	for _, a := range p.Actions {
		img := a.RS.Spec.Template.Spec.Containers[0].Image
		switch a.Op {
		case Create:
			out = append(out, fmt.Sprintf("create %s %d", img, a.To))
		case Update:
			out = append(out, fmt.Sprintf("update %s %d->%d", img, a.From, a.To))
		case Delete:
			out = append(out, "delete "+img)
		}
	}
	return strings.Join(out, ", ")
}

func cond(st appsv1.DeploymentStatus, t appsv1.DeploymentConditionType) string {
	c := getCondition(&st, t)
	if c == nil {
		return ""
	}
	return string(c.Status) + "/" + c.Reason
}

func TestFenceposts(t *testing.T) {
	tests := []struct {
		surge, unavail string
		replicas       int32
		wantS, wantU   int32
	}{
		{"25%", "25%", 5, 2, 1},
		{"25%", "25%", 4, 1, 1},
		{"25%", "25%", 1, 1, 0},
		{"0", "0", 3, 0, 1},
		{"30%", "30%", 10, 3, 3},
		{"1", "0", 3, 1, 0},
		{"0", "100%", 3, 0, 3},
	}
	for _, tt := range tests {
		s, u := intstr.Parse(tt.surge), intstr.Parse(tt.unavail)
		gs, gu := ResolveFenceposts(&s, &u, tt.replicas)
		if gs != tt.wantS || gu != tt.wantU {
			t.Errorf("surge %s unavailable %s of %d: %d, %d; want %d, %d", tt.surge, tt.unavail, tt.replicas, gs, gu, tt.wantS, tt.wantU)
		}
	}
}

func TestComputeHash(t *testing.T) {
	a, b := template("nginx:1"), template("nginx:2")
	first, again := ComputeHash(&a, nil), ComputeHash(&a, nil)
	if first != again || first == ComputeHash(&b, nil) || first == ComputeHash(&a, ptr(int32(1))) {
		t.Fatal("the hash must depend on the template and the collision count only")
	}
	for _, r := range ComputeHash(&a, nil) {
		if !strings.ContainsRune("bcdfghjklmnpqrstvwxz2456789", r) {
			t.Fatalf("hash %q has characters generated names do not use", ComputeHash(&a, nil))
		}
	}
	withHash := template("nginx:1")
	withHash.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = "abc"
	if !EqualIgnoreHash(&a, &withHash) || EqualIgnoreHash(&a, &b) {
		t.Fatal("EqualIgnoreHash")
	}
}

func TestDecide(t *testing.T) {
	type scenario struct {
		name string
		d    func() *appsv1.Deployment
		rss  func(d *appsv1.Deployment) []*appsv1.ReplicaSet
		pods map[types.UID][]*corev1.Pod
		// want is the summary of the ReplicaSet writes.
		want                   string
		revision               string
		progressing, available string
		check                  func(t *testing.T, p Plan)
	}
	tests := []scenario{
		{
			name: "a new Deployment creates its first ReplicaSet at full size",
			d:    func() *appsv1.Deployment { return deploy(5, "v1") },
			want: "create v1 5", revision: "1", progressing: "True/NewReplicaSetCreated", available: "False/MinimumReplicasUnavailable",
			check: func(t *testing.T, p Plan) {
				rs := p.Actions[0].RS
				hash := rs.Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
				if rs.Name != "web-"+hash || rs.Spec.Selector.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] != hash ||
					rs.Annotations[RevisionAnnotation] != "1" || rs.Annotations[DesiredReplicasAnnotation] != "5" || rs.Annotations[MaxReplicasAnnotation] != "7" {
					t.Fatalf("new ReplicaSet %s: labels %v selector %v annotations %v", rs.Name, rs.Labels, rs.Spec.Selector, rs.Annotations)
				}
				if ref := metav1.GetControllerOf(rs); ref == nil || ref.UID != "d-uid" || !*ref.BlockOwnerDeletion {
					t.Fatalf("owner %+v", rs.OwnerReferences)
				}
			},
		},
		{
			name: "a new template surges by maxSurge (25% of 5 rounds up to 2)",
			d: func() *appsv1.Deployment {
				d := deploy(5, "v2")
				d.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 5, UpdatedReplicas: 5, ReadyReplicas: 5, AvailableReplicas: 5}
				return d
			},
			rss: func(d *appsv1.Deployment) []*appsv1.ReplicaSet {
				return []*appsv1.ReplicaSet{rs(d, "v1", 5, 5, 1, time.Hour)}
			},
			// In the same sync the old ReplicaSet gives up what
			// maxUnavailable allows, as Kubernetes does.
			want: "create v2 2, update v1 5->4", revision: "2", progressing: "True/NewReplicaSetCreated", available: "True/MinimumReplicasAvailable",
		},
		{
			name: "old pods go only as far as maxUnavailable (25% of 5 rounds down to 1)",
			d:    func() *appsv1.Deployment { return deploy(5, "v2") },
			rss: func(d *appsv1.Deployment) []*appsv1.ReplicaSet {
				return []*appsv1.ReplicaSet{rs(d, "v1", 5, 5, 1, time.Hour), rs(d, "v2", 2, 0, 2, time.Minute)}
			},
			want: "update v1 5->4",
		},
		{
			name: "nothing moves while the new pods are unavailable and the floor is reached",
			d:    func() *appsv1.Deployment { return deploy(5, "v2") },
			rss: func(d *appsv1.Deployment) []*appsv1.ReplicaSet {
				return []*appsv1.ReplicaSet{rs(d, "v1", 4, 4, 1, time.Hour), rs(d, "v2", 3, 0, 2, time.Minute)}
			},
			want: "",
		},
		{
			name: "a ReplicaSet just scaled down counts no more available pods than its spec, whatever its status still says",
			d:    func() *appsv1.Deployment { return deploy(5, "v2") },
			rss: func(d *appsv1.Deployment) []*appsv1.ReplicaSet {
				old := rs(d, "v1", 4, 4, 1, time.Hour)
				old.Status.Replicas, old.Status.ReadyReplicas, old.Status.AvailableReplicas = 5, 5, 5
				return []*appsv1.ReplicaSet{old, rs(d, "v2", 3, 1, 2, time.Minute)}
			},
			// 4 + 1 available, 4 must stay: one more old pod may go,
			// not two.
			want: "update v1 4->3",
		},
		{
			name: "unhealthy old pods go first, at no cost to availability",
			d:    func() *appsv1.Deployment { return deploy(5, "v2") },
			rss: func(d *appsv1.Deployment) []*appsv1.ReplicaSet {
				return []*appsv1.ReplicaSet{rs(d, "v1", 5, 3, 1, time.Hour), rs(d, "v2", 2, 2, 2, time.Minute)}
			},
			// 2 unhealthy, then 1 healthy: 4 stay available.
			want: "update v1 5->2",
		},
		{
			name: "a finished rollout scales the old ReplicaSet to zero and reports NewReplicaSetAvailable later",
			d:    func() *appsv1.Deployment { return deploy(5, "v2") },
			rss: func(d *appsv1.Deployment) []*appsv1.ReplicaSet {
				return []*appsv1.ReplicaSet{rs(d, "v1", 1, 1, 1, time.Hour), rs(d, "v2", 5, 5, 2, time.Minute)}
			},
			want: "update v1 1->0",
		},
		{
			name: "complete: NewReplicaSetAvailable, and old revisions past the limit are deleted",
			d: func() *appsv1.Deployment {
				d := deploy(3, "v3")
				d.Spec.RevisionHistoryLimit = ptr(int32(1))
				return d
			},
			rss: func(d *appsv1.Deployment) []*appsv1.ReplicaSet {
				return []*appsv1.ReplicaSet{rs(d, "v1", 0, 0, 1, 2*time.Hour), rs(d, "v2", 0, 0, 2, time.Hour), rs(d, "v3", 3, 3, 3, time.Minute)}
			},
			want: "delete v1", progressing: "True/NewReplicaSetAvailable", available: "True/MinimumReplicasAvailable",
		},
		{
			name: "rollback reuses the old ReplicaSet and bumps its revision",
			d:    func() *appsv1.Deployment { return deploy(3, "v1") },
			rss: func(d *appsv1.Deployment) []*appsv1.ReplicaSet {
				return []*appsv1.ReplicaSet{rs(d, "v1", 0, 0, 1, 2*time.Hour), rs(d, "v2", 3, 3, 2, time.Hour)}
			},
			want: "update v1 0->1", revision: "3",
			check: func(t *testing.T, p Plan) {
				if a := p.Actions[0].RS.Annotations; a[RevisionAnnotation] != "3" || a[RevisionHistoryAnnotation] != "1" {
					t.Fatalf("reused ReplicaSet annotations %v", a)
				}
			},
		},
		{
			name: "scaling during a rollout is proportional (5 -> 10, surge 3: 13 over 4+3)",
			d:    func() *appsv1.Deployment { return deploy(10, "v2") },
			rss: func(d *appsv1.Deployment) []*appsv1.ReplicaSet {
				old := deploy(5, "v2")
				return []*appsv1.ReplicaSet{rs(old, "v1", 4, 4, 1, time.Hour), rs(old, "v2", 3, 0, 2, time.Minute)}
			},
			want: "update v1 4->7, update v2 3->6",
			check: func(t *testing.T, p Plan) {
				for _, a := range p.Actions {
					if a.RS.Annotations[DesiredReplicasAnnotation] != "10" || a.RS.Annotations[MaxReplicasAnnotation] != "13" {
						t.Fatalf("%s annotations %v", a.RS.Name, a.RS.Annotations)
					}
				}
			},
		},
		{
			name: "scaling a settled Deployment resizes its one ReplicaSet",
			d:    func() *appsv1.Deployment { return deploy(2, "v1") },
			rss: func(d *appsv1.Deployment) []*appsv1.ReplicaSet {
				return []*appsv1.ReplicaSet{rs(deploy(5, "v1"), "v1", 5, 5, 1, time.Hour)}
			},
			want: "update v1 5->2",
		},
		{
			name: "a paused Deployment does not roll",
			d: func() *appsv1.Deployment {
				d := deploy(3, "v2")
				d.Spec.Paused = true
				return d
			},
			rss: func(d *appsv1.Deployment) []*appsv1.ReplicaSet {
				return []*appsv1.ReplicaSet{rs(d, "v1", 3, 3, 1, time.Hour)}
			},
			want: "", progressing: "Unknown/DeploymentPaused",
		},
		{
			name: "resuming says so",
			d: func() *appsv1.Deployment {
				d := deploy(3, "v1")
				d.Status.Conditions = []appsv1.DeploymentCondition{newCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, ReasonPaused, "", t0.Add(-time.Hour))}
				return d
			},
			rss: func(d *appsv1.Deployment) []*appsv1.ReplicaSet {
				return []*appsv1.ReplicaSet{rs(d, "v1", 3, 3, 1, time.Hour)}
			},
			want: "", progressing: "True/NewReplicaSetAvailable",
		},
		{
			name: "no progress past the deadline is ProgressDeadlineExceeded",
			d: func() *appsv1.Deployment {
				d := deploy(3, "v2")
				d.Spec.ProgressDeadlineSeconds = ptr(int32(60))
				d.Status = appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 4, UpdatedReplicas: 1, AvailableReplicas: 3, ReadyReplicas: 3,
					Conditions: []appsv1.DeploymentCondition{newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonRSUpdated, "", t0.Add(-2*time.Minute))}}
				return d
			},
			rss: func(d *appsv1.Deployment) []*appsv1.ReplicaSet {
				return []*appsv1.ReplicaSet{rs(d, "v1", 3, 3, 1, time.Hour), rs(d, "v2", 1, 0, 2, time.Minute)}
			},
			want: "", progressing: "False/ProgressDeadlineExceeded",
		},
		{
			name: "progress before the deadline refreshes ReplicaSetUpdated and asks to look again",
			d: func() *appsv1.Deployment {
				d := deploy(3, "v2")
				d.Spec.ProgressDeadlineSeconds = ptr(int32(60))
				d.Status = appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 4, UpdatedReplicas: 1, AvailableReplicas: 3, ReadyReplicas: 3,
					Conditions: []appsv1.DeploymentCondition{newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonNewRSCreated, "", t0.Add(-30*time.Second))}}
				return d
			},
			rss: func(d *appsv1.Deployment) []*appsv1.ReplicaSet {
				return []*appsv1.ReplicaSet{rs(d, "v1", 3, 3, 1, time.Hour), rs(d, "v2", 1, 1, 2, time.Minute)}
			},
			want: "update v1 3->2", progressing: "True/ReplicaSetUpdated",
			check: func(t *testing.T, p Plan) {
				if p.Recheck != 61*time.Second {
					t.Fatalf("recheck %s, want the deadline and a second", p.Recheck)
				}
			},
		},
		{
			name: "Recreate scales the old ReplicaSet down first",
			d: func() *appsv1.Deployment {
				d := deploy(3, "v2")
				d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
				return d
			},
			rss: func(d *appsv1.Deployment) []*appsv1.ReplicaSet {
				return []*appsv1.ReplicaSet{rs(d, "v1", 3, 3, 1, time.Hour)}
			},
			want: "update v1 3->0",
		},
		{
			name: "Recreate waits for the old pods to be gone",
			d: func() *appsv1.Deployment {
				d := deploy(3, "v2")
				d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
				return d
			},
			rss: func(d *appsv1.Deployment) []*appsv1.ReplicaSet {
				old := rs(d, "v1", 0, 0, 1, time.Hour)
				return []*appsv1.ReplicaSet{old}
			},
			pods: map[types.UID][]*corev1.Pod{"uid-v1": {{ObjectMeta: metav1.ObjectMeta{Name: "terminating"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}}},
			want: "",
		},
		{
			name: "Recreate starts the new pods once the old are gone",
			d: func() *appsv1.Deployment {
				d := deploy(3, "v2")
				d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
				return d
			},
			rss: func(d *appsv1.Deployment) []*appsv1.ReplicaSet {
				return []*appsv1.ReplicaSet{rs(d, "v1", 0, 0, 1, time.Hour)}
			},
			want: "create v2 3", revision: "2",
		},
		{
			name: "a ReplicaSet's failure becomes the Deployment's ReplicaFailure",
			d:    func() *appsv1.Deployment { return deploy(3, "v1") },
			rss: func(d *appsv1.Deployment) []*appsv1.ReplicaSet {
				r := rs(d, "v1", 3, 0, 1, time.Hour)
				r.Status.Replicas = 0
				r.Status.Conditions = []appsv1.ReplicaSetCondition{{Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue, Reason: "FailedCreate", Message: "forbidden"}}
				return []*appsv1.ReplicaSet{r}
			},
			want: "",
			check: func(t *testing.T, p Plan) {
				if c := getCondition(&p.Status, appsv1.DeploymentReplicaFailure); c == nil || c.Reason != "FailedCreate" || c.Message != "forbidden" {
					t.Fatalf("ReplicaFailure %+v", c)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.d()
			var rss []*appsv1.ReplicaSet
			if tt.rss != nil {
				rss = tt.rss(d)
			}
			// The Deployment is at the revision of its current template.
			for _, r := range rss {
				if EqualIgnoreHash(&r.Spec.Template, &d.Spec.Template) {
					d.Annotations = map[string]string{RevisionAnnotation: r.Annotations[RevisionAnnotation]}
				}
			}
			p := Decide(Input{Deployment: d, ReplicaSets: rss, Pods: tt.pods, Now: t0})
			if got := summary(p); got != tt.want {
				t.Fatalf("writes %q, want %q", got, tt.want)
			}
			if p.Revision != tt.revision {
				t.Errorf("revision %q, want %q", p.Revision, tt.revision)
			}
			if tt.progressing != "" && cond(p.Status, appsv1.DeploymentProgressing) != tt.progressing {
				t.Errorf("Progressing %s, want %s", cond(p.Status, appsv1.DeploymentProgressing), tt.progressing)
			}
			if tt.available != "" && cond(p.Status, appsv1.DeploymentAvailable) != tt.available {
				t.Errorf("Available %s, want %s", cond(p.Status, appsv1.DeploymentAvailable), tt.available)
			}
			if p.Status.ObservedGeneration != d.Generation {
				t.Errorf("observedGeneration %d, want %d", p.Status.ObservedGeneration, d.Generation)
			}
			if tt.check != nil {
				tt.check(t, p)
			}
		})
	}
}

func TestDecideSelectingAll(t *testing.T) {
	d := deploy(3, "v1")
	d.Spec.Selector = &metav1.LabelSelector{}
	p := Decide(Input{Deployment: d, Now: t0})
	if !p.SelectingAll || len(p.Actions) != 0 || p.Status.ObservedGeneration != 2 {
		t.Fatalf("plan %+v", p)
	}
}

func TestStatusCounts(t *testing.T) {
	d := deploy(5, "v2")
	old, cur := rs(d, "v1", 3, 3, 1, time.Hour), rs(d, "v2", 3, 1, 2, time.Minute)
	cur.Status.ReadyReplicas = 2
	p := Decide(Input{Deployment: d, ReplicaSets: []*appsv1.ReplicaSet{old, cur}, Now: t0})
	st := p.Status
	// The new ReplicaSet is scaled to 4 in the same sync: 7 wanted, 4
	// available.
	if st.Replicas != 6 || st.UpdatedReplicas != 3 || st.ReadyReplicas != 5 || st.AvailableReplicas != 4 || st.UnavailableReplicas != 3 {
		t.Fatalf("status %+v", st)
	}
}

func TestClaim(t *testing.T) {
	d := deploy(1, "v1")
	mine := rs(d, "v1", 1, 1, 1, time.Hour)
	orphan := rs(d, "v2", 1, 1, 1, time.Hour)
	orphan.OwnerReferences = nil
	strayed := rs(d, "v3", 1, 1, 1, time.Hour)
	strayed.Labels = map[string]string{"app": "other"}
	others := rs(d, "v4", 1, 1, 1, time.Hour)
	others.OwnerReferences[0].UID = "someone-else"
	owned, adopt, release := Claim(d, []*appsv1.ReplicaSet{mine, orphan, strayed, others})
	if len(owned) != 2 || owned[0] != mine || owned[1] != orphan || len(adopt) != 1 || adopt[0] != orphan || len(release) != 1 || release[0] != strayed {
		t.Fatalf("owned %d adopt %d release %d", len(owned), len(adopt), len(release))
	}
}
