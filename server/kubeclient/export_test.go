package kubeclient

import "k8s.io/client-go/tools/cache"

// CachedPodStore is the pod informer's own store, which holds cachedPods.
func CachedPodStore(inf cache.SharedIndexInformer) cache.Indexer {
	return inf.(*podInformer).SharedIndexInformer.GetIndexer()
}

// PodHandler is h as the pod informer registers it.
func PodHandler(h cache.ResourceEventHandler) cache.ResourceEventHandler { return podHandler{h} }
