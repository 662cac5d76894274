package openapi

import (
	"fmt"

	"k8s.io/kube-openapi/pkg/validation/spec"
)

// Models returns the named schemas of the served kinds and of every type
// they reach, in the form managedfields.NewTypeConverter takes: server-side
// apply then merges by the same list, map and struct semantics the
// documents publish, as in kube-apiserver. Descriptions are left out, and
// nothing is cached: the caller builds its converter once and drops these.
func (d *Docs) Models() (models map[string]*spec.Schema, err error) {
	defer func() {
		if p := recover(); p != nil {
			models, err = nil, fmt.Errorf("describing the served kinds: %v", p)
		}
	}()
	s := newSchemaSet(kindsOf(d.resources))
	for _, r := range d.resources {
		s.ref(r.Type)
	}
	s.build()
	models = make(map[string]*spec.Schema, len(s.schemas))
	for name, sc := range s.schemas {
		models[name] = toSpec(sc)
	}
	return models, nil
}

// toSpec converts s, minus its description, to kube-openapi's schema type.
func toSpec(s *schema) *spec.Schema {
	out := &spec.Schema{}
	if s.Ref != "" {
		out.Ref = spec.MustCreateRef(s.Ref)
	}
	if s.Type != "" {
		out.Type = spec.StringOrArray{s.Type}
	}
	out.Format = s.Format
	if s.IntOrString {
		// A structural schema says int-or-string with the format on a
		// string type (schemaconv then makes it an untyped scalar, as
		// client-go's schema has it); oneOf is not structural.
		out.Type = spec.StringOrArray{"string"}
	}
	out.Default = s.Default
	for _, a := range s.AllOf {
		out.AllOf = append(out.AllOf, *toSpec(a))
	}
	if s.Items != nil {
		out.Items = &spec.SchemaOrArray{Schema: toSpec(s.Items)}
	}
	if s.AdditionalProperties != nil {
		out.AdditionalProperties = &spec.SchemaOrBool{Allows: true, Schema: toSpec(s.AdditionalProperties)}
	}
	if len(s.Properties) > 0 {
		out.Properties = make(map[string]spec.Schema, len(s.Properties))
		for name, p := range s.Properties {
			out.Properties[name] = *toSpec(p)
		}
	}
	ext := spec.Extensions{}
	if len(s.GVK) > 0 {
		gvks := make([]any, len(s.GVK))
		for i, g := range s.GVK {
			gvks[i] = map[string]any{"group": g.Group, "version": g.Version, "kind": g.Kind}
		}
		ext["x-kubernetes-group-version-kind"] = gvks
	}
	if s.ListType != "" {
		ext["x-kubernetes-list-type"] = s.ListType
	}
	if len(s.ListMapKeys) > 0 {
		ext["x-kubernetes-list-map-keys"] = s.ListMapKeys
	}
	if s.MapType != "" {
		ext["x-kubernetes-map-type"] = s.MapType
	}
	if s.PatchStrategy != "" {
		ext["x-kubernetes-patch-strategy"] = s.PatchStrategy
	}
	if s.PatchMergeKey != "" {
		ext["x-kubernetes-patch-merge-key"] = s.PatchMergeKey
	}
	if len(ext) > 0 {
		out.Extensions = ext
	}
	return out
}
