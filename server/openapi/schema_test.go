package openapi

import (
	"encoding/json"
	"reflect"
	"sort"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// local is a type without generated OpenAPI names or docs, standing in for
// a skiff-defined API type.
type local struct {
	metav1.TypeMeta `json:",inline"`
	Name            string            `json:"name"`
	Count           *int32            `json:"count,omitempty"`
	Labels          map[string]string `json:"labels,omitempty"`
	Raw             []byte            `json:"raw,omitempty"`
	When            time.Time         `json:"when"`
	Big             int64             `json:"big,string"`
	Ratio           float64           `json:"ratio,omitempty"`
	Hidden          string            `json:"-"`
	Inner           struct {
		Flag bool `json:"flag"`
	} `json:"inner"`
	unexported string //lint:ignore U1000 the test checks that unexported fields are left out
}

func TestModelName(t *testing.T) {
	tests := []struct {
		typ  reflect.Type
		want string
	}{
		{reflect.TypeOf(appsv1.Deployment{}), "io.k8s.api.apps.v1.Deployment"},
		{reflect.TypeOf(metav1.ObjectMeta{}), "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"},
		{reflect.TypeOf(resource.Quantity{}), "io.k8s.apimachinery.pkg.api.resource.Quantity"},
		{reflect.TypeOf(intstr.IntOrString{}), "io.k8s.apimachinery.pkg.util.intstr.IntOrString"},
		{reflect.TypeOf(runtime.RawExtension{}), "io.k8s.apimachinery.pkg.runtime.RawExtension"},
		{reflect.TypeOf(local{}), "com.github.skiff-io.skiff.server.openapi.local"},
	}
	for _, tt := range tests {
		if got := modelName(tt.typ); got != tt.want {
			t.Errorf("modelName(%v) = %q, want %q", tt.typ, got, tt.want)
		}
	}
}

// buildSchemas renders the named schemas reachable from roots, as JSON
// objects for easy comparison.
func buildSchemas(t *testing.T, gvks map[reflect.Type][]gvk, roots ...reflect.Type) map[string]map[string]any {
	t.Helper()
	s := newSchemaSet(gvks)
	for _, r := range roots {
		s.ref(r)
	}
	s.build()
	out := map[string]map[string]any{}
	for name, sc := range s.schemas {
		b, err := json.Marshal(sc)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		out[name] = m
	}
	return out
}

func TestSpecialSchemas(t *testing.T) {
	got := buildSchemas(t, nil, reflect.TypeOf(corev1.Pod{}), reflect.TypeOf(metav1.WatchEvent{}), reflect.TypeOf(metav1.Duration{}))
	tests := []struct {
		name string
		want map[string]any // keys that must match exactly; description only checked for presence
	}{
		{"io.k8s.apimachinery.pkg.apis.meta.v1.Time", map[string]any{"type": "string", "format": "date-time"}},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime", nil},
		{"io.k8s.apimachinery.pkg.api.resource.Quantity", map[string]any{
			"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "number"}},
		}},
		{"io.k8s.apimachinery.pkg.util.intstr.IntOrString", map[string]any{
			"format":                     "int-or-string",
			"x-kubernetes-int-or-string": true,
			"oneOf":                      []any{map[string]any{"type": "integer"}, map[string]any{"type": "string"}},
		}},
		{"io.k8s.apimachinery.pkg.runtime.RawExtension", map[string]any{"type": "object"}},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1", map[string]any{"type": "object"}},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.Duration", map[string]any{"type": "string"}},
	}
	for _, tt := range tests {
		s, ok := got[tt.name]
		if !ok {
			if tt.want != nil {
				t.Errorf("%s: missing", tt.name)
			}
			continue
		}
		if s["description"] == "" || s["description"] == nil {
			t.Errorf("%s: no description", tt.name)
		}
		if _, has := s["properties"]; has {
			t.Errorf("%s: has properties, want a scalar schema", tt.name)
		}
		for k, v := range tt.want {
			if !reflect.DeepEqual(s[k], v) {
				t.Errorf("%s[%s] = %v, want %v", tt.name, k, s[k], v)
			}
		}
	}
	if d, _ := got["io.k8s.apimachinery.pkg.api.resource.Quantity"]["description"].(string); len(d) < 200 {
		t.Errorf("Quantity description too short: %q", d)
	}
}

func TestPropertySchemas(t *testing.T) {
	got := buildSchemas(t, nil, reflect.TypeOf(appsv1.Deployment{}), reflect.TypeOf(local{}))
	prop := func(typ, field string) map[string]any {
		s := got[typ]
		props, _ := s["properties"].(map[string]any)
		p, _ := props[field].(map[string]any)
		if p == nil {
			t.Fatalf("%s.%s missing", typ, field)
		}
		delete(p, "description")
		return p
	}
	ref := func(name string) map[string]any { return map[string]any{"$ref": schemaRefPrefix + name} }
	tests := []struct {
		typ, field string
		want       map[string]any
	}{
		{"io.k8s.api.apps.v1.Deployment", "spec", map[string]any{
			"allOf": []any{ref("io.k8s.api.apps.v1.DeploymentSpec")}, "default": map[string]any{}}},
		{"io.k8s.api.apps.v1.Deployment", "metadata", map[string]any{
			"allOf": []any{ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")}, "default": map[string]any{}}},
		{"io.k8s.api.apps.v1.Deployment", "kind", map[string]any{"type": "string"}},
		{"io.k8s.api.apps.v1.DeploymentSpec", "replicas", map[string]any{"type": "integer", "format": "int32"}},
		{"io.k8s.api.apps.v1.DeploymentSpec", "strategy", map[string]any{
			"allOf": []any{ref("io.k8s.api.apps.v1.DeploymentStrategy")}, "default": map[string]any{},
			"x-kubernetes-patch-strategy": "retainKeys"}},
		{"io.k8s.api.apps.v1.RollingUpdateDeployment", "maxSurge", map[string]any{
			"allOf": []any{ref("io.k8s.apimachinery.pkg.util.intstr.IntOrString")}}},
		{"io.k8s.api.core.v1.PodSpec", "containers", map[string]any{
			"type":                         "array",
			"items":                        map[string]any{"allOf": []any{ref("io.k8s.api.core.v1.Container")}, "default": map[string]any{}},
			"x-kubernetes-patch-merge-key": "name",
			"x-kubernetes-patch-strategy":  "merge",
			"x-kubernetes-list-type":       "map",
			"x-kubernetes-list-map-keys":   []any{"name"},
		}},
		{"io.k8s.api.core.v1.Container", "ports", map[string]any{
			"type":                         "array",
			"items":                        map[string]any{"allOf": []any{ref("io.k8s.api.core.v1.ContainerPort")}, "default": map[string]any{}},
			"x-kubernetes-patch-merge-key": "containerPort",
			"x-kubernetes-patch-strategy":  "merge",
			"x-kubernetes-list-type":       "map",
			"x-kubernetes-list-map-keys":   []any{"containerPort", "protocol"},
		}},
		{"io.k8s.api.core.v1.Container", "args", map[string]any{
			"type": "array", "items": map[string]any{"type": "string", "default": ""}, "x-kubernetes-list-type": "atomic"}},
		{"io.k8s.api.core.v1.ContainerPort", "protocol", map[string]any{"type": "string", "default": "TCP"}},
		{"io.k8s.api.core.v1.PodSpec", "nodeSelector", map[string]any{
			"type": "object", "additionalProperties": map[string]any{"type": "string", "default": ""},
			"x-kubernetes-map-type": "atomic"}},
		{"io.k8s.api.core.v1.PodSpec", "tolerations", map[string]any{
			"type":                   "array",
			"items":                  map[string]any{"allOf": []any{ref("io.k8s.api.core.v1.Toleration")}, "default": map[string]any{}},
			"x-kubernetes-list-type": "atomic"}},
		{"io.k8s.api.core.v1.Container", "name", map[string]any{"type": "string", "default": ""}},
		{"io.k8s.api.core.v1.ResourceRequirements", "limits", map[string]any{
			"type": "object", "additionalProperties": ref("io.k8s.apimachinery.pkg.api.resource.Quantity")}},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "labels", map[string]any{
			"type": "object", "additionalProperties": map[string]any{"type": "string", "default": ""}}},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "creationTimestamp", map[string]any{
			"allOf": []any{ref("io.k8s.apimachinery.pkg.apis.meta.v1.Time")}}},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "generation", map[string]any{"type": "integer", "format": "int64"}},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.ManagedFieldsEntry", "fieldsV1", map[string]any{
			"allOf": []any{ref("io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1")}}},
		{"io.k8s.api.core.v1.EphemeralContainer", "ports", nil}, // inline EphemeralContainerCommon, checked below
		{"com.github.skiff-io.skiff.server.openapi.local", "count", map[string]any{"type": "integer", "format": "int32"}},
		{"com.github.skiff-io.skiff.server.openapi.local", "raw", map[string]any{"type": "string", "format": "byte"}},
		{"com.github.skiff-io.skiff.server.openapi.local", "when", map[string]any{"type": "string", "format": "date-time"}},
		{"com.github.skiff-io.skiff.server.openapi.local", "big", map[string]any{"type": "string"}},
		{"com.github.skiff-io.skiff.server.openapi.local", "ratio", map[string]any{"type": "number", "format": "double"}},
		{"com.github.skiff-io.skiff.server.openapi.local", "inner", map[string]any{
			"type": "object", "properties": map[string]any{"flag": map[string]any{"type": "boolean", "default": false}},
			"required": []any{"flag"}, "default": map[string]any{}}},
	}
	for _, tt := range tests {
		if tt.typ == "io.k8s.api.core.v1.EphemeralContainer" {
			continue
		}
		t.Run(tt.typ+"."+tt.field, func(t *testing.T) {
			if got := prop(tt.typ, tt.field); !reflect.DeepEqual(got, tt.want) {
				g, _ := json.Marshal(got)
				w, _ := json.Marshal(tt.want)
				t.Errorf("got  %s\nwant %s", g, w)
			}
		})
	}
	// Fields of the inline EphemeralContainerCommon are flattened into
	// EphemeralContainer, keeping their own docs and list markers.
	eph := prop("io.k8s.api.core.v1.EphemeralContainer", "ports")
	if eph["x-kubernetes-list-type"] != "map" || eph["x-kubernetes-patch-merge-key"] != "containerPort" {
		t.Errorf("EphemeralContainer.ports = %v", eph)
	}
	if _, ok := got["io.k8s.api.core.v1.EphemeralContainerCommon"]; ok {
		t.Errorf("inline struct EphemeralContainerCommon emitted as its own schema")
	}
	// +structType on a type marks its own schema.
	if mt := got["io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"]["x-kubernetes-map-type"]; mt != "atomic" {
		t.Errorf("LabelSelector x-kubernetes-map-type = %v, want atomic", mt)
	}
	if mt, ok := got["io.k8s.api.apps.v1.DeploymentSpec"]["x-kubernetes-map-type"]; ok {
		t.Errorf("DeploymentSpec x-kubernetes-map-type = %v, want none", mt)
	}
	loc := got["com.github.skiff-io.skiff.server.openapi.local"]["properties"].(map[string]any)
	for _, hidden := range []string{"Hidden", "-", "unexported", "TypeMeta"} {
		if _, ok := loc[hidden]; ok {
			t.Errorf("local has property %q", hidden)
		}
	}
	for _, inline := range []string{"kind", "apiVersion"} {
		if _, ok := loc[inline]; !ok {
			t.Errorf("local lacks inline TypeMeta property %q", inline)
		}
	}
}

func TestRequired(t *testing.T) {
	got := buildSchemas(t, nil, reflect.TypeOf(appsv1.Deployment{}), reflect.TypeOf(appsv1.DeploymentList{}),
		reflect.TypeOf(metav1.WatchEvent{}), reflect.TypeOf(local{}))
	tests := []struct {
		name string
		want []string
	}{
		{"io.k8s.api.apps.v1.Deployment", nil},
		{"io.k8s.api.apps.v1.DeploymentList", []string{"items"}},
		{"io.k8s.api.apps.v1.DeploymentSpec", []string{"selector", "template"}},
		{"io.k8s.api.core.v1.Container", []string{"name"}},
		{"io.k8s.api.core.v1.PodSpec", []string{"containers"}},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", nil},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent", []string{"type", "object"}},
		{"com.github.skiff-io.skiff.server.openapi.local", []string{"name", "when", "big", "inner"}},
	}
	for _, tt := range tests {
		var req []string
		if r, ok := got[tt.name]["required"].([]any); ok {
			for _, x := range r {
				req = append(req, x.(string))
			}
		}
		if !reflect.DeepEqual(req, tt.want) {
			t.Errorf("%s required = %v, want %v", tt.name, req, tt.want)
		}
	}
}

func TestGVKExtension(t *testing.T) {
	gvks := kindsOf(testResources())
	got := buildSchemas(t, gvks, reflect.TypeOf(appsv1.Deployment{}), reflect.TypeOf(appsv1.DeploymentList{}),
		reflect.TypeOf(metav1.DeleteOptions{}), reflect.TypeOf(metav1.Status{}))
	one := func(g, v, k string) []any {
		return []any{map[string]any{"group": g, "version": v, "kind": k}}
	}
	tests := []struct {
		name string
		want []any
	}{
		{"io.k8s.api.apps.v1.Deployment", one("apps", "v1", "Deployment")},
		{"io.k8s.api.apps.v1.DeploymentList", one("apps", "v1", "DeploymentList")},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.Status", one("", "v1", "Status")},
		{"io.k8s.api.apps.v1.DeploymentSpec", nil},
		{"io.k8s.api.core.v1.PodTemplateSpec", nil},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", nil},
	}
	for _, tt := range tests {
		ext, _ := got[tt.name]["x-kubernetes-group-version-kind"].([]any)
		if !reflect.DeepEqual(ext, tt.want) {
			t.Errorf("%s gvk = %v, want %v", tt.name, ext, tt.want)
		}
	}
	del, _ := got["io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"]["x-kubernetes-group-version-kind"].([]any)
	var groups []string
	for _, e := range del {
		m := e.(map[string]any)
		groups = append(groups, m["group"].(string)+"/"+m["version"].(string))
	}
	want := []string{"/v1", "apps/v1", "batch/v1", "rbac.authorization.k8s.io/v1"}
	if !reflect.DeepEqual(groups, want) {
		t.Errorf("DeleteOptions gvks = %v, want %v", groups, want)
	}
}

func TestEnforcedDefault(t *testing.T) {
	tests := []struct {
		typ       reflect.Type
		omitEmpty bool
		want      any
	}{
		{reflect.TypeOf(""), false, ""},
		{reflect.TypeOf(""), true, nil},
		{reflect.TypeOf(int32(0)), false, 0},
		{reflect.TypeOf(false), false, false},
		{reflect.TypeOf(corev1.RestartPolicy("")), false, ""},
		{reflect.TypeOf(appsv1.DeploymentSpec{}), true, emptyObject},
		{reflect.TypeOf(&appsv1.DeploymentSpec{}), false, nil},
		{reflect.TypeOf([]string{}), false, nil},
		{reflect.TypeOf(map[string]string{}), false, nil},
		{reflect.TypeOf(metav1.Time{}), false, nil},
		{reflect.TypeOf(resource.Quantity{}), false, nil},
		{reflect.TypeOf(intstr.IntOrString{}), false, nil},
	}
	for _, tt := range tests {
		if got := enforcedDefault(tt.typ, tt.omitEmpty); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("enforcedDefault(%v, %v) = %#v, want %#v", tt.typ, tt.omitEmpty, got, tt.want)
		}
	}
}

func TestMarkers(t *testing.T) {
	if !sort.SliceIsSorted(markerTable, func(i, j int) bool {
		a, b := markerTable[i], markerTable[j]
		if a.pkg != b.pkg {
			return a.pkg < b.pkg
		}
		if a.typ != b.typ {
			return a.typ < b.typ
		}
		return a.field < b.field
	}) {
		t.Fatal("markerTable is not sorted; lookups would miss entries")
	}
	tests := []struct {
		pkg, typ, field string
		want            *markers // nil: no entry
	}{
		{"k8s.io/api/core/v1", "PodSpec", "containers", &markers{listType: "map", listMapKeys: []string{"name"}}},
		{"k8s.io/api/core/v1", "ServiceSpec", "ports", &markers{listType: "map", listMapKeys: []string{"port", "protocol"}}},
		{"k8s.io/api/core/v1", "ServiceSpec", "selector", &markers{mapType: "atomic"}},
		{"k8s.io/api/core/v1", "ServicePort", "protocol", &markers{def: "TCP"}},
		{"k8s.io/api/core/v1", "AzureDiskVolumeSource", "cachingMode", &markers{def: "ReadWrite"}}, // +default=ref(...)
		{"k8s.io/api/core/v1", "ObjectReference", "", &markers{mapType: "atomic"}},
		{"k8s.io/api/core/v1", "PersistentVolumeSpec", "claimRef", &markers{mapType: "granular"}},
		{"k8s.io/api/core/v1", "Container", "args", &markers{listType: "atomic"}},
		{"k8s.io/apimachinery/pkg/apis/meta/v1", "ObjectMeta", "ownerReferences", &markers{listType: "map", listMapKeys: []string{"uid"}}},
		{"k8s.io/apimachinery/pkg/apis/meta/v1", "LabelSelector", "", &markers{mapType: "atomic"}},
		{"k8s.io/api/core/v1", "PodSpec", "nodeName", nil},
	}
	for _, tt := range tests {
		got, ok := lookupMarkers(tt.pkg, tt.typ, tt.field)
		if tt.want == nil {
			if ok {
				t.Errorf("lookup(%s.%s.%s) = %+v, want none", tt.pkg, tt.typ, tt.field, got)
			}
			continue
		}
		want := *tt.want
		want.pkg, want.typ, want.field = tt.pkg, tt.typ, tt.field
		if !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("lookup(%s.%s.%s) = %+v, %v; want %+v", tt.pkg, tt.typ, tt.field, got, ok, want)
		}
	}
}
