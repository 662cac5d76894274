package difftest

import (
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/registry/apps/daemonset"
	"k8s.io/kubernetes/pkg/registry/apps/deployment"
	"k8s.io/kubernetes/pkg/registry/apps/replicaset"
	"k8s.io/kubernetes/pkg/registry/apps/statefulset"
	"k8s.io/kubernetes/pkg/registry/batch/cronjob"
	"k8s.io/kubernetes/pkg/registry/batch/job"
	"k8s.io/kubernetes/pkg/registry/coordination/lease"
	"k8s.io/kubernetes/pkg/registry/core/configmap"
	"k8s.io/kubernetes/pkg/registry/core/endpoint"
	"k8s.io/kubernetes/pkg/registry/core/event"
	"k8s.io/kubernetes/pkg/registry/core/namespace"
	"k8s.io/kubernetes/pkg/registry/core/node"
	"k8s.io/kubernetes/pkg/registry/core/persistentvolume"
	"k8s.io/kubernetes/pkg/registry/core/persistentvolumeclaim"
	"k8s.io/kubernetes/pkg/registry/core/pod"
	"k8s.io/kubernetes/pkg/registry/core/podtemplate"
	"k8s.io/kubernetes/pkg/registry/core/replicationcontroller"
	"k8s.io/kubernetes/pkg/registry/core/secret"
	"k8s.io/kubernetes/pkg/registry/core/service"
	"k8s.io/kubernetes/pkg/registry/core/serviceaccount"
	"k8s.io/kubernetes/pkg/registry/discovery/endpointslice"
	"k8s.io/kubernetes/pkg/registry/networking/ingress"
	"k8s.io/kubernetes/pkg/registry/policy/poddisruptionbudget"
	"k8s.io/kubernetes/pkg/registry/scheduling/priorityclass"
	"k8s.io/kubernetes/pkg/registry/storage/storageclass"
	"k8s.io/utils/ptr"
)

func init() {
	// kube's declarative validation logs its own shadow mismatches; they
	// are not findings of this test.
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
}

var (
	fuzzCreates = flag.Int("difftest.creates", 120, "fuzzed create bodies per kind")
	fuzzUpdates = flag.Int("difftest.updates", 40, "fuzzed updates per kind")
	verbose     = flag.Bool("difftest.v", false, "also list the disagreements that are known differences")
)

// kind is one resource kind compared.
type kind struct {
	name     string
	gvk      schema.GroupVersionKind
	resource string
	// upstream is kube-apiserver's registry strategy for the kind; nil
	// compares only defaults (skiff validates metadata only).
	upstream strategy
	// bases are valid objects the fuzzer starts from.
	bases []func() runtime.Object
}

func gvk(gv schema.GroupVersion, k string) schema.GroupVersionKind { return gv.WithKind(k) }

func kinds() []*kind {
	obj := func(fns ...func() runtime.Object) []func() runtime.Object { return fns }
	return []*kind{
		{name: "Pod", gvk: gvk(corev1.SchemeGroupVersion, "Pod"), resource: "pods", upstream: pod.Strategy,
			bases: obj(func() runtime.Object { return validPod() },
				func() runtime.Object { return &corev1.Pod{ObjectMeta: objMeta("web"), Spec: webTemplate().Spec} })},
		{name: "PodTemplate", gvk: gvk(corev1.SchemeGroupVersion, "PodTemplate"), resource: "podtemplates", upstream: podtemplate.Strategy,
			bases: obj(func() runtime.Object {
				return &corev1.PodTemplate{ObjectMeta: objMeta("tmpl"), Template: webTemplate()}
			})},
		{name: "ReplicationController", gvk: gvk(corev1.SchemeGroupVersion, "ReplicationController"), resource: "replicationcontrollers",
			upstream: replicationcontroller.Strategy,
			bases: obj(func() runtime.Object {
				t := webTemplate()
				return &corev1.ReplicationController{ObjectMeta: objMeta("rc"), Spec: corev1.ReplicationControllerSpec{Template: &t}}
			})},
		{name: "Namespace", gvk: gvk(corev1.SchemeGroupVersion, "Namespace"), resource: "namespaces", upstream: namespace.Strategy,
			bases: obj(func() runtime.Object { return validNamespace() })},
		{name: "Service", gvk: gvk(corev1.SchemeGroupVersion, "Service"), resource: "services", upstream: service.Strategy,
			bases: obj(func() runtime.Object { return validService() },
				func() runtime.Object { return allocated(validService(), "10.43.0.10") },
				func() runtime.Object {
					return &corev1.Service{ObjectMeta: objMeta("lb"), Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
						ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal, Ports: []corev1.ServicePort{{Port: 443, NodePort: 30443}}}}
				},
				func() runtime.Object {
					return &corev1.Service{ObjectMeta: objMeta("ext"), Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com."}}
				},
				func() runtime.Object {
					return &corev1.Service{ObjectMeta: objMeta("db"), Spec: corev1.ServiceSpec{ClusterIP: "None", Selector: map[string]string{"app": "db"}}}
				})},
		{name: "Endpoints", gvk: gvk(corev1.SchemeGroupVersion, "Endpoints"), resource: "endpoints", upstream: endpoint.Strategy,
			bases: obj(func() runtime.Object { return validEndpoints() })},
		{name: "ConfigMap", gvk: gvk(corev1.SchemeGroupVersion, "ConfigMap"), resource: "configmaps", upstream: configmap.Strategy,
			bases: obj(func() runtime.Object { return validConfigMap() })},
		{name: "Secret", gvk: gvk(corev1.SchemeGroupVersion, "Secret"), resource: "secrets", upstream: secret.Strategy,
			bases: obj(func() runtime.Object { return validSecret() }, func() runtime.Object { return validTLSSecret() })},
		{name: "Node", gvk: gvk(corev1.SchemeGroupVersion, "Node"), resource: "nodes", upstream: node.Strategy,
			bases: obj(func() runtime.Object { return validNode() })},
		{name: "Event", gvk: gvk(corev1.SchemeGroupVersion, "Event"), resource: "events", upstream: event.Strategy,
			bases: obj(func() runtime.Object { return validCoreEvent() })},
		{name: "ServiceAccount", gvk: gvk(corev1.SchemeGroupVersion, "ServiceAccount"), resource: "serviceaccounts", upstream: serviceaccount.Strategy,
			bases: obj(func() runtime.Object { return validServiceAccount() })},
		{name: "PersistentVolumeClaim", gvk: gvk(corev1.SchemeGroupVersion, "PersistentVolumeClaim"), resource: "persistentvolumeclaims",
			upstream: persistentvolumeclaim.Strategy, bases: obj(func() runtime.Object { return validPVC() })},
		{name: "PersistentVolume", gvk: gvk(corev1.SchemeGroupVersion, "PersistentVolume"), resource: "persistentvolumes",
			upstream: persistentvolume.Strategy, bases: obj(func() runtime.Object { return validPV() })},
		{name: "Deployment", gvk: gvk(appsv1.SchemeGroupVersion, "Deployment"), resource: "deployments", upstream: deployment.Strategy,
			bases: obj(func() runtime.Object { return validDeployment() })},
		{name: "ReplicaSet", gvk: gvk(appsv1.SchemeGroupVersion, "ReplicaSet"), resource: "replicasets", upstream: replicaset.Strategy,
			bases: obj(func() runtime.Object { return validReplicaSet() })},
		{name: "DaemonSet", gvk: gvk(appsv1.SchemeGroupVersion, "DaemonSet"), resource: "daemonsets", upstream: daemonset.Strategy,
			bases: obj(func() runtime.Object { return validDaemonSet() })},
		{name: "StatefulSet", gvk: gvk(appsv1.SchemeGroupVersion, "StatefulSet"), resource: "statefulsets", upstream: statefulset.Strategy,
			bases: obj(func() runtime.Object { return validStatefulSet() })},
		{name: "Job", gvk: gvk(batchv1.SchemeGroupVersion, "Job"), resource: "jobs", upstream: job.Strategy,
			bases: obj(func() runtime.Object { return validJob() })},
		{name: "CronJob", gvk: gvk(batchv1.SchemeGroupVersion, "CronJob"), resource: "cronjobs", upstream: cronjob.Strategy,
			bases: obj(func() runtime.Object { return validCronJob() })},
		{name: "Lease", gvk: gvk(coordinationv1.SchemeGroupVersion, "Lease"), resource: "leases", upstream: lease.Strategy,
			bases: obj(func() runtime.Object { return validLease() })},
		{name: "EndpointSlice", gvk: gvk(discoveryv1.SchemeGroupVersion, "EndpointSlice"), resource: "endpointslices",
			upstream: endpointslice.Strategy, bases: obj(func() runtime.Object { return validEndpointSlice() })},
		{name: "Ingress", gvk: gvk(networkingv1.SchemeGroupVersion, "Ingress"), resource: "ingresses", upstream: ingress.Strategy,
			bases: obj(func() runtime.Object { return validIngress() })},
		{name: "events.k8s.io/Event", gvk: gvk(eventsv1.SchemeGroupVersion, "Event"), resource: "events", upstream: event.Strategy,
			bases: obj(func() runtime.Object { return validEventsV1() })},
		{name: "PriorityClass", gvk: gvk(schedulingv1.SchemeGroupVersion, "PriorityClass"), resource: "priorityclasses",
			upstream: priorityclass.Strategy, bases: obj(func() runtime.Object { return validPriorityClass() })},
		{name: "PodDisruptionBudget", gvk: gvk(policyv1.SchemeGroupVersion, "PodDisruptionBudget"), resource: "poddisruptionbudgets",
			upstream: poddisruptionbudget.Strategy, bases: obj(func() runtime.Object { return validPDB() })},
		{name: "StorageClass", gvk: gvk(storagev1.SchemeGroupVersion, "StorageClass"), resource: "storageclasses",
			upstream: storageclass.Strategy, bases: obj(func() runtime.Object { return validStorageClass() })},
		{name: "NetworkPolicy", gvk: gvk(networkingv1.SchemeGroupVersion, "NetworkPolicy"), resource: "networkpolicies",
			bases: obj(func() runtime.Object { return validNetworkPolicy() })},
		{name: "IngressClass", gvk: gvk(networkingv1.SchemeGroupVersion, "IngressClass"), resource: "ingressclasses",
			bases: obj(func() runtime.Object { return validIngressClass() })},
	}
}

func validNetworkPolicy() *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{ObjectMeta: objMeta("web"), Spec: networkingv1.NetworkPolicySpec{
		PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		Ingress: []networkingv1.NetworkPolicyIngressRule{{
			From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"role": "frontend"}}}},
			Ports: []networkingv1.NetworkPolicyPort{{Port: ptr.To(intstr.FromInt32(8080))}},
		}},
	}}
}

func validIngressClass() *networkingv1.IngressClass {
	return &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "traefik", ResourceVersion: "1"}, Spec: networkingv1.IngressClassSpec{
		Controller: "traefik.io/ingress-controller",
		Parameters: &networkingv1.IngressClassParametersReference{APIGroup: ptr.To("traefik.io"), Kind: "Params", Name: "p"},
	}}
}

// testCase is one object to compare: a create body, or with old set an
// update of old.
type testCase struct {
	kind *kind
	name string
	obj  runtime.Object
	old  runtime.Object
}

// item is one point of disagreement: an error (type and field path) that
// only one side reported, or a field that the two sides default
// differently.
type item struct {
	op   string // create, update or default
	side string // skiff or upstream: the side that reported the error or set the field; both: different values
	typ  string // the error type; empty for defaults
	path string
}

func (i item) String() string {
	if i.op == "default" {
		return fmt.Sprintf("default %s: %s", i.side, i.path)
	}
	return fmt.Sprintf("%s only %s: %s %s", i.op, i.side, i.typ, i.path)
}

// disagreement is one object on which the two sides differ.
type disagreement struct {
	kind, name string
	items      []item
	detail     string
}

// stamp sets what the server sets before it validates: the UID and
// creation time of a new object (and, for creates, no resourceVersion).
func stamp(obj runtime.Object, create bool) runtime.Object {
	obj = obj.DeepCopyObject()
	m := metaOf(obj)
	if m.GetUID() == "" {
		m.SetUID(types.UID("0f3c9e1a-6b2d-4c1e-9d8f-2a7b5c4d3e21"))
	}
	if ts := m.GetCreationTimestamp(); ts.IsZero() {
		m.SetCreationTimestamp(metav1.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
	}
	if create {
		m.SetResourceVersion("")
	} else if m.GetResourceVersion() == "" {
		m.SetResourceVersion("1")
	}
	return obj
}

// compare runs one case through both sides and returns what differs, and
// whether kube-apiserver accepted the object.
func compare(tc testCase) (ds []disagreement, accepted bool) {
	k := tc.kind
	var out []disagreement
	accepted = true
	add := func(items []item, detail string) {
		if len(items) > 0 {
			out = append(out, disagreement{kind: k.name, name: tc.name, items: items, detail: detail})
		}
	}
	if tc.old == nil {
		in := stamp(tc.obj, true)
		add(compareDefaults(k, in))
		if k.upstream == nil {
			return out, true
		}
		common, err := commonInput(in)
		if err != nil {
			add([]item{{op: "create", side: "skiff", typ: "panic", path: err.Error()}}, "")
			return out, false
		}
		sk, skErr := skiffCreate(common)
		up, upErr := upstreamCreate(k, common)
		add(compareErrors("create", sk, skErr, up, upErr))
		return out, len(up) == 0 && upErr == nil
	}
	if k.upstream == nil {
		return nil, true
	}
	old, err := stored(stamp(tc.old, false))
	if err != nil {
		add([]item{{op: "update", side: "skiff", typ: "panic", path: err.Error()}}, "")
		return out, false
	}
	obj := stamp(tc.obj, false)
	metaOf(obj).SetUID(metaOf(old).GetUID())
	metaOf(obj).SetCreationTimestamp(metaOf(old).GetCreationTimestamp())
	obj, err = updateInput(obj, old)
	if err != nil {
		add([]item{{op: "update", side: "skiff", typ: "panic", path: err.Error()}}, "")
		return out, false
	}
	sk, skErr := skiffUpdate(obj, old)
	up, upErr := upstreamUpdate(k, obj, old)
	add(compareErrors("update", sk, skErr, up, upErr))
	return out, len(up) == 0 && upErr == nil
}

func errorKeys(errs field.ErrorList, err error) map[string]bool {
	keys := map[string]bool{}
	if err != nil {
		keys["panic "+err.Error()] = true
	}
	for _, e := range errs {
		keys[string(e.Type)+" "+e.Field] = true
	}
	return keys
}

func compareErrors(op string, sk field.ErrorList, skErr error, up field.ErrorList, upErr error) ([]item, string) {
	a, b := errorKeys(sk, skErr), errorKeys(up, upErr)
	var items []item
	for _, side := range []struct {
		name      string
		own, othr map[string]bool
	}{{"skiff", a, b}, {"upstream", b, a}} {
		for key := range side.own {
			if !side.othr[key] {
				typ, path, _ := strings.Cut(key, " ")
				items = append(items, item{op: op, side: side.name, typ: typ, path: path})
			}
		}
	}
	sortItems(items)
	if len(items) == 0 {
		return nil, ""
	}
	return items, fmt.Sprintf("skiff: %s\n    upstream: %s", renderErrs(sk, skErr), renderErrs(up, upErr))
}

func renderErrs(errs field.ErrorList, err error) string {
	if err != nil {
		return err.Error()
	}
	if len(errs) == 0 {
		return "accepted"
	}
	var parts []string
	for _, e := range errs {
		s := e.Error()
		if len(s) > 200 {
			s = s[:197] + "..."
		}
		parts = append(parts, s)
	}
	sort.Strings(parts)
	return "refused: " + strings.Join(parts, "; ")
}

// compareDefaults compares skiff's defaults with what kube-apiserver
// stores for the same create body, field by field.
func compareDefaults(k *kind, in runtime.Object) ([]item, string) {
	sk, err := skiffDefault(in)
	if err != nil {
		return []item{{op: "default", side: "skiff", path: err.Error()}}, ""
	}
	up, err := upstreamStored(in, k.gvk.GroupVersion())
	if err != nil {
		return []item{{op: "default", side: "upstream", path: "conversion: " + err.Error()}}, ""
	}
	a, b := asJSON(sk), asJSON(up)
	var items []item
	var detail []string
	diffJSON("", a, b, func(path string, x, y interface{}) {
		side := "both"
		switch {
		case x == nil:
			side = "upstream"
		case y == nil:
			side = "skiff"
		}
		items = append(items, item{op: "default", side: side, path: path})
		detail = append(detail, fmt.Sprintf("%s: skiff %s, upstream %s", path, short(x), short(y)))
	})
	sortItems(items)
	return items, strings.Join(detail, "\n    ")
}

func asJSON(obj runtime.Object) interface{} {
	b, err := json.Marshal(obj)
	if err != nil {
		panic(err)
	}
	var v interface{}
	if err := json.Unmarshal(b, &v); err != nil {
		panic(err)
	}
	if m, ok := v.(map[string]interface{}); ok {
		delete(m, "kind")
		delete(m, "apiVersion")
		if md, ok := m["metadata"].(map[string]interface{}); ok {
			delete(md, "creationTimestamp")
		}
	}
	return v
}

// diffJSON calls fn for every path where a and b differ. Lists are
// compared by index.
func diffJSON(path string, a, b interface{}, fn func(path string, x, y interface{})) {
	switch x := a.(type) {
	case map[string]interface{}:
		y, ok := b.(map[string]interface{})
		if !ok {
			break
		}
		keys := map[string]bool{}
		for k := range x {
			keys[k] = true
		}
		for k := range y {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			p := k
			if path != "" {
				p = path + "." + k
			}
			diffJSON(p, x[k], y[k], fn)
		}
		return
	case []interface{}:
		y, ok := b.([]interface{})
		if !ok || len(x) != len(y) {
			break
		}
		for i := range x {
			diffJSON(fmt.Sprintf("%s[%d]", path, i), x[i], y[i], fn)
		}
		return
	}
	if !reflect.DeepEqual(a, b) {
		fn(path, a, b)
	}
}

func short(v interface{}) string {
	if v == nil {
		return "unset"
	}
	b, _ := json.Marshal(v)
	s := string(b)
	if len(s) > 100 {
		s = s[:97] + "..."
	}
	return s
}

func sortItems(items []item) {
	sort.Slice(items, func(i, j int) bool { return items[i].String() < items[j].String() })
}

// cases builds every case: skiff's own test objects, then the fuzzed ones.
func cases(ks []*kind) []testCase {
	byType := map[reflect.Type]*kind{}
	byName := map[string]*kind{}
	for _, k := range ks {
		byName[k.name] = k
		if k.name != "events.k8s.io/Event" {
			byType[reflect.TypeOf(k.bases[0]())] = k
		}
	}
	byType[reflect.TypeOf(&eventsv1.Event{})] = byName["events.k8s.io/Event"]
	var out []testCase
	for _, list := range [][]testCase{skiffCreateValid(), skiffCreateInvalid(), skiffUpdates(), policyAndStorageCases()} {
		for _, tc := range list {
			tc.kind = byType[reflect.TypeOf(tc.obj)]
			if tc.kind == nil {
				panic(fmt.Sprintf("case %q: no kind for %T", tc.name, tc.obj))
			}
			tc.name = "case " + tc.name
			out = append(out, tc)
		}
	}
	for _, k := range ks {
		out = append(out, fuzzCases(k)...)
	}
	return out
}

// fuzzCases makes the kind's fuzzed creates and updates, the same ones on
// every run.
func fuzzCases(k *kind) []testCase {
	h := fnv.New64a()
	h.Write([]byte(k.name))
	seed := int64(h.Sum64() >> 1)
	r := rand.New(rand.NewSource(seed))
	f := newFiller(seed, scalarTypes(k.bases[0]()))
	count := func() int {
		// Mostly one change, so that a good share stays valid.
		switch n := r.Intn(10); {
		case n < 6:
			return 1
		case n < 9:
			return 2
		}
		return 3
	}
	var out []testCase
	for i := 0; i < *fuzzCreates; i++ {
		base := k.bases[i%len(k.bases)]()
		did := fuzzMutate(base, count(), r, f)
		out = append(out, testCase{kind: k, name: fmt.Sprintf("fuzz create #%d {%s}", i, strings.Join(did, "; ")), obj: base})
	}
	if k.upstream == nil {
		return out
	}
	for i := 0; i < *fuzzUpdates; i++ {
		old := k.bases[i%len(k.bases)]()
		obj := old.DeepCopyObject()
		did := fuzzMutate(obj, count(), r, f)
		out = append(out, testCase{kind: k, name: fmt.Sprintf("fuzz update #%d {%s}", i, strings.Join(did, "; ")), obj: obj, old: old})
	}
	return out
}

func TestDifferential(t *testing.T) {
	ks := kinds()
	all := cases(ks)
	type tally struct {
		objects, fuzzed, valid, disagreements, known int
	}
	perKind := map[string]*tally{}
	for _, k := range ks {
		perKind[k.name] = &tally{}
	}
	knownHits := make([]int, len(knownDifferences))
	var unknown []disagreement
	for _, tc := range all {
		tl := perKind[tc.kind.name]
		tl.objects++
		if strings.HasPrefix(tc.name, "fuzz") {
			tl.fuzzed++
		}
		ds, accepted := compare(tc)
		if accepted && strings.HasPrefix(tc.name, "fuzz") {
			tl.valid++
		}
		for _, d := range ds {
			if idx := knownIndex(d); idx != nil {
				tl.known++
				for _, i := range idx {
					knownHits[i]++
				}
				if *verbose {
					fmt.Printf("known: %s %s\n    %s\n    %s\n", d.kind, d.name, itemsString(d.items), d.detail)
				}
				continue
			}
			tl.disagreements++
			unknown = append(unknown, d)
		}
	}
	total, fuzzed, valid := 0, 0, 0
	for _, k := range ks {
		tl := perKind[k.name]
		total += tl.objects
		fuzzed += tl.fuzzed
		valid += tl.valid
		what := "validation and defaults"
		if k.upstream == nil {
			what = "defaults only"
		}
		fmt.Printf("difftest: %-22s %4d objects (%d fuzzed, %d of them valid; %s), %d disagreements, %d known differences\n",
			k.name, tl.objects, tl.fuzzed, tl.valid, what, tl.disagreements, tl.known)
	}
	for i, kd := range knownDifferences {
		fmt.Printf("difftest: known difference, %d objects: %s\n", knownHits[i], kd.reason)
	}
	for _, d := range unknown {
		fmt.Printf("DISAGREEMENT %s %s\n    %s\n    %s\n", d.kind, d.name, itemsString(d.items), d.detail)
	}
	fmt.Printf("difftest: %d of the %d fuzzed objects are valid for kube-apiserver\n", valid, fuzzed)
	fmt.Printf("difftest: %d objects compared, %d disagreements\n", total, len(unknown))
	if len(unknown) > 0 {
		t.Errorf("%d disagreements with kube-apiserver v1.37.2 that are not listed as known differences (see above)", len(unknown))
	}
	for i, kd := range knownDifferences {
		if knownHits[i] == 0 {
			t.Errorf("known difference %q matched nothing: remove it from the list and from docs/control-plane.md", kd.reason)
		}
	}
}

func itemsString(items []item) string {
	var s []string
	for _, i := range items {
		s = append(s, i.String())
	}
	return strings.Join(s, "\n    ")
}
