package kubeclient

import "k8s.io/client-go/tools/cache"

// CachedPodStore is the pod informer's own store, which holds cachedPods.
func CachedPodStore(inf cache.SharedIndexInformer) cache.Indexer {
	return inf.(*podInformer).SharedIndexInformer.GetIndexer()
}

// PodHandler is h as the pod informer registers it.
func PodHandler(h cache.ResourceEventHandler) cache.ResourceEventHandler { return podHandler{h} }

// PodBuilt says whether the cached pod under key has a typed pod built
// that someone still holds.
func PodBuilt(inf cache.SharedIndexInformer, key string) bool {
	obj, ok, _ := CachedPodStore(inf).GetByKey(key)
	if !ok {
		return false
	}
	c := obj.(*cachedPod)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.built.Value() != nil
}
