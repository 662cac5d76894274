package apiserver

import (
	"net/http"
	"net/url"
	"strings"
)

// requestInfo is what the URL says about a resource request.
type requestInfo struct {
	group, version string
	namespace      string
	resource       string // plural
	name           string
	subresource    string
	verb           string // get list watch create update patch delete deletecollection
	// proxyPath is the path after .../{name}/proxy of a proxy request,
	// "" when there is none, with its trailing slash kept.
	proxyPath string
}

// parseResourcePath splits /api/v1/... and /apis/<g>/<v>/... paths. ok is
// false for paths that are not resource requests (discovery and the like).
func parseResourcePath(r *http.Request) (requestInfo, bool) {
	p := strings.Trim(r.URL.Path, "/")
	parts := strings.Split(p, "/")
	var ri requestInfo
	switch {
	case len(parts) >= 3 && parts[0] == "api":
		ri.version = parts[1]
		parts = parts[2:]
	case len(parts) >= 4 && parts[0] == "apis":
		ri.group, ri.version = parts[1], parts[2]
		parts = parts[3:]
	default:
		return ri, false
	}
	// /namespaces/{ns}/{resource}... except the namespaces resource itself.
	if len(parts) >= 3 && parts[0] == "namespaces" && parts[2] != "status" && parts[2] != "finalize" {
		ri.namespace = parts[1]
		parts = parts[2:]
	} else if len(parts) >= 1 && parts[0] == "namespaces" && len(parts) <= 3 {
		// /namespaces, /namespaces/{name}, /namespaces/{name}/{sub}
		ri.resource = "namespaces"
		if len(parts) >= 2 {
			ri.name = parts[1]
		}
		if len(parts) == 3 {
			ri.subresource = parts[2]
		}
		ri.verb = verbFor(r, ri)
		return ri, true
	}
	switch len(parts) {
	case 1:
		ri.resource = parts[0]
	case 2:
		ri.resource, ri.name = parts[0], parts[1]
	case 3:
		ri.resource, ri.name, ri.subresource = parts[0], parts[1], parts[2]
		if ri.subresource == "proxy" && strings.HasSuffix(r.URL.Path, "/") {
			ri.proxyPath = "/"
		}
	default:
		if len(parts) < 4 || parts[2] != "proxy" {
			return ri, false
		}
		ri.resource, ri.name, ri.subresource = parts[0], parts[1], parts[2]
		ri.proxyPath = "/" + strings.Join(parts[3:], "/")
		if strings.HasSuffix(r.URL.Path, "/") {
			ri.proxyPath += "/"
		}
	}
	ri.verb = verbFor(r, ri)
	return ri, true
}

func verbFor(r *http.Request, ri requestInfo) string {
	q := r.URL.Query()
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if ri.name == "" {
			if isSet(q, "watch") {
				return "watch"
			}
			return "list"
		}
		return "get"
	case http.MethodPost:
		return "create"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		if ri.name == "" {
			return "deletecollection"
		}
		return "delete"
	}
	return ""
}

// queryBool reads a boolean query parameter as kube-apiserver's parameter
// codec does: absent is false, and a present value is true unless it is
// "0" or "false" in any case (so the Python client's "True" is true).
// present says whether the parameter was given at all.
func queryBool(q url.Values, key string) (value, present bool) {
	vs, ok := q[key]
	if !ok || len(vs) == 0 {
		return false, false
	}
	return vs[0] != "0" && !strings.EqualFold(vs[0], "false"), true
}

// isSet is queryBool's value alone.
func isSet(q url.Values, key string) bool {
	v, _ := queryBool(q, key)
	return v
}
