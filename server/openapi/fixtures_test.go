package openapi

import (
	"reflect"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
)

var (
	allVerbs  = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}
	noDelColl = []string{"get", "list", "watch", "create", "update", "patch", "delete"}
)

// testResources is a table shaped like the one skiff's API server builds.
func testResources() []Resource {
	return []Resource{
		{Group: "", Version: "v1", Kind: "Pod", Plural: "pods", Namespaced: true, Verbs: allVerbs,
			Subresources: []string{"status", "binding", "eviction", "log", "exec", "attach", "portforward", "ephemeralcontainers"},
			Type:         reflect.TypeOf(corev1.Pod{}), ListType: reflect.TypeOf(corev1.PodList{})},
		{Group: "", Version: "v1", Kind: "Service", Plural: "services", Namespaced: true, Verbs: noDelColl,
			Subresources: []string{"status"},
			Type:         reflect.TypeOf(corev1.Service{}), ListType: reflect.TypeOf(corev1.ServiceList{})},
		{Group: "", Version: "v1", Kind: "ConfigMap", Plural: "configmaps", Namespaced: true, Verbs: allVerbs,
			Type: reflect.TypeOf(corev1.ConfigMap{}), ListType: reflect.TypeOf(corev1.ConfigMapList{})},
		{Group: "", Version: "v1", Kind: "Secret", Plural: "secrets", Namespaced: true, Verbs: allVerbs,
			Type: reflect.TypeOf(corev1.Secret{}), ListType: reflect.TypeOf(corev1.SecretList{})},
		{Group: "", Version: "v1", Kind: "ServiceAccount", Plural: "serviceaccounts", Namespaced: true, Verbs: allVerbs,
			Subresources: []string{"token"},
			Type:         reflect.TypeOf(corev1.ServiceAccount{}), ListType: reflect.TypeOf(corev1.ServiceAccountList{})},
		{Group: "", Version: "v1", Kind: "Namespace", Plural: "namespaces", Verbs: noDelColl[: len(noDelColl)-1 : len(noDelColl)-1],
			Subresources: []string{"status", "finalize"},
			Type:         reflect.TypeOf(corev1.Namespace{}), ListType: reflect.TypeOf(corev1.NamespaceList{})},
		{Group: "", Version: "v1", Kind: "Node", Plural: "nodes", Verbs: allVerbs,
			Subresources: []string{"status"},
			Type:         reflect.TypeOf(corev1.Node{}), ListType: reflect.TypeOf(corev1.NodeList{})},
		{Group: "", Version: "v1", Kind: "Event", Plural: "events", Namespaced: true, Verbs: allVerbs,
			Type: reflect.TypeOf(corev1.Event{}), ListType: reflect.TypeOf(corev1.EventList{})},
		{Group: "", Version: "v1", Kind: "Binding", Plural: "bindings", Namespaced: true, Verbs: []string{"create"},
			Type: reflect.TypeOf(corev1.Binding{})},
		{Group: "apps", Version: "v1", Kind: "Deployment", Plural: "deployments", Namespaced: true, Verbs: allVerbs,
			Subresources: []string{"status", "scale"},
			Type:         reflect.TypeOf(appsv1.Deployment{}), ListType: reflect.TypeOf(appsv1.DeploymentList{})},
		{Group: "apps", Version: "v1", Kind: "ReplicaSet", Plural: "replicasets", Namespaced: true, Verbs: allVerbs,
			Subresources: []string{"status", "scale"},
			Type:         reflect.TypeOf(appsv1.ReplicaSet{}), ListType: reflect.TypeOf(appsv1.ReplicaSetList{})},
		{Group: "apps", Version: "v1", Kind: "StatefulSet", Plural: "statefulsets", Namespaced: true, Verbs: allVerbs,
			Subresources: []string{"status", "scale"},
			Type:         reflect.TypeOf(appsv1.StatefulSet{}), ListType: reflect.TypeOf(appsv1.StatefulSetList{})},
		{Group: "apps", Version: "v1", Kind: "DaemonSet", Plural: "daemonsets", Namespaced: true, Verbs: allVerbs,
			Subresources: []string{"status"},
			Type:         reflect.TypeOf(appsv1.DaemonSet{}), ListType: reflect.TypeOf(appsv1.DaemonSetList{})},
		{Group: "batch", Version: "v1", Kind: "Job", Plural: "jobs", Namespaced: true, Verbs: allVerbs,
			Subresources: []string{"status"},
			Type:         reflect.TypeOf(batchv1.Job{}), ListType: reflect.TypeOf(batchv1.JobList{})},
		{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole", Plural: "clusterroles", Verbs: allVerbs,
			Type: reflect.TypeOf(rbacv1.ClusterRole{}), ListType: reflect.TypeOf(rbacv1.ClusterRoleList{})},
	}
}
