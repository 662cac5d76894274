package history

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/skiff-io/skiff/server/kubeclient"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// AdoptFromCaches is AdoptOrphans over the pods and revisions of owner's
// namespace in the given informer indexers (namespace-indexed, as
// kubeclient's informers are).
func AdoptFromCaches(ctx context.Context, client kubeclient.Interface, pods, revs cache.Indexer, owner metav1.Object, kind schema.GroupVersionKind,
	selector *metav1.LabelSelector, want func(*corev1.Pod) bool) (bool, error) {
	ns := owner.GetNamespace()
	podObjs, _ := pods.ByIndex(cache.NamespaceIndex, ns)
	ps := make([]*corev1.Pod, 0, len(podObjs))
	for _, o := range podObjs {
		ps = append(ps, o.(*corev1.Pod))
	}
	revObjs, _ := revs.ByIndex(cache.NamespaceIndex, ns)
	rs := make([]*appsv1.ControllerRevision, 0, len(revObjs))
	for _, o := range revObjs {
		rs = append(rs, o.(*appsv1.ControllerRevision))
	}
	return AdoptOrphans(ctx, client, owner, kind, selector, ps, rs, want)
}

// AdoptOrphans makes owner (of kind) the controller of the pods and
// revisions given (the owner's namespace, from the caller's caches) that
// match its selector and have no controller, as Kubernetes' controllers
// do: after `kubectl delete --cascade=orphan` and a re-create, the new
// object takes over the running pods and the rollout history. want
// narrows the pods further. It reports whether it adopted anything (their
// events requeue the owner). The adoption patch carries the object's uid
// as a precondition, so an object replaced meanwhile is left alone.
func AdoptOrphans(ctx context.Context, client kubeclient.Interface, owner metav1.Object, kind schema.GroupVersionKind,
	selector *metav1.LabelSelector, pods []*corev1.Pod, revs []*appsv1.ControllerRevision, want func(*corev1.Pod) bool) (bool, error) {
	sel, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil || sel.Empty() {
		return false, nil // validation refuses these; never adopt everything
	}
	ns := owner.GetNamespace()
	ref := *metav1.NewControllerRef(owner, kind)
	adopted := false
	adopt := func(m metav1.Object, patch func(data []byte) error) error {
		if metav1.GetControllerOf(m) != nil || m.GetDeletionTimestamp() != nil || !sel.Matches(labels.Set(m.GetLabels())) {
			return nil
		}
		refs := append(append([]metav1.OwnerReference(nil), m.GetOwnerReferences()...), ref)
		data, err := json.Marshal(map[string]any{"metadata": map[string]any{"ownerReferences": refs, "uid": m.GetUID()}})
		if err != nil {
			return err
		}
		if err := patch(data); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("adopt %s: %w", m.GetName(), err)
		}
		adopted = true
		return nil
	}
	for _, p := range pods {
		if !want(p) {
			continue
		}
		if err := adopt(p, func(data []byte) error {
			_, err := client.Pods(ns).Patch(ctx, p.Name, types.MergePatchType, data, metav1.PatchOptions{})
			return err
		}); err != nil {
			return adopted, err
		}
	}
	for _, r := range revs {
		if err := adopt(r, func(data []byte) error {
			_, err := client.ControllerRevisions(ns).Patch(ctx, r.Name, types.MergePatchType, data, metav1.PatchOptions{})
			return err
		}); err != nil {
			return adopted, err
		}
	}
	return adopted, nil
}
