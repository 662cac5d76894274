package scheduler

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/skiff-io/skiff/server/scheduler"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// watchVolumes sets up the claim, volume and class informers of the
// VolumeBinding filter: a change to any of them may let a waiting pod fit
// (its claim got bound, or created).
func (c *Controller) watchVolumes() {
	c.claimInformer = c.informers.PersistentVolumeClaims()
	c.volumeInformer = c.informers.PersistentVolumes()
	c.classInformer = c.informers.StorageClasses()
	moved := func(any) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.moves++
		c.moveLocked(func(waiting) bool { return true })
	}
	h := cache.ResourceEventHandlerFuncs{AddFunc: moved, UpdateFunc: func(_, o any) { moved(o) }, DeleteFunc: moved}
	for _, inf := range []cache.SharedIndexInformer{c.claimInformer, c.volumeInformer, c.classInformer} {
		_, _ = inf.AddEventHandler(h)
	}
	get := func(inf cache.SharedIndexInformer, key string) any {
		obj, ok, _ := inf.GetIndexer().GetByKey(key)
		if !ok {
			return nil
		}
		return obj
	}
	lookup := scheduler.VolumeLookup{
		Claim: func(ns, name string) *corev1.PersistentVolumeClaim {
			o, _ := get(c.claimInformer, ns+"/"+name).(*corev1.PersistentVolumeClaim)
			return o
		},
		Volume: func(name string) *corev1.PersistentVolume {
			o, _ := get(c.volumeInformer, name).(*corev1.PersistentVolume)
			return o
		},
		Class: func(name string) *storagev1.StorageClass {
			o, _ := get(c.classInformer, name).(*storagev1.StorageClass)
			return o
		},
	}
	c.lookup = lookup
	c.snap.Volumes = func(pod *corev1.Pod) scheduler.PodVolumes { return scheduler.ClaimVolumes(pod, lookup) }
}

// selectNode records node on the pod's unbound WaitForFirstConsumer
// claims, before the pod is bound, as kube-scheduler's VolumeBinding
// plugin does: the provisioner then creates their volumes there.
func (c *Controller) selectNode(ctx context.Context, pod *corev1.Pod, node string) error {
	if c.lookup.Claim == nil {
		return nil
	}
	for _, claim := range scheduler.ClaimVolumes(pod, c.lookup).Delayed {
		if claim.Annotations[scheduler.AnnSelectedNode] == node {
			continue
		}
		patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{
			"annotations":     map[string]string{scheduler.AnnSelectedNode: node},
			"resourceVersion": claim.ResourceVersion,
		}})
		if _, err := c.client.PersistentVolumeClaims(claim.Namespace).Patch(ctx, claim.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			// Not %w: a claim gone or changed meanwhile means a retry, not a
			// pod gone.
			return fmt.Errorf("selecting node for claim %s/%s: %v", claim.Namespace, claim.Name, err)
		}
	}
	return nil
}
