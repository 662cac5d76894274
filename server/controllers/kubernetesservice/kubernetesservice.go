package kubernetesservice

import (
	"context"
	"fmt"
	"reflect"
	"sync"

	"github.com/skiff-io/skiff/server/kubeclient"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/listers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
)

// Name is the Service, Endpoints and EndpointSlice name.
const Name = "kubernetes"

// Config says where the API server is.
type Config struct {
	// ServiceIP is the Service's ClusterIP, the first address of the
	// service CIDR.
	ServiceIP string
	// EndpointIP and EndpointPort are the API server's advertised address.
	EndpointIP   string
	EndpointPort int32
}

// Desired returns the three objects as they should be.
func Desired(c Config) (*corev1.Service, *corev1.Endpoints, *discoveryv1.EndpointSlice) {
	labels := map[string]string{"component": "apiserver", "provider": "kubernetes"}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: metav1.NamespaceDefault, Labels: labels},
		Spec: corev1.ServiceSpec{
			Type:            corev1.ServiceTypeClusterIP,
			ClusterIP:       c.ServiceIP,
			SessionAffinity: corev1.ServiceAffinityNone,
			Ports: []corev1.ServicePort{{
				Name: "https", Protocol: corev1.ProtocolTCP, Port: 443, TargetPort: intstr.FromInt32(c.EndpointPort),
			}},
		},
	}
	ep := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: metav1.NamespaceDefault,
			Labels: map[string]string{"endpointslice.kubernetes.io/skip-mirror": "true"}},
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: c.EndpointIP}},
			Ports:     []corev1.EndpointPort{{Name: "https", Port: c.EndpointPort, Protocol: corev1.ProtocolTCP}},
		}},
	}
	ready := true
	name, proto, port := "https", corev1.ProtocolTCP, c.EndpointPort
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: metav1.NamespaceDefault, Labels: map[string]string{
			discoveryv1.LabelServiceName: Name,
			discoveryv1.LabelManagedBy:   "skiff",
		}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{c.EndpointIP}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
		Ports:       []discoveryv1.EndpointPort{{Name: &name, Protocol: &proto, Port: &port}},
	}
	return svc, ep, slice
}

// Controller reconciles the three objects whenever one of them changes.
type Controller struct {
	cfg    Config
	client kubeclient.Interface
}

// New returns a controller for cfg.
func New(cfg Config, client kubeclient.Interface) *Controller {
	return &Controller{cfg: cfg, client: client}
}

// Run reconciles until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	byName := func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("metadata.name", Name).String()
	}
	ns := metav1.NamespaceDefault
	svcs := kubeclient.NewInformer(c.client.Services(ns), &corev1.Service{}, byName, nil)
	eps := kubeclient.NewInformer(c.client.Endpoints(ns), &corev1.Endpoints{}, byName, nil)
	slices := kubeclient.NewInformer(c.client.EndpointSlices(ns), &discoveryv1.EndpointSlice{}, byName, nil)
	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())
	defer q.ShutDown()
	enqueue := func(interface{}) { q.Add(Name) }
	h := cache.ResourceEventHandlerFuncs{AddFunc: enqueue, UpdateFunc: func(_, n interface{}) { enqueue(n) }, DeleteFunc: enqueue}
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, inf := range []cache.SharedIndexInformer{svcs, eps, slices} {
		if _, err := inf.AddEventHandler(h); err != nil {
			return err
		}
	}
	if !kubeclient.StartInformers(ctx, &wg, svcs, eps, slices) {
		return nil
	}
	svcLister := listers.NewNamespaced(listers.New[*corev1.Service](svcs.GetIndexer(), corev1.Resource("services")), ns)
	epLister := listers.NewNamespaced(listers.New[*corev1.Endpoints](eps.GetIndexer(), corev1.Resource("endpoints")), ns)
	sliceLister := listers.NewNamespaced(listers.New[*discoveryv1.EndpointSlice](slices.GetIndexer(), discoveryv1.Resource("endpointslices")), ns)
	q.Add(Name)
	// The queue is shut down when ctx ends; Run waits for this goroutine
	// (wg) as for the informers.
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-ctx.Done()
		q.ShutDown()
	}()
	for {
		key, quit := q.Get()
		if quit {
			return nil
		}
		err := c.reconcile(ctx, svcLister.Get, epLister.Get, sliceLister.Get)
		if err != nil && ctx.Err() == nil {
			klog.ErrorS(err, "reconciling the kubernetes Service")
			q.AddRateLimited(key)
		} else {
			q.Forget(key)
		}
		q.Done(key)
	}
}

func (c *Controller) reconcile(ctx context.Context,
	getSvc func(string) (*corev1.Service, error),
	getEp func(string) (*corev1.Endpoints, error),
	getSlice func(string) (*discoveryv1.EndpointSlice, error)) error {
	svc, ep, slice := Desired(c.cfg)
	ns := metav1.NamespaceDefault

	if cur, err := getSvc(Name); apierrors.IsNotFound(err) {
		if _, err := c.client.Services(ns).Create(ctx, svc, metav1.CreateOptions{FieldManager: "skiff"}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating Service: %w", err)
		}
	} else if err != nil {
		return err
	} else if !reflect.DeepEqual(cur.Spec.Ports, svc.Spec.Ports) {
		upd := cur.DeepCopy()
		upd.Spec.Ports = svc.Spec.Ports
		if _, err := c.client.Services(ns).Update(ctx, upd, metav1.UpdateOptions{FieldManager: "skiff"}); err != nil {
			return fmt.Errorf("updating Service: %w", err)
		}
	}

	if cur, err := getEp(Name); apierrors.IsNotFound(err) {
		if _, err := c.client.Endpoints(ns).Create(ctx, ep, metav1.CreateOptions{FieldManager: "skiff"}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating Endpoints: %w", err)
		}
	} else if err != nil {
		return err
	} else if !reflect.DeepEqual(cur.Subsets, ep.Subsets) {
		upd := cur.DeepCopy()
		upd.Subsets = ep.Subsets
		if _, err := c.client.Endpoints(ns).Update(ctx, upd, metav1.UpdateOptions{FieldManager: "skiff"}); err != nil {
			return fmt.Errorf("updating Endpoints: %w", err)
		}
	}

	if cur, err := getSlice(Name); apierrors.IsNotFound(err) {
		if _, err := c.client.EndpointSlices(ns).Create(ctx, slice, metav1.CreateOptions{FieldManager: "skiff"}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating EndpointSlice: %w", err)
		}
	} else if err != nil {
		return err
	} else if !reflect.DeepEqual(cur.Endpoints, slice.Endpoints) || !reflect.DeepEqual(cur.Ports, slice.Ports) {
		upd := cur.DeepCopy()
		upd.Endpoints, upd.Ports = slice.Endpoints, slice.Ports
		if _, err := c.client.EndpointSlices(ns).Update(ctx, upd, metav1.UpdateOptions{FieldManager: "skiff"}); err != nil {
			return fmt.Errorf("updating EndpointSlice: %w", err)
		}
	}
	return nil
}
