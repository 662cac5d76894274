package tests

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/keyutil"
)

// TestNodeAuthorization: a node credential (system:node:n1 in
// system:nodes, signed by the server's CA) can do what its agent needs —
// read nodes, write its own Node status and Lease, read the pods bound to
// it and the Secrets they use, write events — and is refused everything
// else with 403, by real kubectl and client-go.
func TestNodeAuthorization(t *testing.T) {
	needIntegration(t, "kubectl")
	s := startServer(t)
	ctx := context.Background()
	n1 := s.nodeKubeconfig("n1")

	// The admin sets the scene: two nodes, a pod on each, the Secrets and
	// a ConfigMap they use, and a Secret nobody uses.
	s.mustKubectlStdin(`
apiVersion: v1
kind: Node
metadata: {name: n1}
---
apiVersion: v1
kind: Node
metadata: {name: n2}
---
apiVersion: v1
kind: Secret
metadata: {name: web-tls, namespace: default}
stringData: {key: web}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web-config, namespace: default}
data: {a: b}
---
apiVersion: v1
kind: Secret
metadata: {name: db-password, namespace: default}
stringData: {key: db}
---
apiVersion: v1
kind: Secret
metadata: {name: other, namespace: default}
stringData: {key: other}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default}
spec:
  nodeName: n1
  containers:
  - name: c
    image: busybox
    envFrom: [{configMapRef: {name: web-config}}]
    volumeMounts: [{name: tls, mountPath: /tls}]
  volumes: [{name: tls, secret: {secretName: web-tls}}]
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: default}
spec:
  nodeName: n2
  containers:
  - name: c
    image: busybox
    env: [{name: P, valueFrom: {secretKeyRef: {name: db-password, key: key}}}]
`, "apply", "-f", "-")

	allowed := func(args ...string) string {
		t.Helper()
		out, err := s.kubectlAs(n1, "", args...)
		if err != nil {
			t.Fatalf("node n1: kubectl %s: want allowed, got %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	allowedStdin := func(stdin string, args ...string) string {
		t.Helper()
		out, err := s.kubectlAs(n1, stdin, args...)
		if err != nil {
			t.Fatalf("node n1: kubectl %s: want allowed, got %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	forbidden := func(args ...string) {
		t.Helper()
		out, err := s.kubectlAs(n1, "", args...)
		if err == nil || !strings.Contains(out, `forbidden: User "system:node:n1"`) {
			t.Fatalf("node n1: kubectl %s: want 403 Forbidden for system:node:n1, got err=%v\n%s", strings.Join(args, " "), err, out)
		}
	}
	forbiddenStdin := func(stdin string, args ...string) {
		t.Helper()
		out, err := s.kubectlAs(n1, stdin, args...)
		if err == nil || !strings.Contains(out, `forbidden: User "system:node:n1"`) {
			t.Fatalf("node n1: kubectl %s: want 403 Forbidden, got err=%v\n%s", strings.Join(args, " "), err, out)
		}
	}

	// Nodes: any may be read; only its own written.
	contains(t, allowed("get", "node", "n1"), "n1")
	contains(t, allowed("get", "nodes"), "n1", "n2")
	allowed("patch", "node", "n1", "--subresource=status", "--type=merge", `-p={"status":{"capacity":{"pods":"17"}}}`)
	if got := strings.TrimSpace(s.mustKubectl("get", "node", "n1", "-o", "jsonpath={.status.capacity.pods}")); got != "17" {
		t.Fatalf("n1 capacity.pods = %q after the node's own status patch", got)
	}
	forbidden("patch", "node", "n2", "--subresource=status", "--type=merge", `-p={"status":{"capacity":{"pods":"17"}}}`)
	forbidden("label", "node", "n2", "x=y")
	forbidden("delete", "node", "n2")

	// Its Lease, and nobody else's.
	lease := func(name string) string {
		return fmt.Sprintf(`apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: %s, namespace: kube-node-lease}
spec: {holderIdentity: %s, leaseDurationSeconds: 40}
`, name, name)
	}
	allowedStdin(lease("n1"), "create", "-f", "-")
	allowed("patch", "lease", "n1", "-n", "kube-node-lease", "--type=merge", `-p={"spec":{"leaseDurationSeconds":50}}`)
	nc := s.nodeClient(n1)
	l, err := nc.CoordinationV1().Leases("kube-node-lease").Get(ctx, "n1", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("node n1 gets its Lease: %v", err)
	}
	now := metav1.NewMicroTime(time.Now())
	l.Spec.RenewTime = &now
	if _, err := nc.CoordinationV1().Leases("kube-node-lease").Update(ctx, l, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("node n1 renews its Lease: %v", err)
	}
	contains(t, allowed("get", "leases", "-n", "kube-node-lease", "--field-selector", "metadata.name=n1"), "n1")
	forbiddenStdin(lease("n2"), "create", "-f", "-")
	forbidden("get", "leases", "-n", "kube-node-lease")
	forbidden("get", "lease", "n1", "-n", "default")

	// Pods: those bound to it, one by one or listed by spec.nodeName.
	forbidden("get", "pods", "-A")
	forbidden("get", "pods", "-n", "default")
	forbidden("get", "pod", "db", "-n", "default")
	// The hub indexes the pods from the datastore's watch: the grant
	// follows the write shortly.
	eventually(t, 10*time.Second, "node n1 may read its pod web", func() bool {
		_, err := s.kubectlAs(n1, "", "get", "pod", "web", "-n", "default")
		return err == nil
	})
	out := allowed("get", "pods", "-A", "--field-selector", "spec.nodeName=n1")
	contains(t, out, "web")
	if strings.Contains(out, "db") {
		t.Fatalf("node n1 lists another node's pod:\n%s", out)
	}
	forbidden("get", "pods", "-A", "--field-selector", "spec.nodeName=n2")
	allowed("patch", "pod", "web", "-n", "default", "--subresource=status", "--type=merge", `-p={"status":{"message":"from n1"}}`)
	forbidden("patch", "pod", "db", "-n", "default", "--subresource=status", "--type=merge", `-p={"status":{"message":"from n1"}}`)
	forbidden("label", "pod", "web", "-n", "default", "x=y")
	forbiddenStdin(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"mirror","namespace":"default"},"spec":{"nodeName":"n1","containers":[{"name":"c","image":"busybox"}]}}`, "create", "-f", "-")

	// A watch of its pods sees them; client-go's reflector asks this way.
	w, err := nc.CoreV1().Pods("").Watch(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=n1"})
	if err != nil {
		t.Fatalf("node n1 watches its pods: %v", err)
	}
	select {
	case ev := <-w.ResultChan():
		if p, ok := ev.Object.(*corev1.Pod); ev.Type != watch.Added || !ok || p.Name != "web" {
			t.Fatalf("first event of the node's pod watch: %s %#v", ev.Type, ev.Object)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event on the node's pod watch")
	}
	w.Stop()

	// Secrets and ConfigMaps its pods use; nothing else, no listing, no writes.
	contains(t, allowed("get", "secret", "web-tls", "-n", "default", "-o", "jsonpath={.data.key}"), base64.StdEncoding.EncodeToString([]byte("web")))
	allowed("get", "configmap", "web-config", "-n", "default")
	contains(t, allowed("get", "secrets", "-n", "default", "--field-selector", "metadata.name=web-tls"), "web-tls")
	forbidden("get", "secret", "other", "-n", "default")
	forbidden("get", "secret", "db-password", "-n", "default")
	forbidden("get", "secrets", "-n", "default")
	forbidden("get", "secrets", "-A")
	forbidden("get", "secrets", "-n", "default", "--field-selector", "metadata.name=other")
	forbidden("label", "secret", "web-tls", "-n", "default", "x=y")
	forbidden("delete", "configmap", "web-config", "-n", "default")

	// Events anywhere; services readable.
	allowedStdin(`{"apiVersion":"v1","kind":"Event","metadata":{"name":"web.1","namespace":"default"},"involvedObject":{"kind":"Pod","name":"web","namespace":"default"},"reason":"Started","message":"started","type":"Normal","source":{"component":"skiff-agent","host":"n1"}}`, "create", "-f", "-")
	allowed("get", "services", "-A")
	allowed("get", "endpoints", "kubernetes", "-n", "default")

	// Everything else.
	forbidden("get", "namespaces")
	forbidden("get", "deployments", "-A")
	forbidden("create", "deployment", "x", "--image=busybox")
	forbidden("get", "serviceaccounts", "-n", "default")
	// The node runs a pod as default/default, so the Node authorizer lets
	// it ask for that account's tokens — but only bound to its own pod
	// (kube's NodeRestriction).
	if out, err := s.kubectlAs(n1, "", "create", "token", "default", "-n", "default"); err == nil || !strings.Contains(out, "node requested token not bound to a pod") {
		t.Fatalf("node n1: create token without a bound pod: want 403, got err=%v\n%s", err, out)
	}
	if out, err := s.kubectlAs(n1, "", "create", "token", "default", "-n", "default", "--bound-object-kind=Pod", "--bound-object-name=db"); err == nil || !strings.Contains(out, "scheduled on a different node") {
		t.Fatalf("node n1: token bound to another node's pod: want 403, got err=%v\n%s", err, out)
	}
	allowed("create", "token", "default", "-n", "default", "--bound-object-kind=Pod", "--bound-object-name=web")
	forbidden("create", "token", "builder", "-n", "default")
	forbidden("delete", "pod", "db", "-n", "default")

	// When the pod goes, so does the node's access to what it used.
	s.mustKubectl("delete", "pod", "web", "-n", "default", "--grace-period=0", "--force")
	eventually(t, 10*time.Second, "node n1 to lose its Secret with its pod", func() bool {
		out, err := s.kubectlAs(n1, "", "get", "secret", "web-tls", "-n", "default")
		return err != nil && strings.Contains(out, "(Forbidden)") && strings.Contains(out, "no relationship found")
	})
	forbidden("get", "configmap", "web-config", "-n", "default")
	forbidden("get", "pod", "web", "-n", "default")

	// A node credential that is not named system:node:<name> gets nothing.
	odd := s.nodeKubeconfigFor("n1", []string{"system:nodes"})
	out, err = s.kubectlAs(odd, "", "get", "node", "n1")
	if err == nil || !strings.Contains(out, `forbidden: User "n1"`) || !strings.Contains(out, "unknown node") {
		t.Fatalf("user n1 in system:nodes: get node n1: want 403, got err=%v\n%s", err, out)
	}
}

// nodeKubeconfig writes a kubeconfig for node name: a client certificate
// for system:node:<name> in system:nodes, signed with the server's CA.
func (s *server) nodeKubeconfig(name string) string {
	return s.nodeKubeconfigFor("system:node:"+name, []string{"system:nodes"})
}

func (s *server) nodeKubeconfigFor(cn string, orgs []string) string {
	t := s.t
	t.Helper()
	tlsDir := filepath.Join(s.dataDir, "server", "tls")
	// Node certificates come from the client CA; the kubeconfig trusts
	// the server CA.
	caPEM, err := os.ReadFile(filepath.Join(tlsDir, "server-ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	clientCAPEM, err := os.ReadFile(filepath.Join(tlsDir, "client-ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	caKeyPEM, err := os.ReadFile(filepath.Join(tlsDir, "client-ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(clientCAPEM)
	if block == nil {
		t.Fatal("client-ca.crt holds no PEM block")
	}
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := keyutil.ParsePrivateKeyPEM(caKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn, Organization: orgs},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	b64 := base64.StdEncoding.EncodeToString
	kc := filepath.Join(t.TempDir(), "node.kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: skiff, cluster: {server: %q, certificate-authority-data: %s}}]
users: [{name: node, user: {client-certificate-data: %s, client-key-data: %s}}]
contexts: [{name: node, context: {cluster: skiff, user: node}}]
current-context: node
`, s.url(), b64(caPEM), b64(certPEM), b64(keyPEM))
	if err := os.WriteFile(kc, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return kc
}

// kubectlAs runs kubectl with another kubeconfig.
func (s *server) kubectlAs(kubeconfig, stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECTL_KUBERC=false")
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// nodeClient is client-go with a node's kubeconfig.
func (s *server) nodeClient(kubeconfig string) kubernetes.Interface {
	s.t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		s.t.Fatal(err)
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}
