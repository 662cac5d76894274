package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const day = 24 * time.Hour

// testOptions gives Ensure a fixed host address so tests do not depend on
// the machine's interfaces.
func testOptions(dir string) Options {
	return Options{
		Dir:      dir,
		Hostname: "node1",
		SANs:     []string{"skiff.example.com", "203.0.113.5"},
		HostIPs:  func() ([]net.IP, error) { return []net.IP{net.ParseIP("192.0.2.10")}, nil },
	}
}

func mustEnsure(t *testing.T, o Options) *Bundle {
	t.Helper()
	b, err := Ensure(o)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	return b
}

func readFiles(t *testing.T, b *Bundle) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, p := range []string{b.ServerCAFile, b.ServerCAKeyFile, b.ServingCertFile, b.ServingKeyFile, b.AdminCertFile, b.AdminKeyFile, b.FrontProxyCertFile, b.FrontProxyKeyFile} {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = data
	}
	return out
}

func roots(b *Bundle) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(b.ServerCA)
	return p
}

func TestEnsureCreatesFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "server", "tls")
	b := mustEnsure(t, testOptions(dir))

	modes := []struct {
		path string
		want os.FileMode
	}{
		{dir, 0o700},
		{b.ServerCAFile, 0o644},
		{b.ServerCAKeyFile, 0o600},
		{b.ServingCertFile, 0o644},
		{b.ServingKeyFile, 0o600},
		{b.AdminCertFile, 0o644},
		{b.AdminKeyFile, 0o600},
		{b.FrontProxyCertFile, 0o644},
		{b.FrontProxyKeyFile, 0o600},
	}
	for _, m := range modes {
		st, err := os.Stat(m.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Mode().Perm(); got != m.want {
			t.Errorf("%s: mode %o, want %o", m.path, got, m.want)
		}
	}

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 12 {
		t.Errorf("dir has %d entries, want 12 (no temp files left): %v", len(entries), entries)
	}

	// Three distinct CAs, each signing its own leaves only.
	cas := map[string]*x509.Certificate{"server-ca": b.ServerCA, "client-ca": b.ClientCA, "request-header-ca": b.RequestHeaderCA}
	keys := map[string]bool{}
	for name, ca := range cas {
		if !ca.IsCA || !strings.HasPrefix(ca.Subject.CommonName, "skiff-"+name+"@") {
			t.Errorf("%s: IsCA=%v CN=%q", name, ca.IsCA, ca.Subject.CommonName)
		}
		keys[string(ca.RawSubjectPublicKeyInfo)] = true
	}
	if len(keys) != 3 {
		t.Errorf("the three CAs share keys: %d distinct", len(keys))
	}
	for leaf, issuer := range map[string]*x509.Certificate{
		CertServing: b.ServerCA, CertAdmin: b.ClientCA, CertFrontProxy: b.RequestHeaderCA,
	} {
		for _, ca := range cas {
			if signed := b.Leaf(leaf).CheckSignatureFrom(ca) == nil; signed != (ca == issuer) {
				t.Errorf("%s signed by %s: %v", leaf, ca.Subject.CommonName, signed)
			}
		}
	}
	ca := b.ServerCA
	if pub, ok := ca.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Errorf("CA key is %T, want ECDSA P-256", ca.PublicKey)
	}
	if life := time.Until(ca.NotAfter); life < 3649*day || life > 3651*day {
		t.Errorf("CA valid for %s more, want about 10 years", life)
	}
	if life := time.Until(b.ServingCert.NotAfter); life < 364*day || life > 366*day {
		t.Errorf("serving cert valid for %s more, want about 1 year", life)
	}
	if got, err := os.ReadFile(b.ServerCAFile); err != nil || !bytes.Equal(got, b.ServerCAPEM) {
		t.Errorf("CACertPEM differs from %s (err %v)", b.ServerCAFile, err)
	}
}

func TestEnsureReusesEverything(t *testing.T) {
	dir := t.TempDir()
	before := readFiles(t, mustEnsure(t, testOptions(dir)))
	after := readFiles(t, mustEnsure(t, testOptions(dir)))
	for name, data := range before {
		if !bytes.Equal(data, after[name]) {
			t.Errorf("%s changed on second Ensure", name)
		}
	}
}

func TestEnsureReissuesServingCertWhenSANsChange(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*Options)
		covers  string // newly covered name, if any
		dropped string // no longer covered name, if any
	}{
		{
			name:   "SAN added",
			change: func(o *Options) { o.SANs = append(o.SANs, "new.example.com") },
			covers: "new.example.com",
		},
		{
			name:    "SAN removed",
			change:  func(o *Options) { o.SANs = o.SANs[:1] },
			dropped: "203.0.113.5",
		},
		{
			name:    "hostname changed",
			change:  func(o *Options) { o.Hostname = "node2" },
			covers:  "node2",
			dropped: "node1",
		},
		{
			name: "host address changed",
			change: func(o *Options) {
				o.HostIPs = func() ([]net.IP, error) { return []net.IP{net.ParseIP("2001:db8::7")}, nil }
			},
			covers:  "2001:db8::7",
			dropped: "192.0.2.10",
		},
		{
			name:   "service IP changed",
			change: func(o *Options) { o.ServiceIP = net.ParseIP("10.96.0.1") },
			covers: "10.96.0.1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			before := readFiles(t, mustEnsure(t, testOptions(dir)))
			o := testOptions(dir)
			tt.change(&o)
			b := mustEnsure(t, o)
			after := readFiles(t, b)
			for name := range before {
				changed := !bytes.Equal(before[name], after[name])
				if want := name == "serving.crt"; changed != want {
					t.Errorf("%s changed=%v, want %v", name, changed, want)
				}
			}
			if tt.covers != "" {
				if err := b.ServingCert.VerifyHostname(tt.covers); err != nil {
					t.Errorf("new cert does not cover %s: %v", tt.covers, err)
				}
			}
			if tt.dropped != "" {
				if err := b.ServingCert.VerifyHostname(tt.dropped); err == nil {
					t.Errorf("new cert still covers %s", tt.dropped)
				}
			}
			// Unchanged options now reuse the re-issued cert.
			if again := readFiles(t, mustEnsure(t, o)); !bytes.Equal(again["serving.crt"], after["serving.crt"]) {
				t.Error("re-issued serving cert was not reused")
			}
		})
	}
}

func TestEnsureRenewsLeavesNearExpiry(t *testing.T) {
	dir := t.TempDir()
	start := time.Now().Add(-300 * day)
	o := testOptions(dir)
	o.Now = func() time.Time { return start }
	before := readFiles(t, mustEnsure(t, o))

	b := mustEnsure(t, testOptions(dir)) // real clock: leaves have ~65 days left
	after := readFiles(t, b)
	for name := range before {
		changed := !bytes.Equal(before[name], after[name])
		want := name == "serving.crt" || name == "admin.crt" || name == "front-proxy-client.crt"
		if changed != want {
			t.Errorf("%s changed=%v, want %v", name, changed, want)
		}
	}
	if life := time.Until(b.ServingCert.NotAfter); life < 364*day {
		t.Errorf("renewed serving cert valid for %s more, want about 1 year", life)
	}
}

func TestServingCertVerifies(t *testing.T) {
	b := mustEnsure(t, testOptions(t.TempDir()))
	names := []string{
		"localhost", "127.0.0.1", "::1", "10.43.0.1",
		"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local",
		"node1", "skiff.example.com", "203.0.113.5", "192.0.2.10",
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			_, err := b.ServingCert.Verify(x509.VerifyOptions{
				DNSName:   name,
				Roots:     roots(b),
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	if _, err := b.ServingCert.Verify(x509.VerifyOptions{DNSName: "other.example.com", Roots: roots(b)}); err == nil {
		t.Error("serving cert verifies for a name it was not issued for")
	}
}

func TestClientCertsVerify(t *testing.T) {
	b := mustEnsure(t, testOptions(t.TempDir()))
	nodeCert, _, err := b.IssueClientCert("system:node:n1", []string{"system:nodes"}, 30*day)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		certPEM  []byte
		wantCN   string
		wantOrg  []string
		validity time.Duration
	}{
		{"admin", b.AdminCertPEM, AdminUser, []string{AdminGroup}, 365 * day},
		{"node", nodeCert, "system:node:n1", []string{"system:nodes"}, 30 * day},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseCert(tt.certPEM)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Verify(x509.VerifyOptions{
				Roots:     b.ClientCAPool(),
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
			})
			if err != nil {
				t.Errorf("verify as client cert: %v", err)
			}
			if _, err := c.Verify(x509.VerifyOptions{Roots: roots(b), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
				t.Error("client cert chains to the server CA")
			}
			_, err = c.Verify(x509.VerifyOptions{
				Roots:     b.ClientCAPool(),
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			})
			if err == nil {
				t.Error("client cert verifies for server auth")
			}
			if c.Subject.CommonName != tt.wantCN || strings.Join(c.Subject.Organization, ",") != strings.Join(tt.wantOrg, ",") {
				t.Errorf("subject %v, want CN=%s O=%v", c.Subject, tt.wantCN, tt.wantOrg)
			}
			if life := time.Until(c.NotAfter); life < tt.validity-day || life > tt.validity+day {
				t.Errorf("valid for %s more, want about %s", life, tt.validity)
			}
		})
	}
}

func TestIssueClientCertRejectsBadInput(t *testing.T) {
	b := mustEnsure(t, testOptions(t.TempDir()))
	tests := []struct {
		name     string
		cn       string
		validity time.Duration
	}{
		{"no common name", "", day},
		{"zero validity", "u", 0},
		{"negative validity", "u", -day},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := b.IssueClientCert(tt.cn, nil, tt.validity); err == nil {
				t.Error("no error")
			}
		})
	}
}

func TestEnsureCAFileStates(t *testing.T) {
	otherKey := func(t *testing.T) []byte {
		_, key, err := newCA("test", time.Now(), day)
		if err != nil {
			t.Fatal(err)
		}
		return key
	}
	tests := []struct {
		name    string
		prepare func(t *testing.T, b *Bundle) // runs after a first Ensure
		wantErr string
		newCA   bool
	}{
		{
			name:    "CA key missing",
			prepare: func(t *testing.T, b *Bundle) { os.Remove(b.ServerCAKeyFile) },
			wantErr: "restore the CA key",
		},
		{
			name:    "CA key does not match",
			prepare: func(t *testing.T, b *Bundle) { os.WriteFile(b.ServerCAKeyFile, otherKey(t), 0o600) },
			wantErr: "does not match",
		},
		{
			// What a crash during the first start can leave.
			name:    "CA key without certificate",
			prepare: func(t *testing.T, b *Bundle) { os.Remove(b.ServerCAFile) },
			newCA:   true,
		},
		{
			name:    "loose key mode is tightened",
			prepare: func(t *testing.T, b *Bundle) { os.Chmod(b.ServerCAKeyFile, 0o644) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			first := mustEnsure(t, testOptions(dir))
			tt.prepare(t, first)
			b, err := Ensure(testOptions(dir))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if gotNew := !bytes.Equal(b.ServerCAPEM, first.ServerCAPEM); gotNew != tt.newCA {
				t.Errorf("new CA = %v, want %v", gotNew, tt.newCA)
			}
			// Leaves must chain to whatever CA is current.
			if _, err := b.ServingCert.Verify(x509.VerifyOptions{DNSName: "localhost", Roots: roots(b)}); err != nil {
				t.Errorf("serving cert: %v", err)
			}
			if st, err := os.Stat(b.ServerCAKeyFile); err != nil || st.Mode().Perm() != 0o600 {
				t.Errorf("CA key mode: %v %v", st.Mode(), err)
			}
		})
	}
}

// TestEnsureRemovesRetiredFiles: the controller certificate older servers
// issued (system:masters, used by nothing since the controllers' requests
// are served in process) is deleted at start; the other files stay.
func TestEnsureRemovesRetiredFiles(t *testing.T) {
	dir := t.TempDir()
	b := mustEnsure(t, testOptions(dir))
	certPEM, keyPEM := b.Admin()
	for name, data := range map[string][]byte{"controller.crt": certPEM, "controller.key": keyPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	before := readFiles(t, b)
	b = mustEnsure(t, testOptions(dir))
	for _, name := range []string{"controller.crt", "controller.key"} {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s after start: %v, want it removed", name, err)
		}
	}
	for name, data := range readFiles(t, b) {
		if !bytes.Equal(before[name], data) {
			t.Errorf("%s changed", name)
		}
	}
}
