package tests

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skiff-io/skiff/server/satoken"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// TestServiceAccountDefaults: a new namespace gets the default
// ServiceAccount and the kube-root-ca.crt ConfigMap within a second, and
// both come back when deleted or changed.
func TestServiceAccountDefaults(t *testing.T) {
	needIntegration(t, "kubectl")
	s := startServer(t)
	c := s.client()
	ctx := context.Background()
	caPEM, err := os.ReadFile(filepath.Join(s.dataDir, "server", "tls", "server-ca.crt"))
	if err != nil {
		t.Fatal(err)
	}

	// The system namespaces have them from the start.
	for _, ns := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
		eventually(t, 5*time.Second, "default ServiceAccount in "+ns, func() bool {
			_, err := c.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
			return err == nil
		})
	}

	s.mustKubectl("create", "namespace", "y")
	created := time.Now()
	eventually(t, time.Second, "default ServiceAccount and kube-root-ca.crt within a second", func() bool {
		_, err1 := c.CoreV1().ServiceAccounts("y").Get(ctx, "default", metav1.GetOptions{})
		_, err2 := c.CoreV1().ConfigMaps("y").Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		return err1 == nil && err2 == nil
	})
	t.Logf("both present %s after kubectl create ns returned", time.Since(created).Round(time.Millisecond))
	contains(t, s.mustKubectl("get", "sa", "default", "-n", "y"), "default")
	contains(t, s.mustKubectl("get", "cm", "kube-root-ca.crt", "-n", "y"), "kube-root-ca.crt")
	cm, err := c.CoreV1().ConfigMaps("y").Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["ca.crt"] != string(caPEM) || len(cm.Data) != 1 {
		t.Fatalf("kube-root-ca.crt data = %v, want ca.crt = the server CA", cm.Data)
	}
	if !strings.Contains(cm.Annotations["kubernetes.io/description"], "CA bundle") {
		t.Errorf("kube-root-ca.crt annotations = %v", cm.Annotations)
	}

	// Deleted: recreated.
	sa, _ := c.CoreV1().ServiceAccounts("y").Get(ctx, "default", metav1.GetOptions{})
	s.mustKubectl("delete", "sa", "default", "-n", "y")
	s.mustKubectl("delete", "cm", "kube-root-ca.crt", "-n", "y")
	eventually(t, 5*time.Second, "default ServiceAccount and kube-root-ca.crt to be recreated", func() bool {
		again, err1 := c.CoreV1().ServiceAccounts("y").Get(ctx, "default", metav1.GetOptions{})
		_, err2 := c.CoreV1().ConfigMaps("y").Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		return err1 == nil && err2 == nil && again.UID != sa.UID
	})

	// Changed: put back.
	s.mustKubectl("patch", "cm", "kube-root-ca.crt", "-n", "y", "--type=merge", `-p={"data":{"ca.crt":"tampered","extra":"x"}}`)
	eventually(t, 5*time.Second, "kube-root-ca.crt to be restored", func() bool {
		cm, err := c.CoreV1().ConfigMaps("y").Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		return err == nil && cm.Data["ca.crt"] == string(caPEM) && len(cm.Data) == 1
	})
}

// TestServiceAccountToken: `kubectl create token` issues a token the
// server accepts as the service account (403 from authorization, which
// only admins pass today, naming the account) and rejects when tampered
// with, expired or when the account is gone (401).
func TestServiceAccountToken(t *testing.T) {
	needIntegration(t, "kubectl")
	s := startServer(t)
	c := s.client()
	ctx := context.Background()
	s.mustKubectl("create", "namespace", "y")
	eventually(t, 5*time.Second, "default ServiceAccount", func() bool {
		_, err := c.CoreV1().ServiceAccounts("y").Get(ctx, "default", metav1.GetOptions{})
		return err == nil
	})
	token := strings.TrimSpace(s.mustKubectl("create", "token", "default", "-n", "y"))
	if strings.Count(token, ".") != 2 {
		t.Fatalf("kubectl create token printed %q, want a JWT", token)
	}

	authenticated := func(what, tok string) {
		t.Helper()
		out, err := s.kubectlToken(tok, "get", "namespaces")
		if err == nil || !strings.Contains(out, "Forbidden") || !strings.Contains(out, `User "system:serviceaccount:y:default"`) {
			t.Fatalf("%s: want 403 Forbidden for system:serviceaccount:y:default, got err=%v\n%s", what, err, out)
		}
	}
	unauthorized := func(what, tok string) {
		t.Helper()
		out, err := s.kubectlToken(tok, "get", "namespaces")
		if err == nil || !strings.Contains(out, "Unauthorized") {
			t.Fatalf("%s: want 401 Unauthorized, got err=%v\n%s", what, err, out)
		}
	}
	authenticated("fresh token", token)

	// Any change to the signature makes it worthless.
	parts := strings.Split(token, ".")
	sig := []byte(parts[2])
	sig[len(sig)/2] = flip(sig[len(sig)/2])
	unauthorized("tampered signature", parts[0]+"."+parts[1]+"."+string(sig))
	unauthorized("garbage", "not-a-token")

	// kube's rules on the request.
	out, err := s.kubectl("create", "token", "default", "-n", "y", "--duration=5m")
	if err == nil || !strings.Contains(out, "may not specify a duration less than 10 minutes") {
		t.Errorf("--duration=5m: err=%v\n%s", err, out)
	}
	out, err = s.kubectl("create", "token", "nobody", "-n", "y")
	if err == nil || !strings.Contains(out, `serviceaccounts "nobody" not found`) {
		t.Errorf("token for a missing account: err=%v\n%s", err, out)
	}
	tr := s.mustKubectl("create", "token", "default", "-n", "y", "--duration=2h", "--audience=vault", "-o", "json")
	contains(t, tr, `"kind": "TokenRequest"`, `"expirationSeconds": 7200`, `"vault"`, `"expirationTimestamp"`)

	// A token signed with the server's key but already expired: what the
	// server does once any token reaches its exp.
	sa, err := c.CoreV1().ServiceAccounts("y").Get(ctx, "default", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	key, err := satoken.LoadOrCreateKey(filepath.Join(s.dataDir, "server", "tls", satoken.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	signAt := func(at time.Time) string {
		iss, err := satoken.NewIssuer(key, satoken.WithClock(func() time.Time { return at }))
		if err != nil {
			t.Fatal(err)
		}
		tok, _, err := iss.Issue("y", "default", sa.UID, nil, time.Hour, nil)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	authenticated("token signed by the test with the server key", signAt(time.Now()))
	unauthorized("expired token", signAt(time.Now().Add(-3*time.Hour)))

	// The key survives a restart, and so do the tokens.
	s.stop()
	s.start()
	authenticated("token after a server restart", token)

	// Tokens die with their ServiceAccount, even when a new one of the
	// same name takes its place.
	s.mustKubectl("delete", "sa", "default", "-n", "y")
	unauthorized("token of a deleted service account", token)
	waitRecreated(t, c, "y", sa.UID)
	unauthorized("token of a replaced service account", token)
}

// kubectlToken runs kubectl with only a bearer token (no client
// certificate, which the server would prefer).
func (s *server) kubectlToken(token string, args ...string) (string, error) {
	s.t.Helper()
	kc := filepath.Join(s.t.TempDir(), "token.kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: skiff, cluster: {server: %q, certificate-authority: %q}}]
users: [{name: sa, user: {token: %q}}]
contexts: [{name: sa, context: {cluster: skiff, user: sa}}]
current-context: sa
`, s.url(), filepath.Join(s.dataDir, "server", "tls", "server-ca.crt"), token)
	if err := os.WriteFile(kc, []byte(cfg), 0o600); err != nil {
		s.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", kc}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECTL_KUBERC=false")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func waitRecreated(t *testing.T, c kubernetes.Interface, ns string, old types.UID) {
	t.Helper()
	eventually(t, 5*time.Second, "default ServiceAccount to be recreated", func() bool {
		sa, err := c.CoreV1().ServiceAccounts(ns).Get(context.Background(), "default", metav1.GetOptions{})
		return err == nil && sa.UID != old
	})
}

// flip changes one base64url character into another.
func flip(b byte) byte {
	if b == 'A' {
		return 'B'
	}
	return 'A'
}

// TestProfilingIsForAdmins: --enable-pprof serves /debug/pprof to admins
// only; other users get 403 naming them and the path, anonymous callers
// 401, and a server without the flag has no such path.
func TestProfilingIsForAdmins(t *testing.T) {
	needIntegration(t, "kubectl")
	s := startServer(t, withArgs("--enable-pprof"))
	contains(t, s.mustKubectl("get", "--raw", "/debug/pprof/"), "/debug/pprof/", "profile")

	s.mustKubectl("create", "namespace", "y")
	c := s.client()
	eventually(t, 5*time.Second, "default ServiceAccount", func() bool {
		_, err := c.CoreV1().ServiceAccounts("y").Get(context.Background(), "default", metav1.GetOptions{})
		return err == nil
	})
	token := strings.TrimSpace(s.mustKubectl("create", "token", "default", "-n", "y"))
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/profile?seconds=1"} {
		out, err := s.kubectlToken(token, "get", "--raw", path)
		if err == nil || !strings.Contains(out, "Forbidden") || !strings.Contains(out, `User "system:serviceaccount:y:default" cannot get path`) {
			t.Errorf("%s as a service account: want 403 naming the user, got err=%v\n%s", path, err, out)
		}
	}
	out, err := s.kubectlToken("not-a-token", "get", "--raw", "/debug/pprof/")
	if err == nil || !strings.Contains(out, "Unauthorized") {
		t.Errorf("/debug/pprof/ with a bad token: want 401, got err=%v\n%s", err, out)
	}

	plain := startServer(t)
	out, err = plain.kubectl("get", "--raw", "/debug/pprof/")
	if err == nil || !strings.Contains(out, "NotFound") {
		t.Errorf("/debug/pprof/ without --enable-pprof: want 404, got err=%v\n%s", err, out)
	}
}
