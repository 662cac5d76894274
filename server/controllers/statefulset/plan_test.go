package statefulset

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/skiff-io/skiff/server/controllers/history"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

var now = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func tmpl(image string) *corev1.PodTemplateSpec {
	return &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}},
	}
}

var (
	revOld = Revision{Name: "web-old", Template: tmpl("old")}
	revNew = Revision{Name: "web-new", Template: tmpl("new")}
)

func statefulSet(replicas int32, mut ...func(*appsv1.StatefulSet)) *appsv1.StatefulSet {
	set := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "setuid", Generation: 3},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    &replicas,
			ServiceName: "svc",
			Selector:    &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template:    *tmpl("new"),
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}},
			}},
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType},
		},
	}
	for _, m := range mut {
		m(set)
	}
	return set
}

// pod is the set's pod of ordinal at rev; state is "ready", "pending",
// "failed" or "terminating".
func pod(set *appsv1.StatefulSet, ord int, rev Revision, state string) *corev1.Pod {
	p := NewPod(set, rev, ord)
	p.UID = types.UID(fmt.Sprintf("pod-%d", ord))
	switch state {
	case "ready":
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-time.Minute))}}
	case "pending":
		p.Status.Phase = corev1.PodPending
	case "failed":
		p.Status.Phase = corev1.PodFailed
	case "terminating":
		p.Status.Phase = corev1.PodRunning
		ts := metav1.NewTime(now)
		p.DeletionTimestamp = &ts
	}
	return p
}

// claims returns the claims of ordinals, as the set would own them.
func claims(set *appsv1.StatefulSet, ords ...int) map[string]*corev1.PersistentVolumeClaim {
	out := map[string]*corev1.PersistentVolumeClaim{}
	for _, o := range ords {
		c := NewClaim(set, &set.Spec.VolumeClaimTemplates[0], o)
		c.OwnerReferences = ClaimOwners(set, c, nil, true)
		out[c.Name] = c
	}
	return out
}

func actions(p Plan) string {
	var out []string
	for _, a := range p.Actions {
		out = append(out, a.String())
	}
	return strings.Join(out, ", ")
}

func TestDecide(t *testing.T) {
	parallel := func(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = appsv1.ParallelPodManagement }
	partition := func(n int32) func(*appsv1.StatefulSet) {
		return func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{Partition: &n}
		}
	}
	onDelete := func(s *appsv1.StatefulSet) {
		s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
	}
	maxUnavailable := func(n int) func(*appsv1.StatefulSet) {
		return func(s *appsv1.StatefulSet) {
			v := intstr.FromInt(n)
			s.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{MaxUnavailable: &v}
		}
	}
	start := func(s *appsv1.StatefulSet) { s.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: 5} }
	set3 := statefulSet(3)
	for _, tc := range []struct {
		name    string
		set     *appsv1.StatefulSet
		pods    func(*appsv1.StatefulSet) []*corev1.Pod
		claims  []int
		current Revision
		want    string
	}{
		{name: "fresh: claim, then web-0 only", set: set3, want: "CreateClaim data-web-0, CreatePod web-0"},
		{name: "claim exists: reused", set: set3, claims: []int{0}, want: "CreatePod web-0"},
		{name: "web-1 waits for web-0 to be ready", set: set3, claims: []int{0},
			pods: func(s *appsv1.StatefulSet) []*corev1.Pod { return []*corev1.Pod{pod(s, 0, revNew, "pending")} }},
		{name: "web-1 once web-0 is ready", set: set3, claims: []int{0},
			pods: func(s *appsv1.StatefulSet) []*corev1.Pod { return []*corev1.Pod{pod(s, 0, revNew, "ready")} },
			want: "CreateClaim data-web-1, CreatePod web-1"},
		{name: "parallel: all at once", set: statefulSet(3, parallel), claims: []int{0},
			pods: func(s *appsv1.StatefulSet) []*corev1.Pod { return []*corev1.Pod{pod(s, 0, revNew, "pending")} },
			want: "CreateClaim data-web-1, CreatePod web-1, CreateClaim data-web-2, CreatePod web-2"},
		{name: "ordinals start", set: statefulSet(2, start), want: "CreateClaim data-web-5, CreatePod web-5"},
		{name: "failed pod deleted, then recreated", set: set3, claims: []int{0},
			pods: func(s *appsv1.StatefulSet) []*corev1.Pod { return []*corev1.Pod{pod(s, 0, revNew, "failed")} },
			want: "DeletePod web-0"},
		{name: "scale down: highest first, one at a time", set: statefulSet(1), claims: []int{0, 1, 2},
			pods: func(s *appsv1.StatefulSet) []*corev1.Pod {
				return []*corev1.Pod{pod(s, 0, revNew, "ready"), pod(s, 1, revNew, "ready"), pod(s, 2, revNew, "ready")}
			},
			want: "DeletePod web-2"},
		{name: "scale down: wait for the terminating one", set: statefulSet(1), claims: []int{0, 1, 2},
			pods: func(s *appsv1.StatefulSet) []*corev1.Pod {
				return []*corev1.Pod{pod(s, 0, revNew, "ready"), pod(s, 1, revNew, "ready"), pod(s, 2, revNew, "terminating")}
			}},
		{name: "scale down waits for living pods to be ready", set: statefulSet(1), claims: []int{0, 1},
			pods: func(s *appsv1.StatefulSet) []*corev1.Pod {
				return []*corev1.Pod{pod(s, 0, revNew, "pending"), pod(s, 1, revNew, "ready")}
			}},
		{name: "scale down halts while a condemned pod below is unhealthy", set: statefulSet(0), claims: []int{0, 1, 2},
			pods: func(s *appsv1.StatefulSet) []*corev1.Pod {
				return []*corev1.Pod{pod(s, 0, revNew, "pending"), pod(s, 1, revNew, "pending"), pod(s, 2, revNew, "pending")}
			}},
		{name: "scale down of healthy pods above an unhealthy one", set: statefulSet(0), claims: []int{0, 1, 2},
			pods: func(s *appsv1.StatefulSet) []*corev1.Pod {
				return []*corev1.Pod{pod(s, 0, revNew, "pending"), pod(s, 1, revNew, "ready"), pod(s, 2, revNew, "ready")}
			},
			want: "DeletePod web-2"},
		{name: "scale down removes the unhealthy pod when it is the lowest unhealthy one", set: statefulSet(1), claims: []int{0, 1, 2},
			pods: func(s *appsv1.StatefulSet) []*corev1.Pod {
				return []*corev1.Pod{pod(s, 0, revNew, "ready"), pod(s, 1, revNew, "ready"), pod(s, 2, revNew, "pending")}
			},
			want: "DeletePod web-2"},
		{name: "parallel scale down", set: statefulSet(1, parallel), claims: []int{0, 1, 2},
			pods: func(s *appsv1.StatefulSet) []*corev1.Pod {
				return []*corev1.Pod{pod(s, 0, revNew, "ready"), pod(s, 1, revNew, "ready"), pod(s, 2, revNew, "ready")}
			},
			want: "DeletePod web-2, DeletePod web-1"},
		{name: "rolling update from the highest ordinal", set: set3, claims: []int{0, 1, 2}, current: revOld,
			pods: func(s *appsv1.StatefulSet) []*corev1.Pod {
				return []*corev1.Pod{pod(s, 0, revOld, "ready"), pod(s, 1, revOld, "ready"), pod(s, 2, revOld, "ready")}
			},
			want: "DeletePod web-2"},
		{name: "rolling update waits for the updated pod", set: set3, claims: []int{0, 1, 2}, current: revOld,
			pods: func(s *appsv1.StatefulSet) []*corev1.Pod {
				return []*corev1.Pod{pod(s, 0, revOld, "ready"), pod(s, 1, revOld, "ready"), pod(s, 2, revNew, "pending")}
			}},
		{name: "rolling update stops at the partition", set: statefulSet(3, partition(2)), claims: []int{0, 1, 2}, current: revOld,
			pods: func(s *appsv1.StatefulSet) []*corev1.Pod {
				return []*corev1.Pod{pod(s, 0, revOld, "ready"), pod(s, 1, revOld, "ready"), pod(s, 2, revNew, "ready")}
			}},
		{name: "below the partition, a new pod gets the current revision", set: statefulSet(3, partition(2)), claims: []int{0, 1, 2}, current: revOld,
			pods: func(s *appsv1.StatefulSet) []*corev1.Pod { return []*corev1.Pod{pod(s, 0, revOld, "ready")} },
			want: "CreatePod web-1@web-old"},
		{name: "above the partition, the update revision", set: statefulSet(3, partition(2)), claims: []int{0, 1, 2}, current: revOld,
			pods: func(s *appsv1.StatefulSet) []*corev1.Pod {
				return []*corev1.Pod{pod(s, 0, revOld, "ready"), pod(s, 1, revOld, "ready")}
			},
			want: "CreatePod web-2@web-new"},
		{name: "maxUnavailable 2, parallel: two at once", set: statefulSet(3, parallel, maxUnavailable(2)), claims: []int{0, 1, 2}, current: revOld,
			pods: func(s *appsv1.StatefulSet) []*corev1.Pod {
				return []*corev1.Pod{pod(s, 0, revOld, "ready"), pod(s, 1, revOld, "ready"), pod(s, 2, revOld, "ready")}
			},
			want: "DeletePod web-2, DeletePod web-1"},
		{name: "maxUnavailable 2: one more while one is down", set: statefulSet(3, parallel, maxUnavailable(2)), claims: []int{0, 1, 2}, current: revOld,
			pods: func(s *appsv1.StatefulSet) []*corev1.Pod {
				return []*corev1.Pod{pod(s, 0, revOld, "ready"), pod(s, 1, revOld, "ready"), pod(s, 2, revNew, "pending")}
			},
			want: "DeletePod web-1"},
		{name: "OnDelete leaves old pods", set: statefulSet(1, onDelete), claims: []int{0}, current: revOld,
			pods: func(s *appsv1.StatefulSet) []*corev1.Pod { return []*corev1.Pod{pod(s, 0, revOld, "ready")} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pods []*corev1.Pod
			if tc.pods != nil {
				pods = tc.pods(tc.set)
			}
			cur := revNew
			if tc.current.Name != "" {
				cur = tc.current
			}
			p := Decide(Input{Set: tc.set, Pods: pods, Claims: claims(tc.set, tc.claims...), Current: cur, Update: revNew, Now: now})
			got := actions(p)
			if strings.Contains(tc.want, "@") {
				var parts []string
				for _, a := range p.Actions {
					parts = append(parts, a.String()+"@"+a.Pod.Labels[history.HashLabel])
				}
				got = strings.Join(parts, ", ")
			}
			if got != tc.want {
				t.Fatalf("actions %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNewPodIdentity(t *testing.T) {
	set := statefulSet(3)
	set.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	p := NewPod(set, revNew, 2)
	if p.Name != "web-2" || p.Spec.Hostname != "web-2" || p.Spec.Subdomain != "svc" ||
		p.Labels[PodNameLabel] != "web-2" || p.Labels[PodIndexLabel] != "2" || p.Labels[history.HashLabel] != "web-new" || p.Labels["app"] != "web" {
		t.Fatalf("pod %+v %+v", p.ObjectMeta, p.Spec)
	}
	if len(p.Spec.Volumes) != 1 || p.Spec.Volumes[0].PersistentVolumeClaim == nil || p.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != "data-web-2" {
		t.Fatalf("volumes %+v", p.Spec.Volumes)
	}
	if ref := metav1.GetControllerOf(p); ref == nil || ref.UID != "setuid" || ref.Kind != "StatefulSet" {
		t.Fatalf("owner %+v", ref)
	}
}

func TestStatus(t *testing.T) {
	set := statefulSet(3, func(s *appsv1.StatefulSet) {
		n := int32(1)
		s.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{Partition: &n}
		s.Spec.MinReadySeconds = 90
	})
	pods := []*corev1.Pod{pod(set, 0, revOld, "ready"), pod(set, 1, revNew, "ready"), pod(set, 2, revNew, "pending")}
	pods[0].Status.Conditions[0].LastTransitionTime = metav1.NewTime(now.Add(-time.Hour))
	p := Decide(Input{Set: set, Pods: pods, Claims: claims(set, 0, 1, 2), Current: revOld, Update: revNew, Now: now})
	want := appsv1.StatefulSetStatus{ObservedGeneration: 3, Replicas: 3, ReadyReplicas: 2, AvailableReplicas: 1,
		CurrentReplicas: 1, UpdatedReplicas: 2, CurrentRevision: "web-old", UpdateRevision: "web-new"}
	if fmt.Sprintf("%+v", p.Status) != fmt.Sprintf("%+v", want) {
		t.Fatalf("status\n got %+v\nwant %+v", p.Status, want)
	}
	if p.RequeueAfter != 30*time.Second {
		t.Fatalf("requeue %v", p.RequeueAfter)
	}
	// All updated and ready: the update revision becomes current.
	pods = []*corev1.Pod{pod(set, 0, revNew, "ready"), pod(set, 1, revNew, "ready"), pod(set, 2, revNew, "ready")}
	p = Decide(Input{Set: set, Pods: pods, Claims: claims(set, 0, 1, 2), Current: revOld, Update: revNew, Now: now})
	if p.Status.CurrentRevision != "web-new" || p.Status.CurrentReplicas != 3 {
		t.Fatalf("completed status %+v", p.Status)
	}
}

func TestClaimRetention(t *testing.T) {
	del, keep := appsv1.DeletePersistentVolumeClaimRetentionPolicyType, appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	for _, tc := range []struct {
		whenDeleted, whenScaled appsv1.PersistentVolumeClaimRetentionPolicyType
		inRange, scaledAway     string // owners' kinds
	}{
		{keep, keep, "", ""},
		{del, keep, "StatefulSet", "StatefulSet"},
		{keep, del, "", "Pod"},
		{del, del, "StatefulSet", "Pod"},
	} {
		t.Run(string(tc.whenDeleted)+"/"+string(tc.whenScaled), func(t *testing.T) {
			set := statefulSet(1, func(s *appsv1.StatefulSet) {
				s.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{WhenDeleted: tc.whenDeleted, WhenScaled: tc.whenScaled}
			})
			p1 := pod(set, 1, revNew, "ready")
			claim := NewClaim(set, &set.Spec.VolumeClaimTemplates[0], 1)
			kinds := func(refs []metav1.OwnerReference) string {
				var k []string
				for _, r := range refs {
					k = append(k, r.Kind)
				}
				return strings.Join(k, ",")
			}
			if got := kinds(ClaimOwners(set, claim, p1, true)); got != tc.inRange {
				t.Errorf("in range: owners %q, want %q", got, tc.inRange)
			}
			if got := kinds(ClaimOwners(set, claim, p1, false)); got != tc.scaledAway {
				t.Errorf("scaled away: owners %q, want %q", got, tc.scaledAway)
			}
			// Scaling web-1 away sets the claim's owners before deleting it.
			pods := []*corev1.Pod{pod(set, 0, revNew, "ready"), p1}
			cl := claims(set, 0, 1)
			p := Decide(Input{Set: set, Pods: pods, Claims: cl, Current: revNew, Update: revNew, Now: now})
			want := "DeletePod web-1"
			if kinds(cl["data-web-1"].OwnerReferences) != tc.scaledAway {
				want = "SetClaimOwners data-web-1, " + want
			}
			if got := actions(p); got != want {
				t.Errorf("scale down: %q, want %q", got, want)
			}
		})
	}
}

// A claim still owned by an earlier pod of the ordinal (scaled away with
// whenScaled Delete) is about to be collected: the new pod waits for it
// rather than starting on a claim that is going away.
func TestDecideWaitsForStaleClaim(t *testing.T) {
	set := statefulSet(2)
	cl := claims(set, 0, 1)
	cl["data-web-1"].OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: "web-1", UID: "old-pod"}}
	pods := []*corev1.Pod{pod(set, 0, revNew, "ready")}
	p := Decide(Input{Set: set, Pods: pods, Claims: cl, Current: revNew, Update: revNew, Now: now})
	if len(p.Actions) != 0 || p.RequeueAfter != time.Second {
		t.Fatalf("actions %q, requeue %v", actions(p), p.RequeueAfter)
	}
	delete(cl, "data-web-1")
	p = Decide(Input{Set: set, Pods: pods, Claims: cl, Current: revNew, Update: revNew, Now: now})
	if got := actions(p); got != "CreateClaim data-web-1, CreatePod web-1" {
		t.Fatalf("after the claim is gone: %q", got)
	}
}
