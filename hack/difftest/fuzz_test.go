package difftest

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"reflect"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/randfill"
)

// The fuzzer starts from a valid object and changes one to three fields,
// so that a good share of what it makes is still valid and the rest is
// invalid in one place: that is where two validators are likely to part.
// Values come from small dictionaries of the strings and numbers kube's
// rules care about (enum values, names, IPs, paths, boundaries), not from
// random bytes, which every validator refuses at the first check.

var fuzzStrings = []string{
	"", "a", "web", "app", "x-1", "db", "Bad_Name", "UPPER", "a.b", "a/b", "-a", "a-", "1a", "a b", " a", "a=b", "é",
	"example.com/x", "example.com/a/b", "kubernetes.io/x", "k8s.io/x", "x.k8s.io/y",
	strings.Repeat("a", 63), strings.Repeat("a", 64), strings.Repeat("a", 253), strings.Repeat("b", 254),
	"10.0.0.1", "10.43.0.10", "10.0.0.0/24", "10.0.0.1/24", "fd00::1", "fd00::/64", "127.0.0.1", "0.0.0.0", "::",
	"169.254.1.1", "224.0.0.1", "010.0.0.1", "1.2.3", "1.2.3.4:80", "example.com", "*.example.com", "None",
	"/", "/abs/path", "rel/path", "../x", "/a/../b", "a:b", "C:\\x",
	"http", "https", "80", "8080", "65536", "0", "1", "-1", "25%", "0%", "100%", "150%", "1.5",
	"Always", "Never", "IfNotPresent", "OnFailure", "TCP", "UDP", "SCTP", "HTTP", "HTTPS",
	"ClusterIP", "NodePort", "LoadBalancer", "ExternalName", "ClientIP", "Local", "Cluster",
	"IPv4", "IPv6", "SingleStack", "PreferDualStack", "RequireDualStack", "PreferClose", "PreferSameZone",
	"Exists", "Equal", "In", "NotIn", "DoesNotExist", "Gt", "Lt",
	"NoSchedule", "PreferNoSchedule", "NoExecute", "DoNotSchedule", "ScheduleAnyway", "Honor", "Ignore",
	"RollingUpdate", "Recreate", "OnDelete", "Parallel", "OrderedReady", "Retain", "Delete", "Recycle",
	"ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod", "Filesystem", "Block",
	"Prefix", "Exact", "ImplementationSpecific", "Immediate", "WaitForFirstConsumer",
	"Allow", "Forbid", "Replace", "Indexed", "NonIndexed", "FailJob", "FailIndex", "Count", "TerminatingOrFailed", "Failed",
	"True", "False", "Unknown", "DisruptionTarget", "Ready", "Normal", "Warning",
	"Memory", "HugePages", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket", "CharDevice",
	"RuntimeDefault", "Localhost", "Unconfined", "profiles/p.json", "NET_ADMIN", "ALL",
	"ClusterFirst", "Default", "ClusterFirstWithHostNet", "FallbackToLogsOnError", "/dev/termination-log",
	"metadata.name", "metadata.namespace", "metadata.labels", "metadata.labels['a']", "metadata.annotations['a']",
	"status.podIP", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "spec.containers",
	"limits.cpu", "requests.memory", "requests.ephemeral-storage", "limits.hugepages-2Mi",
	"cpu", "memory", "storage", "pods", "ephemeral-storage", "hugepages-2Mi", "example.com/gpu", "gpu",
	"nginx:1.27", "busybox", "registry.example.com/a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	"kubernetes.io/hostname", "topology.kubernetes.io/zone", "node-role.kubernetes.io/edge",
	"* * * * *", "*/15 * * * *", "0 25 * * *", "@hourly", "@every 1h", "not a schedule", "TZ=UTC * * * *",
	"UTC", "Europe/Berlin", "Mars/Olympus",
	"default", "kube-system", "kube-node-lease", "Pod", "Deployment", "v1", "apps/v1", "apps",
	"system-node-critical", "system-x", "PreemptLowerPriority",
	"kubernetes", "orphan", "foregroundDeletion", "example.com/finalizer",
	"Opaque", "kubernetes.io/tls", "kubernetes.io/dockerconfigjson", "kubernetes.io/basic-auth",
	"kubernetes.io/service-account-token", "kubernetes.io/ssh-auth", "kubernetes.io/dockercfg",
	"tls.crt", "tls.key", ".dockerconfigjson", "username", "password", "ssh-privatekey",
	`{"auths":{}}`, "{", "AlwaysAllow", "IfHealthyBudget", "Pulling", "skiff.io/agent",
}

var fuzzInts = []int64{-1, 0, 1, 2, 3, 5, 10, 30, 80, 100, 443, 511, 0644, 0777, 01000, 1000, 8080,
	30080, 32767, 65535, 65536, 86400, 86401, 1000000000, 2000000000, 2147483647}

var fuzzQuantities = []string{"0", "1", "2", "100m", "500m", "1m", "100u", "64Mi", "1Gi", "5Gi", "-1", "0.5", "1e3", "10"}

var fuzzTimes = []time.Time{{}, time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), time.Date(2025, 1, 2, 3, 4, 5, 123456000, time.UTC)}

// newFiller returns a seeded randfill.Filler whose strings, integers,
// quantities, int-or-strings and times are drawn from the dictionaries.
// Custom functions in randfill are looked up by exact type, so one is
// registered for every named string and integer type reachable from the
// compared kinds.
func newFiller(seed int64, types []reflect.Type) *randfill.Filler {
	f := randfill.NewWithSeed(seed).NilChance(0.3).NumElements(1, 2).MaxDepth(6)
	fns := []interface{}{
		func(q *resource.Quantity, c randfill.Continue) {
			*q = resource.MustParse(fuzzQuantities[c.Intn(len(fuzzQuantities))])
		},
		func(v *intstr.IntOrString, c randfill.Continue) {
			if c.Intn(2) == 0 {
				*v = intstr.FromInt32(int32(fuzzInts[c.Intn(len(fuzzInts))]))
			} else {
				*v = intstr.FromString(fuzzStrings[c.Intn(len(fuzzStrings))])
			}
		},
		func(t *metav1.Time, c randfill.Continue) {
			*t = metav1.NewTime(fuzzTimes[c.Intn(len(fuzzTimes))])
		},
		func(t *metav1.MicroTime, c randfill.Continue) {
			*t = metav1.NewMicroTime(fuzzTimes[c.Intn(len(fuzzTimes))])
		},
		func(b *[]byte, c randfill.Continue) {
			*b = []byte(fuzzStrings[c.Intn(len(fuzzStrings))])
		},
		func(e *runtime.RawExtension, c randfill.Continue) {},
	}
	cont := reflect.TypeOf(randfill.Continue{})
	for _, t := range types {
		switch t.Kind() {
		case reflect.String:
			fns = append(fns, reflect.MakeFunc(reflect.FuncOf([]reflect.Type{reflect.PointerTo(t), cont}, nil, false),
				func(args []reflect.Value) []reflect.Value {
					c := args[1].Interface().(randfill.Continue)
					args[0].Elem().SetString(fuzzStrings[c.Intn(len(fuzzStrings))])
					return nil
				}).Interface())
		case reflect.Int, reflect.Int32, reflect.Int64:
			fns = append(fns, reflect.MakeFunc(reflect.FuncOf([]reflect.Type{reflect.PointerTo(t), cont}, nil, false),
				func(args []reflect.Value) []reflect.Value {
					c := args[1].Interface().(randfill.Continue)
					args[0].Elem().SetInt(fuzzInts[c.Intn(len(fuzzInts))])
					return nil
				}).Interface())
		}
	}
	return f.Funcs(fns...)
}

// scalarTypes lists the string and integer types reachable from objs.
func scalarTypes(objs ...runtime.Object) []reflect.Type {
	seen := map[reflect.Type]bool{}
	var out []reflect.Type
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		if seen[t] {
			return
		}
		seen[t] = true
		switch t.Kind() {
		case reflect.String, reflect.Int, reflect.Int32, reflect.Int64:
			out = append(out, t)
		case reflect.Pointer, reflect.Slice, reflect.Array:
			walk(t.Elem())
		case reflect.Map:
			walk(t.Key())
			walk(t.Elem())
		case reflect.Struct:
			for i := 0; i < t.NumField(); i++ {
				if t.Field(i).IsExported() {
					walk(t.Field(i).Type)
				}
			}
		}
	}
	for _, o := range objs {
		walk(reflect.TypeOf(o))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// target is one place in an object the fuzzer may change.
type target struct {
	path string
	v    reflect.Value
}

// skipped are fields the server sets itself before validating, or that a
// create resets: changing them tests the API server, not validation.
var skipped = map[string]bool{
	"TypeMeta": true, "UID": true, "ResourceVersion": true, "Generation": true, "CreationTimestamp": true,
	"DeletionTimestamp": true, "DeletionGracePeriodSeconds": true, "ManagedFields": true, "SelfLink": true,
}

// targets lists, in a fixed order, every exported field under v.
func targets(v reflect.Value, path string, top bool, out *[]target) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			targets(v.Elem(), path, top, out)
		}
	case reflect.Struct:
		t := v.Type()
		if t == reflect.TypeOf(resource.Quantity{}) || t == reflect.TypeOf(intstr.IntOrString{}) ||
			t == reflect.TypeOf(metav1.Time{}) || t == reflect.TypeOf(metav1.MicroTime{}) {
			return
		}
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			if !sf.IsExported() || skipped[sf.Name] || (top && sf.Name == "Status") {
				continue
			}
			fv := v.Field(i)
			p := path + "." + jsonName(sf)
			if sf.Anonymous {
				p = path
			}
			if fv.Kind() != reflect.Struct || fv.Type() == reflect.TypeOf(resource.Quantity{}) ||
				fv.Type() == reflect.TypeOf(intstr.IntOrString{}) || fv.Type() == reflect.TypeOf(metav1.Time{}) ||
				fv.Type() == reflect.TypeOf(metav1.MicroTime{}) {
				*out = append(*out, target{p, fv})
			}
			targets(fv, p, false, out)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			e := v.Index(i)
			p := fmt.Sprintf("%s[%d]", path, i)
			if e.Kind() != reflect.Struct {
				*out = append(*out, target{p, e})
			}
			targets(e, p, false, out)
		}
	}
}

func jsonName(sf reflect.StructField) string {
	name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
	if name == "" {
		return sf.Name
	}
	return name
}

// fuzzMutate changes n fields of obj in place and says what it did.
func fuzzMutate(obj runtime.Object, n int, r *rand.Rand, f *randfill.Filler) []string {
	var done []string
	for i := 0; i < n; i++ {
		var ts []target
		targets(reflect.ValueOf(obj), "", true, &ts)
		if len(ts) == 0 {
			break
		}
		t := ts[r.Intn(len(ts))]
		done = append(done, change(t, r, f))
	}
	return done
}

// change applies one random edit to t: a new value, the zero value, or for
// lists and maps an added, removed or repeated entry.
func change(t target, r *rand.Rand, f *randfill.Filler) string {
	v := t.v
	switch v.Kind() {
	case reflect.Slice:
		switch op := r.Intn(4); {
		case op == 0 && v.Len() > 0:
			i := r.Intn(v.Len())
			out := reflect.AppendSlice(reflect.MakeSlice(v.Type(), 0, v.Len()-1), v.Slice(0, i))
			v.Set(reflect.AppendSlice(out, v.Slice(i+1, v.Len())))
			return fmt.Sprintf("%s: removed [%d]", t.path, i)
		case op == 1 && v.Len() > 0:
			i := r.Intn(v.Len())
			c := reflect.New(v.Type().Elem())
			c.Elem().Set(deepCopy(v.Index(i)))
			v.Set(reflect.Append(v, c.Elem()))
			return fmt.Sprintf("%s: repeated [%d]", t.path, i)
		case op == 2:
			e := reflect.New(v.Type().Elem())
			f.Fill(e.Interface())
			v.Set(reflect.Append(v, e.Elem()))
			return fmt.Sprintf("%s: appended %s", t.path, show(e.Elem()))
		}
	case reflect.Map:
		switch op := r.Intn(3); {
		case op == 0 && v.Len() > 0:
			keys := v.MapKeys()
			sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
			k := keys[r.Intn(len(keys))]
			m := reflect.MakeMap(v.Type())
			for _, x := range v.MapKeys() {
				if x.Interface() != k.Interface() {
					m.SetMapIndex(x, v.MapIndex(x))
				}
			}
			v.Set(m)
			return fmt.Sprintf("%s: removed key %v", t.path, k)
		case op == 1:
			k, e := reflect.New(v.Type().Key()), reflect.New(v.Type().Elem())
			f.Fill(k.Interface())
			f.Fill(e.Interface())
			m := reflect.MakeMap(v.Type())
			for _, x := range v.MapKeys() {
				m.SetMapIndex(x, v.MapIndex(x))
			}
			m.SetMapIndex(k.Elem(), e.Elem())
			v.Set(m)
			return fmt.Sprintf("%s: set key %q to %s", t.path, fmt.Sprint(k.Elem()), show(e.Elem()))
		}
	}
	if !v.IsZero() && r.Intn(4) == 0 {
		v.Set(reflect.Zero(v.Type()))
		return t.path + ": cleared"
	}
	n := reflect.New(v.Type())
	f.Fill(n.Interface())
	v.Set(n.Elem())
	return fmt.Sprintf("%s: set to %s", t.path, show(v))
}

// deepCopy copies a list element with its generated DeepCopy, so that the
// repeat does not share pointers with the original.
func deepCopy(v reflect.Value) reflect.Value {
	if v.CanAddr() {
		if m := v.Addr().MethodByName("DeepCopy"); m.IsValid() && m.Type().NumIn() == 0 && m.Type().NumOut() == 1 {
			return m.Call(nil)[0].Elem()
		}
	}
	return v
}

// show renders a value as JSON, so that case names are the same on every
// run (no pointer addresses).
func show(v reflect.Value) string {
	b, err := json.Marshal(v.Interface())
	s := string(b)
	if err != nil {
		s = fmt.Sprintf("%v", v.Interface())
	}
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}
