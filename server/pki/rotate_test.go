package pki

import (
	"bytes"
	"crypto/x509"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func dirFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(b)
	}
	return out
}

// TestEnsureAdoptsLegacyCA turns a single-CA data dir into the split
// layout: the old CA is server and client CA, and the leaves it signed
// stay as they are.
func TestEnsureAdoptsLegacyCA(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM, err := newCA("legacy", time.Now(), caValidity)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"ca.crt": certPEM, "ca.key": keyPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// What a crash half-way through the adoption leaves: one copy made.
	if err := os.WriteFile(filepath.Join(dir, "server-ca.key"), keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "server-ca.crt"), certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	b := mustEnsure(t, testOptions(dir))
	if !bytes.Equal(b.ServerCAPEM, certPEM) || !bytes.Equal(b.ClientCAPEM, certPEM) {
		t.Error("the legacy CA is not both server and client CA")
	}
	if bytes.Equal(b.RequestHeaderCA.Raw, b.ServerCA.Raw) {
		t.Error("the request-header CA is the legacy CA")
	}
	for _, f := range []string{"ca.crt", "ca.key"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("%s left: %v", f, err)
		}
	}
	before := dirFiles(t, dir)
	mustEnsure(t, testOptions(dir))
	if !maps.Equal(before, dirFiles(t, dir)) {
		t.Error("a second start changed the adopted layout")
	}
}

func TestRotateCA(t *testing.T) {
	dir := t.TempDir()
	old := mustEnsure(t, testOptions(dir))
	oldAdmin := old.Leaf(CertAdmin)

	serverPEM, err := RotateCA(dir, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := RotateCA(dir, "", time.Now()); err == nil || !strings.Contains(err.Error(), "already in progress") {
		t.Errorf("second rotation: %v", err)
	}
	if err := FinishCARotation(dir, time.Now()); err == nil || !strings.Contains(err.Error(), "restart the server") {
		t.Errorf("finish before the leaves were re-issued: %v", err)
	}

	b := mustEnsure(t, testOptions(dir)) // the server's restart
	if !bytes.Equal(b.ServerCAPEM, serverPEM) || bytes.Equal(b.ServerCAPEM, old.ServerCAPEM) || bytes.Equal(b.ClientCAPEM, old.ClientCAPEM) {
		t.Fatal("the CAs were not replaced")
	}
	if !b.RotatingCA() {
		t.Error("no transition after the rotation")
	}
	// A client that trusts only the old server CA verifies the new
	// serving certificate through the cross-signed CA.
	cross, err := parseCert(b.crossPEM)
	if err != nil {
		t.Fatal(err)
	}
	inter := x509.NewCertPool()
	inter.AddCert(cross)
	if _, err := b.ServingCert.Verify(x509.VerifyOptions{DNSName: "localhost", Roots: roots(old), Intermediates: inter}); err != nil {
		t.Errorf("new serving certificate with the old CA: %v", err)
	}
	if _, err := b.ServingCert.Verify(x509.VerifyOptions{DNSName: "localhost", Roots: roots(b), Intermediates: inter}); err != nil {
		t.Errorf("new serving certificate with the new CA: %v", err)
	}
	// The old admin certificate still authenticates, the new one too.
	for name, c := range map[string]*x509.Certificate{"old": oldAdmin, "new": b.Leaf(CertAdmin)} {
		if _, err := c.Verify(x509.VerifyOptions{Roots: b.ClientCAPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("%s admin certificate during the transition: %v", name, err)
		}
	}

	if err := FinishCARotation(dir, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := FinishCARotation(dir, time.Now()); err == nil {
		t.Error("finished twice")
	}
	b = mustEnsure(t, testOptions(dir))
	if b.RotatingCA() {
		t.Error("still rotating after finish")
	}
	if _, err := oldAdmin.Verify(x509.VerifyOptions{Roots: b.ClientCAPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Error("old admin certificate authenticates after finish")
	}
}

func TestRotateCABadInput(t *testing.T) {
	dir := t.TempDir()
	mustEnsure(t, testOptions(dir))
	otherCert, otherKey, err := newCA("other", time.Now(), day)
	if err != nil {
		t.Fatal(err)
	}
	_, secondKey, err := newCA("second", time.Now(), day)
	if err != nil {
		t.Fatal(err)
	}
	expiredCert, expiredKey, err := newCA("expired", time.Now().Add(-2*day), day)
	if err != nil {
		t.Fatal(err)
	}
	current, err := os.ReadFile(filepath.Join(dir, "server-ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	currentKey, err := os.ReadFile(filepath.Join(dir, "server-ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	serving, err := os.ReadFile(filepath.Join(dir, "serving.crt"))
	if err != nil {
		t.Fatal(err)
	}
	servingKey, err := os.ReadFile(filepath.Join(dir, "serving.key"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		files map[string][]byte
		want  string
	}{
		{"empty", nil, "holds none of"},
		{"certificate without key", map[string][]byte{"client-ca.crt": otherCert}, "client-ca.key does not"},
		{"key without certificate", map[string][]byte{"request-header-ca.key": otherKey}, "request-header-ca.crt does not"},
		{"key does not match", map[string][]byte{"server-ca.crt": otherCert, "server-ca.key": secondKey}, "does not match"},
		{"not a CA", map[string][]byte{"server-ca.crt": serving, "server-ca.key": servingKey}, "is not a CA certificate"},
		{"expired", map[string][]byte{"client-ca.crt": expiredCert, "client-ca.key": expiredKey}, "expired"},
		{"garbage", map[string][]byte{"client-ca.crt": []byte("nope"), "client-ca.key": otherKey}, "no CERTIFICATE"},
		{"the current CA", map[string][]byte{"server-ca.crt": current, "server-ca.key": currentKey}, "nothing to rotate"},
	}
	before := dirFiles(t, dir)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := t.TempDir()
			for n, data := range tt.files {
				if err := os.WriteFile(filepath.Join(src, n), data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, err := RotateCA(dir, src, time.Now())
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %v, want one line containing %q", err, tt.want)
			}
			if !maps.Equal(before, dirFiles(t, dir)) {
				t.Fatal("bad input changed the directory")
			}
		})
	}
	if _, err := RotateCA(t.TempDir(), "", time.Now()); err == nil || !strings.Contains(err.Error(), "start the server once") {
		t.Errorf("rotation of an empty dir: %v", err)
	}
}

// TestRotateCAInterrupted replays the two crashes RotateCA can suffer:
// before its list of staged files is written (the next start undoes it)
// and after (the next start finishes it).
func TestRotateCAInterrupted(t *testing.T) {
	t.Run("before the list", func(t *testing.T) {
		dir := t.TempDir()
		mustEnsure(t, testOptions(dir))
		before := dirFiles(t, dir)
		if err := os.WriteFile(filepath.Join(dir, "server-ca.key"+stagedSuffix), []byte("half"), 0o600); err != nil {
			t.Fatal(err)
		}
		mustEnsure(t, testOptions(dir))
		if !maps.Equal(before, dirFiles(t, dir)) {
			t.Error("the staged leftover was not removed, or something else changed")
		}
	})
	t.Run("after the list", func(t *testing.T) {
		dir := t.TempDir()
		mustEnsure(t, testOptions(dir))
		serverPEM, err := RotateCA(dir, "", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		rotated := dirFiles(t, dir)
		// Rebuild it as a crash leaves it with the list written and the
		// transition files, but no CA, renamed into place.
		dir2 := t.TempDir()
		for name, data := range rotated {
			target := name + stagedSuffix
			if name == "client-ca-previous.crt" || name == "server-ca-cross-signed.crt" {
				target = name
			} else if !strings.HasSuffix(name, "-ca.crt") && !strings.HasSuffix(name, "-ca.key") {
				target = name
			}
			if err := os.WriteFile(filepath.Join(dir2, target), []byte(data), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		list := "client-ca-previous.crt\nserver-ca-cross-signed.crt\nserver-ca.key\nserver-ca.crt\nclient-ca.key\nclient-ca.crt\nrequest-header-ca.key\nrequest-header-ca.crt\n"
		if err := os.WriteFile(filepath.Join(dir2, pendingFile), []byte(list), 0o600); err != nil {
			t.Fatal(err)
		}
		b := mustEnsure(t, testOptions(dir2))
		if !bytes.Equal(b.ServerCAPEM, serverPEM) || !b.RotatingCA() {
			t.Error("the interrupted rotation was not finished")
		}
		if _, err := os.Stat(filepath.Join(dir2, pendingFile)); !os.IsNotExist(err) {
			t.Errorf("%s left: %v", pendingFile, err)
		}
	})
}
