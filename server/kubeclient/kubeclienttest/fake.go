// Package kubeclienttest adapts client-go's fake clientset to
// kubeclient.Interface for controllers' unit tests. Only tests import it:
// the fake clientset links every Kubernetes API group.
package kubeclienttest

import (
	"context"
	"fmt"

	"github.com/skiff-io/skiff/server/kubeclient"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes/fake"
)

// Fake serves kubeclient.Interface from a fake clientset, whose typed
// clients have the same methods as skiff's.
type Fake struct {
	*fake.Clientset
}

var _ kubeclient.Interface = Fake{}

// New returns a Fake holding objs.
func New(objs ...runtime.Object) Fake {
	return Fake{fake.NewClientset(objs...)}
}

func as[C any](c any) C {
	out, ok := c.(C)
	if !ok {
		panic(fmt.Sprintf("kubeclienttest: %T does not implement %T", c, out))
	}
	return out
}

func (f Fake) Namespaces() kubeclient.NamespaceClient {
	return as[kubeclient.NamespaceClient](f.CoreV1().Namespaces())
}

func (f Fake) Pods(ns string) kubeclient.PodClient {
	return as[kubeclient.PodClient](f.CoreV1().Pods(ns))
}

func (f Fake) Nodes() kubeclient.Client[*corev1.Node, *corev1.NodeList] {
	return as[kubeclient.Client[*corev1.Node, *corev1.NodeList]](f.CoreV1().Nodes())
}

func (f Fake) Events(ns string) kubeclient.EventClient {
	return as[kubeclient.EventClient](f.CoreV1().Events(ns))
}

func (f Fake) ConfigMaps(ns string) kubeclient.Client[*corev1.ConfigMap, *corev1.ConfigMapList] {
	return as[kubeclient.Client[*corev1.ConfigMap, *corev1.ConfigMapList]](f.CoreV1().ConfigMaps(ns))
}

func (f Fake) Secrets(ns string) kubeclient.Client[*corev1.Secret, *corev1.SecretList] {
	return as[kubeclient.Client[*corev1.Secret, *corev1.SecretList]](f.CoreV1().Secrets(ns))
}

func (f Fake) ServiceAccounts(ns string) kubeclient.Client[*corev1.ServiceAccount, *corev1.ServiceAccountList] {
	return as[kubeclient.Client[*corev1.ServiceAccount, *corev1.ServiceAccountList]](f.CoreV1().ServiceAccounts(ns))
}

func (f Fake) Services(ns string) kubeclient.Client[*corev1.Service, *corev1.ServiceList] {
	return as[kubeclient.Client[*corev1.Service, *corev1.ServiceList]](f.CoreV1().Services(ns))
}

func (f Fake) Endpoints(ns string) kubeclient.Client[*corev1.Endpoints, *corev1.EndpointsList] {
	return as[kubeclient.Client[*corev1.Endpoints, *corev1.EndpointsList]](f.CoreV1().Endpoints(ns))
}

func (f Fake) EndpointSlices(ns string) kubeclient.Client[*discoveryv1.EndpointSlice, *discoveryv1.EndpointSliceList] {
	return as[kubeclient.Client[*discoveryv1.EndpointSlice, *discoveryv1.EndpointSliceList]](f.DiscoveryV1().EndpointSlices(ns))
}

func (f Fake) Leases(ns string) kubeclient.Client[*coordinationv1.Lease, *coordinationv1.LeaseList] {
	return as[kubeclient.Client[*coordinationv1.Lease, *coordinationv1.LeaseList]](f.CoordinationV1().Leases(ns))
}

// PreferredResources answers from the fake's discovery (set its Resources).
func (f Fake) PreferredResources(context.Context) ([]*metav1.APIResourceList, error) {
	return discovery.ServerPreferredResources(f.Discovery())
}

func (f Fake) Deployments(ns string) kubeclient.Client[*appsv1.Deployment, *appsv1.DeploymentList] {
	return as[kubeclient.Client[*appsv1.Deployment, *appsv1.DeploymentList]](f.AppsV1().Deployments(ns))
}

func (f Fake) ReplicaSets(ns string) kubeclient.Client[*appsv1.ReplicaSet, *appsv1.ReplicaSetList] {
	return as[kubeclient.Client[*appsv1.ReplicaSet, *appsv1.ReplicaSetList]](f.AppsV1().ReplicaSets(ns))
}

func (f Fake) DaemonSets(ns string) kubeclient.Client[*appsv1.DaemonSet, *appsv1.DaemonSetList] {
	return as[kubeclient.Client[*appsv1.DaemonSet, *appsv1.DaemonSetList]](f.AppsV1().DaemonSets(ns))
}

func (f Fake) StatefulSets(ns string) kubeclient.Client[*appsv1.StatefulSet, *appsv1.StatefulSetList] {
	return as[kubeclient.Client[*appsv1.StatefulSet, *appsv1.StatefulSetList]](f.AppsV1().StatefulSets(ns))
}

func (f Fake) ControllerRevisions(ns string) kubeclient.Client[*appsv1.ControllerRevision, *appsv1.ControllerRevisionList] {
	return as[kubeclient.Client[*appsv1.ControllerRevision, *appsv1.ControllerRevisionList]](f.AppsV1().ControllerRevisions(ns))
}

func (f Fake) Jobs(ns string) kubeclient.Client[*batchv1.Job, *batchv1.JobList] {
	return as[kubeclient.Client[*batchv1.Job, *batchv1.JobList]](f.BatchV1().Jobs(ns))
}

func (f Fake) CronJobs(ns string) kubeclient.Client[*batchv1.CronJob, *batchv1.CronJobList] {
	return as[kubeclient.Client[*batchv1.CronJob, *batchv1.CronJobList]](f.BatchV1().CronJobs(ns))
}

func (f Fake) PersistentVolumeClaims(ns string) kubeclient.Client[*corev1.PersistentVolumeClaim, *corev1.PersistentVolumeClaimList] {
	return as[kubeclient.Client[*corev1.PersistentVolumeClaim, *corev1.PersistentVolumeClaimList]](f.CoreV1().PersistentVolumeClaims(ns))
}

func (f Fake) PersistentVolumes() kubeclient.Client[*corev1.PersistentVolume, *corev1.PersistentVolumeList] {
	return as[kubeclient.Client[*corev1.PersistentVolume, *corev1.PersistentVolumeList]](f.CoreV1().PersistentVolumes())
}

func (f Fake) StorageClasses() kubeclient.Client[*storagev1.StorageClass, *storagev1.StorageClassList] {
	return as[kubeclient.Client[*storagev1.StorageClass, *storagev1.StorageClassList]](f.StorageV1().StorageClasses())
}

func (f Fake) PriorityClasses() kubeclient.Client[*schedulingv1.PriorityClass, *schedulingv1.PriorityClassList] {
	return as[kubeclient.Client[*schedulingv1.PriorityClass, *schedulingv1.PriorityClassList]](f.SchedulingV1().PriorityClasses())
}

func (f Fake) PodDisruptionBudgets(ns string) kubeclient.Client[*policyv1.PodDisruptionBudget, *policyv1.PodDisruptionBudgetList] {
	return as[kubeclient.Client[*policyv1.PodDisruptionBudget, *policyv1.PodDisruptionBudgetList]](f.PolicyV1().PodDisruptionBudgets(ns))
}
