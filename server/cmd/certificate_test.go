package cmd

import (
	"bytes"
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skiff-io/skiff/server/pki"
)

func TestCertificateCheck(t *testing.T) {
	dataDir := t.TempDir()
	_, err := pki.Ensure(pki.Options{
		Dir:     filepath.Join(dataDir, "server", "tls"),
		HostIPs: func() ([]net.IP, error) { return nil, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		c := NewCertificate()
		var out bytes.Buffer
		c.SetOut(&out)
		c.SetErr(&out)
		c.SetArgs(append([]string{"check", "--data-dir", dataDir}, args...))
		err := c.Execute()
		return out.String(), err
	}

	text, err := run()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if len(lines) != 7 || !strings.HasPrefix(lines[0], "FILE") {
		t.Fatalf("want a header and a line per certificate, got:\n%s", text)
	}
	for i, want := range []string{"admin.crt", "client-ca.crt", "front-proxy-client.crt", "request-header-ca.crt", "server-ca.crt", "serving.crt"} {
		if !strings.HasPrefix(lines[i+1], want) || !strings.HasSuffix(lines[i+1], "ok") {
			t.Errorf("line %d: %q, want %s ... ok", i+1, lines[i+1], want)
		}
	}

	js, err := run("-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var certs []pki.CertInfo
	if err := json.Unmarshal([]byte(js), &certs); err != nil {
		t.Fatalf("json: %v\n%s", err, js)
	}
	if len(certs) != 6 || certs[0].Subject != "CN=system:admin,O=system:masters" || !certs[1].IsCA || certs[5].Due {
		t.Errorf("json: %+v", certs)
	}

	if _, err := run("-o", "yaml"); err == nil {
		t.Error("-o yaml accepted")
	}
	c := NewCertificate()
	c.SetArgs([]string{"check", "--data-dir", t.TempDir()})
	c.SetOut(&bytes.Buffer{})
	if err := c.Execute(); err == nil {
		t.Error("a data dir without certificates gave no error")
	}
}
