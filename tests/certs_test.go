package tests

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

	caPEM, err := os.ReadFile(filepath.Join(tlsDir, "ca.crt"))
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
		"served":         served,
		"serving.crt":    func() *x509.Certificate { return fileCert("serving.crt") },
		"admin.crt":      func() *x509.Certificate { return fileCert("admin.crt") },
		"controller.crt": func() *x509.Certificate { return fileCert("controller.crt") },
		"kubeconfig":     kubeconfigCert,
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
	for _, n := range []string{"serving", "admin", "controller"} {
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
	for _, want := range []string{"ca.crt", "serving.crt", "admin.crt", "controller.crt", "CN=system:admin,O=system:masters", "CN=skiff"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "due for renewal") {
		t.Errorf("fresh certificates reported due:\n%s", out)
	}
}

// TestCertificateClientAuthRequired signs two admin certificates with the
// server's own CA, one without extended key usages: the TLS handshake
// accepts both, the API only the one issued for client auth.
func TestCertificateClientAuthRequired(t *testing.T) {
	needIntegration(t)
	s := startServer(t)
	tlsDir := filepath.Join(s.dataDir, "server", "tls")
	caPEM, err := os.ReadFile(filepath.Join(tlsDir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	caKeyPEM, err := os.ReadFile(filepath.Join(tlsDir, "ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	ca := firstCert(t, caPEM)
	caKey, err := keyutil.ParsePrivateKeyPEM(caKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, tt := range []struct {
		name   string
		usages []x509.ExtKeyUsage
		want   int
	}{
		{"client auth", []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, http.StatusOK},
		{"no extended key usage", nil, http.StatusUnauthorized},
	} {
		t.Run(tt.name, func(t *testing.T) {
			key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
				SerialNumber: big.NewInt(time.Now().UnixNano()),
				Subject:      pkix.Name{CommonName: "system:admin", Organization: []string{"system:masters"}},
				NotBefore:    time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
				KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: tt.usages,
			}, ca, &key.PublicKey, caKey)
			if err != nil {
				t.Fatal(err)
			}
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots,
				Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(s.url() + "/api/v1/namespaces")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.want)
			}
		})
	}
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
