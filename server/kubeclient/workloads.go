package kubeclient

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
)

// The typed clients of the workload, storage, scheduling and policy
// resources the controllers manage.

// Deployments implements Interface.
func (cs *Clientset) Deployments(namespace string) Client[*appsv1.Deployment, *appsv1.DeploymentList] {
	return resource(cs, appsv1.SchemeGroupVersion, "deployments", namespace,
		func() *appsv1.Deployment { return &appsv1.Deployment{} }, func() *appsv1.DeploymentList { return &appsv1.DeploymentList{} })
}

// ReplicaSets implements Interface.
func (cs *Clientset) ReplicaSets(namespace string) Client[*appsv1.ReplicaSet, *appsv1.ReplicaSetList] {
	return resource(cs, appsv1.SchemeGroupVersion, "replicasets", namespace,
		func() *appsv1.ReplicaSet { return &appsv1.ReplicaSet{} }, func() *appsv1.ReplicaSetList { return &appsv1.ReplicaSetList{} })
}

// DaemonSets implements Interface.
func (cs *Clientset) DaemonSets(namespace string) Client[*appsv1.DaemonSet, *appsv1.DaemonSetList] {
	return resource(cs, appsv1.SchemeGroupVersion, "daemonsets", namespace,
		func() *appsv1.DaemonSet { return &appsv1.DaemonSet{} }, func() *appsv1.DaemonSetList { return &appsv1.DaemonSetList{} })
}

// StatefulSets implements Interface.
func (cs *Clientset) StatefulSets(namespace string) Client[*appsv1.StatefulSet, *appsv1.StatefulSetList] {
	return resource(cs, appsv1.SchemeGroupVersion, "statefulsets", namespace,
		func() *appsv1.StatefulSet { return &appsv1.StatefulSet{} }, func() *appsv1.StatefulSetList { return &appsv1.StatefulSetList{} })
}

// ControllerRevisions implements Interface.
func (cs *Clientset) ControllerRevisions(namespace string) Client[*appsv1.ControllerRevision, *appsv1.ControllerRevisionList] {
	return resource(cs, appsv1.SchemeGroupVersion, "controllerrevisions", namespace,
		func() *appsv1.ControllerRevision { return &appsv1.ControllerRevision{} }, func() *appsv1.ControllerRevisionList { return &appsv1.ControllerRevisionList{} })
}

// Jobs implements Interface.
func (cs *Clientset) Jobs(namespace string) Client[*batchv1.Job, *batchv1.JobList] {
	return resource(cs, batchv1.SchemeGroupVersion, "jobs", namespace,
		func() *batchv1.Job { return &batchv1.Job{} }, func() *batchv1.JobList { return &batchv1.JobList{} })
}

// CronJobs implements Interface.
func (cs *Clientset) CronJobs(namespace string) Client[*batchv1.CronJob, *batchv1.CronJobList] {
	return resource(cs, batchv1.SchemeGroupVersion, "cronjobs", namespace,
		func() *batchv1.CronJob { return &batchv1.CronJob{} }, func() *batchv1.CronJobList { return &batchv1.CronJobList{} })
}

// PersistentVolumeClaims implements Interface.
func (cs *Clientset) PersistentVolumeClaims(namespace string) Client[*corev1.PersistentVolumeClaim, *corev1.PersistentVolumeClaimList] {
	return resource(cs, corev1.SchemeGroupVersion, "persistentvolumeclaims", namespace,
		func() *corev1.PersistentVolumeClaim { return &corev1.PersistentVolumeClaim{} }, func() *corev1.PersistentVolumeClaimList { return &corev1.PersistentVolumeClaimList{} })
}

// PersistentVolumes implements Interface.
func (cs *Clientset) PersistentVolumes() Client[*corev1.PersistentVolume, *corev1.PersistentVolumeList] {
	return resource(cs, corev1.SchemeGroupVersion, "persistentvolumes", "",
		func() *corev1.PersistentVolume { return &corev1.PersistentVolume{} }, func() *corev1.PersistentVolumeList { return &corev1.PersistentVolumeList{} })
}

// StorageClasses implements Interface.
func (cs *Clientset) StorageClasses() Client[*storagev1.StorageClass, *storagev1.StorageClassList] {
	return resource(cs, storagev1.SchemeGroupVersion, "storageclasses", "",
		func() *storagev1.StorageClass { return &storagev1.StorageClass{} }, func() *storagev1.StorageClassList { return &storagev1.StorageClassList{} })
}

// PriorityClasses implements Interface.
func (cs *Clientset) PriorityClasses() Client[*schedulingv1.PriorityClass, *schedulingv1.PriorityClassList] {
	return resource(cs, schedulingv1.SchemeGroupVersion, "priorityclasses", "",
		func() *schedulingv1.PriorityClass { return &schedulingv1.PriorityClass{} }, func() *schedulingv1.PriorityClassList { return &schedulingv1.PriorityClassList{} })
}

// PodDisruptionBudgets implements Interface.
func (cs *Clientset) PodDisruptionBudgets(namespace string) Client[*policyv1.PodDisruptionBudget, *policyv1.PodDisruptionBudgetList] {
	return resource(cs, policyv1.SchemeGroupVersion, "poddisruptionbudgets", namespace,
		func() *policyv1.PodDisruptionBudget { return &policyv1.PodDisruptionBudget{} }, func() *policyv1.PodDisruptionBudgetList { return &policyv1.PodDisruptionBudgetList{} })
}
