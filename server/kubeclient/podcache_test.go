package kubeclient

import (
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

// benchPod is a pod as hack/bench/scheduler makes them, once bound.
func benchPod(i int) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("fleet-abc-%05d", i), GenerateName: "fleet-abc-", Namespace: "fleet",
			UID: types.UID(fmt.Sprintf("0b9c1e4e-8f5d-4b8e-9d7e-%012d", i)), ResourceVersion: fmt.Sprint(100000 + i),
			CreationTimestamp: metav1.Date(2026, 12, 3, 16, 0, 0, 0, time.Local),
			Labels:            map[string]string{"app": "fleet", "pod-template-hash": "abc"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "fleet-abc", UID: "rs-uid",
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: apiresource.MustParse("100m"), corev1.ResourceMemory: apiresource.MustParse("64Mi")}},
			TerminationMessagePath: "/dev/termination-log", TerminationMessagePolicy: corev1.TerminationMessageReadFile, ImagePullPolicy: corev1.PullAlways}},
			RestartPolicy: corev1.RestartPolicyAlways, TerminationGracePeriodSeconds: ptr.To[int64](30), DNSPolicy: corev1.DNSClusterFirst,
			ServiceAccountName: "default", NodeName: fmt.Sprintf("node-%04d", i%1000), SchedulerName: "default-scheduler",
			SecurityContext: &corev1.PodSecurityContext{}, Priority: ptr.To[int32](0), EnableServiceLinks: ptr.To(true),
			PreemptionPolicy: ptr.To(corev1.PreemptLowerPriority),
			Tolerations: []corev1.Toleration{{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)},
				{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending, QOSClass: corev1.PodQOSBurstable,
			Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue,
				LastTransitionTime: metav1.Date(2026, 12, 3, 16, 0, i/500, 0, time.Local)}}},
	}
}

// decodeStrip decodes p's JSON and strips it, as the informer's transform
// sees a pod.
func decodeStrip(t testing.TB, p *corev1.Pod) *corev1.Pod {
	raw, _ := json.Marshal(p)
	d := &corev1.Pod{}
	if err := json.Unmarshal(raw, d); err != nil {
		t.Fatal(err)
	}
	out, _ := StripPod(d)
	return out.(*corev1.Pod)
}

// TestCachedPodRoundTrip: a cached pod reads back equal to the pod it was
// made from, pods of one template share a spec whatever their node, equal
// statuses are shared, and one cached pod hands every reader one *Pod.
func TestCachedPodRoundTrip(t *testing.T) {
	noOwner := fullPod(7)
	noOwner.OwnerReferences = nil
	noOwner.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}
	deleting := fullPod(8)
	deleting.DeletionTimestamp, deleting.DeletionGracePeriodSeconds = ptr.To(metav1.Now()), ptr.To[int64](30)
	deleting.Finalizers, deleting.Annotations = []string{"f"}, map[string]string{"a": "b"}
	deleting.TypeMeta = metav1.TypeMeta{APIVersion: "v2", Kind: "Pod"}
	empty := fullPod(9)
	empty.Status = corev1.PodStatus{}
	for _, p := range []*corev1.Pod{fullPod(1), benchPod(1), noOwner, deleting, empty} {
		want := decodeStrip(t, p)
		c := newCachedPod(want)
		got := c.pod()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: cached pod reads back as\n%+v\nwant\n%+v", p.Name, got, want)
		}
		if c.pod() != got {
			t.Errorf("%s: a second read built another pod", p.Name)
		}
	}

	a, b := newCachedPod(decodeStrip(t, benchPod(1))), newCachedPod(decodeStrip(t, benchPod(2)))
	if a.spec != b.spec || a.status != b.status {
		t.Error("two pods of one template on different nodes, bound in the same second, share neither spec nor status")
	}
	if a.pod().Spec.NodeName != "node-0001" || b.pod().Spec.NodeName != "node-0002" {
		t.Errorf("nodes %q %q", a.pod().Spec.NodeName, b.pod().Spec.NodeName)
	}
	later := benchPod(3)
	later.Status.Conditions[0].LastTransitionTime = metav1.Date(2026, 12, 3, 17, 0, 0, 0, time.Local)
	later.Spec.Containers[0].Image = "busybox:2"
	c := newCachedPod(decodeStrip(t, later))
	if c.spec == a.spec || c.status == a.status || c.pod().Spec.Containers[0].Image != "busybox:2" ||
		!c.pod().Status.Conditions[0].LastTransitionTime.Equal(&later.Status.Conditions[0].LastTransitionTime) {
		t.Error("a pod that differs got another pod's spec or status")
	}

	// A pod nobody holds is built anew after a collection, equal.
	was := fmt.Sprintf("%p", a.pod())
	for i := 0; i < 3; i++ {
		runtime.GC()
	}
	if p := a.pod(); fmt.Sprintf("%p", p) == was && p.Name != "fleet-abc-00001" {
		t.Errorf("rebuilt pod %+v", p)
	}

	for i := 0; i < 3*podShapesMax; i++ {
		p := benchPod(i)
		p.OwnerReferences[0].UID = types.UID(fmt.Sprint("rs-", i))
		newCachedPod(p)
		podShapes.mu.Lock()
		n := len(podShapes.last)
		podShapes.mu.Unlock()
		if n > podShapesMax {
			t.Fatalf("shape table grew to %d", n)
		}
	}
}

// BenchmarkPodCacheList reports what listing a namespace of 10,000 cached
// pods costs a controller: from a cache of typed pods (as before), from
// cachedPods whose pods were built since the last collection, and from
// cachedPods right after one (every pod built).
func BenchmarkPodCacheList(b *testing.B) {
	const n = 10000
	for _, mode := range []string{"typed", "cached-warm", "cached-cold"} {
		b.Run(mode, func(b *testing.B) {
			idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
			var store cache.Indexer = idx
			if mode != "typed" {
				store = podIndexer{idx}
			}
			for i := 0; i < n; i++ {
				p := decodeStrip(b, benchPod(i))
				if mode == "typed" {
					_ = idx.Add(p)
				} else {
					_ = idx.Add(newCachedPod(p))
				}
			}
			_, _ = store.ByIndex(cache.NamespaceIndex, "fleet")
			b.ResetTimer()
			for it := 0; it < b.N; it++ {
				if mode == "cached-cold" {
					b.StopTimer()
					runtime.GC()
					runtime.GC()
					b.StartTimer()
				}
				objs, _ := store.ByIndex(cache.NamespaceIndex, "fleet")
				if len(objs) != n || objs[0].(*corev1.Pod).Namespace != "fleet" {
					b.Fatal(len(objs))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/pod")
		})
	}
}
