package kubeclient

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
)

// NewInformer returns a shared informer of c's objects; example is an
// empty object of the type (&corev1.Namespace{}), tweak (optional)
// narrows every list and watch, for instance with a field selector.
// Listers come from k8s.io/client-go/listers.New on its indexer.
func NewInformer[T runtime.Object, L runtime.Object](c Client[T, L], example T, tweak func(*metav1.ListOptions), indexers cache.Indexers) cache.SharedIndexInformer {
	if tweak == nil {
		tweak = func(*metav1.ListOptions) {}
	}
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			tweak(&opts)
			return c.List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			tweak(&opts)
			return c.Watch(ctx, opts)
		},
	}
	if indexers == nil {
		indexers = cache.Indexers{}
	}
	return cache.NewSharedIndexInformer(lw, example, 0, indexers)
}
