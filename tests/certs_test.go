package tests

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skiff-io/skiff/agent/join"
	"github.com/skiff-io/skiff/protocol"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/keyutil"
)

// TestCertificates runs a server whose leaf certificates live 20 seconds
// and are renewed with 10 seconds left, through three renewals of each,
// and checks that everything opened or configured before keeps working:
// the served certificate changes on new connections, the admin kubeconfig
// is rewritten, a watch opened before the first renewal still delivers,
// and the controllers (on the loopback client) still write.
func TestCertificates(t *testing.T) {
	needIntegration(t, "kubectl")
	t.Setenv("SKIFF_TEST_CERT_VALIDITY", "20s,10s")
	s := startServer(t)
	tlsDir := filepath.Join(s.dataDir, "server", "tls")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	caPEM, err := os.ReadFile(filepath.Join(tlsDir, "server-ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)

	// Before the first renewal: kubectl works and a watch is open.
	s.mustKubectl("get", "namespaces")
	w, err := s.client().CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	served := func() *x509.Certificate {
		conn, err := tls.Dial("tcp", strings.TrimPrefix(s.url(), "https://"), &tls.Config{RootCAs: roots})
		if err != nil {
			t.Fatalf("TLS dial (an expired or unverifiable serving certificate?): %v", err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0]
	}
	fileCert := func(name string) *x509.Certificate {
		data, err := os.ReadFile(filepath.Join(tlsDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return firstCert(t, data)
	}
	kubeconfigCert := func() *x509.Certificate {
		cfg, err := clientcmd.LoadFromFile(s.kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		return firstCert(t, cfg.AuthInfos["default"].ClientCertificateData)
	}

	// Serial numbers seen per certificate: the first one and three renewals.
	seen := map[string]map[string]bool{}
	sources := map[string]func() *x509.Certificate{
		"served":      served,
		"serving.crt": func() *x509.Certificate { return fileCert("serving.crt") },
		"admin.crt":   func() *x509.Certificate { return fileCert("admin.crt") },
		"kubeconfig":  kubeconfigCert,
	}
	first := map[string]time.Time{}
	for name, get := range sources {
		c := get()
		seen[name] = map[string]bool{c.SerialNumber.String(): true}
		first[name] = c.NotAfter
		if life := time.Until(c.NotAfter); life > 21*time.Second {
			t.Fatalf("%s valid for %s more: the test lifetime was not applied", name, life)
		}
	}
	eventually(t, 90*time.Second, "three renewals of every certificate", func() bool {
		done := true
		for name, get := range sources {
			c := get()
			if !time.Now().Before(c.NotAfter) {
				t.Fatalf("%s expired at %s: not renewed in time", name, c.NotAfter)
			}
			seen[name][c.SerialNumber.String()] = true
			if len(seen[name]) < 4 {
				done = false
			}
		}
		return done
	})
	for name, get := range sources {
		if c := get(); !c.NotAfter.After(first[name].Add(25 * time.Second)) {
			t.Errorf("%s notAfter %s, first %s: not moved on by the renewals", name, c.NotAfter, first[name])
		}
	}
	for _, n := range []string{"serving", "admin"} {
		if got := strings.Count(s.log.String(), `"Renewed certificate" name="`+n+`"`); got < 3 {
			t.Errorf("server logged %d renewals of %s, want at least 3", got, n)
		}
	}

	// The first certificates have expired by now; kubectl with the
	// rewritten kubeconfig still works.
	if !time.Now().After(first["admin.crt"]) {
		t.Fatalf("first admin certificate (notAfter %s) has not expired yet", first["admin.crt"])
	}
	s.mustKubectl("get", "namespaces")
	s.mustKubectl("create", "configmap", "after-renewal", "-n", "default", "--from-literal=k=v")

	// The watch opened before the first renewal still delivers.
	deadline := time.After(20 * time.Second)
	for got := false; !got; {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("watch opened before the renewals was closed")
			}
			if ev.Type == watch.Error {
				t.Fatalf("watch error: %v", ev.Object)
			}
			if cm, isCM := ev.Object.(*corev1.ConfigMap); isCM && ev.Type == watch.Added && cm.Name == "after-renewal" {
				got = true
			}
		case <-deadline:
			t.Fatal("watch opened before the renewals did not deliver the ConfigMap created after them")
		}
	}

	// The controllers, on the loopback client whose first certificate has
	// expired, still write: the serviceaccount controller creates "default"
	// in a new namespace.
	s.mustKubectl("create", "namespace", "after-renewal")
	eventually(t, 30*time.Second, "the default ServiceAccount in a namespace created after the renewals", func() bool {
		out, err := s.kubectl("get", "serviceaccount", "default", "-n", "after-renewal", "-o", "name")
		return err == nil && strings.TrimSpace(out) == "serviceaccount/default"
	})
	if strings.Contains(s.log.String(), "Certificate renewal failed") {
		t.Errorf("server logged a failed renewal:\n%s", tail(s.log.String(), 3000))
	}
}

func TestCertificateCheckCommand(t *testing.T) {
	needIntegration(t)
	s := startServer(t)
	out, err := exec.Command(skiffBin, "certificate", "check", "--data-dir", s.dataDir).CombinedOutput()
	if err != nil {
		t.Fatalf("skiff certificate check: %v\n%s", err, out)
	}
	for _, want := range []string{"server-ca.crt", "client-ca.crt", "serving.crt", "admin.crt", "CN=system:admin,O=system:masters", "CN=skiff"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "due for renewal") {
		t.Errorf("fresh certificates reported due:\n%s", out)
	}
}

// TestCertificateClientAuthRequired signs admin certificates with the
// server's CAs: the API takes only one signed by the client CA that names
// client auth. One without extended key usages passes the TLS handshake
// but not the API; one for server auth only, or signed by the server CA
// or the request-header CA, fails the handshake.
func TestCertificateClientAuthRequired(t *testing.T) {
	needIntegration(t)
	s := startServer(t)
	tlsDir := filepath.Join(s.dataDir, "server", "tls")
	roots := x509.NewCertPool()
	roots.AddCert(firstCert(t, readFile(t, filepath.Join(tlsDir, "server-ca.crt"))))
	for _, tt := range []struct {
		name   string
		ca     string
		usages []x509.ExtKeyUsage
		want   int // 0: the handshake fails
	}{
		{"client CA, client auth", "client-ca", []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, http.StatusOK},
		{"client CA, no extended key usage", "client-ca", nil, http.StatusUnauthorized},
		{"client CA, server auth only", "client-ca", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, 0},
		{"server CA, client auth", "server-ca", []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, 0},
		{"request-header CA, client auth", "request-header-ca", []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cert := signWith(t, filepath.Join(tlsDir, tt.ca), "system:admin", []string{"system:masters"}, tt.usages)
			got := statusWith(t, s.url()+"/api/v1/namespaces", roots, cert)
			if got != tt.want {
				t.Errorf("status %d, want %d (0: handshake refused)", got, tt.want)
			}
		})
	}
}

// TestCertificateCAs checks the layout of a fresh data dir: three
// distinct CAs, the server CA the one clients trust (kubeconfig, /cacerts,
// the token's hash), the client CA the signer of client certificates, the
// request-header CA the signer of the front-proxy client certificate.
func TestCertificateCAs(t *testing.T) {
	needIntegration(t)
	s := startServer(t)
	tlsDir := filepath.Join(s.dataDir, "server", "tls")
	cas := map[string]*x509.Certificate{}
	for _, n := range []string{"server-ca", "client-ca", "request-header-ca"} {
		cas[n] = firstCert(t, readFile(t, filepath.Join(tlsDir, n+".crt")))
		if !cas[n].IsCA {
			t.Errorf("%s is not a CA", n)
		}
	}
	if string(cas["server-ca"].RawSubjectPublicKeyInfo) == string(cas["client-ca"].RawSubjectPublicKeyInfo) ||
		string(cas["client-ca"].RawSubjectPublicKeyInfo) == string(cas["request-header-ca"].RawSubjectPublicKeyInfo) ||
		string(cas["server-ca"].RawSubjectPublicKeyInfo) == string(cas["request-header-ca"].RawSubjectPublicKeyInfo) {
		t.Error("two CAs share a key")
	}
	if _, err := os.Stat(filepath.Join(tlsDir, "ca.crt")); !os.IsNotExist(err) {
		t.Errorf("ca.crt in a fresh data dir: %v", err)
	}
	for leaf, ca := range map[string]string{"serving": "server-ca", "admin": "client-ca", "front-proxy-client": "request-header-ca"} {
		c := firstCert(t, readFile(t, filepath.Join(tlsDir, leaf+".crt")))
		if err := c.CheckSignatureFrom(cas[ca]); err != nil {
			t.Errorf("%s.crt is not signed by %s: %v", leaf, ca, err)
		}
	}
	serverCA := readFile(t, filepath.Join(tlsDir, "server-ca.crt"))
	if kc := kubeconfigCA(t, s.kubeconfig); kc != string(serverCA) {
		t.Error("the admin kubeconfig does not trust the server CA")
	}
	if got := getCACerts(t, s.url()); got != string(serverCA) {
		t.Error("/cacerts does not serve the server CA")
	}
	if tok := strings.TrimSpace(string(readFile(t, filepath.Join(s.dataDir, "server", "token")))); !strings.HasPrefix(tok, "K10"+protocol.CAHash(serverCA)+"::") {
		t.Errorf("token %q does not carry the server CA's hash", tok)
	}
	out, err := exec.Command(skiffBin, "certificate", "check", "--data-dir", s.dataDir).CombinedOutput()
	if err != nil {
		t.Fatalf("skiff certificate check: %v\n%s", err, out)
	}
	for _, want := range []string{"server-ca.crt", "client-ca.crt", "request-header-ca.crt", "front-proxy-client.crt", "CN=system:front-proxy-client"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("certificate check lacks %q:\n%s", want, out)
		}
	}
}

// TestCertificateLegacyDataDir starts the server on a data dir of the
// single-CA layout (ca.crt signing everything, the token pinning it): the
// CA becomes both server and client CA, so the kubeconfig and the token
// of before keep working.
func TestCertificateLegacyDataDir(t *testing.T) {
	needIntegration(t, "kubectl")
	dataDir := t.TempDir()
	tlsDir := filepath.Join(dataDir, "server", "tls")
	if err := os.MkdirAll(tlsDir, 0o700); err != nil {
		t.Fatal(err)
	}
	caPEM, caKeyPEM := newTestCA(t, "skiff-ca@1")
	writeFile(t, filepath.Join(tlsDir, "ca.crt"), caPEM)
	writeFile(t, filepath.Join(tlsDir, "ca.key"), caKeyPEM)
	token := "K10" + protocol.CAHash(caPEM) + "::server:legacy-secret"
	writeFile(t, filepath.Join(dataDir, "server", "token"), []byte(token+"\n"))
	oldAdmin := signWith(t, filepath.Join(tlsDir, "ca"), "system:admin", []string{"system:masters"}, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth})

	s := startServer(t, func(x *server) { x.dataDir = dataDir })
	for _, n := range []string{"server-ca.crt", "client-ca.crt"} {
		if got := readFile(t, filepath.Join(tlsDir, n)); string(got) != string(caPEM) {
			t.Errorf("%s is not the adopted CA", n)
		}
	}
	for _, n := range []string{"ca.crt", "ca.key"} {
		if _, err := os.Stat(filepath.Join(tlsDir, n)); !os.IsNotExist(err) {
			t.Errorf("%s left after adoption: %v", n, err)
		}
	}
	if got := strings.TrimSpace(string(readFile(t, filepath.Join(dataDir, "server", "token")))); got != token {
		t.Errorf("token changed to %q", got)
	}
	kc := writeKubeconfig(t, s.url(), caPEM, oldAdmin)
	if out, err := s.kubectlAs(kc, "", "get", "namespaces"); err != nil {
		t.Errorf("kubeconfig of the single-CA layout: %v\n%s", err, out)
	}
	creds := joinNode(t, s, token, t.TempDir(), "legacy-node")
	if got := statusCreds(t, s.url()+"/api/v1/nodes/legacy-node", creds); got != http.StatusOK {
		t.Errorf("node joined with the token of before: status %d", got)
	}
}

// TestCertificateRotateCA rotates the CAs of a running server and follows
// the documented steps: bad input changes nothing; after the rotation and
// a restart, the kubeconfig and the node of before keep working (the new
// server CA is cross-signed by the old one, the old client CA still
// trusted) and the node re-joins with its old token; after --finish and a
// restart, only the new CAs authenticate.
func TestCertificateRotateCA(t *testing.T) {
	needIntegration(t, "kubectl")
	s := startServer(t)
	tlsDir := filepath.Join(s.dataDir, "server", "tls")
	tokenFile := filepath.Join(s.dataDir, "server", "token")
	oldToken := strings.TrimSpace(string(readFile(t, tokenFile)))
	oldKubeconfig := filepath.Join(t.TempDir(), "old.kubeconfig")
	writeFile(t, oldKubeconfig, readFile(t, s.kubeconfig))
	nodeDir := t.TempDir()
	creds := joinNode(t, s, oldToken, nodeDir, "rot-node")
	oldNodeCert := readFile(t, filepath.Join(nodeDir, "cred", "client.crt"))
	nodeURL := s.url() + "/api/v1/nodes/rot-node"

	rotate := func(args ...string) (string, error) {
		out, err := exec.Command(skiffBin, append([]string{"certificate", "rotate-ca", "--data-dir", s.dataDir}, args...)...).CombinedOutput()
		return string(out), err
	}

	// Bad input: one line, non-zero exit, nothing changed.
	before := dirContents(t, tlsDir)
	bad := t.TempDir()
	caPEM, caKeyPEM := newTestCA(t, "other")
	otherPEM, _ := newTestCA(t, "other2")
	leafDir := t.TempDir()
	leaf := signWith(t, filepath.Join(tlsDir, "client-ca"), "leaf", nil, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth})
	writeFile(t, filepath.Join(leafDir, "client-ca.crt"), leaf.certPEM)
	writeFile(t, filepath.Join(leafDir, "client-ca.key"), leaf.keyPEM)
	mismatch := t.TempDir()
	writeFile(t, filepath.Join(mismatch, "server-ca.crt"), otherPEM)
	writeFile(t, filepath.Join(mismatch, "server-ca.key"), caKeyPEM)
	keyOnly := t.TempDir()
	writeFile(t, filepath.Join(keyOnly, "client-ca.key"), caKeyPEM)
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"no such directory", []string{"--path", filepath.Join(bad, "missing")}, "no such file"},
		{"empty directory", []string{"--path", bad}, "holds none of"},
		{"key without certificate", []string{"--path", keyOnly}, "client-ca.crt does not"},
		{"key does not match", []string{"--path", mismatch}, "does not match"},
		{"not a CA", []string{"--path", leafDir}, "is not a CA certificate"},
		{"finish without a rotation", []string{"--finish"}, "no CA rotation is in progress"},
	} {
		out, err := rotate(tt.args...)
		if err == nil || !strings.Contains(out, tt.want) || strings.Count(strings.TrimSpace(out), "\n") != 0 {
			t.Errorf("%s: err %v, output %q: want one line containing %q and a non-zero exit", tt.name, err, out, tt.want)
		}
		if after := dirContents(t, tlsDir); !maps.Equal(before, after) {
			t.Fatalf("%s changed %s", tt.name, tlsDir)
		}
	}

	// Rotate on the running server, with a client CA of our own.
	supplied := t.TempDir()
	writeFile(t, filepath.Join(supplied, "client-ca.crt"), caPEM)
	writeFile(t, filepath.Join(supplied, "client-ca.key"), caKeyPEM)
	out, err := rotate("--path", supplied)
	if err != nil {
		t.Fatalf("rotate-ca: %v\n%s", err, out)
	}
	newServerCA := readFile(t, filepath.Join(tlsDir, "server-ca.crt"))
	newToken := strings.TrimSpace(string(readFile(t, tokenFile)))
	if newToken == oldToken || !strings.Contains(out, newToken) || !strings.HasPrefix(newToken, "K10"+protocol.CAHash(newServerCA)+"::") {
		t.Errorf("token after rotation %q (before %q); output:\n%s", newToken, oldToken, out)
	}
	if got := readFile(t, filepath.Join(tlsDir, "client-ca.crt")); string(got) != string(caPEM) {
		t.Error("the supplied client CA was not installed")
	}
	if out, err := rotate(); err == nil || !strings.Contains(out, "already in progress") {
		t.Errorf("a second rotation during the first: %v %s", err, out)
	}
	s.mustKubectl("get", "namespaces") // the running server is untouched

	s.stop()
	s.start()
	if kc := kubeconfigCA(t, s.kubeconfig); kc != string(newServerCA) {
		t.Error("the rewritten admin kubeconfig does not trust the new server CA")
	}
	s.mustKubectl("get", "namespaces")
	if out, err := s.kubectlAs(oldKubeconfig, "", "get", "namespaces"); err != nil {
		t.Errorf("kubeconfig of before, during the transition: %v\n%s", err, out)
	}
	if got := statusCreds(t, nodeURL, creds); got != http.StatusOK {
		t.Errorf("node certificate of before, during the transition: status %d", got)
	}
	// The node sees the new CA and re-joins with the token it has.
	ctx := context.Background()
	if changed, err := creds.ServerCAChanged(ctx, s.url()); err != nil || !changed {
		t.Fatalf("ServerCAChanged = %v, %v", changed, err)
	}
	jcfg := join.Config{Server: s.url(), Token: oldToken, Dir: nodeDir, Node: corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "rot-node"}}}
	if err := creds.Renew(ctx, jcfg); err != nil {
		t.Fatalf("re-join with the token of before: %v", err)
	}
	if string(creds.CA()) != string(newServerCA) {
		t.Error("the node does not trust the new server CA after re-joining")
	}
	if c := firstCert(t, readFile(t, filepath.Join(nodeDir, "cred", "client.crt"))); c.CheckSignatureFrom(firstCert(t, caPEM)) != nil {
		t.Error("the re-issued node certificate is not signed by the new client CA")
	}
	// A new node with the old token and no CA of its own is refused.
	if _, err := join.Join(ctx, join.Config{Server: s.url(), Token: oldToken, Dir: t.TempDir(), Node: corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "late-node"}}}); err == nil || !errors.Is(err, join.ErrRefused) {
		t.Errorf("a new node joined with the token of before: %v", err)
	}
	joinNode(t, s, newToken, t.TempDir(), "new-node")

	// Finish: only the new CAs from the next start.
	if out, err := rotate("--finish"); err != nil {
		t.Fatalf("rotate-ca --finish: %v\n%s", err, out)
	}
	for _, f := range []string{"server-ca-cross-signed.crt", "client-ca-previous.crt"} {
		if _, err := os.Stat(filepath.Join(tlsDir, f)); !os.IsNotExist(err) {
			t.Errorf("%s after --finish: %v", f, err)
		}
	}
	s.stop()
	s.start()
	s.mustKubectl("get", "namespaces")
	if out, err := s.kubectlAs(oldKubeconfig, "", "get", "namespaces"); err == nil {
		t.Errorf("kubeconfig of before still works after --finish:\n%s", out)
	}
	// The node's connections trust the new CA without being rebuilt.
	if got := statusCreds(t, nodeURL, creds); got != http.StatusOK {
		t.Errorf("re-joined node after --finish: status %d", got)
	}
	newRoots := x509.NewCertPool()
	newRoots.AppendCertsFromPEM(newServerCA)
	oldNode := keyPair{certPEM: oldNodeCert, keyPEM: readFile(t, filepath.Join(nodeDir, "cred", "client.key"))}
	if got := statusWith(t, nodeURL, newRoots, oldNode); got == http.StatusOK {
		t.Error("the node certificate of the old client CA still authenticates after --finish")
	}
}

// keyPair is a PEM certificate and key.
type keyPair struct{ certPEM, keyPEM []byte }

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// dirContents maps each file in dir to its contents.
func dirContents(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		out[e.Name()] = string(readFile(t, filepath.Join(dir, e.Name())))
	}
	return out
}

// newTestCA makes a self-signed CA.
func newTestCA(t *testing.T, cn string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
}

// signWith signs a new client certificate with the CA in base.crt and
// base.key.
func signWith(t *testing.T, base, cn string, orgs []string, usages []x509.ExtKeyUsage) keyPair {
	t.Helper()
	ca := firstCert(t, readFile(t, base+".crt"))
	caKey, err := keyutil.ParsePrivateKeyPEM(readFile(t, base+".key"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn, Organization: orgs},
		NotBefore:    time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: usages,
	}, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return keyPair{pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})}
}

// statusWith GETs url with a client certificate, trusting roots; 0 when
// the TLS handshake fails. The certificate is sent whatever issuers the
// server names as acceptable (Go's client would otherwise keep back one
// from another CA), so that the server's own check is what is tested.
func statusWith(t *testing.T, url string, roots *x509.CertPool, kp keyPair) int {
	t.Helper()
	cert, err := tls.X509KeyPair(kp.certPEM, kp.keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return statusTLS(t, url, &tls.Config{RootCAs: roots,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }})
}

// statusCreds GETs url as a joined node.
func statusCreds(t *testing.T, url string, c *join.Credentials) int {
	t.Helper()
	return statusTLS(t, url, c.TLSConfig(url))
}

func statusTLS(t *testing.T, url string, cfg *tls.Config) int {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: cfg}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(url)
	if err != nil {
		t.Logf("GET %s: %v", url, err)
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// joinNode joins a node through the agent's own join code (no containerd
// needed) and returns its credentials.
func joinNode(t *testing.T, s *server, token, dir, name string) *join.Credentials {
	t.Helper()
	c, err := join.Join(context.Background(), join.Config{Server: s.url(), Token: token, Dir: dir,
		Node: corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}})
	if err != nil {
		t.Fatalf("join %s: %v", name, err)
	}
	return c
}

func kubeconfigCA(t *testing.T, path string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(cfg.Clusters[cfg.Contexts[cfg.CurrentContext].Cluster].CertificateAuthorityData)
}

func getCACerts(t *testing.T, base string) string {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(base + protocol.PathCACerts)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// writeKubeconfig writes a kubeconfig for url trusting caPEM with kp.
func writeKubeconfig(t *testing.T, url string, caPEM []byte, kp keyPair) string {
	t.Helper()
	b64 := base64.StdEncoding.EncodeToString
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	writeFile(t, kc, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: %q, certificate-authority-data: %s}}]
users: [{name: u, user: {client-certificate-data: %s, client-key-data: %s}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`, url, b64(caPEM), b64(kp.certPEM), b64(kp.keyPEM))))
	return kc
}

func firstCert(t *testing.T, data []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatal("no PEM certificate")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestAgentRotateCA runs a real agent through a CA rotation: after the
// rotation and a server restart the agent, still holding the token of
// before, joins again by itself (here at its restart rather than within
// the hour) and gets a certificate of the new client CA; after --finish
// and another restart, exec and logs (the agent's tunnel, authenticated
// with its certificate and verifying the server with the new CA) work.
func TestAgentRotateCA(t *testing.T) {
	needAgent(t)
	s := startServer(t)
	agentDir := t.TempDir()
	prepareAgentDir(t, agentDir)
	a := startAgent(t, s, agentDir, "--node-name", "rotor")
	waitNodeReady(t, s, "rotor", 60*time.Second)
	s.mustKubectlStdin(`apiVersion: v1
kind: Pod
metadata: {name: spinner}
spec:
  nodeName: rotor
  containers:
  - name: c
    image: `+TestImage+`
    imagePullPolicy: Never
    command: ["sh", "-c", "echo spinning; sleep 3602"]
`, "apply", "-f", "-")
	waitPodPhase(t, s, "default", "spinner", "Running", 90*time.Second)
	tlsDir := filepath.Join(s.dataDir, "server", "tls")
	nodeCert := filepath.Join(agentDir, "agent", "cred", "client.crt")
	if _, err := os.Stat(nodeCert); err != nil {
		nodeCert = filepath.Join(agentDir, "cred", "client.crt")
	}
	oldClientCA := firstCert(t, readFile(t, filepath.Join(tlsDir, "client-ca.crt")))
	if firstCert(t, readFile(t, nodeCert)).CheckSignatureFrom(oldClientCA) != nil {
		t.Fatal("the node certificate is not signed by the client CA")
	}

	if out, err := exec.Command(skiffBin, "certificate", "rotate-ca", "--data-dir", s.dataDir).CombinedOutput(); err != nil {
		t.Fatalf("rotate-ca: %v\n%s", err, out)
	}
	newClientCA := firstCert(t, readFile(t, filepath.Join(tlsDir, "client-ca.crt")))
	s.stop()
	s.start()
	a.stop()
	a.start()
	eventually(t, 60*time.Second, "the agent to join again with the new client CA", func() bool {
		data, err := os.ReadFile(nodeCert)
		return err == nil && firstCert(t, data).CheckSignatureFrom(newClientCA) == nil
	})
	// The agent logs why after it wrote the new certificate: wait for
	// the line rather than race it.
	eventually(t, 10*time.Second, "the agent to say why it joined again", func() bool {
		return strings.Contains(a.log.String(), `"joined again" reason="server CA changed"`)
	})

	if out, err := exec.Command(skiffBin, "certificate", "rotate-ca", "--data-dir", s.dataDir, "--finish").CombinedOutput(); err != nil {
		t.Fatalf("rotate-ca --finish: %v\n%s", err, out)
	}
	s.stop()
	s.start()
	eventually(t, 60*time.Second, "exec through the agent's tunnel after --finish", func() bool {
		out, err := s.kubectlOut("", "exec", "spinner", "--", "echo", "through")
		return err == nil && strings.TrimSpace(out) == "through"
	})
	if out, _ := s.kubectl("logs", "spinner"); !strings.Contains(out, "spinning") {
		t.Errorf("logs after --finish: %q", out)
	}
}
