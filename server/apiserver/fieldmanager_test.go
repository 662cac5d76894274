package apiserver

import (
	"encoding/json"
	"fmt"
	"reflect"
	goruntime "runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/skiff-io/skiff/server/openapi"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	apiresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"
	"k8s.io/kube-openapi/pkg/validation/spec"
	smdschema "sigs.k8s.io/structured-merge-diff/v6/schema"
)

// servedModels is what the server hands its field managers: the OpenAPI
// schemas of the catalogue's kinds.
func servedModels() func() (map[string]*spec.Schema, error) {
	var rs []openapi.Resource
	for _, r := range catalogue() {
		rs = append(rs, openapi.Resource{
			Group: r.gvk.Group, Version: r.gvk.Version, Kind: r.gvk.Kind, Plural: r.plural,
			Type: r.typeOf(), ListType: reflect.TypeOf(r.newList()).Elem(),
		})
	}
	return openapi.New(rs).Models
}

// converters returns skiff's type converter and client-go's, which skiff
// used before and which must give the same apply semantics.
func converters(t *testing.T) (skiff, clientGo managedfields.TypeConverter) {
	t.Helper()
	models, err := servedModels()()
	if err != nil {
		t.Fatal(err)
	}
	tc, err := managedfields.NewTypeConverter(models, false)
	if err != nil {
		t.Fatal(err)
	}
	return tc, applyconfigurations.NewTypeConverter(newScheme())
}

// TestApplySchemaMatchesClientGo walks the apply schema of every served
// kind in both converters and compares every reachable type: scalar kinds,
// list relationships and keys, map and struct relationships (including
// per-field overrides) and the field defaults that stand in for missing
// list keys.
func TestApplySchemaMatchesClientGo(t *testing.T) {
	ours, theirs := converters(t)
	for _, r := range catalogue() {
		t.Run(r.gvk.Kind+"."+r.gvk.Group, func(t *testing.T) {
			obj := r.newObj()
			obj.GetObjectKind().SetGroupVersionKind(r.gvk)
			a, err := ours.ObjectToTyped(obj)
			if err != nil {
				t.Fatal(err)
			}
			b, err := theirs.ObjectToTyped(obj)
			if err != nil {
				t.Fatal(err)
			}
			d := &schemaDiff{a: a.Schema(), b: b.Schema(), seen: map[[2]string]bool{}}
			d.ref(r.gvk.Kind, a.TypeRef(), b.TypeRef())
			for _, msg := range d.diffs {
				t.Error(msg)
			}
		})
	}
}

// schemaDiff compares two structured-merge-diff schemas by what they mean
// to merging, not by how they are spelled: a type may be named in one and
// inlined in the other.
type schemaDiff struct {
	a, b  *smdschema.Schema
	seen  map[[2]string]bool
	diffs []string
}

func refKey(tr smdschema.TypeRef) string {
	if tr.NamedType == nil {
		return ""
	}
	k := *tr.NamedType
	if tr.ElementRelationship != nil {
		k += "/" + string(*tr.ElementRelationship)
	}
	return k
}

func (d *schemaDiff) errorf(format string, args ...any) {
	d.diffs = append(d.diffs, fmt.Sprintf(format, args...))
}

func (d *schemaDiff) ref(path string, ta, tb smdschema.TypeRef) {
	if ka, kb := refKey(ta), refKey(tb); ka != "" && kb != "" {
		if d.seen[[2]string{ka, kb}] {
			return
		}
		d.seen[[2]string{ka, kb}] = true
	}
	a, okA := d.a.Resolve(ta)
	b, okB := d.b.Resolve(tb)
	if okA != okB {
		d.errorf("%s: resolves %v here, %v in client-go", path, okA, okB)
		return
	}
	d.atom(path, a, b)
}

func (d *schemaDiff) atom(path string, a, b smdschema.Atom) {
	if (a.Scalar == nil) != (b.Scalar == nil) || (a.Scalar != nil && *a.Scalar != *b.Scalar) {
		d.errorf("%s: scalar %v here, %v in client-go", path, scalarName(a.Scalar), scalarName(b.Scalar))
	}
	switch {
	case (a.List == nil) != (b.List == nil):
		d.errorf("%s: list %v here, %v in client-go", path, a.List != nil, b.List != nil)
	case a.List != nil:
		if a.List.ElementRelationship != b.List.ElementRelationship || !reflect.DeepEqual(a.List.Keys, b.List.Keys) {
			d.errorf("%s: list %s%v here, %s%v in client-go", path,
				a.List.ElementRelationship, a.List.Keys, b.List.ElementRelationship, b.List.Keys)
		}
		d.ref(path+"[]", a.List.ElementType, b.List.ElementType)
	}
	switch {
	case (a.Map == nil) != (b.Map == nil):
		d.errorf("%s: map %v here, %v in client-go", path, a.Map != nil, b.Map != nil)
	case a.Map != nil:
		if ra, rb := mapRelationship(a.Map), mapRelationship(b.Map); ra != rb {
			d.errorf("%s: map %s here, %s in client-go", path, ra, rb)
		}
		d.ref(path+"{}", a.Map.ElementType, b.Map.ElementType)
		names := map[string]bool{}
		for _, f := range a.Map.Fields {
			names[f.Name] = true
		}
		for _, f := range b.Map.Fields {
			names[f.Name] = true
		}
		sorted := make([]string, 0, len(names))
		for n := range names {
			sorted = append(sorted, n)
		}
		sort.Strings(sorted)
		for _, n := range sorted {
			fa, okA := a.Map.FindField(n)
			fb, okB := b.Map.FindField(n)
			if okA != okB {
				d.errorf("%s.%s: present %v here, %v in client-go", path, n, okA, okB)
				continue
			}
			if da, db := jsonOf(fa.Default), jsonOf(fb.Default); da != db {
				d.errorf("%s.%s: default %s here, %s in client-go", path, n, da, db)
			}
			d.ref(path+"."+n, fa.Type, fb.Type)
		}
	}
}

// mapRelationship spells granular the one way: unset means separable.
func mapRelationship(m *smdschema.Map) smdschema.ElementRelationship {
	if m.ElementRelationship == "" {
		return smdschema.Separable
	}
	return m.ElementRelationship
}

func scalarName(s *smdschema.Scalar) string {
	if s == nil {
		return "none"
	}
	return string(*s)
}

// jsonOf spells a default the one way; client-go's come from YAML, with
// map[any]any objects.
func jsonOf(v any) string {
	if m, ok := v.(map[any]any); ok {
		sm := map[string]string{}
		for k, e := range m {
			sm[fmt.Sprint(k)] = jsonOf(e)
		}
		v = sm
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// TestFieldSetsMatchClientGo fills every field of every served kind, with
// two distinctly keyed elements per list and two entries per map, and
// checks that both converters track the same set of fields.
func TestFieldSetsMatchClientGo(t *testing.T) {
	ours, theirs := converters(t)
	for _, r := range catalogue() {
		t.Run(r.gvk.Kind+"."+r.gvk.Group, func(t *testing.T) {
			obj := r.newObj()
			n := 0
			fill(reflect.ValueOf(obj).Elem(), &n, 0)
			obj.GetObjectKind().SetGroupVersionKind(r.gvk)
			a, errA := ours.ObjectToTyped(obj)
			b, errB := theirs.ObjectToTyped(obj)
			if errA != nil || errB != nil {
				t.Fatalf("ObjectToTyped: %v here, %v in client-go", errA, errB)
			}
			sa, err := a.ToFieldSet()
			if err != nil {
				t.Fatal(err)
			}
			sb, err := b.ToFieldSet()
			if err != nil {
				t.Fatal(err)
			}
			if !sa.Equals(sb) {
				t.Errorf("field sets differ\nonly here:\n%s\nonly in client-go:\n%s", sa.Difference(sb), sb.Difference(sa))
			}
			if sa.Size() < 20 {
				t.Errorf("only %d fields tracked; the object was not filled", sa.Size())
			}
		})
	}
}

var (
	timeType      = reflect.TypeOf(metav1.Time{})
	microTimeType = reflect.TypeOf(metav1.MicroTime{})
	durationType  = reflect.TypeOf(metav1.Duration{})
	quantityType  = reflect.TypeOf(apiresource.Quantity{})
	intOrStrType  = reflect.TypeOf(intstr.IntOrString{})
	rawExtType    = reflect.TypeOf(runtime.RawExtension{})
	fieldsV1Type  = reflect.TypeOf(metav1.FieldsV1{})
)

// fill sets every exported field of v to a non-zero value, each scalar
// distinct (n counts them) so that list keys never collide.
func fill(v reflect.Value, n *int, depth int) {
	if depth > 20 {
		return
	}
	next := func() int { *n++; return *n }
	switch v.Type() {
	case timeType:
		v.Set(reflect.ValueOf(metav1.NewTime(time.Unix(int64(next()), 0).UTC())))
		return
	case microTimeType:
		v.Set(reflect.ValueOf(metav1.NewMicroTime(time.Unix(int64(next()), 1000).UTC())))
		return
	case durationType:
		v.Set(reflect.ValueOf(metav1.Duration{Duration: time.Duration(next()) * time.Second}))
		return
	case quantityType:
		v.Set(reflect.ValueOf(apiresource.MustParse(fmt.Sprintf("%dMi", next()))))
		return
	case intOrStrType:
		if i := next(); i%2 == 0 {
			v.Set(reflect.ValueOf(intstr.FromInt32(int32(i))))
		} else {
			v.Set(reflect.ValueOf(intstr.FromString(fmt.Sprintf("s%d", i))))
		}
		return
	case rawExtType:
		v.Set(reflect.ValueOf(runtime.RawExtension{Raw: []byte(fmt.Sprintf(`{"apiVersion":"v1","kind":"K","spec":{"a":[%d,{"b":"c"}]}}`, next()))}))
		return
	case fieldsV1Type:
		v.Set(reflect.ValueOf(metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:labels":{".":{}}}}`)}))
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), n, depth+1)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), n, depth+1)
			}
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes([]byte(fmt.Sprintf("b%d", next())))
			return
		}
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := 0; i < 2; i++ {
			fill(s.Index(i), n, depth+1)
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for i := 0; i < 2; i++ {
			k := reflect.New(v.Type().Key()).Elem()
			fill(k, n, depth+1)
			e := reflect.New(v.Type().Elem()).Elem()
			fill(e, n, depth+1)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d", next()))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(next()))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(next()))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(next()) + 0.5)
	}
}

// managersWith returns field managers that use tc.
func managersWith(tc managedfields.TypeConverter) *fieldManagers {
	m := newFieldManagers(newScheme(), nil)
	m.once.Do(func() { m.tc = tc })
	return m
}

// applyStep is one server-side apply by manager.
type applyStep struct {
	manager string
	force   bool
	config  string // the apply configuration, as JSON
	// conflict is a substring the error must contain; "" for success.
	conflict string
}

// TestApplyMatchesClientGo runs apply scripts with two managers through
// both converters: associative lists keyed by name and by the compound
// port+protocol (whose protocol defaults to TCP when left out), atomic
// structs and atomic maps. Each step must succeed or conflict the same way
// and leave the same object and managed fields.
func TestApplyMatchesClientGo(t *testing.T) {
	ours, theirs := converters(t)
	deployment := func(spec string) string {
		return `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"default"},"spec":` + spec + `}`
	}
	service := func(spec string) string {
		return `{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"default"},"spec":` + spec + `}`
	}
	tests := []struct {
		name  string
		obj   runtime.Object
		steps []applyStep
	}{
		{"deployment containers", &appsv1.Deployment{}, []applyStep{
			{"alice", false, deployment(`{"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"a","image":"a:1","ports":[{"containerPort":80,"name":"http"}]}]}}}`), ""},
			{"bob", false, deployment(`{"template":{"spec":{"containers":[{"name":"b","image":"b:1"}]}}}`), ""},
			{"bob", false, deployment(`{"template":{"spec":{"containers":[{"name":"a","image":"a:2"}]}}}`), `.spec.template.spec.containers[name="a"].image`},
			{"bob", false, deployment(`{"template":{"spec":{"containers":[{"name":"a","ports":[{"containerPort":80,"protocol":"UDP"}]}]}}}`), ""},
			{"bob", false, deployment(`{"template":{"spec":{"containers":[{"name":"a","ports":[{"containerPort":80,"name":"web"}]}]}}}`), `ports[containerPort=80,protocol="TCP"].name`},
			{"bob", true, deployment(`{"template":{"spec":{"containers":[{"name":"a","image":"a:2"}]}}}`), ""},
		}},
		{"deployment atomic selector", &appsv1.Deployment{}, []applyStep{
			{"alice", false, deployment(`{"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"a","image":"a:1"}]}}}`), ""},
			{"bob", false, deployment(`{"selector":{"matchLabels":{"tier":"front"}}}`), `.spec.selector`},
		}},
		{"service ports", &corev1.Service{}, []applyStep{
			{"alice", false, service(`{"selector":{"app":"web"},"ports":[{"port":80,"protocol":"TCP","targetPort":8080}]}`), ""},
			{"bob", false, service(`{"ports":[{"port":80,"protocol":"UDP","targetPort":8080}]}`), ""},
			{"bob", false, service(`{"ports":[{"port":80,"targetPort":9090}]}`), `.spec.ports[port=80,protocol="TCP"].targetPort`},
			{"bob", false, service(`{"selector":{"tier":"front"}}`), `.spec.selector`},
			{"bob", true, service(`{"ports":[{"port":80,"targetPort":9090}]}`), ""},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := runApply(t, managersWith(ours), tt.obj, tt.steps)
			b := runApply(t, managersWith(theirs), tt.obj, tt.steps)
			for i := range a {
				if a[i] != b[i] {
					t.Errorf("step %d:\nhere:      %s\nclient-go: %s", i, a[i], b[i])
				}
			}
		})
	}
}

// runApply applies steps in turn to obj and returns, per step, the error
// or the resulting object with managed fields but no timestamps.
func runApply(t *testing.T, m *fieldManagers, obj runtime.Object, steps []applyStep) []string {
	t.Helper()
	gvk := obj.GetObjectKind().GroupVersionKind()
	if kinds, _, err := m.scheme.ObjectKinds(obj); err == nil {
		gvk = kinds[0]
	}
	live := obj.DeepCopyObject()
	acc, _ := meta.Accessor(live)
	acc.SetName("web")
	acc.SetNamespace("default")
	fm, err := m.get(gvk, "")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i, s := range steps {
		patch := &unstructured.Unstructured{}
		if err := json.Unmarshal([]byte(s.config), &patch.Object); err != nil {
			t.Fatal(err)
		}
		live.GetObjectKind().SetGroupVersionKind(gvk)
		res, err := fm.Apply(live.DeepCopyObject(), patch, s.manager, s.force)
		if err != nil {
			if s.conflict == "" || !strings.Contains(err.Error(), s.conflict) {
				t.Errorf("step %d: %v, want conflict on %q", i, err, s.conflict)
			}
			out = append(out, err.Error())
			continue
		}
		if s.conflict != "" {
			t.Errorf("step %d succeeded, want conflict on %q", i, s.conflict)
		}
		acc, _ := meta.Accessor(res)
		mf := acc.GetManagedFields()
		for j := range mf {
			mf[j].Time = nil
		}
		acc.SetManagedFields(mf)
		b, err := json.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
		live = res
	}
	return out
}

// BenchmarkFirstApplyHeap reports the heap that stays allocated after the
// server's first server-side apply: the type converter and one field
// manager. The first iteration also counts process-wide caches filled on
// first use (reflection, JSON field tables), so run it alone and once to see
// what a server pays: go test -run '^$' -bench FirstApplyHeap -benchtime 1x ./server/apiserver/
func BenchmarkFirstApplyHeap(b *testing.B) {
	s := newScheme()
	gvk := appsv1.SchemeGroupVersion.WithKind("Deployment")
	for i := 0; i < b.N; i++ {
		before := liveHeap()
		m := newFieldManagers(s, servedModels())
		fm, err := m.get(gvk, "")
		if err != nil {
			b.Fatal(err)
		}
		patch := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": "web", "namespace": "default"},
			"spec": map[string]any{
				"selector": map[string]any{"matchLabels": map[string]any{"app": "web"}},
				"template": map[string]any{
					"metadata": map[string]any{"labels": map[string]any{"app": "web"}},
					"spec": map[string]any{"containers": []any{
						map[string]any{"name": "web", "image": "nginx", "ports": []any{map[string]any{"containerPort": int64(80)}}},
					}},
				},
			},
		}}
		live := &appsv1.Deployment{}
		live.SetGroupVersionKind(gvk)
		out, err := fm.Apply(live, patch, "kubectl", false)
		if err != nil {
			b.Fatal(err)
		}
		after := liveHeap()
		goruntime.KeepAlive(m)
		goruntime.KeepAlive(out)
		b.ReportMetric(float64(after-before)/(1<<10), "retained-KiB")
	}
}

func liveHeap() int64 {
	var ms goruntime.MemStats
	goruntime.GC()
	goruntime.GC()
	goruntime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// track reads the live object and never changes it: updates pass the
// decoded stored object without copying it.
func TestTrackLeavesLiveUnchanged(t *testing.T) {
	m := newFieldManagers(newScheme(), servedModels())
	gvk := corev1.SchemeGroupVersion.WithKind("ConfigMap")
	now := metav1.Now()
	live := &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "ns", ResourceVersion: "5",
			Annotations: map[string]string{"kubectl.kubernetes.io/last-applied-configuration": `{"data":{"k":"v"}}`},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1", Time: &now,
				FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:data":{".":{},"f:k":{}}}`)}}}},
		Data: map[string]string{"k": "v"},
	}
	before := live.DeepCopy()
	for _, manager := range []string{"kubectl", "other"} {
		obj := live.DeepCopy()
		obj.Data = map[string]string{"k": "w", "x": "y"}
		out, _ := m.track(gvk, "", live, nil, obj, manager, true)
		if len(out.(*corev1.ConfigMap).ManagedFields) == 0 {
			t.Fatalf("%s: no managed fields recorded", manager)
		}
		if !reflect.DeepEqual(live, before) {
			t.Fatalf("%s: track changed the live object:\n%#v\nwas\n%#v", manager, live, before)
		}
	}
}
