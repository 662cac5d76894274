package apiserver

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var allVerbs = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

// subresourceKinds gives each subresource's kind and verbs.
var subresourceInfo = map[string]struct {
	group, version, kind string
	verbs                []string
}{
	"status":              {verbs: []string{"get", "patch", "update"}},
	"scale":               {group: "autoscaling", version: "v1", kind: "Scale", verbs: []string{"get", "patch", "update"}},
	"binding":             {version: "v1", kind: "Binding", verbs: []string{"create"}},
	"log":                 {version: "v1", kind: "Pod", verbs: []string{"get"}},
	"exec":                {version: "v1", kind: "PodExecOptions", verbs: []string{"create", "get"}},
	"attach":              {version: "v1", kind: "PodAttachOptions", verbs: []string{"create", "get"}},
	"portforward":         {version: "v1", kind: "PodPortForwardOptions", verbs: []string{"create", "get"}},
	"eviction":            {group: "policy", version: "v1", kind: "Eviction", verbs: []string{"create"}},
	"ephemeralcontainers": {verbs: []string{"get", "patch", "update"}},
	"token":               {group: "authentication.k8s.io", version: "v1", kind: "TokenRequest", verbs: []string{"create"}},
	"finalize":            {verbs: []string{"update"}},
	"proxy":               {version: "v1", verbs: []string{"create", "delete", "get", "patch", "update"}},
}

// subresourceInfoFor is subresourceInfo[sub] for res: a proxy's options
// kind is named for the resource (PodProxyOptions, ServiceProxyOptions).
func subresourceInfoFor(res *resource, sub string) struct {
	group, version, kind string
	verbs                []string
} {
	info := subresourceInfo[sub]
	if sub == "proxy" {
		info.kind = res.gvk.Kind + "ProxyOptions"
	}
	return info
}

const aggregatedV2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

// wantsAggregated reports whether the client asked for the aggregated
// discovery document (kubectl and client-go ask for it first).
func wantsAggregated(r *http.Request) bool {
	for _, mt := range parseAccept(r.Header.Get("Accept")) {
		if mt.params["g"] == "apidiscovery.k8s.io" && mt.params["v"] == "v2" && mt.params["as"] == "APIGroupDiscoveryList" {
			return true
		}
	}
	return false
}

func (s *Server) serveCoreVersions(w http.ResponseWriter, r *http.Request) {
	if wantsAggregated(r) {
		s.writeAggregated(w, true)
		return
	}
	writeObjectJSON(w, http.StatusOK, &metav1.APIVersions{
		TypeMeta: metav1.TypeMeta{Kind: "APIVersions"},
		Versions: []string{"v1"},
		ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{{
			ClientCIDR: "0.0.0.0/0", ServerAddress: r.Host,
		}},
	})
}

func (s *Server) serveGroups(w http.ResponseWriter, r *http.Request) {
	if wantsAggregated(r) {
		s.writeAggregated(w, false)
		return
	}
	list := &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
	for _, g := range s.groups {
		if g.name == "" {
			continue
		}
		list.Groups = append(list.Groups, s.apiGroup(g))
	}
	writeObjectJSON(w, http.StatusOK, list)
}

func (s *Server) apiGroup(g groupInfo) metav1.APIGroup {
	gv := metav1.GroupVersionForDiscovery{GroupVersion: g.name + "/" + g.version, Version: g.version}
	return metav1.APIGroup{
		TypeMeta: metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"},
		Name:     g.name, Versions: []metav1.GroupVersionForDiscovery{gv}, PreferredVersion: gv,
	}
}

// serveDiscoveryPath answers /api/v1, /apis/<g> and /apis/<g>/<v>.
func (s *Server) serveDiscoveryPath(w http.ResponseWriter, r *http.Request) bool {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(parts) == 2 && parts[0] == "api" && parts[1] == "v1":
		s.writeResourceList(w, "", "v1")
		return true
	case len(parts) == 2 && parts[0] == "apis":
		for _, g := range s.groups {
			if g.name == parts[1] {
				writeObjectJSON(w, http.StatusOK, s.apiGroup(g))
				return true
			}
		}
	case len(parts) == 3 && parts[0] == "apis":
		for _, g := range s.groups {
			if g.name == parts[1] && g.version == parts[2] {
				s.writeResourceList(w, g.name, g.version)
				return true
			}
		}
	}
	return false
}

func (s *Server) writeResourceList(w http.ResponseWriter, group, version string) {
	gv := schema.GroupVersion{Group: group, Version: version}
	list := &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv.String()}
	for _, g := range s.groups {
		if g.name != group || g.version != version {
			continue
		}
		for _, res := range g.resources {
			list.APIResources = append(list.APIResources, metav1.APIResource{
				Name: res.plural, SingularName: res.singular, Namespaced: res.namespaced, Kind: res.gvk.Kind,
				Verbs: res.verbs(), ShortNames: res.shortNames, Categories: res.categories,
			})
			for _, sub := range res.subresources {
				info := subresourceInfoFor(res, sub)
				kind := info.kind
				if kind == "" {
					kind = res.gvk.Kind
				}
				ar := metav1.APIResource{Name: res.plural + "/" + sub, Namespaced: res.namespaced, Kind: kind, Verbs: info.verbs}
				if info.version != "" && (info.group != group || info.version != version) {
					ar.Group, ar.Version = info.group, info.version
				}
				list.APIResources = append(list.APIResources, ar)
			}
		}
	}
	writeObjectJSON(w, http.StatusOK, list)
}

func (s *Server) writeAggregated(w http.ResponseWriter, core bool) {
	list := &apidiscoveryv2.APIGroupDiscoveryList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupDiscoveryList", APIVersion: "apidiscovery.k8s.io/v2"}}
	for _, g := range s.groups {
		if (g.name == "") != core {
			continue
		}
		vd := apidiscoveryv2.APIVersionDiscovery{Version: g.version, Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent}
		for _, res := range g.resources {
			scope := apidiscoveryv2.ScopeCluster
			if res.namespaced {
				scope = apidiscoveryv2.ScopeNamespace
			}
			rd := apidiscoveryv2.APIResourceDiscovery{
				Resource: res.plural, SingularResource: res.singular, Scope: scope,
				ResponseKind: &metav1.GroupVersionKind{Group: res.gvk.Group, Version: res.gvk.Version, Kind: res.gvk.Kind},
				Verbs:        res.verbs(), ShortNames: res.shortNames, Categories: res.categories,
			}
			for _, sub := range res.subresources {
				info := subresourceInfoFor(res, sub)
				rk := &metav1.GroupVersionKind{Group: res.gvk.Group, Version: res.gvk.Version, Kind: res.gvk.Kind}
				if info.kind != "" {
					rk = &metav1.GroupVersionKind{Group: info.group, Version: info.version, Kind: info.kind}
				}
				rd.Subresources = append(rd.Subresources, apidiscoveryv2.APISubresourceDiscovery{Subresource: sub, ResponseKind: rk, Verbs: info.verbs})
			}
			vd.Resources = append(vd.Resources, rd)
		}
		sort.SliceStable(vd.Resources, func(i, j int) bool { return vd.Resources[i].Resource < vd.Resources[j].Resource })
		list.Items = append(list.Items, apidiscoveryv2.APIGroupDiscovery{
			ObjectMeta: metav1.ObjectMeta{Name: g.name},
			Versions:   []apidiscoveryv2.APIVersionDiscovery{vd},
		})
	}
	b, _ := json.Marshal(list)
	w.Header().Set("Content-Type", aggregatedV2)
	w.Header().Set("Vary", "Accept")
	_, _ = w.Write(b)
}

// writeObjectJSON encodes any value as the response.
func writeObjectJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeStatus(w, &apierrors.NewInternalError(err).ErrStatus)
		return
	}
	writeJSON(w, code, b)
}
