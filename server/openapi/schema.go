package openapi

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// schemaRefPrefix is where every named schema lives in a v3 document,
// definitionRefPrefix in the v2 document.
const (
	schemaRefPrefix     = "#/components/schemas/"
	definitionRefPrefix = "#/definitions/"
)

// schema is the subset of an OpenAPI v3 schema object that kube-apiserver
// emits for built-in types. Fields are declared in alphabetical order of their
// JSON names so that documents come out sorted like kube-apiserver's (and
// hash identically across runs).
type schema struct {
	Ref                  string             `json:"$ref,omitempty"`
	AdditionalProperties *schema            `json:"additionalProperties,omitempty"`
	AllOf                []*schema          `json:"allOf,omitempty"`
	Default              any                `json:"default,omitempty"`
	Description          string             `json:"description,omitempty"`
	Format               string             `json:"format,omitempty"`
	Items                *schema            `json:"items,omitempty"`
	OneOf                []*schema          `json:"oneOf,omitempty"`
	Properties           map[string]*schema `json:"properties,omitempty"`
	Required             []string           `json:"required,omitempty"`
	Type                 string             `json:"type,omitempty"`
	GVK                  []gvk              `json:"x-kubernetes-group-version-kind,omitempty"`
	IntOrString          bool               `json:"x-kubernetes-int-or-string,omitempty"`
	ListMapKeys          []string           `json:"x-kubernetes-list-map-keys,omitempty"`
	ListType             string             `json:"x-kubernetes-list-type,omitempty"`
	MapType              string             `json:"x-kubernetes-map-type,omitempty"`
	PatchMergeKey        string             `json:"x-kubernetes-patch-merge-key,omitempty"`
	PatchStrategy        string             `json:"x-kubernetes-patch-strategy,omitempty"`
}

// gvk is the value of x-kubernetes-group-version-kind. Keys are in the
// order encoding/json gives a map, which is what kube-apiserver serves.
type gvk struct {
	Group   string `json:"group"`
	Kind    string `json:"kind"`
	Version string `json:"version"`
}

// markers records the comment markers that decide merge semantics for one
// named struct type (field "") or struct field; see zz_generated_markers.go.
type markers struct {
	pkg, typ, field string
	listType        string   // +listType: atomic, set or map
	listMapKeys     []string // +listMapKey, for listType map
	mapType         string   // +mapType or +structType: atomic or granular
	def             any      // +default, nil when absent
}

// emptyObject encodes as {}, the default kube-openapi gives non-pointer
// struct fields.
var emptyObject = struct{}{}

var (
	timeType        = reflect.TypeOf(time.Time{})
	typeMetaType    = reflect.TypeOf(metav1.TypeMeta{})
	objectMetaType  = reflect.TypeOf(metav1.ObjectMeta{})
	listMetaType    = reflect.TypeOf(metav1.ListMeta{})
	unmarshalerType = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()
)

// Interfaces implemented by generated API types; checked by reflection.
type (
	swaggerDoc     interface{ SwaggerDoc() map[string]string }
	modelNamer     interface{ OpenAPIModelName() string }
	schemaTyper    interface{ OpenAPISchemaType() []string }
	schemaFormater interface{ OpenAPISchemaFormat() string }
	oneOfTyper     interface{ OpenAPIV3OneOfTypes() []string }
)

// knownDescription documents the apimachinery types that have no SwaggerDoc
// method, with the descriptions kube-apiserver publishes for them. A switch
// rather than a map, so that nothing is built at import time.
func knownDescription(name string) string {
	switch name {
	case "io.k8s.apimachinery.pkg.apis.meta.v1.Time":
		return "Time is a wrapper around time.Time which supports correct marshaling to YAML and JSON.  Wrappers are provided for many of the factory methods that the time package offers."
	case "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime":
		return "MicroTime is version of Time with microsecond level precision."
	case "io.k8s.apimachinery.pkg.apis.meta.v1.Duration":
		return "Duration is a wrapper around time.Duration which supports correct marshaling to YAML and JSON. In particular, it marshals into strings, which can be used as map keys in json."
	case "io.k8s.apimachinery.pkg.util.intstr.IntOrString":
		return "IntOrString is a type that can hold an int32 or a string.  When used in JSON or YAML marshalling and unmarshalling, it produces or consumes the inner type.  This allows you to have, for example, a JSON field that can accept a name or number."
	case "io.k8s.apimachinery.pkg.runtime.RawExtension":
		return "RawExtension is used to hold extensions in external versions. It carries an arbitrary serialized object (an embedded object with its own apiVersion and kind)."
	case "io.k8s.apimachinery.pkg.api.resource.Quantity":
		return quantityDescription
	case "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent":
		return "Event represents a single event to a watched resource."
	}
	return ""
}

// quantityDescription is the Go doc of resource.Quantity as kube-openapi
// renders it; kubectl explain prints it for every quantity field.
const quantityDescription = "Quantity is a fixed-point representation of a number. It provides convenient marshaling/unmarshaling in JSON and YAML, in addition to String() and AsInt64() accessors.\n\nThe serialization format is:\n\n``` <quantity>        ::= <signedNumber><suffix>\n\n\t(Note that <suffix> may be empty, from the \"\" case in <decimalSI>.)\n\n<digit>           ::= 0 | 1 | ... | 9 <digits>          ::= <digit> | <digit><digits> <number>          ::= <digits> | <digits>.<digits> | <digits>. | .<digits> <sign>            ::= \"+\" | \"-\" <signedNumber>    ::= <number> | <sign><number> <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI> <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei\n\n\t(International System of units; See: http://physics.nist.gov/cuu/Units/binary.html)\n\n<decimalSI>       ::= m | \"\" | k | M | G | T | P | E\n\n\t(Note that 1024 = 1Ki but 1000 = 1k; I didn't choose the capitalization.)\n\n<decimalExponent> ::= \"e\" <signedNumber> | \"E\" <signedNumber> ```\n\nNo matter which of the three exponent forms is used, no quantity may represent a number greater than 2^63-1 in magnitude, nor may it have more than 3 decimal places. Numbers larger or more precise will be capped or rounded up. (E.g.: 0.1m will rounded up to 1m.) This may be extended in the future if we require larger or smaller quantities.\n\nWhen a Quantity is parsed from a string, it will remember the type of suffix it had, and will use the same type again when it is serialized.\n\nBefore serializing, Quantity will be put in \"canonical form\". This means that Exponent/suffix will be adjusted up or down (with a corresponding increase or decrease in Mantissa) such that:\n\n- No precision is lost - No fractional digits will be emitted - The exponent (or suffix) is as large as possible.\n\nThe sign will be omitted unless the number is negative.\n\nExamples:\n\n- 1.5 will be serialized as \"1500m\" - 1.5Gi will be serialized as \"1536Mi\"\n\nNote that the quantity will NEVER be internally represented by a floating point number. That is the whole point of this exercise.\n\nNon-canonical values will still parse as long as they are well formed, but will be re-emitted in their canonical form. (So always use canonical form, or don't diff.)\n\nThis format is intended to make it difficult to use these numbers without writing some sort of special handling code in the hopes that that will cause implementors to also use a fixed point implementation."

// schemaSet builds the components.schemas of one document by reflection. It
// lives only while one document is rendered.
type schemaSet struct {
	// v2 spells the schemas for the OpenAPI v2 document (v2.go).
	v2      bool
	gvks    map[reflect.Type][]gvk
	names   map[reflect.Type]string
	schemas map[string]*schema
	pending []reflect.Type
}

func newSchemaSet(gvks map[reflect.Type][]gvk) *schemaSet {
	return &schemaSet{
		gvks:    gvks,
		names:   map[reflect.Type]string{},
		schemas: map[string]*schema{},
	}
}

// ref returns a bare reference to the named schema of t, queueing t so
// that build emits it.
func (s *schemaSet) ref(t reflect.Type) *schema {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	name, ok := s.names[t]
	if !ok {
		name = modelName(t)
		s.names[t] = name
		s.pending = append(s.pending, t)
	}
	if s.v2 {
		return &schema{Ref: definitionRefPrefix + name}
	}
	return &schema{Ref: schemaRefPrefix + name}
}

// build turns every queued type, and everything reachable from it, into a
// named schema.
func (s *schemaSet) build() {
	for len(s.pending) > 0 {
		t := s.pending[0]
		s.pending = s.pending[1:]
		name := s.names[t]
		if _, done := s.schemas[name]; done {
			continue
		}
		s.schemas[name] = s.named(t, name)
	}
}

// sortedNames lists the schema names in document order.
func (s *schemaSet) sortedNames() []string {
	names := make([]string, 0, len(s.schemas))
	for n := range s.schemas {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// named builds the component schema of t.
func (s *schemaSet) named(t reflect.Type, name string) *schema {
	out := &schema{Description: typeDescription(t, name), GVK: s.gvks[t]}
	// Types that describe themselves to kube-openapi (Time, Quantity,
	// IntOrString, Duration...) are scalars on the wire, whatever their Go
	// shape.
	if typer, ok := zero(t).(schemaTyper); ok {
		var format string
		if f, ok := zero(t).(schemaFormater); ok {
			format = f.OpenAPISchemaFormat()
		}
		out.Format = format
		if o, ok := zero(t).(oneOfTyper); ok && !s.v2 {
			for _, alt := range o.OpenAPIV3OneOfTypes() {
				out.OneOf = append(out.OneOf, &schema{Type: alt})
			}
		} else if types := typer.OpenAPISchemaType(); len(types) > 0 {
			out.Type = types[0]
		}
		// kube-apiserver says int-or-string with the oneOf alone; the
		// structural-schema marker is added for tools that only know
		// that spelling (schema converters, CRD-minded validators).
		out.IntOrString = format == "int-or-string" && !s.v2
		return out
	}
	if t.Kind() != reflect.Struct {
		// A named non-struct referenced by name; describe it inline.
		inline := s.typeSchema(t)
		inline.Description, inline.GVK = out.Description, out.GVK
		return inline
	}
	out.Type = "object"
	if m, ok := lookupMarkers(t.PkgPath(), t.Name(), ""); ok {
		out.MapType = m.mapType
	}
	s.addFields(out, t)
	return out
}

// addFields adds the JSON-visible fields of struct t to out, flattening
// inline embedded structs the way encoding/json does.
func (s *schemaSet) addFields(out *schema, t reflect.Type) {
	docs := swaggerDocs(t)
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, hasTag := f.Tag.Lookup("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" && opts == "" {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				s.addFields(out, ft)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if !hasTag || name == "" {
			name = f.Name
		}
		omitEmpty := hasOption(opts, "omitempty")
		if !omitEmpty && !isMetaField(f.Type) {
			out.Required = append(out.Required, name)
		}
		if out.Properties == nil {
			out.Properties = map[string]*schema{}
		}
		out.Properties[name] = s.fieldSchema(t, f, name, opts, docs[name])
	}
}

// fieldSchema is the property schema of struct field f of owner.
func (s *schemaSet) fieldSchema(owner reflect.Type, f reflect.StructField, name, opts, doc string) *schema {
	var p *schema
	if hasOption(opts, "string") {
		// `json:",string"` puts the value on the wire as a string.
		p = &schema{Type: "string"}
	} else {
		p = s.typeSchema(f.Type)
		p.Default = enforcedDefault(f.Type, hasOption(opts, "omitempty"))
	}
	p.Description = doc
	p.PatchStrategy = f.Tag.Get("patchStrategy")
	p.PatchMergeKey = f.Tag.Get("patchMergeKey")
	if m, ok := lookupMarkers(owner.PkgPath(), owner.Name(), name); ok {
		p.ListType, p.ListMapKeys, p.MapType = m.listType, m.listMapKeys, m.mapType
		if m.def != nil {
			p.Default = m.def
		}
	}
	return s.wrapRef(p)
}

// elemSchema is the schema of an array item or map value. kube-openapi
// gives elements the default a non-omitempty field of that type would get.
func (s *schemaSet) elemSchema(t reflect.Type) *schema {
	e := s.typeSchema(t)
	e.Default = enforcedDefault(t, false)
	return s.wrapRef(e)
}

// typeSchema is the schema of a value of type t: a reference for named
// structs and self-describing types, an inline schema otherwise.
func (s *schemaSet) typeSchema(t reflect.Type) *schema {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == timeType {
		return &schema{Type: "string", Format: "date-time"}
	}
	if _, ok := zero(t).(schemaTyper); ok {
		return s.ref(t)
	}
	switch t.Kind() {
	case reflect.Struct:
		if t.Name() == "" {
			// Anonymous struct: nothing to name it by, so inline it.
			in := &schema{Type: "object"}
			s.addFields(in, t)
			return in
		}
		return s.ref(t)
	case reflect.String:
		return &schema{Type: "string"}
	case reflect.Bool:
		return &schema{Type: "boolean"}
	case reflect.Int, reflect.Int16, reflect.Int32, reflect.Uint, reflect.Uint16:
		return &schema{Type: "integer", Format: "int32"}
	case reflect.Int64, reflect.Uint32, reflect.Uint64:
		return &schema{Type: "integer", Format: "int64"}
	case reflect.Int8, reflect.Uint8:
		return &schema{Type: "integer", Format: "byte"}
	case reflect.Float32:
		return &schema{Type: "number", Format: "float"}
	case reflect.Float64:
		return &schema{Type: "number", Format: "double"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			// []byte is base64 on the wire.
			return &schema{Type: "string", Format: "byte"}
		}
		return &schema{Type: "array", Items: s.elemSchema(t.Elem())}
	case reflect.Map:
		return &schema{Type: "object", AdditionalProperties: s.elemSchema(t.Elem())}
	default:
		// Interfaces and anything else carry arbitrary JSON.
		return &schema{Type: "object"}
	}
}

// wrapRef moves a reference that has siblings into a one-element allOf, as
// kube-apiserver does: in OpenAPI 3.0 siblings of $ref are ignored. v2
// readers know no allOf (kubectl's schema walker takes it for an arbitrary
// value), so there the reference keeps its description beside it, as in
// kube-apiserver's v2 document.
func (s *schemaSet) wrapRef(p *schema) *schema {
	if p.Ref == "" || reflect.DeepEqual(*p, schema{Ref: p.Ref}) {
		return p
	}
	if s.v2 {
		return p
	}
	p.AllOf = []*schema{{Ref: p.Ref}}
	p.Ref = ""
	return p
}

// enforcedDefault mirrors kube-openapi's rule for the implicit default of a
// field: {} for non-pointer structs, the zero value for non-omitempty
// scalars, nothing for pointers, collections and custom-unmarshalled types.
func enforcedDefault(t reflect.Type, omitEmpty bool) any {
	if t.Kind() != reflect.Pointer && (t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType)) {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if t.NumField() == 1 && t.Field(0).Anonymous {
			return enforcedDefault(t.Field(0).Type, omitEmpty)
		}
		return emptyObject
	case reflect.String:
		if !omitEmpty {
			return ""
		}
	case reflect.Bool:
		if !omitEmpty {
			return false
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		if !omitEmpty {
			return 0
		}
	}
	return nil
}

// isMetaField reports whether a field of type t is object or list metadata,
// which kube-openapi never lists as required.
func isMetaField(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t == typeMetaType || t == objectMetaType || t == listMetaType
}

func hasOption(opts, want string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == want {
			return true
		}
	}
	return false
}

// zero returns the zero value of t as an interface, for method checks.
func zero(t reflect.Type) any {
	return reflect.Zero(t).Interface()
}

// swaggerDocs returns t's generated field documentation, keyed by JSON name
// with "" for the type itself.
func swaggerDocs(t reflect.Type) map[string]string {
	d, ok := zero(t).(swaggerDoc)
	if !ok {
		return nil
	}
	docs := reflect.ValueOf(d.SwaggerDoc())
	// A type that embeds ObjectMeta without docs of its own would answer
	// with ObjectMeta's; generated SwaggerDoc methods return a package-level
	// map, so the same map means a promoted method.
	if promoted(t, func(embedded any) bool {
		e, ok := embedded.(swaggerDoc)
		return ok && reflect.ValueOf(e.SwaggerDoc()).Pointer() == docs.Pointer()
	}) {
		return nil
	}
	return docs.Interface().(map[string]string)
}

// promoted reports whether same holds for the zero value of one of t's
// embedded fields, i.e. whether a method seen on t comes from one of them.
func promoted(t reflect.Type, same func(embedded any) bool) bool {
	if t.Kind() != reflect.Struct {
		return false
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.Anonymous {
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if same(zero(ft)) {
			return true
		}
	}
	return false
}

func typeDescription(t reflect.Type, name string) string {
	if d, ok := swaggerDocs(t)[""]; ok {
		return d
	}
	return knownDescription(name)
}

// modelName is the schema name kube-openapi gives t: the type's own
// OpenAPIModelName when generated, else its import path with the domain
// reversed (k8s.io/api/apps/v1.Deployment → io.k8s.api.apps.v1.Deployment).
func modelName(t reflect.Type) string {
	if n, ok := zero(t).(modelNamer); ok {
		name := n.OpenAPIModelName()
		// Embedding TypeMeta must not make a type named TypeMeta.
		if name != "" && !promoted(t, func(embedded any) bool {
			e, ok := embedded.(modelNamer)
			return ok && e.OpenAPIModelName() == name
		}) {
			return name
		}
	}
	pkg := t.PkgPath()
	host, rest, _ := strings.Cut(pkg, "/")
	parts := strings.Split(host, ".")
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	name := strings.Join(parts, ".")
	if rest != "" {
		name += "." + strings.ReplaceAll(rest, "/", ".")
	}
	return name + "." + t.Name()
}

// lookupMarkers finds the generated markers of a named type (field "") or
// of one of its fields.
func lookupMarkers(pkg, typ, field string) (markers, bool) {
	i := sort.Search(len(markerTable), func(i int) bool {
		l := markerTable[i]
		if l.pkg != pkg {
			return l.pkg > pkg
		}
		if l.typ != typ {
			return l.typ > typ
		}
		return l.field >= field
	})
	if i < len(markerTable) {
		if l := markerTable[i]; l.pkg == pkg && l.typ == typ && l.field == field {
			return l, true
		}
	}
	return markers{}, false
}
