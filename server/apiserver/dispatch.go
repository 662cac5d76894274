package apiserver

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"reflect"

	"github.com/skiff-io/skiff/server/openapi"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// pathNotFound is the 404 for a path nothing is served at (an unknown
// group, version or resource), worded as kube-apiserver's.
func pathNotFound() *metav1.Status {
	st := apierrors.NewNotFound(schema.GroupResource{}, "").ErrStatus
	st.Message = "the server could not find the requested resource"
	return &st
}

// serveAPI routes /api/... and /apis/... requests.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	// /api/ and /apis/ are the discovery roots, as kube-apiserver answers
	// them (kubectl proxy and discovery clients ask with the slash).
	switch r.URL.Path {
	case "/api/":
		s.serveCoreVersions(w, r)
		return
	case "/apis/":
		s.serveGroups(w, r)
		return
	}
	ri, ok := parseResourcePath(r)
	if !ok {
		if !s.serveDiscoveryPath(w, r) {
			writeStatus(w, pathNotFound())
		}
		return
	}
	res := s.byGVR[schema.GroupVersionResource{Group: ri.group, Version: ri.version, Resource: ri.resource}]
	if res == nil {
		writeStatus(w, pathNotFound())
		return
	}
	gr := groupResource(res)
	if ri.namespace != "" && !res.namespaced {
		writeStatus(w, &apierrors.NewNotFound(gr, ri.name).ErrStatus)
		return
	}
	if ri.subresource != "" && !res.hasSub(ri.subresource) {
		st := apierrors.NewNotFound(gr, ri.name).ErrStatus
		st.Message = "the server could not find the requested resource"
		writeStatus(w, &st)
		return
	}
	if res.namespaced && ri.namespace == "" && ri.name != "" {
		writeStatus(w, &apierrors.NewNotFound(gr, ri.name).ErrStatus)
		return
	}
	u := userFrom(r.Context())
	attrs, err := s.attributes(r, u, ri, res)
	if err != nil {
		writeError(w, err, gr, ri.name)
		return
	}
	if ok, reason := s.authorize(attrs); !ok {
		writeStatus(w, &forbidden(u, ri, gr, reason).ErrStatus)
		return
	}
	if res.namespaced && ri.namespace == "" && ri.verb != "list" && ri.verb != "watch" {
		writeStatus(w, &apierrors.NewBadRequest("a namespace must be specified for "+ri.verb+" on "+gr.String()).ErrStatus)
		return
	}
	if res.review != nil {
		s.serveReview(w, r, res, ri)
		return
	}

	switch ri.subresource {
	case "":
	case "status", "ephemeralcontainers":
		if ri.verb == "get" {
			s.get(w, r, res, ri)
			return
		}
		if ri.subresource == "ephemeralcontainers" {
			ri.subresource = ""
		}
	case "finalize":
		if ri.verb != "update" {
			writeError(w, apierrors.NewMethodNotSupported(gr, r.Method), gr, ri.name)
			return
		}
	case "scale":
		s.serveScale(w, r, res, ri)
		return
	case "binding":
		s.serveBinding(w, r, res, ri)
		return
	case "eviction":
		s.serveEviction(w, r, res, ri)
		return
	case "proxy":
		switch gr.Resource {
		case "pods":
			s.servePodProxy(w, r, res, ri)
		case "services":
			s.serveServiceProxy(w, r, res, ri)
		default:
			writeError(w, apierrors.NewServiceUnavailable(fmt.Sprintf("%s/proxy is not available", gr.Resource)), gr, ri.name)
		}
		return
	case "log", "exec", "attach", "portforward":
		s.serveNodeStream(w, r, res, ri)
		return
	case "token":
		s.serveToken(w, r, res, ri)
		return
	}

	switch ri.verb {
	case "get":
		s.get(w, r, res, ri)
	case "list":
		s.list(w, r, res, ri)
	case "watch":
		s.watch(w, r, res, ri)
	case "create":
		if ri.name != "" {
			writeError(w, apierrors.NewMethodNotSupported(gr, r.Method), gr, ri.name)
			return
		}
		s.create(w, r, res, ri)
	case "update":
		s.update(w, r, res, ri)
	case "patch":
		s.patch(w, r, res, ri)
	case "delete":
		s.del(w, r, res, ri)
	case "deletecollection":
		s.deleteCollection(w, r, res, ri)
	default:
		writeError(w, apierrors.NewMethodNotSupported(gr, r.Method), gr, ri.name)
	}
}

// attributes describes the request for the Authorizer. For a create by a
// caller outside system:masters it reads the body ahead of the handler,
// to learn the new object's name, and leaves r.Body to be read again.
func (s *Server) attributes(r *http.Request, u *User, ri requestInfo, res *resource) (Attributes, error) {
	a := Attributes{
		User: u, Verb: ri.verb, Resource: groupResource(res),
		Namespace: ri.namespace, Name: ri.name, Subresource: ri.subresource,
		FieldSelector: fields.Everything(),
	}
	if u == nil || isMaster(u) || s.cfg.Authorizer == nil {
		return a, nil // decided without the selectors or the body
	}
	q := r.URL.Query()
	a.LabelSelector = q.Get("labelSelector")
	if fs := q.Get("fieldSelector"); fs != "" {
		sel, err := fields.ParseSelector(fs)
		if err != nil {
			sel = fields.Nothing()
		}
		a.FieldSelector = sel
	}
	if ri.verb != "create" || ri.subresource != "" || r.Body == nil || res.review != nil {
		return a, nil
	}
	raw, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBodyBytes))
	_ = r.Body.Close()
	if err != nil {
		return a, err
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	peek := r.Clone(r.Context())
	peek.Body = io.NopCloser(bytes.NewReader(raw))
	if obj, _, _, err := s.readObject(peek, res.gvk, res.newObj); err == nil {
		if acc, err := meta.Accessor(obj); err == nil {
			a.NewName = acc.GetName()
		}
	}
	return a, nil
}

func forbidden(u *User, ri requestInfo, gr schema.GroupResource, reason string) *apierrors.StatusError {
	name := "system:anonymous"
	if u != nil {
		name = u.Name
	}
	res := gr.Resource
	if ri.subresource != "" {
		res += "/" + ri.subresource
	}
	msg := fmt.Sprintf("User %q cannot %s resource %q in API group %q", name, ri.verb, res, gr.Group)
	if ri.namespace != "" {
		msg += fmt.Sprintf(" in the namespace %q", ri.namespace)
	} else {
		msg += " at the cluster scope"
	}
	if reason != "" {
		msg += ": " + reason
	}
	return apierrors.NewForbidden(gr, ri.name, fmt.Errorf("%s", msg))
}

// openapiResources describes the served resources for the OpenAPI documents.
func (s *Server) openapiResources() []openapi.Resource {
	var out []openapi.Resource
	for _, g := range s.groups {
		for _, res := range g.resources {
			desc := openapi.Resource{
				Group: res.gvk.Group, Version: res.gvk.Version, Kind: res.gvk.Kind,
				Plural: res.plural, Namespaced: res.namespaced, Verbs: res.verbs(),
				Subresources: res.subresources,
				Type:         res.typeOf(),
			}
			if res.newList != nil {
				desc.ListType = reflect.TypeOf(res.newList()).Elem()
			}
			out = append(out, desc)
		}
	}
	return out
}
