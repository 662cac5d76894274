package kubeclient

import (
	"context"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
)

// NewInformer returns a shared informer of c's objects; example is an
// empty object of the type (&corev1.Namespace{}), tweak (optional)
// narrows every list and watch, for instance with a field selector.
// Listers come from k8s.io/client-go/listers.New on its indexer.
func NewInformer[T runtime.Object, L runtime.Object](c Client[T, L], example T, tweak func(*metav1.ListOptions), indexers cache.Indexers) cache.SharedIndexInformer {
	list := func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) { return c.List(ctx, opts) }
	return newInformer(list, c.Watch, example, tweak, indexers)
}

// listPage is the page size of an informer's initial list, instead of
// client-go's 500. skiff serves every page from the datastore (there is no
// watch cache to answer resourceVersion=0 in one piece), and kine counts
// the keys after each page: 15,000 pods cost 30 pages and 30 such counts
// at 500, 8 at 2,000. The sync hub and the metadata feed read pages of the
// same size.
const listPage = 2000

func newInformer(list func(context.Context, metav1.ListOptions) (runtime.Object, error),
	watchFn func(context.Context, metav1.ListOptions) (watch.Interface, error),
	example runtime.Object, tweak func(*metav1.ListOptions), indexers cache.Indexers) cache.SharedIndexInformer {
	if tweak == nil {
		tweak = func(*metav1.ListOptions) {}
	}
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			tweak(&opts)
			if opts.Limit > 0 && opts.Limit < listPage {
				opts.Limit = listPage
			}
			return list(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			tweak(&opts)
			return watchFn(ctx, opts)
		},
	}
	if indexers == nil {
		indexers = cache.Indexers{}
	}
	return cache.NewSharedIndexInformer(lw, example, 0, indexers)
}

// StartInformers runs each informer under wg until ctx ends and waits for
// their caches to fill; it reports false when ctx ended first.
func StartInformers(ctx context.Context, wg *sync.WaitGroup, informers ...cache.SharedIndexInformer) bool {
	synced := make([]cache.InformerSynced, 0, len(informers))
	for _, inf := range informers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inf.RunWithContext(ctx)
		}()
		synced = append(synced, inf.HasSynced)
	}
	return cache.WaitForCacheSync(ctx.Done(), synced...)
}

// RunWorkers runs n workers under wg, each calling next until it returns
// false (its queue shut down), and returns when ctx ends.
func RunWorkers(ctx context.Context, wg *sync.WaitGroup, n int, next func(context.Context) bool) {
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next(ctx) {
			}
		}()
	}
	<-ctx.Done()
}

// SyncFunc reconciles the object named key once and says when it wants to
// see it again regardless of events (0: only on events).
type SyncFunc func(ctx context.Context, key string) (time.Duration, error)

// ProcessNext takes one key from queue and syncs it, as every controller's
// worker does: a failure sends the key back with the queue's rate limit
// (and is logged with what and the key under keyName, except conflicts,
// which only mean the cache was behind); a success resets the key's
// back-off and, when sync asks, schedules another look. It returns false
// once the queue has shut down. Use it as RunWorkers' next.
func ProcessNext(ctx context.Context, queue workqueue.TypedRateLimitingInterface[string], sync SyncFunc, what, keyName string) bool {
	key, quit := queue.Get()
	if quit {
		return false
	}
	defer queue.Done(key)
	after, err := sync(ctx, key)
	if err != nil {
		if ctx.Err() == nil && !apierrors.IsConflict(err) {
			klog.ErrorS(err, what, keyName, key)
		}
		queue.AddRateLimited(key)
		return true
	}
	queue.Forget(key)
	if after > 0 {
		queue.AddAfter(key, after)
	}
	return true
}
