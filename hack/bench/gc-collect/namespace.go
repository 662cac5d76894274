package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/skiff-io/skiff/hack/bench/internal/skiffproc"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// nsPoll is how often GET on the deleted namespace is repeated.
const nsPoll = 20 * time.Millisecond

// nsResult is one namespace deletion as an API client sees it, both times
// counted from the start of Delete(namespace).
type nsResult struct {
	content time.Duration // a watch has reported the last ConfigMap deleted
	gone    time.Duration // GET on the namespace answered 404
}

// deleteNamespace creates namespace ns holding n ConfigMaps of 1 KiB,
// deletes it and times until GET on it answers 404, polled every nsPoll.
func deleteNamespace(ctx context.Context, api kubernetes.Interface, ns string, n int) (nsResult, error) {
	nsc := api.CoreV1().Namespaces()
	if _, err := nsc.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return nsResult{}, err
	}
	cms := api.CoreV1().ConfigMaps(ns)
	err := parallel(ctx, n, 16, func(i int) error {
		_, err := cms.Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: cmName(i)},
			Data:       map[string]string{"payload": payload()},
		}, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return nsResult{}, err
	}
	// Let the controllers catch up with the creates (and the service
	// account controller add kube-root-ca.crt) before the clock starts.
	if err := skiffproc.Pause(ctx, 2*time.Second); err != nil {
		return nsResult{}, err
	}
	list, err := cms.List(ctx, metav1.ListOptions{})
	if err != nil {
		return nsResult{}, err
	}
	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		return nsResult{}, err
	}

	// The watch is read on its own goroutine so that the GET polling
	// below does not delay when its events are seen.
	type lastDelete struct {
		at  time.Time
		err error
	}
	last := make(chan lastDelete, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer w.Stop()
	wg.Add(1)
	go func() {
		defer wg.Done()
		left := len(list.Items)
		for ev := range w.ResultChan() {
			switch ev.Type {
			case watch.Deleted:
				if left--; left == 0 {
					last <- lastDelete{at: time.Now()}
					return
				}
			case watch.Error:
				last <- lastDelete{err: fmt.Errorf("watch: %v", apierrors.FromObject(ev.Object))}
				return
			}
		}
		last <- lastDelete{err: fmt.Errorf("watch closed with %d ConfigMaps left", left)}
	}()

	start := time.Now()
	if err := nsc.Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		return nsResult{}, err
	}
	tick := time.NewTicker(nsPoll)
	defer tick.Stop()
	timeout := time.NewTimer(5 * time.Minute)
	defer timeout.Stop()
	for {
		_, err := nsc.Get(ctx, ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			break
		}
		if err != nil {
			return nsResult{}, err
		}
		select {
		case <-tick.C:
		case <-timeout.C:
			return nsResult{}, fmt.Errorf("namespace %s still there after 5m", ns)
		case <-ctx.Done():
			return nsResult{}, ctx.Err()
		}
	}
	r := nsResult{gone: time.Since(start)}
	// The namespace goes only once it is empty, but the watch may still
	// be delivering the last events.
	select {
	case l := <-last:
		if l.err != nil {
			return nsResult{}, l.err
		}
		r.content = l.at.Sub(start)
	case <-timeout.C:
		return nsResult{}, errors.New("namespace gone but its ConfigMaps' deletions not all seen after 5m")
	case <-ctx.Done():
		return nsResult{}, ctx.Err()
	}
	return r, nil
}

// nsFloorResult is the datastore alone deleting what deleteNamespace
// deleted.
type nsFloorResult struct {
	perKey time.Duration
	// ranged is the time of one ranged delete of the ConfigMaps plus the
	// namespace key's delete, when kine accepts a ranged delete;
	// rangedErr is its answer when it does not.
	ranged    time.Duration
	rangedErr error
}

// namespaceFloor puts n ConfigMaps and their namespace into a fresh kine
// and deletes them as a deletecollection and the namespace delete would:
// one list of the ConfigMaps, a delete of each at the revision listed (the
// transaction skiff's storage uses), then the namespace key. Before that
// it tries the same with one ranged delete of the ConfigMaps.
func namespaceFloor(ctx context.Context, dir string, n int) (nsFloorResult, error) {
	const ns = "ns-bench"
	db, err := skiffproc.StartKine(ctx, dir, true)
	if err != nil {
		return nsFloorResult{}, err
	}
	defer db.Stop()
	c := db.Client
	prefix := "/registry/configmaps/" + ns + "/"
	nsKey := "/registry/namespaces/" + ns
	fill := func() error {
		v, _ := json.Marshal(&corev1.Namespace{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
			ObjectMeta: metav1.ObjectMeta{Name: ns, UID: types.UID(uuid.NewUUID()), CreationTimestamp: metav1.Now()},
			Spec:       corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}},
			Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceActive},
		})
		if _, err := c.Put(ctx, nsKey, string(v)); err != nil {
			return err
		}
		return parallel(ctx, n, 16, func(i int) error {
			v, _ := json.Marshal(&corev1.ConfigMap{
				TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
				ObjectMeta: metav1.ObjectMeta{Name: cmName(i), Namespace: ns, UID: types.UID(uuid.NewUUID()), CreationTimestamp: metav1.Now()},
				Data:       map[string]string{"payload": payload()},
			})
			_, err := c.Put(ctx, prefix+cmName(i), string(v))
			return err
		})
	}
	deleteNamespaceKey := func() error {
		resp, err := c.Get(ctx, nsKey)
		if err != nil {
			return err
		}
		if len(resp.Kvs) != 1 {
			return fmt.Errorf("%s missing", nsKey)
		}
		return deleteAt(ctx, c, nsKey, resp.Kvs[0].ModRevision)
	}
	if err := fill(); err != nil {
		return nsFloorResult{}, err
	}

	var r nsFloorResult
	start := time.Now()
	resp, err := c.Delete(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		// kine answers Unimplemented without touching anything; the keys
		// are all still there for the per-key loop.
		r.rangedErr = err
	} else {
		if resp.Deleted != int64(n) {
			return nsFloorResult{}, fmt.Errorf("ranged delete removed %d keys, want %d", resp.Deleted, n)
		}
		if err := deleteNamespaceKey(); err != nil {
			return nsFloorResult{}, err
		}
		r.ranged = time.Since(start)
		if err := fill(); err != nil {
			return nsFloorResult{}, err
		}
	}

	start = time.Now()
	list, err := c.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nsFloorResult{}, err
	}
	if len(list.Kvs) != n {
		return nsFloorResult{}, fmt.Errorf("listed %d keys under %s, want %d", len(list.Kvs), prefix, n)
	}
	for _, kv := range list.Kvs {
		if err := deleteAt(ctx, c, string(kv.Key), kv.ModRevision); err != nil {
			return nsFloorResult{}, err
		}
	}
	if err := deleteNamespaceKey(); err != nil {
		return nsFloorResult{}, err
	}
	r.perKey = time.Since(start)
	return r, nil
}

func cmName(i int) string { return fmt.Sprintf("cm-%05d", i) }

// printNamespace writes the namespace deletion table.
func printNamespace(n int, runs []nsResult, floors []nsFloorResult) {
	var content, gone, perKey, ranged []time.Duration
	var rangedErr error
	for _, r := range runs {
		content = append(content, r.content)
		gone = append(gone, r.gone)
	}
	for _, f := range floors {
		perKey = append(perKey, f.perKey)
		if f.rangedErr != nil {
			rangedErr = f.rangedErr
		} else {
			ranged = append(ranged, f.ranged)
		}
	}
	fmt.Printf("## Namespace deletion (%d ConfigMaps of 1 KiB)\n\n", n)
	fmt.Printf("| | median | range |\n| --- | --- | --- |\n")
	fmt.Printf("| skiff: Delete(namespace) → last ConfigMap gone (watch) | %s | %s |\n", ms(median(content)), span(content))
	fmt.Printf("| skiff: Delete(namespace) → GET namespace answers 404 | %s | %s |\n", ms(median(gone)), span(gone))
	fmt.Printf("| floor: list + per-key delete of the same keys and the namespace key, kine/SQLite | %s | %s |\n", ms(median(perKey)), span(perKey))
	if len(ranged) > 0 {
		fmt.Printf("| floor: one ranged delete of the same keys, then the namespace key | %s | %s |\n", ms(median(ranged)), span(ranged))
	}
	if rangedErr != nil {
		fmt.Printf("| floor: one ranged delete of the same keys | refused by kine: `%v` | |\n", rangedErr)
	}
	fmt.Printf("| namespace gone ÷ per-key floor | %.2f× | |\n", float64(median(gone))/float64(median(perKey)))
	if len(ranged) > 0 {
		fmt.Printf("| namespace gone ÷ ranged-delete floor | %.2f× | |\n", float64(median(gone))/float64(median(ranged)))
	}
	fmt.Println()
}
