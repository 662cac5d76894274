package job

import (
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Claim decides which pods a Job that is not being deleted takes and
// gives up, as kube's controller-ref manager does: orphans (no controller)
// that its selector matches and that are not being deleted are adopted;
// pods it controls that the selector no longer matches are released.
// pods are the candidates: the Job's own and its namespace's orphans.
func Claim(job *batchv1.Job, pods []*corev1.Pod) (adopt, release []*corev1.Pod) {
	if job.DeletionTimestamp != nil || job.Spec.Selector == nil {
		return nil, nil
	}
	sel, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
	if err != nil || sel.Empty() {
		return nil, nil
	}
	for _, p := range pods {
		matches := sel.Matches(labels.Set(p.Labels))
		ref := metav1.GetControllerOfNoCopy(p)
		switch {
		case ref == nil && matches && p.DeletionTimestamp == nil:
			adopt = append(adopt, p)
		case ref != nil && ref.UID == job.UID && !matches:
			release = append(release, p)
		}
	}
	return adopt, release
}

// Adopted is pod as it is once adopted by job: controlled by it, with
// the tracking finalizer that makes it count.
func Adopted(job *batchv1.Job, pod *corev1.Pod) *corev1.Pod {
	p := pod.DeepCopy()
	yes := true
	p.OwnerReferences = append(p.OwnerReferences, metav1.OwnerReference{APIVersion: jobKind.GroupVersion().String(), Kind: jobKind.Kind,
		Name: job.Name, UID: job.UID, Controller: &yes, BlockOwnerDeletion: &yes})
	if !hasFinalizer(p) {
		p.Finalizers = append(p.Finalizers, batchv1.JobTrackingFinalizer)
	}
	return p
}

// Released is pod as it is once job gives it up: without job's owner
// reference and the tracking finalizer.
func Released(job *batchv1.Job, pod *corev1.Pod) *corev1.Pod {
	p := pod.DeepCopy()
	p.OwnerReferences = nil
	for _, r := range pod.OwnerReferences {
		if r.UID != job.UID {
			p.OwnerReferences = append(p.OwnerReferences, r)
		}
	}
	p.Finalizers = nil
	for _, f := range pod.Finalizers {
		if f != batchv1.JobTrackingFinalizer {
			p.Finalizers = append(p.Finalizers, f)
		}
	}
	return p
}
