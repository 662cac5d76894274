package openapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// docJSON renders the document of key from testResources as generic JSON.
func docJSON(t *testing.T, key string) map[string]any {
	t.Helper()
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	if err := writeDoc(w, key, testResources()); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("document is not JSON: %v", err)
	}
	return doc
}

func getPath(t *testing.T, doc map[string]any, path string) map[string]any {
	t.Helper()
	p, _ := doc["paths"].(map[string]any)[path].(map[string]any)
	if p == nil {
		t.Fatalf("path %s missing", path)
	}
	return p
}

func paramNames(v any) []string {
	var names []string
	list, _ := v.([]any)
	for _, p := range list {
		names = append(names, p.(map[string]any)["name"].(string))
	}
	return names
}

func TestOperations(t *testing.T) {
	core, apps, rbac := docJSON(t, "api/v1"), docJSON(t, "apis/apps/v1"), docJSON(t, "apis/rbac.authorization.k8s.io/v1")
	gvk := func(g, v, k string) map[string]any { return map[string]any{"group": g, "version": v, "kind": k} }
	deploy, pod, ns := gvk("apps", "v1", "Deployment"), gvk("", "v1", "Pod"), gvk("", "v1", "Namespace")
	tests := []struct {
		doc          map[string]any
		path, method string
		id, action   string
		gvk          map[string]any
		opParams     []string // the operation's own parameters, sorted
	}{
		{apps, "/apis/apps/v1/namespaces/{namespace}/deployments", "get", "listAppsV1NamespacedDeployment", "list", deploy,
			[]string{"allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit", "resourceVersion", "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds", "watch"}},
		{apps, "/apis/apps/v1/namespaces/{namespace}/deployments", "post", "createAppsV1NamespacedDeployment", "post", deploy,
			[]string{"dryRun", "fieldManager", "fieldValidation"}},
		{apps, "/apis/apps/v1/namespaces/{namespace}/deployments", "delete", "deleteAppsV1CollectionNamespacedDeployment", "deletecollection", deploy,
			[]string{"continue", "dryRun", "fieldSelector", "gracePeriodSeconds", "labelSelector", "limit", "orphanDependents", "propagationPolicy", "resourceVersion", "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds"}},
		{apps, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "get", "readAppsV1NamespacedDeployment", "get", deploy, nil},
		{apps, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "put", "replaceAppsV1NamespacedDeployment", "put", deploy,
			[]string{"dryRun", "fieldManager", "fieldValidation"}},
		{apps, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "patch", "patchAppsV1NamespacedDeployment", "patch", deploy,
			[]string{"dryRun", "fieldManager", "fieldValidation", "force"}},
		{apps, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "delete", "deleteAppsV1NamespacedDeployment", "delete", deploy,
			[]string{"dryRun", "gracePeriodSeconds", "orphanDependents", "propagationPolicy"}},
		{apps, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status", "patch", "patchAppsV1NamespacedDeploymentStatus", "patch", deploy,
			[]string{"dryRun", "fieldManager", "fieldValidation", "force"}},
		{apps, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale", "get", "readAppsV1NamespacedDeploymentScale", "get", gvk("autoscaling", "v1", "Scale"), nil},
		{apps, "/apis/apps/v1/deployments", "get", "listAppsV1DeploymentForAllNamespaces", "list", deploy, nil},
		{apps, "/apis/apps/v1/watch/deployments", "get", "watchAppsV1DeploymentListForAllNamespaces", "watchlist", deploy, nil},
		{apps, "/apis/apps/v1/watch/namespaces/{namespace}/deployments", "get", "watchAppsV1NamespacedDeploymentList", "watchlist", deploy, nil},
		{apps, "/apis/apps/v1/watch/namespaces/{namespace}/deployments/{name}", "get", "watchAppsV1NamespacedDeployment", "watch", deploy, nil},
		{apps, "/apis/apps/v1/", "get", "getAppsV1APIResources", "", nil, nil},
		{core, "/api/v1/namespaces/{namespace}/pods/{name}/binding", "post", "createCoreV1NamespacedPodBinding", "post", gvk("", "v1", "Binding"), nil},
		{core, "/api/v1/namespaces/{namespace}/pods/{name}/eviction", "post", "createCoreV1NamespacedPodEviction", "post", gvk("policy", "v1", "Eviction"), nil},
		{core, "/api/v1/namespaces/{namespace}/pods/{name}/log", "get", "readCoreV1NamespacedPodLog", "get", pod, nil},
		{core, "/api/v1/namespaces/{namespace}/pods/{name}/exec", "post", "connectCoreV1PostNamespacedPodExec", "connect", gvk("", "v1", "PodExecOptions"), nil},
		{core, "/api/v1/namespaces/{namespace}/pods/{name}/ephemeralcontainers", "put", "replaceCoreV1NamespacedPodEphemeralcontainers", "put", pod,
			[]string{"dryRun", "fieldManager", "fieldValidation"}},
		{core, "/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token", "post", "createCoreV1NamespacedServiceAccountToken", "post", gvk("authentication.k8s.io", "v1", "TokenRequest"), nil},
		{core, "/api/v1/namespaces/{namespace}/bindings", "post", "createCoreV1NamespacedBinding", "post", gvk("", "v1", "Binding"), nil},
		{core, "/api/v1/namespaces", "get", "listCoreV1Namespace", "list", ns,
			[]string{"allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit", "resourceVersion", "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds", "watch"}},
		{core, "/api/v1/namespaces/{name}", "patch", "patchCoreV1Namespace", "patch", ns, []string{"dryRun", "fieldManager", "fieldValidation", "force"}},
		{core, "/api/v1/namespaces/{name}/finalize", "put", "replaceCoreV1NamespaceFinalize", "put", ns, nil},
		{core, "/api/v1/watch/namespaces", "get", "watchCoreV1NamespaceList", "watchlist", ns, nil},
		{core, "/api/v1/watch/namespaces/{name}", "get", "watchCoreV1Namespace", "watch", ns, nil},
		{rbac, "/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}", "get", "readRbacAuthorizationV1ClusterRole", "get", gvk("rbac.authorization.k8s.io", "v1", "ClusterRole"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			op, _ := getPath(t, tt.doc, tt.path)[tt.method].(map[string]any)
			if op == nil {
				t.Fatalf("no %s operation", tt.method)
			}
			if op["operationId"] != tt.id {
				t.Errorf("operationId = %v, want %s", op["operationId"], tt.id)
			}
			if a, _ := op["x-kubernetes-action"].(string); a != tt.action {
				t.Errorf("action = %q, want %q", a, tt.action)
			}
			if g, _ := op["x-kubernetes-group-version-kind"].(map[string]any); !reflect.DeepEqual(g, tt.gvk) && !(g == nil && tt.gvk == nil) {
				t.Errorf("gvk = %v, want %v", g, tt.gvk)
			}
			if got := paramNames(op["parameters"]); !reflect.DeepEqual(got, tt.opParams) {
				t.Errorf("operation parameters = %v, want %v", got, tt.opParams)
			}
		})
	}
}

func TestPathParameters(t *testing.T) {
	core, apps := docJSON(t, "api/v1"), docJSON(t, "apis/apps/v1")
	tests := []struct {
		doc  map[string]any
		path string
		want []string
	}{
		{apps, "/apis/apps/v1/namespaces/{namespace}/deployments", []string{"namespace", "pretty"}},
		{apps, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}", []string{"name", "namespace", "pretty"}},
		{apps, "/apis/apps/v1/watch/deployments", []string{"allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit", "pretty", "resourceVersion", "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds", "watch"}},
		{core, "/api/v1/namespaces/{name}/finalize", []string{"dryRun", "fieldManager", "fieldValidation", "name", "pretty"}},
		{core, "/api/v1/namespaces/{namespace}/pods/{name}/exec", []string{"command", "container", "name", "namespace", "stderr", "stdin", "stdout", "tty"}},
		{core, "/api/v1/namespaces/{namespace}/pods/{name}/log", []string{"container", "follow", "insecureSkipTLSVerifyBackend", "limitBytes", "name", "namespace", "pretty", "previous", "sinceSeconds", "stream", "tailLines", "timestamps"}},
	}
	for _, tt := range tests {
		if got := paramNames(getPath(t, tt.doc, tt.path)["parameters"]); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s parameters = %v, want %v", tt.path, got, tt.want)
		}
	}
}

// TestFieldValidationDetectable replays cli-runtime's queryParamVerifierV3
// (pkg/resource/query_param_verifier_v3.go): for every PATCH operation
// tagged with a GVK, the first one it finds must list fieldValidation among
// the operation's own query parameters. Go map order makes "first" random,
// so every one must.
func TestFieldValidationDetectable(t *testing.T) {
	for _, key := range []string{"api/v1", "apis/apps/v1", "apis/batch/v1", "apis/rbac.authorization.k8s.io/v1"} {
		doc := docJSON(t, key)
		patched := 0
		for path, item := range doc["paths"].(map[string]any) {
			op, _ := item.(map[string]any)["patch"].(map[string]any)
			if op == nil {
				continue
			}
			if _, ok := op["x-kubernetes-group-version-kind"].(map[string]any); !ok {
				continue
			}
			patched++
			found := false
			for _, p := range op["parameters"].([]any) {
				p := p.(map[string]any)
				if p["name"] == "fieldValidation" && p["in"] == "query" {
					found = true
				}
			}
			if !found {
				t.Errorf("%s: PATCH %s has no operation-level fieldValidation query parameter", key, path)
			}
			content := op["requestBody"].(map[string]any)["content"].(map[string]any)
			var types []string
			for ct := range content {
				types = append(types, ct)
			}
			sort.Strings(types)
			if want := patchContentTypes; !reflect.DeepEqual(types, want) {
				t.Errorf("%s: PATCH %s content types = %v, want %v", key, path, types, want)
			}
		}
		if patched == 0 {
			t.Errorf("%s: no PATCH operations", key)
		}
	}
	// The path kubectl checks for "kubectl apply" of a Deployment.
	op := getPath(t, docJSON(t, "apis/apps/v1"), "/apis/apps/v1/namespaces/{namespace}/deployments/{name}")["patch"].(map[string]any)
	if !strings.Contains(strings.Join(paramNames(op["parameters"]), ","), "fieldValidation") {
		t.Error("deployment PATCH lacks fieldValidation")
	}
}

func TestValidID(t *testing.T) {
	tests := []struct {
		in   string
		cap  bool
		want string
	}{
		{"apps", true, "Apps"},
		{"apps", false, "apps"},
		{"rbac.authorization", true, "RbacAuthorization"},
		{"rbac.authorization", false, "rbacAuthorization"},
		{"v1beta1", true, "V1beta1"},
		{"ephemeralcontainers", true, "Ephemeralcontainers"},
	}
	for _, tt := range tests {
		if got := validID(tt.in, tt.cap); got != tt.want {
			t.Errorf("validID(%q, %v) = %q, want %q", tt.in, tt.cap, got, tt.want)
		}
	}
}

func TestUnknownSubresourceSkipped(t *testing.T) {
	rs := testResources()[:1]
	rs[0].Subresources = []string{"status", "nonsense"}
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	if err := writeDoc(w, "api/v1", rs); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	if bytes.Contains(buf.Bytes(), []byte("nonsense")) {
		t.Error("unknown subresource was documented")
	}
	if !bytes.Contains(buf.Bytes(), []byte(`"/api/v1/namespaces/{namespace}/pods/{name}/status"`)) {
		t.Error("status subresource missing")
	}
}
