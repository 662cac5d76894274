package kubeclient

import (
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"testing"
	"unsafe"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apiresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func fullPod(i int) *corev1.Pod {
	req := corev1.ResourceList{corev1.ResourceCPU: apiresource.MustParse("100m"), corev1.ResourceMemory: apiresource.MustParse("64Mi")}
	c := corev1.Container{
		Name: "web", Image: "registry.example/web:v1", Command: []string{"/web"}, Args: []string{"--port", "80"},
		WorkingDir: "/srv", Env: []corev1.EnvVar{{Name: "A", Value: "b"}},
		EnvFrom:                []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
		Ports:                  []corev1.ContainerPort{{Name: "http", ContainerPort: 80, Protocol: corev1.ProtocolTCP, HostPort: 8080}},
		Resources:              corev1.ResourceRequirements{Requests: req, Limits: req},
		VolumeMounts:           []corev1.VolumeMount{{Name: "token", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"}},
		ReadinessProbe:         &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(80)}}},
		TerminationMessagePath: "/dev/termination-log", TerminationMessagePolicy: corev1.TerminationMessageReadFile,
		ImagePullPolicy: corev1.PullIfNotPresent, SecurityContext: &corev1.SecurityContext{RunAsUser: ptr.To[int64](1000)},
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("web-%d", i), Namespace: "shop", UID: "u",
			Labels:          map[string]string{"app": "web", "pod-template-hash": "5dd8cd7b9c"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-5dd8cd7b9c", UID: "rs", Controller: ptr.To(true)}},
			ManagedFields:   []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{c}, Containers: []corev1.Container{c},
			Volumes: []corev1.Volume{
				{Name: "token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
					{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}}}}},
				{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data-web-0"}}},
				{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
				{Name: "scratch", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{}}}},
			},
			TerminationGracePeriodSeconds: ptr.To[int64](30), EnableServiceLinks: ptr.To(true),
			PreemptionPolicy: ptr.To(corev1.PreemptLowerPriority), ActiveDeadlineSeconds: ptr.To[int64](600),
			NodeName: "node-1", SchedulerName: "default-scheduler", NodeSelector: map[string]string{"zone": "a"},
			Tolerations: []corev1.Toleration{{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)}},
			Affinity:    &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{TopologyKey: corev1.LabelHostname}}}},
			Hostname:    "web-0", Subdomain: "web", Overhead: req, Priority: ptr.To[int32](10),
		},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "web", RestartCount: 2, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 3}}}}},
	}
}

// TestStripPod: what controllers read stays, what only the agent reads goes.
func TestStripPod(t *testing.T) {
	orig := fullPod(0)
	out, err := StripPod(orig.DeepCopy())
	if err != nil {
		t.Fatal(err)
	}
	p := out.(*corev1.Pod)
	want := orig.DeepCopy()
	want.ManagedFields = nil
	for _, c := range []*corev1.Container{&want.Spec.InitContainers[0], &want.Spec.Containers[0]} {
		*c = corev1.Container{Name: c.Name, Image: c.Image, Ports: c.Ports, Resources: c.Resources}
	}
	// Only claims stay among the volumes (the scheduler's volume binding
	// reads them), in their order.
	want.Spec.Volumes = []corev1.Volume{want.Spec.Volumes[1], want.Spec.Volumes[3]}
	if !equality.Semantic.DeepEqual(p, want) {
		got, _ := json.MarshalIndent(p, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Fatalf("stripped pod:\n%s\nwant:\n%s", got, w)
	}
	// Slices decoding left room in are cut to their length.
	five := fullPod(1)
	for _, ty := range []corev1.PodConditionType{"PodReadyToStartContainers", corev1.PodInitialized, corev1.ContainersReady, corev1.PodScheduled} {
		five.Status.Conditions = append(five.Status.Conditions, corev1.PodCondition{Type: ty, Status: corev1.ConditionTrue})
	}
	raw, _ := json.Marshal(five)
	decoded := &corev1.Pod{}
	if err := json.Unmarshal(raw, decoded); err != nil {
		t.Fatal(err)
	}
	if cap(decoded.Status.Conditions) == 5 {
		t.Fatal("the decoder left no room: the check below proves nothing")
	}
	out, _ = StripPod(decoded)
	if c := out.(*corev1.Pod).Status.Conditions; cap(c) != 5 || !equality.Semantic.DeepEqual(c, five.Status.Conditions) {
		t.Errorf("conditions: cap %d, %v", cap(c), c)
	}
	// Other objects only lose managedFields.
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n", ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "x"}}}}
	if out, _ := StripPod(n); out.(*corev1.Node).ManagedFields != nil {
		t.Error("a node kept its managedFields")
	}
}

// TestStripPodShares: two pods decoded apart share their repeated strings
// once stripped, and the table stays bounded.
func TestStripPodShares(t *testing.T) {
	decode := func(i int) *corev1.Pod {
		b, _ := json.Marshal(fullPod(i))
		p := &corev1.Pod{}
		if err := json.Unmarshal(b, p); err != nil {
			t.Fatal(err)
		}
		out, _ := StripPod(p)
		return out.(*corev1.Pod)
	}
	a, b := decode(1), decode(2)
	same := func(x, y string) bool { return len(x) > 0 && unsafeData(x) == unsafeData(y) }
	if !same(a.Spec.Containers[0].Image, b.Spec.Containers[0].Image) || !same(a.Namespace, b.Namespace) ||
		!same(a.Labels["pod-template-hash"], b.Labels["pod-template-hash"]) || !same(a.OwnerReferences[0].Name, b.OwnerReferences[0].Name) {
		t.Error("repeated strings are not shared")
	}
	if ra, rb := a.Spec.Containers[0].Resources.Requests, b.Spec.Containers[0].Resources.Requests; reflect.ValueOf(ra).UnsafePointer() != reflect.ValueOf(rb).UnsafePointer() ||
		!equality.Semantic.DeepEqual(ra, fullPod(0).Spec.Containers[0].Resources.Requests) {
		t.Error("equal resource lists are not shared")
	}
	shared := func(x, y any) bool {
		return reflect.ValueOf(x).UnsafePointer() == reflect.ValueOf(y).UnsafePointer()
	}
	if !shared(a.Spec.Containers, b.Spec.Containers) || !shared(a.Spec.InitContainers, b.Spec.InitContainers) ||
		!shared(a.Labels, b.Labels) || !shared(a.OwnerReferences, b.OwnerReferences) || !shared(a.Spec.Tolerations, b.Spec.Tolerations) {
		t.Error("equal containers, labels, owner references or tolerations are not shared")
	}
	if a.Spec.Priority != b.Spec.Priority || a.Spec.TerminationGracePeriodSeconds != b.Spec.TerminationGracePeriodSeconds ||
		a.Spec.PreemptionPolicy != b.Spec.PreemptionPolicy || a.Spec.EnableServiceLinks != b.Spec.EnableServiceLinks ||
		a.Spec.ActiveDeadlineSeconds != b.Spec.ActiveDeadlineSeconds {
		t.Error("equal priorities, grace periods, preemption policies, deadlines or service-link settings are not shared")
	}
	if !same(a.Spec.Volumes[0].Name, b.Spec.Volumes[0].Name) {
		t.Error("claim volumes' names are not shared")
	}
	if shared(a.Spec.Containers, a.Spec.InitContainers) {
		t.Error("init containers share the containers' slice")
	}
	// A pod that differs in one of them gets its own, and equal to what
	// it was decoded with.
	other := fullPod(4)
	other.Labels["app"] = "shop"
	other.Spec.Containers[0].Image = "registry.example/web:v2"
	other.Spec.Tolerations[0].TolerationSeconds = ptr.To[int64](60)
	other.OwnerReferences[0].Controller = ptr.To(false)
	other.Spec.Priority, other.Spec.TerminationGracePeriodSeconds = ptr.To[int32](11), ptr.To[int64](31)
	rawOther, _ := json.Marshal(other)
	d := &corev1.Pod{}
	if err := json.Unmarshal(rawOther, d); err != nil {
		t.Fatal(err)
	}
	out, _ := StripPod(d)
	d = out.(*corev1.Pod)
	if shared(d.Labels, a.Labels) || shared(d.Spec.Containers, a.Spec.Containers) || shared(d.Spec.Tolerations, a.Spec.Tolerations) ||
		shared(d.OwnerReferences, a.OwnerReferences) {
		t.Error("a pod that differs got another pod's value")
	}
	if d.Labels["app"] != "shop" || d.Spec.Containers[0].Image != "registry.example/web:v2" || *d.Spec.Tolerations[0].TolerationSeconds != 60 ||
		*d.OwnerReferences[0].Controller || !shared(d.Spec.InitContainers, a.Spec.InitContainers) ||
		*d.Spec.Priority != 11 || *d.Spec.TerminationGracePeriodSeconds != 31 || *a.Spec.Priority != 10 {
		t.Errorf("pod that differs: %+v", d)
	}
	// Pods with no labels, or an empty securityContext, stay so.
	e := fullPod(5)
	e.Labels, e.Spec.SecurityContext = nil, &corev1.PodSecurityContext{}
	out, _ = StripPod(e)
	if e = out.(*corev1.Pod); e.Labels != nil || e.Spec.SecurityContext == nil {
		t.Errorf("labels %v, securityContext %v", e.Labels, e.Spec.SecurityContext)
	}
	f := fullPod(6)
	f.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](7)}
	out, _ = StripPod(f)
	if sc := out.(*corev1.Pod).Spec.SecurityContext; sc == e.Spec.SecurityContext || *sc.RunAsUser != 7 {
		t.Error("a set securityContext was replaced")
	}

	c := &corev1.Pod{}
	bigger := fullPod(3)
	bigger.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = apiresource.MustParse("200m")
	raw, _ := json.Marshal(bigger)
	_ = json.Unmarshal(raw, c)
	out, _ = StripPod(c)
	if q := out.(*corev1.Pod).Spec.Containers[0].Resources.Requests[corev1.ResourceCPU]; q.MilliValue() != 200 {
		t.Errorf("a different resource list got the shared one: cpu %s", q.String())
	}
	for i := 0; i < 3*internMaxEntries; i++ {
		podStrings.mu.Lock()
		podStrings.intern(fmt.Sprint("owner-", i))
		n := len(podStrings.table)
		podStrings.mu.Unlock()
		if n > internMaxEntries {
			t.Fatalf("intern table grew to %d", n)
		}
	}
}

// BenchmarkPodHeap reports the heap a cached pod takes: decoded as it
// comes, stripped (StripPod), and as the pod informer keeps it
// (CachePod), for fullPod and for a pod as hack/bench/scheduler makes
// them once bound, 10 a node.
func BenchmarkPodHeap(b *testing.B) {
	for _, pod := range []struct {
		name string
		make func(int) *corev1.Pod
	}{{"full", fullPod}, {"bench", benchPod}} {
		for _, how := range []string{"decoded", "strip", "cache"} {
			b.Run(pod.name+"/"+how, func(b *testing.B) {
				const n = 2000
				raws := make([][]byte, n)
				for i := range raws {
					raws[i], _ = json.Marshal(pod.make(i))
				}
				keep := make([]any, n)
				var before, after runtime.MemStats
				for it := 0; it < b.N; it++ {
					runtime.GC()
					runtime.ReadMemStats(&before)
					for i := range keep {
						p := &corev1.Pod{}
						_ = json.Unmarshal(raws[i], p)
						p.ManagedFields = nil
						switch how {
						case "strip":
							keep[i], _ = StripPod(p)
						case "cache":
							keep[i], _ = CachePod(p)
						default:
							keep[i] = p
						}
					}
					runtime.GC()
					runtime.ReadMemStats(&after)
					b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/n, "heap-bytes/pod")
					runtime.KeepAlive(raws)
					clear(keep)
				}
			})
		}
	}
}

func unsafeData(s string) *byte { return unsafe.StringData(s) }
