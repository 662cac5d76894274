package job

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestClaim(t *testing.T) {
	selected := func(j *batchv1.Job) {
		j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{batchv1.JobNameLabel: "pi"}}
	}
	orphan := func(p *corev1.Pod) { p.OwnerReferences = nil }
	unlabeled := func(p *corev1.Pod) { p.Labels = nil }
	labeled := func(p *corev1.Pod) { p.Labels = map[string]string{batchv1.JobNameLabel: "pi"} }
	otherOwner := func(p *corev1.Pod) { p.OwnerReferences[0].UID = "other-uid" }
	tests := []struct {
		name                 string
		job                  *batchv1.Job
		pods                 []*corev1.Pod
		wantAdopt, wantRelse []string
	}{
		{
			name:      "a matching orphan is adopted, a matching owned pod kept",
			job:       newJob(selected),
			pods:      []*corev1.Pod{pod("o", corev1.PodRunning, orphan, labeled), pod("a", corev1.PodRunning, labeled)},
			wantAdopt: []string{"o"},
		},
		{
			name:      "an owned pod the selector no longer matches is released",
			job:       newJob(selected),
			pods:      []*corev1.Pod{pod("a", corev1.PodRunning, unlabeled)},
			wantRelse: []string{"a"},
		},
		{
			name: "not taken: an orphan that does not match, one being deleted, another controller's pod",
			job:  newJob(selected),
			pods: []*corev1.Pod{pod("o", corev1.PodRunning, orphan, unlabeled), pod("d", corev1.PodRunning, orphan, labeled, deleting),
				pod("x", corev1.PodRunning, otherOwner, labeled), pod("y", corev1.PodRunning, otherOwner, unlabeled)},
		},
		{
			name: "a Job being deleted neither adopts nor releases",
			job:  newJob(selected, func(j *batchv1.Job) { j.DeletionTimestamp = ptr.To(metav1.NewTime(t0)) }),
			pods: []*corev1.Pod{pod("o", corev1.PodRunning, orphan, labeled), pod("a", corev1.PodRunning, unlabeled)},
		},
		{
			name: "no selector: nothing",
			job:  newJob(),
			pods: []*corev1.Pod{pod("o", corev1.PodRunning, orphan, labeled)},
		},
	}
	names := func(ps []*corev1.Pod) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Name)
		}
		return out
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			adopt, release := Claim(tt.job, tt.pods)
			if diff := cmp.Diff(tt.wantAdopt, names(adopt)); diff != "" {
				t.Errorf("adopted (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantRelse, names(release)); diff != "" {
				t.Errorf("released (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAdoptedAndReleased(t *testing.T) {
	job := newJob()
	p := pod("o", corev1.PodRunning, func(p *corev1.Pod) {
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "cm", UID: "cm-uid"}}
		p.Finalizers = []string{"example.com/keep"}
	})
	a := Adopted(job, p)
	if ref := metav1.GetControllerOf(a); ref == nil || ref.UID != job.UID || ref.Kind != "Job" || ref.APIVersion != "batch/v1" ||
		!ptr.Deref(ref.BlockOwnerDeletion, false) || len(a.OwnerReferences) != 2 {
		t.Errorf("adopted owners %+v", a.OwnerReferences)
	}
	if !hasFinalizer(a) || len(a.Finalizers) != 2 {
		t.Errorf("adopted finalizers %v", a.Finalizers)
	}
	r := Released(job, a)
	if diff := cmp.Diff(p.OwnerReferences, r.OwnerReferences); diff != "" {
		t.Errorf("released owners (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(p.Finalizers, r.Finalizers); diff != "" {
		t.Errorf("released finalizers (-want +got):\n%s", diff)
	}
	if len(p.Finalizers) != 1 || len(p.OwnerReferences) != 1 {
		t.Error("Adopted changed its input")
	}
}
