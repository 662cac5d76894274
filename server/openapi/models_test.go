package openapi

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/util/managedfields"
)

func TestModels(t *testing.T) {
	models, err := New(testResources()).Models()
	if err != nil {
		t.Fatal(err)
	}
	dep := models["io.k8s.api.apps.v1.Deployment"]
	if dep == nil {
		t.Fatal("no Deployment model")
	}
	want := []any{map[string]any{"group": "apps", "version": "v1", "kind": "Deployment"}}
	if got := dep.Extensions["x-kubernetes-group-version-kind"]; !reflect.DeepEqual(got, want) {
		t.Errorf("Deployment x-kubernetes-group-version-kind = %#v, want %#v", got, want)
	}
	for name, m := range models {
		if m.Description != "" {
			t.Errorf("%s keeps its description", name)
		}
	}
	ports := models["io.k8s.api.core.v1.ServiceSpec"].Properties["ports"]
	if ports.Extensions["x-kubernetes-list-type"] != "map" ||
		!reflect.DeepEqual(ports.Extensions["x-kubernetes-list-map-keys"], []string{"port", "protocol"}) {
		t.Errorf("ServiceSpec.ports extensions = %v", ports.Extensions)
	}
	if ports.Items == nil || ports.Items.Schema == nil || len(ports.Items.Schema.AllOf) != 1 ||
		ports.Items.Schema.AllOf[0].Ref.String() != schemaRefPrefix+"io.k8s.api.core.v1.ServicePort" {
		t.Errorf("ServiceSpec.ports items = %+v", ports.Items)
	}
	if mt := models["io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"].Extensions["x-kubernetes-map-type"]; mt != "atomic" {
		t.Errorf("LabelSelector x-kubernetes-map-type = %v", mt)
	}
	ios := models["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]
	if !reflect.DeepEqual([]string(ios.Type), []string{"string"}) || ios.Format != "int-or-string" {
		t.Errorf("IntOrString = %v %q, want the structural string/int-or-string", ios.Type, ios.Format)
	}
	if _, err := managedfields.NewTypeConverter(models, false); err != nil {
		t.Errorf("NewTypeConverter: %v", err)
	}
}
