package kubeclient

import (
	"context"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// Index names every shared informer of Informers may carry. An index name
// means the same function in every controller, so two controllers asking
// for it share one index (AddIndexers).
const (
	// IndexController indexes objects by the UID of their controller owner.
	IndexController = "controller"
	// IndexNodeName indexes pods by spec.nodeName.
	IndexNodeName = "spec.nodeName"
)

// ControllerIndexFunc is the IndexController function.
func ControllerIndexFunc(obj any) ([]string, error) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, nil
	}
	if ref := metav1.GetControllerOf(m); ref != nil {
		return []string{string(ref.UID)}, nil
	}
	return nil, nil
}

// NodeNameIndexFunc is the IndexNodeName function.
func NodeNameIndexFunc(obj any) ([]string, error) {
	switch p := obj.(type) {
	case *corev1.Pod:
		if p.Spec.NodeName != "" {
			return []string{p.Spec.NodeName}, nil
		}
	case *cachedPod:
		if p.nodeName != "" {
			return []string{p.nodeName}, nil
		}
	}
	return nil, nil
}

// Informers hands out one informer per resource to every controller that
// asks, as client-go's SharedInformerFactory does: each object is decoded
// and cached once however many controllers read it. Eleven controllers
// watch pods; with an informer each, the server decoded every pod event
// eleven times and kept eleven caches of every pod.
//
// Cached objects are shared: handlers and listers must not modify them
// (DeepCopy first). The informers drop managedFields, which are often the
// larger part of an object (all but Endpoints'); namespaced
// resources carry cache.NamespaceIndex.
//
// Every controller handed one Informers must run under the same ctx: an
// informer runs until the ctx of the Start call that launched it ends.
type Informers struct {
	client Interface

	mu        sync.Mutex
	informers map[string]cache.SharedIndexInformer
	started   map[cache.SharedIndexInformer]bool
}

// NewInformers returns an empty factory; informers are made on first use.
func NewInformers(client Interface) *Informers {
	return &Informers{
		client:    client,
		informers: map[string]cache.SharedIndexInformer{},
		started:   map[cache.SharedIndexInformer]bool{},
	}
}

// OrNew returns f, or a factory of its own for client when f is nil (a
// controller built alone, as in its tests).
func OrNew(f *Informers, client Interface) *Informers {
	if f != nil {
		return f
	}
	return NewInformers(client)
}

func (f *Informers) get(resource string, namespaced bool, make func(cache.Indexers) cache.SharedIndexInformer) cache.SharedIndexInformer {
	return f.getWith(resource, namespaced, DropManagedFields, make)
}

func (f *Informers) getWith(resource string, namespaced bool, transform cache.TransformFunc, make func(cache.Indexers) cache.SharedIndexInformer) cache.SharedIndexInformer {
	f.mu.Lock()
	defer f.mu.Unlock()
	if inf, ok := f.informers[resource]; ok {
		return inf
	}
	// A map of its own: the informer's indexer keeps it, and
	// AddIndexers adds to it.
	idx := cache.Indexers{}
	if namespaced {
		idx[cache.NamespaceIndex] = cache.MetaNamespaceIndexFunc
	}
	inf := make(idx)
	if transform != nil {
		_ = inf.SetTransform(transform)
	}
	f.informers[resource] = inf
	return inf
}

// Pods is the informer of every pod. Its pods lack what only the agent
// reads (see StripPod), and its cache keeps them compact (see cachedPod):
// its indexer, index functions and event handlers see *corev1.Pod.
func (f *Informers) Pods() cache.SharedIndexInformer {
	return f.getWith("pods", true, CachePod, func(idx cache.Indexers) cache.SharedIndexInformer {
		return newPodInformer(NewInformer[*corev1.Pod, *corev1.PodList](f.client.Pods(metav1.NamespaceAll), &corev1.Pod{}, nil, idx))
	})
}

// Nodes is the informer of every node.
func (f *Informers) Nodes() cache.SharedIndexInformer {
	return f.get("nodes", false, func(idx cache.Indexers) cache.SharedIndexInformer {
		return NewInformer(f.client.Nodes(), &corev1.Node{}, nil, idx)
	})
}

// Namespaces is the informer of every namespace.
func (f *Informers) Namespaces() cache.SharedIndexInformer {
	return f.get("namespaces", false, func(idx cache.Indexers) cache.SharedIndexInformer {
		return NewInformer[*corev1.Namespace, *corev1.NamespaceList](f.client.Namespaces(), &corev1.Namespace{}, nil, idx)
	})
}

// Services is the informer of every Service.
func (f *Informers) Services() cache.SharedIndexInformer {
	return f.get("services", true, func(idx cache.Indexers) cache.SharedIndexInformer {
		return NewInformer(f.client.Services(metav1.NamespaceAll), &corev1.Service{}, nil, idx)
	})
}

// Endpoints is the informer of every Endpoints object. Its objects keep
// their managedFields: the Endpoints controller tells the Endpoints it
// wrote from hand-written ones by them (there is one per Service, so they
// cost little).
func (f *Informers) Endpoints() cache.SharedIndexInformer {
	return f.getWith("endpoints", true, nil, func(idx cache.Indexers) cache.SharedIndexInformer {
		return NewInformer(f.client.Endpoints(metav1.NamespaceAll), &corev1.Endpoints{}, nil, idx)
	})
}

// EndpointSlices is the informer of every EndpointSlice.
func (f *Informers) EndpointSlices() cache.SharedIndexInformer {
	return f.get("endpointslices", true, func(idx cache.Indexers) cache.SharedIndexInformer {
		return NewInformer(f.client.EndpointSlices(metav1.NamespaceAll), &discoveryv1.EndpointSlice{}, nil, idx)
	})
}

// PersistentVolumeClaims is the informer of every claim.
func (f *Informers) PersistentVolumeClaims() cache.SharedIndexInformer {
	return f.get("persistentvolumeclaims", true, func(idx cache.Indexers) cache.SharedIndexInformer {
		return NewInformer[*corev1.PersistentVolumeClaim, *corev1.PersistentVolumeClaimList](
			f.client.PersistentVolumeClaims(metav1.NamespaceAll), &corev1.PersistentVolumeClaim{}, nil, idx)
	})
}

// PersistentVolumes is the informer of every PersistentVolume.
func (f *Informers) PersistentVolumes() cache.SharedIndexInformer {
	return f.get("persistentvolumes", false, func(idx cache.Indexers) cache.SharedIndexInformer {
		return NewInformer(f.client.PersistentVolumes(), &corev1.PersistentVolume{}, nil, idx)
	})
}

// StorageClasses is the informer of every StorageClass.
func (f *Informers) StorageClasses() cache.SharedIndexInformer {
	return f.get("storageclasses", false, func(idx cache.Indexers) cache.SharedIndexInformer {
		return NewInformer(f.client.StorageClasses(), &storagev1.StorageClass{}, nil, idx)
	})
}

// Deployments is the informer of every Deployment.
func (f *Informers) Deployments() cache.SharedIndexInformer {
	return f.get("deployments", true, func(idx cache.Indexers) cache.SharedIndexInformer {
		return NewInformer[*appsv1.Deployment, *appsv1.DeploymentList](f.client.Deployments(metav1.NamespaceAll), &appsv1.Deployment{}, nil, idx)
	})
}

// ReplicaSets is the informer of every ReplicaSet.
func (f *Informers) ReplicaSets() cache.SharedIndexInformer {
	return f.get("replicasets", true, func(idx cache.Indexers) cache.SharedIndexInformer {
		return NewInformer[*appsv1.ReplicaSet, *appsv1.ReplicaSetList](f.client.ReplicaSets(metav1.NamespaceAll), &appsv1.ReplicaSet{}, nil, idx)
	})
}

// DaemonSets is the informer of every DaemonSet.
func (f *Informers) DaemonSets() cache.SharedIndexInformer {
	return f.get("daemonsets", true, func(idx cache.Indexers) cache.SharedIndexInformer {
		return NewInformer(f.client.DaemonSets(metav1.NamespaceAll), &appsv1.DaemonSet{}, nil, idx)
	})
}

// StatefulSets is the informer of every StatefulSet.
func (f *Informers) StatefulSets() cache.SharedIndexInformer {
	return f.get("statefulsets", true, func(idx cache.Indexers) cache.SharedIndexInformer {
		return NewInformer[*appsv1.StatefulSet, *appsv1.StatefulSetList](f.client.StatefulSets(metav1.NamespaceAll), &appsv1.StatefulSet{}, nil, idx)
	})
}

// ControllerRevisions is the informer of every ControllerRevision.
func (f *Informers) ControllerRevisions() cache.SharedIndexInformer {
	return f.get("controllerrevisions", true, func(idx cache.Indexers) cache.SharedIndexInformer {
		return NewInformer(f.client.ControllerRevisions(metav1.NamespaceAll), &appsv1.ControllerRevision{}, nil, idx)
	})
}

// Jobs is the informer of every Job.
func (f *Informers) Jobs() cache.SharedIndexInformer {
	return f.get("jobs", true, func(idx cache.Indexers) cache.SharedIndexInformer {
		return NewInformer(f.client.Jobs(metav1.NamespaceAll), &batchv1.Job{}, nil, idx)
	})
}

// CronJobs is the informer of every CronJob.
func (f *Informers) CronJobs() cache.SharedIndexInformer {
	return f.get("cronjobs", true, func(idx cache.Indexers) cache.SharedIndexInformer {
		return NewInformer(f.client.CronJobs(metav1.NamespaceAll), &batchv1.CronJob{}, nil, idx)
	})
}

// PodDisruptionBudgets is the informer of every PodDisruptionBudget.
func (f *Informers) PodDisruptionBudgets() cache.SharedIndexInformer {
	return f.get("poddisruptionbudgets", true, func(idx cache.Indexers) cache.SharedIndexInformer {
		return NewInformer[*policyv1.PodDisruptionBudget, *policyv1.PodDisruptionBudgetList](
			f.client.PodDisruptionBudgets(metav1.NamespaceAll), &policyv1.PodDisruptionBudget{}, nil, idx)
	})
}

// AddIndexers adds to inf the indexers it lacks. An index of the same name
// is assumed to be the same function (see the Index constants), so two
// controllers asking for one share it.
func AddIndexers(inf cache.SharedIndexInformer, indexers cache.Indexers) {
	have := inf.GetIndexer().GetIndexers()
	add := cache.Indexers{}
	for name, fn := range indexers {
		if _, ok := have[name]; !ok {
			add[name] = fn
		}
	}
	if len(add) > 0 {
		// Fails only once the informer has stopped, when nobody reads it.
		_ = inf.AddIndexers(add)
	}
}

// Start runs each of the given informers that is not running yet under
// wg until ctx ends, and waits for all of them to fill their caches; it
// reports false when ctx ended first. Informers not made by f may be given
// too. Controllers sharing f call it each with the informers they read:
// the first to ask launches an informer, the others wait for its cache.
func (f *Informers) Start(ctx context.Context, wg *sync.WaitGroup, informers ...cache.SharedIndexInformer) bool {
	synced := make([]cache.InformerSynced, 0, len(informers))
	f.mu.Lock()
	for _, inf := range informers {
		synced = append(synced, inf.HasSynced)
		if f.started[inf] {
			continue
		}
		f.started[inf] = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			inf.RunWithContext(ctx)
		}()
	}
	f.mu.Unlock()
	return cache.WaitForCacheSync(ctx.Done(), synced...)
}

// DropManagedFields is the transform of every shared informer: no
// controller reads managedFields.
func DropManagedFields(obj any) (any, error) {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
	}
	return obj, nil
}

// RunController is the Run of a controller that works from a queue: it
// runs the controller's event writer, starts informers (Start) and, once
// their caches are filled, workers goroutines of next (RunWorkers) until
// ctx ends. It returns after all of them have stopped, with the queue
// shut down (which ends the workers' wait for a key).
func (f *Informers) RunController(ctx context.Context, queue interface{ ShutDown() }, events interface{ Run(context.Context) error },
	workers int, next func(context.Context) bool, informers ...cache.SharedIndexInformer) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	defer queue.ShutDown()
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = events.Run(ctx)
	}()
	if !f.Start(ctx, &wg, informers...) {
		return nil // ctx ended first
	}
	RunWorkers(ctx, &wg, workers, next)
	return nil
}
