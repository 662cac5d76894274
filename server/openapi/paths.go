package openapi

import (
	"reflect"
	"sort"
	"strings"
	"unicode"

	authenticationv1 "k8s.io/api/authentication/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// pathItem is an OpenAPI v3 path item. Fields are in alphabetical order of
// their JSON names, like kube-apiserver's output.
type pathItem struct {
	Delete     *operation   `json:"delete,omitempty"`
	Get        *operation   `json:"get,omitempty"`
	Head       *operation   `json:"head,omitempty"`
	Options    *operation   `json:"options,omitempty"`
	Parameters []*parameter `json:"parameters,omitempty"`
	Patch      *operation   `json:"patch,omitempty"`
	Post       *operation   `json:"post,omitempty"`
	Put        *operation   `json:"put,omitempty"`
}

// operation is an OpenAPI v3 operation with kube-apiserver's extensions.
type operation struct {
	Description string               `json:"description,omitempty"`
	OperationID string               `json:"operationId"`
	Parameters  []*parameter         `json:"parameters,omitempty"`
	RequestBody *requestBody         `json:"requestBody,omitempty"`
	Responses   map[string]*response `json:"responses"`
	Tags        []string             `json:"tags,omitempty"`
	Action      string               `json:"x-kubernetes-action,omitempty"`
	GVK         *gvk                 `json:"x-kubernetes-group-version-kind,omitempty"`
}

// parameter is an OpenAPI v3 parameter. kube-apiserver inlines every
// parameter (no components.parameters), and cli-runtime's fieldValidation
// check relies on finding them inline on the PATCH operation.
type parameter struct {
	Description string       `json:"description,omitempty"`
	In          string       `json:"in"`
	Name        string       `json:"name"`
	Required    bool         `json:"required,omitempty"`
	Schema      *paramSchema `json:"schema"`
}

type paramSchema struct {
	Type        string `json:"type"`
	UniqueItems bool   `json:"uniqueItems,omitempty"`
}

type requestBody struct {
	Content  map[string]*mediaType `json:"content"`
	Required bool                  `json:"required,omitempty"`
}

type response struct {
	Content     map[string]*mediaType `json:"content,omitempty"`
	Description string                `json:"description"`
}

type mediaType struct {
	Schema *schema `json:"schema"`
}

// Content types listed on operations. skiff speaks JSON (and YAML, which
// client tooling treats as JSON); it has no protobuf serializer, so unlike
// kube-apiserver it does not advertise one.
var (
	objectContentTypes = []string{"application/json", "application/yaml"}
	streamContentTypes = []string{"application/json", "application/json;stream=watch", "application/yaml"}
	logContentTypes    = []string{"application/json", "application/yaml", "text/plain"}
	patchContentTypes  = []string{
		"application/apply-patch+yaml",
		"application/json-patch+json",
		"application/merge-patch+json",
		"application/strategic-merge-patch+json",
	}
)

// Query parameters taken from the metav1 option structs, by JSON name. The
// lists are closed on purpose: fields newer than the API skiff implements
// (shardSelector, ignoreStoreReadErrorWithClusterBreakingPotential) stay out.
var (
	listParamNames   = []string{"allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit", "resourceVersion", "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds", "watch"}
	deleteCollParams = []string{"continue", "fieldSelector", "labelSelector", "limit", "resourceVersion", "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds"}
	deleteParamNames = []string{"dryRun", "gracePeriodSeconds", "orphanDependents", "propagationPolicy"}
	writeParamNames  = []string{"dryRun", "fieldManager", "fieldValidation"}
	patchParamNames  = []string{"dryRun", "fieldManager", "fieldValidation", "force"}
)

// Types of the subresources whose request and response are not the
// resource itself.
var (
	scaleType        = reflect.TypeOf(autoscalingv1.Scale{})
	bindingType      = reflect.TypeOf(corev1.Binding{})
	evictionType     = reflect.TypeOf(policyv1.Eviction{})
	tokenRequestType = reflect.TypeOf(authenticationv1.TokenRequest{})
	statusType       = reflect.TypeOf(metav1.Status{})
	deleteOptsType   = reflect.TypeOf(metav1.DeleteOptions{})
	watchEventType   = reflect.TypeOf(metav1.WatchEvent{})
	patchType        = reflect.TypeOf(metav1.Patch{})
	resourceListType = reflect.TypeOf(metav1.APIResourceList{})
)

// connectOptions returns the options type whose fields are the query
// parameters of a streaming subresource, or nil.
func connectOptions(sub string) reflect.Type {
	switch sub {
	case "attach":
		return reflect.TypeOf(corev1.PodAttachOptions{})
	case "exec":
		return reflect.TypeOf(corev1.PodExecOptions{})
	case "portforward":
		return reflect.TypeOf(corev1.PodPortForwardOptions{})
	}
	return nil
}

// docBuilder assembles the paths of one group-version document.
type docBuilder struct {
	group, version string
	prefix         string // "/api/v1" or "/apis/<group>/<version>"
	idPrefix       string // "CoreV1", "AppsV1", "RbacAuthorizationV1"
	tag            string // "core_v1", "apps_v1"
	schemas        *schemaSet
	paths          map[string]*pathItem

	pretty, namespace *parameter
	optionParams      map[reflect.Type]map[string]*parameter
}

func newDocBuilder(group, version string, schemas *schemaSet) *docBuilder {
	b := &docBuilder{
		group:        group,
		version:      version,
		schemas:      schemas,
		paths:        map[string]*pathItem{},
		optionParams: map[reflect.Type]map[string]*parameter{},
	}
	trimmed := strings.TrimSuffix(group, ".k8s.io")
	if group == "" {
		b.prefix = "/api/" + version
		trimmed = "core"
	} else {
		b.prefix = "/apis/" + group + "/" + version
	}
	b.idPrefix = validID(trimmed, true) + validID(version, true)
	b.tag = validID(trimmed, false) + "_" + validID(version, false)
	b.pretty = &parameter{
		Description: "If 'true', the response body is indented for reading.",
		In:          "query",
		Name:        "pretty",
		Schema:      &paramSchema{Type: "string", UniqueItems: true},
	}
	b.namespace = &parameter{
		Description: "namespace of the objects, which also scopes authorization",
		In:          "path",
		Name:        "namespace",
		Required:    true,
		Schema:      &paramSchema{Type: "string", UniqueItems: true},
	}
	b.addDiscovery()
	return b
}

// validID keeps letters, underscores and non-leading digits of s, upper-
// casing the letter after each dropped character (and the first one when
// asked), the way kube-apiserver derives operation IDs and tags.
func validID(s string, capitalizeFirst bool) string {
	var out strings.Builder
	capitalize := capitalizeFirst
	for i, r := range s {
		if unicode.IsLetter(r) || r == '_' || (i != 0 && unicode.IsDigit(r)) {
			if capitalize {
				r = unicode.ToUpper(r)
				capitalize = false
			}
			out.WriteRune(r)
		} else {
			capitalize = true
		}
	}
	return out.String()
}

// addDiscovery adds GET <prefix>/, the resource list of the group-version.
func (b *docBuilder) addDiscovery() {
	b.item(b.prefix + "/").Get = &operation{
		Description: "get available resources",
		OperationID: "get" + b.idPrefix + "APIResources",
		Responses:   b.responses(b.schemas.ref(resourceListType), objectContentTypes, "200"),
		Tags:        []string{b.tag},
	}
}

func (b *docBuilder) item(path string) *pathItem {
	p := b.paths[path]
	if p == nil {
		p = &pathItem{}
		b.paths[path] = p
	}
	return p
}

// addResource adds every operation kube-apiserver serves for r.
func (b *docBuilder) addResource(r Resource) {
	if r.Type == nil {
		return // nothing to describe
	}
	verbs := map[string]bool{}
	for _, v := range r.Verbs {
		verbs[v] = true
	}
	if r.ListType == nil {
		// Without a list type there is no list or watch response to name.
		verbs["list"], verbs["watch"] = false, false
	}
	kind := &gvk{Group: r.Group, Kind: r.Kind, Version: r.Version}
	obj := b.schemas.ref(r.Type)

	var coll, watchColl, scope string
	nsParams := []*parameter{b.pretty}
	if r.Namespaced {
		coll = b.prefix + "/namespaces/{namespace}/" + r.Plural
		watchColl = b.prefix + "/watch/namespaces/{namespace}/" + r.Plural
		scope = "Namespaced"
		nsParams = append(nsParams, b.namespace)
	} else {
		coll = b.prefix + "/" + r.Plural
		watchColl = b.prefix + "/watch/" + r.Plural
	}
	itemPath := coll + "/{name}"
	itemParams := append([]*parameter{b.nameParam(r.Kind)}, nsParams...)
	newOp := func(verb, action, id, desc string, gv *gvk, params ...[]*parameter) *operation {
		return &operation{
			Description: desc,
			OperationID: verb + b.idPrefix + id,
			Parameters:  concat(params...),
			Tags:        []string{b.tag},
			Action:      action,
			GVK:         gv,
		}
	}

	if verbs["list"] {
		list := b.schemas.ref(r.ListType)
		op := newOp("list", "list", scope+r.Kind, "list or watch objects of kind "+r.Kind, kind, nsParams, b.options(listOptionsType, listParamNames))
		op.Responses = b.responses(list, streamContentTypes, "200")
		b.item(coll).Get = op
		if r.Namespaced {
			op := newOp("list", "list", r.Kind+"ForAllNamespaces", "list or watch objects of kind "+r.Kind, kind, []*parameter{b.pretty}, b.options(listOptionsType, listParamNames))
			op.Responses = b.responses(list, streamContentTypes, "200")
			b.item(b.prefix + "/" + r.Plural).Get = op
		}
	}
	if verbs["watch"] {
		event := b.schemas.ref(watchEventType)
		listParams := b.options(listOptionsType, listParamNames)
		op := newOp("watch", "watchlist", scope+r.Kind+"List", "watch individual changes to a list of "+r.Kind+" (deprecated: use the list operation with watch=true)", kind, nsParams, listParams)
		op.Responses = b.responses(event, streamContentTypes, "200")
		b.item(watchColl).Get = op
		op = newOp("watch", "watch", scope+r.Kind, "watch changes to an object of kind "+r.Kind+" (deprecated: use the list operation with watch=true and a fieldSelector on metadata.name)", kind, itemParams, listParams)
		op.Responses = b.responses(event, streamContentTypes, "200")
		b.item(watchColl + "/{name}").Get = op
		if r.Namespaced {
			op := newOp("watch", "watchlist", r.Kind+"ListForAllNamespaces", "watch individual changes to a list of "+r.Kind+" (deprecated: use the list operation with watch=true)", kind, []*parameter{b.pretty}, listParams)
			op.Responses = b.responses(event, streamContentTypes, "200")
			b.item(b.prefix + "/watch/" + r.Plural).Get = op
		}
	}
	if verbs["create"] {
		op := newOp("create", "post", scope+r.Kind, "create "+article(r.Kind), kind, nsParams, b.options(createOptionsType, writeParamNames))
		op.RequestBody = b.body(obj)
		op.Responses = b.responses(obj, objectContentTypes, "200", "201", "202")
		b.item(coll).Post = op
	}
	if verbs["deletecollection"] {
		op := newOp("delete", "deletecollection", "Collection"+scope+r.Kind, "delete collection of "+r.Kind, kind, nsParams,
			b.options(listOptionsType, deleteCollParams), b.options(deleteOptionsType, deleteParamNames))
		op.RequestBody = &requestBody{Content: b.content(b.schemas.ref(deleteOptsType), []string{"*/*"})}
		op.Responses = b.responses(b.schemas.ref(statusType), objectContentTypes, "200")
		b.item(coll).Delete = op
	}
	if verbs["get"] {
		op := newOp("read", "get", scope+r.Kind, "read the specified "+r.Kind, kind, itemParams)
		op.Responses = b.responses(obj, objectContentTypes, "200")
		b.item(itemPath).Get = op
	}
	if verbs["update"] {
		b.item(itemPath).Put = b.replaceOp(newOp("replace", "put", scope+r.Kind, "replace the specified "+r.Kind, kind, itemParams), obj)
	}
	if verbs["patch"] {
		b.item(itemPath).Patch = b.patchOp(newOp("patch", "patch", scope+r.Kind, "partially update the specified "+r.Kind, kind, itemParams), obj)
	}
	if verbs["delete"] {
		op := newOp("delete", "delete", scope+r.Kind, "delete "+article(r.Kind), kind, itemParams, b.options(deleteOptionsType, deleteParamNames))
		op.RequestBody = &requestBody{Content: b.content(b.schemas.ref(deleteOptsType), []string{"*/*"})}
		op.Responses = b.responses(b.schemas.ref(statusType), objectContentTypes, "200", "202")
		b.item(itemPath).Delete = op
	}

	for _, sub := range r.Subresources {
		b.addSubresource(r, sub, itemPath, scope, nsParams, newOp)
	}
}

// addSubresource adds the operations of one subresource of r. Unknown
// subresources are left out rather than guessed at.
func (b *docBuilder) addSubresource(r Resource, sub, itemPath, scope string, nsParams []*parameter,
	newOp func(verb, action, id, desc string, gv *gvk, params ...[]*parameter) *operation) {
	path := itemPath + "/" + sub
	id := scope + r.Kind + validID(sub, true)
	kind := &gvk{Group: r.Group, Kind: r.Kind, Version: r.Version}
	obj := b.schemas.ref(r.Type)

	switch sub {
	case "status", "ephemeralcontainers", "resize", "scale":
		var what *schema
		subKind := kind
		if sub == "scale" {
			what = b.schemas.ref(scaleType)
			subKind = &gvk{Group: "autoscaling", Kind: "Scale", Version: "v1"}
		} else {
			what = obj
		}
		params := append([]*parameter{b.nameParam(subKind.Kind)}, nsParams...)
		p := b.item(path)
		get := newOp("read", "get", id, "read "+sub+" of the specified "+r.Kind, subKind, params)
		get.Responses = b.responses(what, objectContentTypes, "200")
		p.Get = get
		p.Put = b.replaceOp(newOp("replace", "put", id, "replace "+sub+" of the specified "+r.Kind, subKind, params), what)
		p.Patch = b.patchOp(newOp("patch", "patch", id, "partially update "+sub+" of the specified "+r.Kind, subKind, params), what)
	case "binding", "eviction", "token":
		t, subKind := bindingType, &gvk{Group: "", Kind: "Binding", Version: "v1"}
		switch sub {
		case "eviction":
			t, subKind = evictionType, &gvk{Group: "policy", Kind: "Eviction", Version: "v1"}
		case "token":
			t, subKind = tokenRequestType, &gvk{Group: "authentication.k8s.io", Kind: "TokenRequest", Version: "v1"}
		}
		what := b.schemas.ref(t)
		params := append([]*parameter{b.nameParam(subKind.Kind)}, nsParams...)
		op := newOp("create", "post", id, "create "+sub+" of "+article(r.Kind), subKind, params, b.options(createOptionsType, writeParamNames))
		op.RequestBody = b.body(what)
		op.Responses = b.responses(what, objectContentTypes, "200", "201", "202")
		b.item(path).Post = op
	case "finalize":
		params := append([]*parameter{b.nameParam(r.Kind)}, nsParams...)
		b.item(path).Put = b.replaceOp(newOp("replace", "put", id, "replace finalize of the specified "+r.Kind, kind, params), obj)
	case "log":
		params := append([]*parameter{b.nameParam(r.Kind)}, nsParams...)
		op := newOp("read", "get", id, "read log of the specified "+r.Kind, kind, params, b.allOptions(podLogOptionsType))
		op.Responses = b.responses(&schema{Type: "string"}, logContentTypes, "200")
		b.item(path).Get = op
	default:
		opts := connectOptions(sub)
		if opts == nil {
			return
		}
		optKind := &gvk{Group: "", Kind: opts.Name(), Version: "v1"}
		// Connect operations take no pretty parameter.
		params := []*parameter{b.nameParam(opts.Name())}
		if r.Namespaced {
			params = append(params, b.namespace)
		}
		p := b.item(path)
		for _, method := range []string{"Get", "Post"} {
			op := newOp("connect", "connect", method+id, "connect "+strings.ToUpper(method)+" requests to "+sub+" of "+r.Kind, optKind, params, b.allOptions(opts))
			op.Responses = b.responses(&schema{Type: "string"}, []string{"*/*"}, "200")
			if method == "Get" {
				p.Get = op
			} else {
				p.Post = op
			}
		}
	}
}

func (b *docBuilder) replaceOp(op *operation, obj *schema) *operation {
	op.Parameters = append(op.Parameters, b.options(updateOptionsType, writeParamNames)...)
	op.RequestBody = b.body(obj)
	op.Responses = b.responses(obj, objectContentTypes, "200", "201")
	return op
}

func (b *docBuilder) patchOp(op *operation, obj *schema) *operation {
	op.Parameters = append(op.Parameters, b.options(patchOptionsType, patchParamNames)...)
	op.RequestBody = &requestBody{Content: b.content(b.schemas.ref(patchType), patchContentTypes), Required: true}
	op.Responses = b.responses(obj, objectContentTypes, "200", "201")
	return op
}

func (b *docBuilder) body(s *schema) *requestBody {
	return &requestBody{Content: b.content(s, []string{"*/*"}), Required: true}
}

func (b *docBuilder) content(s *schema, types []string) map[string]*mediaType {
	m := make(map[string]*mediaType, len(types))
	mt := &mediaType{Schema: s}
	for _, t := range types {
		m[t] = mt
	}
	return m
}

// responseText is the description kube-apiserver gives each status code.
func responseText(code string) string {
	switch code {
	case "200":
		return "OK"
	case "201":
		return "Created"
	case "202":
		return "Accepted"
	}
	return ""
}

func (b *docBuilder) responses(s *schema, types []string, codes ...string) map[string]*response {
	m := make(map[string]*response, len(codes)+1)
	content := b.content(s, types)
	for _, c := range codes {
		m[c] = &response{Content: content, Description: responseText(c)}
	}
	m["401"] = &response{Description: "Unauthorized"}
	return m
}

func (b *docBuilder) nameParam(kind string) *parameter {
	return &parameter{
		Description: "name of the " + kind,
		In:          "path",
		Name:        "name",
		Required:    true,
		Schema:      &paramSchema{Type: "string", UniqueItems: true},
	}
}

// Option structs whose fields are query parameters.
var (
	listOptionsType   = reflect.TypeOf(metav1.ListOptions{})
	deleteOptionsType = reflect.TypeOf(metav1.DeleteOptions{})
	createOptionsType = reflect.TypeOf(metav1.CreateOptions{})
	updateOptionsType = reflect.TypeOf(metav1.UpdateOptions{})
	patchOptionsType  = reflect.TypeOf(metav1.PatchOptions{})
	podLogOptionsType = reflect.TypeOf(corev1.PodLogOptions{})
)

// options returns the named query parameters of option struct t, their
// descriptions taken from its SwaggerDoc as kube-apiserver does.
func (b *docBuilder) options(t reflect.Type, names []string) []*parameter {
	all := b.optionSet(t)
	out := make([]*parameter, 0, len(names))
	for _, n := range names {
		if p := all[n]; p != nil {
			out = append(out, p)
		}
	}
	return out
}

// allOptions returns every scalar query parameter of option struct t.
func (b *docBuilder) allOptions(t reflect.Type) []*parameter {
	all := b.optionSet(t)
	out := make([]*parameter, 0, len(all))
	for _, p := range all {
		out = append(out, p)
	}
	sortParams(out)
	return out
}

func (b *docBuilder) optionSet(t reflect.Type) map[string]*parameter {
	if m, ok := b.optionParams[t]; ok {
		return m
	}
	docs := swaggerDocs(t)
	m := map[string]*parameter{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous || name == "" || name == "-" {
			continue
		}
		typ := queryType(f.Type)
		if typ == "" {
			// Structured values (sinceTime) cannot be query parameters.
			continue
		}
		m[name] = &parameter{
			Description: docs[name],
			In:          "query",
			Name:        name,
			Schema:      &paramSchema{Type: typ, UniqueItems: true},
		}
	}
	b.optionParams[t] = m
	return m
}

// queryType is the OpenAPI type of a query parameter bound to a field of
// type t; repeated parameters are typed by their element.
func queryType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	}
	return ""
}

// finish moves parameters shared by every operation of a path up to the
// path, as kube-apiserver does, and sorts all parameter lists.
func (b *docBuilder) finish() {
	for _, p := range b.paths {
		ops := p.operations()
		if len(ops) == 0 {
			continue
		}
		count := map[*parameter]int{}
		for _, op := range ops {
			for _, prm := range op.Parameters {
				count[prm]++
			}
		}
		shared := map[*parameter]bool{}
		for prm, n := range count {
			// cli-runtime looks for fieldValidation among the PATCH
			// operation's own parameters only, so it never moves up.
			if n == len(ops) && !(p.Patch != nil && prm.Name == "fieldValidation") {
				shared[prm] = true
				p.Parameters = append(p.Parameters, prm)
			}
		}
		for _, op := range ops {
			kept := op.Parameters[:0]
			for _, prm := range op.Parameters {
				if !shared[prm] {
					kept = append(kept, prm)
				}
			}
			op.Parameters = kept
			if len(kept) == 0 {
				op.Parameters = nil
			}
			sortParams(op.Parameters)
		}
		sortParams(p.Parameters)
	}
}

func (p *pathItem) operations() []*operation {
	var ops []*operation
	for _, op := range []*operation{p.Delete, p.Get, p.Head, p.Options, p.Patch, p.Post, p.Put} {
		if op != nil {
			ops = append(ops, op)
		}
	}
	return ops
}

func sortParams(ps []*parameter) {
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].Name != ps[j].Name {
			return ps[i].Name < ps[j].Name
		}
		return ps[i].In < ps[j].In
	})
}

func concat(lists ...[]*parameter) []*parameter {
	var out []*parameter
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// article prefixes kind with "a" or "an", as kube's operation descriptions
// do ("create a Pod", "delete an Event").
func article(kind string) string {
	if kind != "" && strings.ContainsRune("AEIOU", rune(kind[0])) {
		return "an " + kind
	}
	return "a " + kind
}
