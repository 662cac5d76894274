package tests

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const demoManifest = `apiVersion: v1
kind: Namespace
metadata:
  name: demo
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: demo
  labels: {app: web}
  annotations: {team: edge}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: registry.local/busybox:1.36
        command: ["httpd", "-f", "-p", "8080"]
        ports:
        - containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: demo
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
  namespace: demo
data:
  mode: fast
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
  namespace: demo
stringData:
  password: hunter2
`

func TestKubectlSQLite(t *testing.T) {
	needIntegration(t, "kubectl")
	s := startServer(t)
	runKubectlSuite(t, s)
}

func TestKubectlEtcd(t *testing.T) {
	needIntegration(t, "kubectl", "etcd")
	e := startEtcd(t)
	s := startServer(t, withArgs("--datastore-endpoint", e.endpoint, "--datastore-insecure", "--token", clusterSecret))
	runKubectlSuite(t, s)
	// The objects are really in etcd under the Kubernetes key layout.
	resp, err := e.client(t).Get(context.Background(), "/registry/services/demo/web")
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("service not in etcd: %v %v", err, resp)
	}
}

func contains(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Fatalf("output lacks %q:\n%s", w, out)
		}
	}
}

func jsonpath(s *server, args ...string) string {
	s.t.Helper()
	return strings.TrimSpace(s.mustKubectl(args...))
}

// runKubectlSuite is the control plane's acceptance script: what a new user
// does with kubectl on a fresh server.
func runKubectlSuite(t *testing.T, s *server) {
	dir := t.TempDir()
	manifest := filepath.Join(dir, "demo.yaml")
	write := func(content string) {
		if err := os.WriteFile(manifest, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(demoManifest)

	t.Run("get nodes", func(t *testing.T) {
		contains(t, s.mustKubectl("get", "nodes"), "No resources found")
	})
	t.Run("api-resources", func(t *testing.T) {
		out := s.mustKubectl("api-resources")
		contains(t, out, "deployments", "deploy", "apps/v1", "configmaps", "cm", "leases", "coordination.k8s.io/v1")
	})
	t.Run("apply", func(t *testing.T) {
		out := s.mustKubectl("apply", "-f", manifest)
		contains(t, out, "namespace/demo created", "deployment.apps/web created", "service/web created", "configmap/cfg created", "secret/creds created")
		// stringData is stored as data.
		if got := jsonpath(s, "get", "secret", "creds", "-n", "demo", "-o", "jsonpath={.data.password}"); got != "aHVudGVyMg==" {
			t.Fatalf("secret data = %q", got)
		}
	})
	t.Run("get all columns", func(t *testing.T) {
		out := s.mustKubectl("get", "all", "-n", "demo")
		contains(t, out, "service/web", "ClusterIP", "10.43.", "80/TCP", "deployment.apps/web", "READY", "UP-TO-DATE", "AVAILABLE", "0/2")
		out = s.mustKubectl("get", "deploy", "-n", "demo", "-o", "wide")
		contains(t, out, "CONTAINERS", "IMAGES", "SELECTOR", "registry.local/busybox:1.36", "app=web")
	})
	t.Run("get yaml", func(t *testing.T) {
		out := s.mustKubectl("get", "deploy", "web", "-n", "demo", "-o", "yaml")
		contains(t, out, "replicas: 2", "resourceVersion:", "uid:", "creationTimestamp:", "generation: 1")
	})
	t.Run("apply again three-way merge", func(t *testing.T) {
		s.mustKubectl("label", "deploy", "web", "-n", "demo", "added-by-hand=yes")
		edited := strings.Replace(demoManifest, "replicas: 2", "replicas: 4", 1)
		edited = strings.Replace(edited, "  annotations: {team: edge}\n", "", 1)
		write(edited)
		contains(t, s.mustKubectl("apply", "-f", manifest), "deployment.apps/web configured", "configmap/cfg unchanged")
		if got := jsonpath(s, "get", "deploy", "web", "-n", "demo", "-o", "jsonpath={.spec.replicas}"); got != "4" {
			t.Fatalf("replicas = %s", got)
		}
		// Removed from the file: removed from the object. Added by hand: kept.
		if got := jsonpath(s, "get", "deploy", "web", "-n", "demo", "-o", "jsonpath={.metadata.annotations.team}"); got != "" {
			t.Fatalf("annotation removed from the manifest is still there: %q", got)
		}
		if got := jsonpath(s, "get", "deploy", "web", "-n", "demo", "-o", "jsonpath={.metadata.labels.added-by-hand}"); got != "yes" {
			t.Fatalf("label added by hand was lost: %q", got)
		}
		if got := jsonpath(s, "get", "deploy", "web", "-n", "demo", "-o", "jsonpath={.metadata.generation}"); got != "2" {
			t.Fatalf("generation = %s, want 2 after a spec change", got)
		}
	})
	t.Run("apply server-side", func(t *testing.T) {
		contains(t, s.mustKubectl("apply", "--server-side", "--force-conflicts", "-f", manifest), "deployment.apps/web serverside-applied")
		out := s.mustKubectl("get", "deploy", "web", "-n", "demo", "-o", "json", "--show-managed-fields")
		var obj struct {
			Metadata struct {
				ManagedFields []struct{ Manager, Operation string } `json:"managedFields"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal([]byte(out), &obj); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, m := range obj.Metadata.ManagedFields {
			if m.Manager == "kubectl" && m.Operation == "Apply" {
				found = true
			}
		}
		if !found {
			t.Fatalf("no kubectl Apply manager in managedFields: %+v", obj.Metadata.ManagedFields)
		}
		// A second manager that owns replicas conflicts without --force-conflicts.
		other := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"demo"},"spec":{"replicas":7}}`
		out, err := s.kubectlStdin(other, "apply", "--server-side", "--field-manager", "other", "-f", "-")
		if err == nil || !strings.Contains(out, "conflict") {
			t.Fatalf("expected an apply conflict, got err=%v:\n%s", err, out)
		}
	})
	t.Run("diff", func(t *testing.T) {
		write(strings.Replace(demoManifest, "replicas: 2", "replicas: 5", 1))
		out, err := s.kubectl("diff", "-f", manifest)
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Fatalf("kubectl diff: want exit 1 (differences), got %v:\n%s", err, out)
		}
		contains(t, out, "+  replicas: 5", "-  replicas: 4")
		if got := jsonpath(s, "get", "deploy", "web", "-n", "demo", "-o", "jsonpath={.spec.replicas}"); got != "4" {
			t.Fatalf("diff changed the object: replicas = %s", got)
		}
	})
	t.Run("patch types", func(t *testing.T) {
		s.mustKubectl("patch", "cm", "cfg", "-n", "demo", "--type", "merge", "-p", `{"data":{"merged":"1"}}`)
		s.mustKubectl("patch", "cm", "cfg", "-n", "demo", "--type", "json", "-p", `[{"op":"add","path":"/data/json","value":"2"}]`)
		s.mustKubectl("patch", "deploy", "web", "-n", "demo", "--type", "strategic", "-p",
			`{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"registry.local/busybox:1.37"}]}}}}`)
		if got := jsonpath(s, "get", "cm", "cfg", "-n", "demo", "-o", "jsonpath={.data.merged},{.data.json},{.data.mode}"); got != "1,2,fast" {
			t.Fatalf("configmap data after patches = %q", got)
		}
		// Strategic merge keeps the container's other fields (merge by name).
		if got := jsonpath(s, "get", "deploy", "web", "-n", "demo", "-o", "jsonpath={.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].command[0]}"); got != "registry.local/busybox:1.37 httpd" {
			t.Fatalf("after strategic patch: %q", got)
		}
	})
	t.Run("scale", func(t *testing.T) {
		contains(t, s.mustKubectl("scale", "deploy", "web", "-n", "demo", "--replicas", "3"), "scaled")
		if got := jsonpath(s, "get", "deploy", "web", "-n", "demo", "-o", "jsonpath={.spec.replicas}"); got != "3" {
			t.Fatalf("replicas = %s", got)
		}
	})
	t.Run("label and annotate", func(t *testing.T) {
		s.mustKubectl("label", "cm", "cfg", "-n", "demo", "tier=backend")
		s.mustKubectl("annotate", "cm", "cfg", "-n", "demo", "owner=ops")
		contains(t, s.mustKubectl("get", "cm", "-n", "demo", "-l", "tier=backend", "--show-labels"), "cfg", "tier=backend")
		if got := jsonpath(s, "get", "cm", "cfg", "-n", "demo", "-o", "jsonpath={.metadata.annotations.owner}"); got != "ops" {
			t.Fatalf("annotation = %q", got)
		}
	})
	t.Run("edit", func(t *testing.T) {
		editor := filepath.Join(dir, "editor.sh")
		script := "#!/bin/sh\nsed -i 's/mode: fast/mode: edited/' \"$1\"\n"
		if err := os.WriteFile(editor, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("kubectl", "--kubeconfig", s.kubeconfig, "edit", "cm", "cfg", "-n", "demo")
		cmd.Env = append(os.Environ(), "EDITOR="+editor, "KUBE_EDITOR="+editor)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl edit: %v\n%s", err, out)
		}
		if got := jsonpath(s, "get", "cm", "cfg", "-n", "demo", "-o", "jsonpath={.data.mode}"); got != "edited" {
			t.Fatalf("mode = %q", got)
		}
	})
	t.Run("explain", func(t *testing.T) {
		out := s.mustKubectl("explain", "deployment.spec.template")
		contains(t, out, "KIND:", "Deployment", "PodTemplateSpec", "FIELDS:", "spec")
		out = s.mustKubectl("explain", "pods.spec.containers.image")
		contains(t, out, "FIELD: image", "string")
	})
	t.Run("get watch", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "kubectl", "--kubeconfig", s.kubeconfig, "get", "cm", "-n", "demo", "-w")
		var buf lockedBuffer
		cmd.Stdout, cmd.Stderr = &buf, &buf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cancel(); _ = cmd.Wait() }()
		eventually(t, 10*time.Second, "watch to list cfg", func() bool { return strings.Contains(buf.String(), "cfg") })
		s.mustKubectl("create", "cm", "later", "-n", "demo", "--from-literal=k=v")
		eventually(t, 10*time.Second, "watch to print the new configmap", func() bool { return strings.Contains(buf.String(), "later") })
		s.mustKubectl("delete", "cm", "later", "-n", "demo")
	})
	t.Run("delete foreground keeps object until finalizer removed", func(t *testing.T) {
		// A finalizer of the user's holds the object; the garbage collector
		// handles foregroundDeletion once the dependents are gone.
		s.mustKubectl("patch", "deploy", "web", "-n", "demo", "--type", "merge", "-p", `{"metadata":{"finalizers":["example.com/hold"]}}`)
		s.mustKubectl("delete", "deploy", "web", "-n", "demo", "--cascade=foreground", "--wait=false")
		got := jsonpath(s, "get", "deploy", "web", "-n", "demo", "-o", "jsonpath={.metadata.finalizers} {.metadata.deletionTimestamp}")
		if !strings.Contains(got, "example.com/hold") || len(strings.Fields(got)) != 2 {
			t.Fatalf("after foreground delete: %q", got)
		}
		// Still readable while it waits.
		contains(t, s.mustKubectl("get", "deploy", "web", "-n", "demo"), "web")
		s.mustKubectl("patch", "deploy", "web", "-n", "demo", "--type", "json", "-p", `[{"op":"remove","path":"/metadata/finalizers/0"}]`)
		eventually(t, 10*time.Second, "deployment to go once its finalizers are gone", func() bool {
			out, err := s.kubectl("get", "deploy", "web", "-n", "demo")
			return err != nil && strings.Contains(out, "NotFound")
		})
	})
	t.Run("delete", func(t *testing.T) {
		contains(t, s.mustKubectl("delete", "cm", "cfg", "-n", "demo"), `configmap "cfg" deleted`)
		out, err := s.kubectl("get", "cm", "cfg", "-n", "demo")
		if err == nil || !strings.Contains(out, `configmaps "cfg" not found`) {
			t.Fatalf("get after delete: %v\n%s", err, out)
		}
	})
	t.Run("openapi", func(t *testing.T) {
		out := s.mustKubectl("get", "--raw", "/openapi/v3")
		contains(t, out, `"api/v1"`, `"apis/apps/v1"`, "serverRelativeURL")
	})
}

// TestEventsTwoViews: an events.k8s.io/v1 Event is a core Event on disk;
// `kubectl get events` shows it with kube's columns.
func TestEventsTwoViews(t *testing.T) {
	needIntegration(t, "kubectl")
	s := startServer(t)
	ev := `apiVersion: events.k8s.io/v1
kind: Event
metadata: {name: test-ev, namespace: default}
eventTime: "2026-11-23T15:00:00.000000Z"
reportingController: example.com/ctl
reportingInstance: ctl-1
action: Testing
reason: Tested
regarding: {kind: ConfigMap, name: x, namespace: default}
note: hello from events.k8s.io
type: Normal
`
	if out, err := s.kubectlStdin(ev, "create", "-f", "-"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	out := s.mustKubectl("get", "events")
	contains(t, out, "LAST SEEN", "REASON", "Tested", "configmap/x", "hello from events.k8s.io")
	if strings.Contains(out, "Warning") {
		t.Fatalf("kubectl warned:\n%s", out)
	}
	if got := jsonpath(s, "get", "events.v1.events.k8s.io", "test-ev", "-o", "jsonpath={.note} {.regarding.kind}"); got != "hello from events.k8s.io ConfigMap" {
		t.Fatalf("events.k8s.io view: %q", got)
	}
	if got := jsonpath(s, "get", "events.v1.", "test-ev", "-o", "jsonpath={.message} {.involvedObject.name} {.source.component}"); !strings.HasPrefix(got, "hello from events.k8s.io x") {
		t.Fatalf("core view: %q", got)
	}
	// events.k8s.io's own field labels, as kube-apiserver serves them.
	for sel, want := range map[string]string{
		"reportingController=example.com/ctl":                "test-ev",
		"regarding.kind=ConfigMap,regarding.name=x":          "test-ev",
		"reason=Tested,type=Normal":                          "test-ev",
		"regarding.name=y":                                   "",
		"reportingController=other,regarding.kind=ConfigMap": "",
	} {
		if got := jsonpath(s, "get", "events.v1.events.k8s.io", "--field-selector", sel, "-o", "jsonpath={.items[*].metadata.name}"); got != want {
			t.Errorf("--field-selector %s: %q, want %q", sel, got, want)
		}
	}
}
