package statefulset

import (
	"context"

	"github.com/skiff-io/skiff/server/controllers/history"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// adoptOrphans adopts the orphaned pods and revisions in owner's namespace
// that match selector (and want): see history.AdoptOrphans.
func (c *Controller) adoptOrphans(ctx context.Context, owner metav1.Object, selector *metav1.LabelSelector, want func(*corev1.Pod) bool) (bool, error) {
	ns := owner.GetNamespace()
	podObjs, _ := c.podInformer.GetIndexer().ByIndex(cache.NamespaceIndex, ns)
	pods := make([]*corev1.Pod, 0, len(podObjs))
	for _, o := range podObjs {
		pods = append(pods, o.(*corev1.Pod))
	}
	revObjs, _ := c.revInformer.GetIndexer().ByIndex(cache.NamespaceIndex, ns)
	revs := make([]*appsv1.ControllerRevision, 0, len(revObjs))
	for _, o := range revObjs {
		revs = append(revs, o.(*appsv1.ControllerRevision))
	}
	return history.AdoptOrphans(ctx, c.client, owner, kind, selector, pods, revs, want)
}
