// Package kubeclient is the typed client the in-process controllers use to
// reach the server's own API: client-go's generic typed client (gentype),
// REST transport and informers, over a scheme of the groups skiff serves.
//
// client-go's generated clientset, informer factory, discovery client and
// leader election all import its scheme of every Kubernetes API group, and
// linking those groups makes the binary (and the code pages the server keeps
// resident) several MB larger. This package offers the same calls for the
// resources skiff's controllers use; adding a resource is one method.
package kubeclient

import (
	"context"
	"fmt"

	"github.com/skiff-io/skiff/server/scheme"
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
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/gentype"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
)

// Client is the typed client of one resource, in one namespace or cluster
// wide. client-go's generated typed clients (and their fakes) have the same
// methods, so tests can stand them in.
type Client[T runtime.Object, L runtime.Object] interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	List(ctx context.Context, opts metav1.ListOptions) (L, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
	Create(ctx context.Context, obj T, opts metav1.CreateOptions) (T, error)
	Update(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error)
	UpdateStatus(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error)
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
	Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (T, error)
}

// NamespaceClient adds the namespaces/finalize subresource.
type NamespaceClient interface {
	Client[*corev1.Namespace, *corev1.NamespaceList]
	Finalize(ctx context.Context, ns *corev1.Namespace, opts metav1.UpdateOptions) (*corev1.Namespace, error)
}

// PodClient adds the pods/binding subresource the scheduler assigns pods
// through.
type PodClient interface {
	Client[*corev1.Pod, *corev1.PodList]
	Bind(ctx context.Context, binding *corev1.Binding, opts metav1.CreateOptions) error
}

// EventClient writes core/v1 Events (client-go's typed Events client has
// no status subresource, so this is not a Client).
type EventClient interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*corev1.Event, error)
	Create(ctx context.Context, obj *corev1.Event, opts metav1.CreateOptions) (*corev1.Event, error)
	Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (*corev1.Event, error)
}

// Interface is what controllers are given: typed clients by resource and
// the server's discovery.
type Interface interface {
	Namespaces() NamespaceClient
	Pods(namespace string) PodClient
	Nodes() Client[*corev1.Node, *corev1.NodeList]
	Events(namespace string) EventClient
	ConfigMaps(namespace string) Client[*corev1.ConfigMap, *corev1.ConfigMapList]
	Secrets(namespace string) Client[*corev1.Secret, *corev1.SecretList]
	ServiceAccounts(namespace string) Client[*corev1.ServiceAccount, *corev1.ServiceAccountList]
	Services(namespace string) Client[*corev1.Service, *corev1.ServiceList]
	Endpoints(namespace string) Client[*corev1.Endpoints, *corev1.EndpointsList]
	EndpointSlices(namespace string) Client[*discoveryv1.EndpointSlice, *discoveryv1.EndpointSliceList]
	Leases(namespace string) Client[*coordinationv1.Lease, *coordinationv1.LeaseList]
	Deployments(namespace string) Client[*appsv1.Deployment, *appsv1.DeploymentList]
	ReplicaSets(namespace string) Client[*appsv1.ReplicaSet, *appsv1.ReplicaSetList]
	DaemonSets(namespace string) Client[*appsv1.DaemonSet, *appsv1.DaemonSetList]
	StatefulSets(namespace string) Client[*appsv1.StatefulSet, *appsv1.StatefulSetList]
	ControllerRevisions(namespace string) Client[*appsv1.ControllerRevision, *appsv1.ControllerRevisionList]
	Jobs(namespace string) Client[*batchv1.Job, *batchv1.JobList]
	CronJobs(namespace string) Client[*batchv1.CronJob, *batchv1.CronJobList]
	PersistentVolumeClaims(namespace string) Client[*corev1.PersistentVolumeClaim, *corev1.PersistentVolumeClaimList]
	PersistentVolumes() Client[*corev1.PersistentVolume, *corev1.PersistentVolumeList]
	StorageClasses() Client[*storagev1.StorageClass, *storagev1.StorageClassList]
	PriorityClasses() Client[*schedulingv1.PriorityClass, *schedulingv1.PriorityClassList]
	PodDisruptionBudgets(namespace string) Client[*policyv1.PodDisruptionBudget, *policyv1.PodDisruptionBudgetList]
	// PreferredResources lists, for every group, the resources of its
	// preferred version (client-go's discovery.ServerPreferredResources).
	// When some groups fail it returns what it found and a
	// *GroupDiscoveryError.
	PreferredResources(ctx context.Context) ([]*metav1.APIResourceList, error)
}

// Clientset implements Interface over HTTP.
type Clientset struct {
	params runtime.ParameterCodec
	// byGroup holds one REST client per served group version: the group
	// version is part of every request path.
	byGroup map[schema.GroupVersion]rest.Interface
	// root serves discovery (/api, /apis).
	root rest.Interface
}

var _ Interface = (*Clientset)(nil)

// NewForConfig builds a Clientset. Every group's REST client shares one
// HTTP client (one connection pool) and one rate limiter, as client-go's
// clientset does.
func NewForConfig(cfg *rest.Config) (*Clientset, error) {
	s := scheme.New()
	codecs := serializer.NewCodecFactory(s)
	cfg = rest.CopyConfig(cfg)
	if cfg.UserAgent == "" {
		cfg.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	if cfg.RateLimiter == nil && cfg.QPS > 0 {
		if cfg.Burst <= 0 {
			return nil, fmt.Errorf("kubeclient: burst must be positive when QPS is set")
		}
		cfg.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(cfg.QPS, cfg.Burst)
	}
	cfg.NegotiatedSerializer = newNegotiatedJSON(s, codecs)
	cfg.ContentType = runtime.ContentTypeJSON
	cfg.AcceptContentTypes = runtime.ContentTypeJSON
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	cs := &Clientset{params: runtime.NewParameterCodec(s), byGroup: map[schema.GroupVersion]rest.Interface{}}
	for _, gv := range s.PrioritizedVersionsAllGroups() {
		gcfg := rest.CopyConfig(cfg)
		gcfg.GroupVersion = &gv
		gcfg.APIPath = "/apis"
		if gv.Group == "" {
			gcfg.APIPath = "/api"
		}
		rc, err := rest.RESTClientForConfigAndClient(gcfg, httpClient)
		if err != nil {
			return nil, err
		}
		cs.byGroup[gv] = rc
	}
	if cs.root, err = rest.UnversionedRESTClientForConfigAndClient(cfg, httpClient); err != nil {
		return nil, err
	}
	return cs, nil
}

// resource builds the typed client of one resource of group version gv.
func resource[T interface {
	runtime.Object
	metav1.Object
}, L runtime.Object](cs *Clientset, gv schema.GroupVersion, name, namespace string, newObj func() T, newList func() L) *gentype.ClientWithList[T, L] {
	return gentype.NewClientWithList[T, L](name, cs.byGroup[gv], cs.params, namespace, newObj, newList)
}

// Namespaces implements Interface.
func (cs *Clientset) Namespaces() NamespaceClient {
	return namespaces{
		ClientWithList: resource(cs, corev1.SchemeGroupVersion, "namespaces", "",
			func() *corev1.Namespace { return &corev1.Namespace{} }, func() *corev1.NamespaceList { return &corev1.NamespaceList{} }),
		core:   cs.byGroup[corev1.SchemeGroupVersion],
		params: cs.params,
	}
}

type namespaces struct {
	*gentype.ClientWithList[*corev1.Namespace, *corev1.NamespaceList]
	core   rest.Interface
	params runtime.ParameterCodec
}

func (c namespaces) Finalize(ctx context.Context, ns *corev1.Namespace, opts metav1.UpdateOptions) (*corev1.Namespace, error) {
	out := &corev1.Namespace{}
	err := c.core.Put().Resource("namespaces").Name(ns.Name).SubResource("finalize").
		VersionedParams(&opts, c.params).Body(ns).Do(ctx).Into(out)
	return out, err
}

// ConfigMaps implements Interface.
func (cs *Clientset) ConfigMaps(namespace string) Client[*corev1.ConfigMap, *corev1.ConfigMapList] {
	return resource(cs, corev1.SchemeGroupVersion, "configmaps", namespace,
		func() *corev1.ConfigMap { return &corev1.ConfigMap{} }, func() *corev1.ConfigMapList { return &corev1.ConfigMapList{} })
}

// Secrets implements Interface.
func (cs *Clientset) Secrets(namespace string) Client[*corev1.Secret, *corev1.SecretList] {
	return resource(cs, corev1.SchemeGroupVersion, "secrets", namespace,
		func() *corev1.Secret { return &corev1.Secret{} }, func() *corev1.SecretList { return &corev1.SecretList{} })
}

// ServiceAccounts implements Interface.
func (cs *Clientset) ServiceAccounts(namespace string) Client[*corev1.ServiceAccount, *corev1.ServiceAccountList] {
	return resource(cs, corev1.SchemeGroupVersion, "serviceaccounts", namespace,
		func() *corev1.ServiceAccount { return &corev1.ServiceAccount{} }, func() *corev1.ServiceAccountList { return &corev1.ServiceAccountList{} })
}

// Services implements Interface.
func (cs *Clientset) Services(namespace string) Client[*corev1.Service, *corev1.ServiceList] {
	return resource(cs, corev1.SchemeGroupVersion, "services", namespace,
		func() *corev1.Service { return &corev1.Service{} }, func() *corev1.ServiceList { return &corev1.ServiceList{} })
}

// Endpoints implements Interface.
func (cs *Clientset) Endpoints(namespace string) Client[*corev1.Endpoints, *corev1.EndpointsList] {
	return resource(cs, corev1.SchemeGroupVersion, "endpoints", namespace,
		func() *corev1.Endpoints { return &corev1.Endpoints{} }, func() *corev1.EndpointsList { return &corev1.EndpointsList{} })
}

// EndpointSlices implements Interface.
func (cs *Clientset) EndpointSlices(namespace string) Client[*discoveryv1.EndpointSlice, *discoveryv1.EndpointSliceList] {
	return resource(cs, discoveryv1.SchemeGroupVersion, "endpointslices", namespace,
		func() *discoveryv1.EndpointSlice { return &discoveryv1.EndpointSlice{} }, func() *discoveryv1.EndpointSliceList { return &discoveryv1.EndpointSliceList{} })
}

// Leases implements Interface.
func (cs *Clientset) Leases(namespace string) Client[*coordinationv1.Lease, *coordinationv1.LeaseList] {
	return resource(cs, coordinationv1.SchemeGroupVersion, "leases", namespace,
		func() *coordinationv1.Lease { return &coordinationv1.Lease{} }, func() *coordinationv1.LeaseList { return &coordinationv1.LeaseList{} })
}

// Pods implements Interface.
func (cs *Clientset) Pods(namespace string) PodClient {
	return pods{
		ClientWithList: resource(cs, corev1.SchemeGroupVersion, "pods", namespace,
			func() *corev1.Pod { return &corev1.Pod{} }, func() *corev1.PodList { return &corev1.PodList{} }),
		core:      cs.byGroup[corev1.SchemeGroupVersion],
		params:    cs.params,
		namespace: namespace,
	}
}

type pods struct {
	*gentype.ClientWithList[*corev1.Pod, *corev1.PodList]
	core      rest.Interface
	params    runtime.ParameterCodec
	namespace string
}

// Bind posts binding to pods/<name>/binding.
func (c pods) Bind(ctx context.Context, binding *corev1.Binding, opts metav1.CreateOptions) error {
	return c.core.Post().Namespace(c.namespace).Resource("pods").Name(binding.Name).SubResource("binding").
		VersionedParams(&opts, c.params).Body(binding).Do(ctx).Error()
}

// WritePodStatus is Pods(namespace).UpdateStatus for a writer that does
// not read the pod the server answers with (the node sync hub, which
// writes a pod's status three or four times as it starts): the answer is
// not decoded. Errors are the API's, as UpdateStatus returns them.
func (cs *Clientset) WritePodStatus(ctx context.Context, namespace string, pod *corev1.Pod, opts metav1.UpdateOptions) error {
	return cs.byGroup[corev1.SchemeGroupVersion].Put().Namespace(namespace).Resource("pods").Name(pod.Name).SubResource("status").
		VersionedParams(&opts, cs.params).Body(pod).Do(ctx).Error()
}

// WriteEvent is Events(namespace).Create without decoding the Event the
// server answers with.
func (cs *Clientset) WriteEvent(ctx context.Context, namespace string, ev *corev1.Event, opts metav1.CreateOptions) error {
	return cs.byGroup[corev1.SchemeGroupVersion].Post().Namespace(namespace).Resource("events").
		VersionedParams(&opts, cs.params).Body(ev).Do(ctx).Error()
}

// Nodes implements Interface.
func (cs *Clientset) Nodes() Client[*corev1.Node, *corev1.NodeList] {
	return resource(cs, corev1.SchemeGroupVersion, "nodes", "",
		func() *corev1.Node { return &corev1.Node{} }, func() *corev1.NodeList { return &corev1.NodeList{} })
}

// Events implements Interface.
func (cs *Clientset) Events(namespace string) EventClient {
	return resource(cs, corev1.SchemeGroupVersion, "events", namespace,
		func() *corev1.Event { return &corev1.Event{} }, func() *corev1.EventList { return &corev1.EventList{} })
}
