package openapi

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	"google.golang.org/protobuf/proto"
)

// The OpenAPI v2 document (/openapi/v2) exists for one decision kubectl
// makes before it creates or applies an object with --validate=strict, its
// default. It asks whether the server validates the kind's fields itself:
// it looks in the v3 document for the kind's PATCH operation with a
// fieldValidation parameter. A kind that cannot be patched (the review
// kinds, which are create-only) has no such operation, so kubectl asks
// /openapi/v2 next and, finding no answer there either, validates the
// object itself against the v2 definitions. Without a v2 document it
// gives up before sending anything.
//
// The document therefore carries the definitions of every served kind (the
// v3 schemas, in v2 spelling) and no paths. The paths would mislead: had
// it Namespace's PATCH operation, kubectl would take every kind missing
// from it for a custom resource and list CustomResourceDefinitions, which
// skiff does not serve, and fail; and the clients that read operations read
// them from v3.

// Media types of the v2 document in protobuf: what clients ask for, and
// what kube-apiserver labels the answer (a "@" is not valid in a media
// type a Go client parses).
const (
	v2ProtoAccept = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
	v2ProtoType   = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
)

// v2Doc is the v2 document in both its encodings.
type v2Doc struct {
	json, proto *rendered
}

// ServeV2 serves GET /openapi/v2 in JSON or, to clients that ask for it as
// client-go does, in protobuf; other media types get 406.
func (d *Docs) ServeV2(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	asProto, ok := v2MediaType(r.Header.Get("Accept"))
	if !ok {
		http.Error(w, "the OpenAPI v2 document is served as application/json or "+v2ProtoAccept, http.StatusNotAcceptable)
		return
	}
	doc, err := d.renderV2()
	if err != nil {
		http.Error(w, "rendering OpenAPI v2 document: "+err.Error(), http.StatusInternalServerError)
		return
	}
	if asProto {
		serveRendered(w, r, doc.proto, v2ProtoType)
		return
	}
	serveRendered(w, r, doc.json, "application/json")
}

// v2MediaType picks the encoding an Accept header prefers: protobuf when it
// ranks the protobuf type above JSON, JSON otherwise (also for an empty
// header, and on a tie, as kube-apiserver does); ok is false when it
// accepts neither.
func v2MediaType(accept string) (asProto, ok bool) {
	if strings.TrimSpace(accept) == "" {
		return false, true
	}
	var jsonQ, protoQ float64
	for _, part := range strings.Split(accept, ",") {
		mt, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			if v, found := strings.CutPrefix(strings.ReplaceAll(p, " ", ""), "q="); found {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					q = f
				}
			}
		}
		switch strings.ToLower(strings.TrimSpace(mt)) {
		case "application/json", "application/*", "*/*":
			jsonQ = max(jsonQ, q)
		case v2ProtoAccept, v2ProtoType:
			protoQ = max(protoQ, q)
		}
	}
	switch {
	case protoQ > jsonQ:
		return true, true
	case jsonQ > 0:
		return false, true
	}
	return false, false
}

// renderV2 returns the v2 document, rendering it on first use.
func (d *Docs) renderV2() (doc *v2Doc, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.v2 != nil {
		return d.v2, nil
	}
	defer func() {
		if p := recover(); p != nil {
			doc, err = nil, fmt.Errorf("describing the served kinds: %v", p)
		}
	}()
	s := v2Schemas(d.resources)
	names := s.sortedNames()
	js, err := encode(func(w *bufio.Writer) error {
		enc := newEncoder(w)
		w.WriteString(`{"definitions":{`)
		for i, name := range names {
			if i > 0 {
				w.WriteByte(',')
			}
			if err := enc.keyValue(name, s.schemas[name]); err != nil {
				return err
			}
		}
		_, err := w.WriteString(`},"info":{"title":"Kubernetes","version":"unversioned"},"paths":{},"swagger":"2.0"}`)
		return err
	})
	if err != nil {
		return nil, err
	}
	pd := &openapi_v2.Document{
		Swagger:     "2.0",
		Info:        &openapi_v2.Info{Title: "Kubernetes", Version: "unversioned"},
		Paths:       &openapi_v2.Paths{},
		Definitions: &openapi_v2.Definitions{},
	}
	for _, name := range names {
		pd.Definitions.AdditionalProperties = append(pd.Definitions.AdditionalProperties,
			&openapi_v2.NamedSchema{Name: name, Value: protoSchema(s.schemas[name])})
	}
	pb, err := proto.MarshalOptions{Deterministic: true}.Marshal(pd)
	if err != nil {
		return nil, err
	}
	pbr, err := encode(func(w *bufio.Writer) error { _, err := w.Write(pb); return err })
	if err != nil {
		return nil, err
	}
	d.v2 = &v2Doc{json: js, proto: pbr}
	return d.v2, nil
}

// v2Schemas builds the v2 definitions: the served kinds, their lists, and
// the kinds the API answers or takes besides them.
func v2Schemas(resources []Resource) *schemaSet {
	s := newSchemaSet(kindsOf(resources))
	s.v2 = true
	for _, r := range resources {
		if r.Type != nil {
			s.ref(r.Type)
		}
		if r.ListType != nil {
			s.ref(r.ListType)
		}
	}
	for _, t := range []reflect.Type{scaleType, bindingType, evictionType, tokenRequestType, statusType,
		deleteOptsType, watchEventType, patchType, resourceListType} {
		s.ref(t)
	}
	s.build()
	return s
}

// protoSchema is s in gnostic's protobuf form, which client-go decodes.
// Values (defaults, extensions) are carried as YAML text; JSON is YAML.
func protoSchema(s *schema) *openapi_v2.Schema {
	out := &openapi_v2.Schema{
		XRef:        s.Ref,
		Description: s.Description,
		Format:      s.Format,
		Required:    s.Required,
	}
	if s.Type != "" {
		out.Type = &openapi_v2.TypeItem{Value: []string{s.Type}}
	}
	if s.Default != nil {
		out.Default = yamlAny(s.Default)
	}
	if s.Items != nil {
		out.Items = &openapi_v2.ItemsItem{Schema: []*openapi_v2.Schema{protoSchema(s.Items)}}
	}
	if s.AdditionalProperties != nil {
		out.AdditionalProperties = &openapi_v2.AdditionalPropertiesItem{
			Oneof: &openapi_v2.AdditionalPropertiesItem_Schema{Schema: protoSchema(s.AdditionalProperties)},
		}
	}
	for _, a := range s.AllOf {
		out.AllOf = append(out.AllOf, protoSchema(a))
	}
	if len(s.Properties) > 0 {
		names := make([]string, 0, len(s.Properties))
		for n := range s.Properties {
			names = append(names, n)
		}
		sort.Strings(names)
		out.Properties = &openapi_v2.Properties{}
		for _, n := range names {
			out.Properties.AdditionalProperties = append(out.Properties.AdditionalProperties,
				&openapi_v2.NamedSchema{Name: n, Value: protoSchema(s.Properties[n])})
		}
	}
	ext := func(name string, v any) {
		out.VendorExtension = append(out.VendorExtension, &openapi_v2.NamedAny{Name: name, Value: yamlAny(v)})
	}
	// In the order of the JSON form.
	if len(s.GVK) > 0 {
		ext("x-kubernetes-group-version-kind", s.GVK)
	}
	if s.IntOrString {
		ext("x-kubernetes-int-or-string", true)
	}
	if len(s.ListMapKeys) > 0 {
		ext("x-kubernetes-list-map-keys", s.ListMapKeys)
	}
	if s.ListType != "" {
		ext("x-kubernetes-list-type", s.ListType)
	}
	if s.MapType != "" {
		ext("x-kubernetes-map-type", s.MapType)
	}
	if s.PatchMergeKey != "" {
		ext("x-kubernetes-patch-merge-key", s.PatchMergeKey)
	}
	if s.PatchStrategy != "" {
		ext("x-kubernetes-patch-strategy", s.PatchStrategy)
	}
	return out
}

func yamlAny(v any) *openapi_v2.Any {
	b, err := json.Marshal(v)
	if err != nil {
		// Only values the schema builder made get here: strings,
		// numbers, bools, lists and maps of them.
		panic(err)
	}
	return &openapi_v2.Any{Yaml: string(b)}
}
