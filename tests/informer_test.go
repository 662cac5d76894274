package tests

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// eventLog records what an informer's handlers saw, in order.
type eventLog struct {
	mu     sync.Mutex
	events []string
	relist int // updates with an unchanged resourceVersion: a relist happened
	tombs  int // deletions seen only through a relist
}

func (l *eventLog) add(s string) {
	l.mu.Lock()
	l.events = append(l.events, s)
	l.mu.Unlock()
}

func (l *eventLog) snapshot() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.events...)
}

func (l *eventLog) counts() (int, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.relist, l.tombs
}

func startInformer(t *testing.T, c kubernetes.Interface, ns string) (*eventLog, cache.SharedIndexInformer, context.CancelFunc) {
	t.Helper()
	log := &eventLog{}
	// Only the test's objects: controllers put their own ConfigMaps
	// (kube-root-ca.crt) in every namespace.
	f := informers.NewSharedInformerFactoryWithOptions(c, 0, informers.WithNamespace(ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = "test=informer" }))
	inf := f.Core().V1().ConfigMaps().Informer()
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(o interface{}) {
			cm := o.(*corev1.ConfigMap)
			log.add("add " + cm.Name + "=" + cm.Data["v"])
		},
		UpdateFunc: func(o, n interface{}) {
			oc, nc := o.(*corev1.ConfigMap), n.(*corev1.ConfigMap)
			if oc.ResourceVersion == nc.ResourceVersion {
				log.mu.Lock()
				log.relist++
				log.mu.Unlock()
				return
			}
			log.add("update " + nc.Name + "=" + nc.Data["v"])
		},
		DeleteFunc: func(o interface{}) {
			if tomb, ok := o.(cache.DeletedFinalStateUnknown); ok {
				log.mu.Lock()
				log.tombs++
				log.mu.Unlock()
				o = tomb.Obj
			}
			log.add("delete " + o.(*corev1.ConfigMap).Name)
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	f.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		t.Fatal("informer did not sync")
	}
	t.Cleanup(func() { cancel(); f.Shutdown() })
	return log, inf, cancel
}

func waitEvents(t *testing.T, log *eventLog, want []string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		got := log.snapshot()
		if len(got) >= len(want) {
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("informer events:\n got: %q\nwant: %q", got, want)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("informer events: got %q, want %q", log.snapshot(), want)
}

func cmWith(name, v string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"test": "informer"}}, Data: map[string]string{"v": v}}
}

func TestInformerSeesEveryChangeInOrder(t *testing.T) {
	needIntegration(t)
	s := startServer(t)
	c := s.client()
	ctx := context.Background()
	cms := c.CoreV1().ConfigMaps("default")
	if _, err := cms.Create(ctx, cmWith("before", "0"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	log, _, _ := startInformer(t, c, "default")

	var want []string
	want = append(want, "add before=0")
	for i := 1; i <= 20; i++ {
		name := fmt.Sprintf("cm%d", i%4)
		cur, err := cms.Get(ctx, name, metav1.GetOptions{})
		switch {
		case err != nil:
			if _, err := cms.Create(ctx, cmWith(name, fmt.Sprint(i)), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			want = append(want, fmt.Sprintf("add %s=%d", name, i))
		case i%5 == 0:
			if err := cms.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			want = append(want, "delete "+name)
		default:
			cur.Data["v"] = fmt.Sprint(i)
			if _, err := cms.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			want = append(want, fmt.Sprintf("update %s=%d", name, i))
		}
	}
	waitEvents(t, log, want)

	// The server goes away and comes back: the informer's watch is closed,
	// it resumes from its last resourceVersion without relisting.
	s.stop()
	s.start()
	if _, err := cms.Create(ctx, cmWith("after-restart", "x"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	want = append(want, "add after-restart=x")
	waitEvents(t, log, want)
	if relists, _ := log.counts(); relists != 0 {
		t.Fatalf("informer relisted %d objects after a closed watch; it should have resumed", relists)
	}
}

// TestInformerRelistsAfterCompaction: while the informer cannot watch, the
// history it would resume from is compacted away; it gets 410 Gone and
// relists, ending with exactly the datastore's state.
func TestInformerRelistsAfterCompaction(t *testing.T) {
	needIntegration(t, "etcd")
	e := startEtcd(t)
	s := startServer(t, withArgs("--datastore-endpoint", e.endpoint, "--datastore-insecure", "--token", clusterSecret))
	c := s.client()
	ctx := context.Background()
	cms := c.CoreV1().ConfigMaps("default")
	for _, n := range []string{"keep", "gone"} {
		if _, err := cms.Create(ctx, cmWith(n, "1"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	log, inf, _ := startInformer(t, c, "default")
	waitEvents(t, log, []string{"add gone=1", "add keep=1"})

	s.stop()
	// Change and compact the datastore directly while no server runs.
	ec := e.client(t)
	if _, err := ec.Delete(ctx, "/registry/configmaps/default/gone"); err != nil {
		t.Fatal(err)
	}
	resp, err := ec.Get(ctx, "/registry/configmaps/default/keep")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ec.Compact(ctx, resp.Header.Revision); err != nil {
		t.Fatal(err)
	}
	s.start()
	if _, err := cms.Create(ctx, cmWith("new", "2"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "informer to converge after relist", func() bool {
		keys := inf.GetStore().ListKeys()
		return len(keys) == 2 && contains2(keys, "default/keep") && contains2(keys, "default/new")
	})
	if _, tombs := log.counts(); tombs != 1 {
		t.Fatalf("want the object deleted while away reported through a relist (1 tombstone), got %d; events %q", tombs, log.snapshot())
	}
}

func contains2(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
