package statefulset

import (
	"context"
	"encoding/json"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// adoptOrphans makes owner the controller of the pods and revisions in its
// namespace that match its selector and have no controller, as Kubernetes'
// controllers do: after `kubectl delete --cascade=orphan` and a re-create,
// the new object takes over the running pods and the rollout history.
// It reports whether it adopted anything (their events requeue the owner).
func (c *Controller) adoptOrphans(ctx context.Context, owner metav1.Object, selector *metav1.LabelSelector, want func(*corev1.Pod) bool) (bool, error) {
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
	pods, _ := c.podInformer.GetIndexer().ByIndex(cache.NamespaceIndex, ns)
	for _, o := range pods {
		p := o.(*corev1.Pod)
		if !want(p) {
			continue
		}
		if err := adopt(p, func(data []byte) error {
			_, err := c.client.Pods(ns).Patch(ctx, p.Name, types.MergePatchType, data, metav1.PatchOptions{})
			return err
		}); err != nil {
			return adopted, err
		}
	}
	revs, _ := c.revInformer.GetIndexer().ByIndex(cache.NamespaceIndex, ns)
	for _, o := range revs {
		r := o.(*appsv1.ControllerRevision)
		if err := adopt(r, func(data []byte) error {
			_, err := c.client.ControllerRevisions(ns).Patch(ctx, r.Name, types.MergePatchType, data, metav1.PatchOptions{})
			return err
		}); err != nil {
			return adopted, err
		}
	}
	return adopted, nil
}
