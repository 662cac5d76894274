package apiserver

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

func TestParseResourcePath(t *testing.T) {
	for _, tc := range []struct {
		method, url string
		ok          bool
		want        requestInfo
	}{
		{"GET", "/api/v1/pods", true, requestInfo{version: "v1", resource: "pods", verb: "list"}},
		{"GET", "/api/v1/pods?watch=true", true, requestInfo{version: "v1", resource: "pods", verb: "watch"}},
		{"GET", "/api/v1/namespaces/ns/pods/p", true, requestInfo{version: "v1", namespace: "ns", resource: "pods", name: "p", verb: "get"}},
		{"PUT", "/api/v1/namespaces/ns/pods/p/status", true, requestInfo{version: "v1", namespace: "ns", resource: "pods", name: "p", subresource: "status", verb: "update"}},
		{"GET", "/api/v1/namespaces", true, requestInfo{version: "v1", resource: "namespaces", verb: "list"}},
		{"DELETE", "/api/v1/namespaces/ns", true, requestInfo{version: "v1", resource: "namespaces", name: "ns", verb: "delete"}},
		{"PUT", "/api/v1/namespaces/ns/finalize", true, requestInfo{version: "v1", resource: "namespaces", name: "ns", subresource: "finalize", verb: "update"}},
		{"PATCH", "/api/v1/namespaces/ns/status", true, requestInfo{version: "v1", resource: "namespaces", name: "ns", subresource: "status", verb: "patch"}},
		{"POST", "/apis/apps/v1/namespaces/ns/deployments", true, requestInfo{group: "apps", version: "v1", namespace: "ns", resource: "deployments", verb: "create"}},
		{"DELETE", "/apis/apps/v1/namespaces/ns/deployments", true, requestInfo{group: "apps", version: "v1", namespace: "ns", resource: "deployments", verb: "deletecollection"}},
		{"GET", "/apis/apps/v1/namespaces/ns/deployments/d/scale", true, requestInfo{group: "apps", version: "v1", namespace: "ns", resource: "deployments", name: "d", subresource: "scale", verb: "get"}},
		{"GET", "/api/v1", false, requestInfo{}},
		{"GET", "/apis/apps/v1", false, requestInfo{}},
		{"GET", "/apis/apps", false, requestInfo{}},
		{"GET", "/api/v1/namespaces/ns/pods/p/log/extra", false, requestInfo{}},
		// Proxy requests keep the rest of the path, trailing slash included.
		{"GET", "/api/v1/namespaces/ns/pods/p/proxy", true, requestInfo{version: "v1", namespace: "ns", resource: "pods", name: "p", subresource: "proxy", verb: "get"}},
		{"GET", "/api/v1/namespaces/ns/pods/p/proxy/", true, requestInfo{version: "v1", namespace: "ns", resource: "pods", name: "p", subresource: "proxy", verb: "get", proxyPath: "/"}},
		{"GET", "/api/v1/namespaces/ns/pods/p:8080/proxy/a/b.txt?x=1", true, requestInfo{version: "v1", namespace: "ns", resource: "pods", name: "p:8080", subresource: "proxy", verb: "get", proxyPath: "/a/b.txt"}},
		{"POST", "/api/v1/namespaces/ns/pods/https:p:443/proxy/a/", true, requestInfo{version: "v1", namespace: "ns", resource: "pods", name: "https:p:443", subresource: "proxy", verb: "create", proxyPath: "/a/"}},
		{"DELETE", "/api/v1/namespaces/ns/services/s:http/proxy/x", true, requestInfo{version: "v1", namespace: "ns", resource: "services", name: "s:http", subresource: "proxy", verb: "delete", proxyPath: "/x"}},
		{"GET", "/api/v1/nodes/n/proxy/metrics", true, requestInfo{version: "v1", resource: "nodes", name: "n", subresource: "proxy", verb: "get", proxyPath: "/metrics"}},
	} {
		r := httptest.NewRequest(tc.method, tc.url, nil)
		got, ok := parseResourcePath(r)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("%s %s = %+v, %v; want %+v, %v", tc.method, tc.url, got, ok, tc.want, tc.ok)
		}
	}
}

func TestNegotiate(t *testing.T) {
	for _, tc := range []struct {
		accept string
		want   outputKind
		err    bool
	}{
		{"", outputObject, false},
		{"application/json", outputObject, false},
		{"*/*", outputObject, false},
		{"application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json", outputTable, false},
		{"application/json;as=Table;v=v1beta1;g=meta.k8s.io", outputTable, false},
		{"application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json", outputPartial, false},
		{"application/vnd.kubernetes.protobuf,application/json", outputObject, false},
		{"application/vnd.kubernetes.protobuf", 0, true},
		{"application/json;as=Table;v=v9;g=meta.k8s.io", 0, true},
		{"text/html", 0, true},
	} {
		r := httptest.NewRequest("GET", "/api/v1/pods", nil)
		if tc.accept != "" {
			r.Header.Set("Accept", tc.accept)
		}
		got, err := negotiate(r)
		if (err != nil) != tc.err || (err == nil && got != tc.want) {
			t.Errorf("Accept %q = %v, %v; want %v, err=%v", tc.accept, got, err, tc.want, tc.err)
		}
	}
}

func TestContinueTokenRoundTrip(t *testing.T) {
	prefix := "/registry/configmaps/ns/"
	tok := encodeContinue(42, prefix+"b\x00", prefix)
	got, err := decodeContinue(tok, prefix)
	if err != nil || got.Revision != 42 || got.Start != prefix+"b\x00" {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	for _, bad := range []string{"!!!", "e30", encodeContinue(0, prefix+"x", prefix)} {
		if _, err := decodeContinue(bad, prefix); err == nil {
			t.Errorf("decodeContinue(%q) accepted a bad token", bad)
		}
	}
	// A token cannot walk out of its prefix.
	evil := encodeContinue(5, prefix+"../../secrets/x", prefix)
	if _, err := decodeContinue(evil, prefix); err == nil {
		t.Error("token escaping its prefix was accepted")
	}
}

func TestPrefixEnd(t *testing.T) {
	for in, want := range map[string]string{"/registry/pods/": "/registry/pods0", "a\xff": "b", "": "\x00"} {
		if got := prefixEnd(in); got != want {
			t.Errorf("prefixEnd(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWantsAggregated(t *testing.T) {
	r := httptest.NewRequest("GET", "/apis", nil)
	r.Header.Set("Accept", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json")
	if !wantsAggregated(r) {
		t.Error("kubectl's Accept header should select aggregated discovery")
	}
	r.Header.Set("Accept", "application/json")
	if wantsAggregated(r) {
		t.Error("plain JSON should select legacy discovery")
	}
}

// Boolean query parameters read as kube-apiserver's parameter codec reads
// them: the Python client sends watch=True.
func TestQueryBool(t *testing.T) {
	for _, c := range []struct {
		query          string
		value, present bool
	}{
		{"", false, false},
		{"watch=true", true, true},
		{"watch=True", true, true},
		{"watch=1", true, true},
		{"watch=", true, true},
		{"watch=false", false, true},
		{"watch=FALSE", false, true},
		{"watch=0", false, true},
		{"other=true", false, false},
	} {
		q, err := url.ParseQuery(c.query)
		if err != nil {
			t.Fatal(err)
		}
		v, p := queryBool(q, "watch")
		if v != c.value || p != c.present {
			t.Errorf("%q: got (%v, %v), want (%v, %v)", c.query, v, p, c.value, c.present)
		}
	}
	r := httptest.NewRequest(http.MethodGet, "/api/v1/pods?watch=True", nil)
	if got := verbFor(r, requestInfo{resource: "pods"}); got != "watch" {
		t.Errorf("GET ?watch=True is %q, want watch", got)
	}
}

func TestSplitProxyID(t *testing.T) {
	for _, tc := range []struct {
		id                 string
		scheme, name, port string
		err                bool
	}{
		{"p", "http", "p", "", false},
		{"p:8080", "http", "p", "8080", false},
		{"p:web", "http", "p", "web", false},
		{"https:p:443", "https", "p", "443", false},
		{"http:p:", "http", "p", "", false},
		{"ftp:p:21", "", "", "", true},
		{":80", "", "", "", true},
		{"a:b:c:d", "", "", "", true},
	} {
		scheme, name, port, err := splitProxyID(tc.id)
		if (err != nil) != tc.err || scheme != tc.scheme || name != tc.name || port != tc.port {
			t.Errorf("splitProxyID(%q) = %q, %q, %q, %v; want %q, %q, %q, error %v", tc.id, scheme, name, port, err, tc.scheme, tc.name, tc.port, tc.err)
		}
		if err != nil && !apierrors.IsBadRequest(err) {
			t.Errorf("splitProxyID(%q): %v is not a 400", tc.id, err)
		}
	}
}

func TestPodProxyPort(t *testing.T) {
	withPorts := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{
		{Name: "side"},
		{Name: "web", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "admin", ContainerPort: 9090}}},
		{Name: "db", Ports: []corev1.ContainerPort{{Name: "sql", ContainerPort: 5432}}},
	}}}
	noPorts := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}}}
	for _, tc := range []struct {
		pod          *corev1.Pod
		scheme, port string
		want         int32
		err          bool
	}{
		{withPorts, "http", "", 8080, false}, // the first declared port
		{withPorts, "http", "admin", 9090, false},
		{withPorts, "http", "sql", 5432, false},
		{withPorts, "http", "81", 81, false}, // numbers need not be declared
		{noPorts, "http", "", 80, false},
		{noPorts, "https", "", 443, false},
		{withPorts, "http", "nope", 0, true},
		{withPorts, "http", "0", 0, true},
		{withPorts, "http", "70000", 0, true},
	} {
		got, err := podProxyPort(tc.pod, tc.scheme, tc.port)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("podProxyPort(%s, %q) = %d, %v; want %d, error %v", tc.scheme, tc.port, got, err, tc.want, tc.err)
		}
		if err != nil && !apierrors.IsBadRequest(err) {
			t.Errorf("podProxyPort(%q): %v is not a 400", tc.port, err)
		}
	}
}
