package serviceaccount

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/skiff-io/skiff/server/kubeclient"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/listers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// Names and the annotation kube uses.
const (
	DefaultServiceAccount = "default"
	RootCAConfigMap       = "kube-root-ca.crt"
	// RootCAKey is the ConfigMap key holding the CA bundle.
	RootCAKey             = "ca.crt"
	descriptionAnnotation = "kubernetes.io/description"
	description           = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. " +
		"No other usage is guaranteed across distributions of Kubernetes clusters."
)

const workers = 2

// Controller ensures the default ServiceAccount and the root CA ConfigMap
// in every active namespace.
type Controller struct {
	client kubeclient.Interface
	caPEM  string

	informers []cache.SharedIndexInformer
	nsLister  listers.ResourceIndexer[*corev1.Namespace]
	saLister  listers.ResourceIndexer[*corev1.ServiceAccount]
	cmLister  listers.ResourceIndexer[*corev1.ConfigMap]
	queue     workqueue.TypedRateLimitingInterface[string]
}

// New builds the controller; caPEM is the cluster CA certificate.
func New(client kubeclient.Interface, caPEM []byte) *Controller {
	byName := func(name string) func(*metav1.ListOptions) {
		return func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
		}
	}
	nsIndex := cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}
	ns := kubeclient.NewInformer(client.Namespaces(), &corev1.Namespace{}, nil, nil)
	sa := kubeclient.NewInformer(client.ServiceAccounts(metav1.NamespaceAll), &corev1.ServiceAccount{}, byName(DefaultServiceAccount), nsIndex)
	cm := kubeclient.NewInformer(client.ConfigMaps(metav1.NamespaceAll), &corev1.ConfigMap{}, byName(RootCAConfigMap), nsIndex)
	c := &Controller{
		client:    client,
		caPEM:     string(caPEM),
		informers: []cache.SharedIndexInformer{ns, sa, cm},
		nsLister:  listers.New[*corev1.Namespace](ns.GetIndexer(), corev1.Resource("namespaces")),
		saLister:  listers.New[*corev1.ServiceAccount](sa.GetIndexer(), corev1.Resource("serviceaccounts")),
		cmLister:  listers.New[*corev1.ConfigMap](cm.GetIndexer(), corev1.Resource("configmaps")),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "serviceaccount"}),
	}
	// A namespace is the unit of work: its own events, and those of the
	// two objects it must hold, queue its name.
	_, _ = ns.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueNamespace,
		UpdateFunc: func(_, obj any) { c.enqueueNamespace(obj) },
	})
	owned := cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj any) { c.enqueueOwner(obj) },
		DeleteFunc: c.enqueueOwner,
	}
	_, _ = sa.AddEventHandler(owned)
	_, _ = cm.AddEventHandler(owned)
	return c
}

func (c *Controller) enqueueNamespace(obj any) {
	if ns, ok := obj.(*corev1.Namespace); ok {
		c.queue.Add(ns.Name)
	}
}

func (c *Controller) enqueueOwner(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if m, ok := obj.(metav1.Object); ok {
		c.queue.Add(m.GetNamespace())
	}
}

// Run works until ctx ends and returns after its informers and workers
// have stopped.
func (c *Controller) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	defer c.queue.ShutDown()
	if !kubeclient.StartInformers(ctx, &wg, c.informers...) {
		return nil // ctx ended first
	}
	kubeclient.RunWorkers(ctx, &wg, workers, c.processNext)
	return nil
}

func (c *Controller) processNext(ctx context.Context) bool {
	return kubeclient.ProcessNext(ctx, c.queue, func(ctx context.Context, ns string) (time.Duration, error) { return 0, c.Reconcile(ctx, ns) }, "service account controller", "namespace")
}

// Reconcile makes sure namespace name, if active, holds the default
// ServiceAccount and a current kube-root-ca.crt ConfigMap.
func (c *Controller) Reconcile(ctx context.Context, name string) error {
	ns, err := c.nsLister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if ns.DeletionTimestamp != nil || (ns.Status.Phase != "" && ns.Status.Phase != corev1.NamespaceActive) {
		return nil // nothing new may be created in a terminating namespace
	}
	return errors.Join(c.ensureServiceAccount(ctx, name), c.ensureRootCA(ctx, name))
}

func (c *Controller) ensureServiceAccount(ctx context.Context, ns string) error {
	_, err := listers.NewNamespaced(c.saLister, ns).Get(DefaultServiceAccount)
	if !apierrors.IsNotFound(err) {
		return err
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: DefaultServiceAccount, Namespace: ns}}
	_, err = c.client.ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{})
	return ignoreCreateRace(err)
}

// rootCACurrent reports whether cm holds exactly the CA and the
// description, as kube's publisher checks.
func (c *Controller) rootCACurrent(cm *corev1.ConfigMap) bool {
	return len(cm.Data) == 1 && cm.Data[RootCAKey] == c.caPEM && len(cm.BinaryData) == 0 &&
		cm.Annotations[descriptionAnnotation] != ""
}

func (c *Controller) ensureRootCA(ctx context.Context, ns string) error {
	cm, err := listers.NewNamespaced(c.cmLister, ns).Get(RootCAConfigMap)
	if apierrors.IsNotFound(err) {
		_, err = c.client.ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: RootCAConfigMap, Namespace: ns,
				Annotations: map[string]string{descriptionAnnotation: description}},
			Data: map[string]string{RootCAKey: c.caPEM},
		}, metav1.CreateOptions{})
		return ignoreCreateRace(err)
	}
	if err != nil || c.rootCACurrent(cm) {
		return err
	}
	cm = cm.DeepCopy() // the lister's copy is shared
	cm.Data = map[string]string{RootCAKey: c.caPEM}
	cm.BinaryData = nil
	if cm.Annotations == nil {
		cm.Annotations = map[string]string{}
	}
	cm.Annotations[descriptionAnnotation] = description
	_, err = c.client.ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil // deleted meanwhile: its delete event brings us back
	}
	return err
}

// ignoreCreateRace drops the errors of a create that lost a race: the
// object exists already (a stale cache), or the namespace went away or
// began terminating (403) since the cache saw it.
func ignoreCreateRace(err error) error {
	if apierrors.IsAlreadyExists(err) || apierrors.IsNotFound(err) ||
		apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) || apierrors.IsForbidden(err) {
		return nil
	}
	return err
}
