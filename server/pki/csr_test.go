package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"slices"
	"testing"
	"time"
)

// TestClientCertsCarryClientAuth checks that every client certificate the
// server signs names client auth, which the API requires to authenticate.
func TestClientCertsCarryClientAuth(t *testing.T) {
	b := mustEnsure(t, testOptions(t.TempDir()))
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "ignored", Organization: []string{"system:masters"}}}, key)
	if err != nil {
		t.Fatal(err)
	}
	csrPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	nodePEM, err := b.SignClientCSR(csrPEM, "system:node:n1", []string{"system:nodes"}, 30*day)
	if err != nil {
		t.Fatal(err)
	}
	issuedPEM, _, err := b.IssueClientCert("u", nil, day)
	if err != nil {
		t.Fatal(err)
	}
	adminPEM, _ := b.Admin()
	for name, p := range map[string][]byte{"csr": nodePEM, "issued": issuedPEM, "admin": adminPEM} {
		c, err := parseCert(p)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
			t.Errorf("%s: extended key usages %v, want client auth only", name, c.ExtKeyUsage)
		}
		if name == "csr" {
			if c.Subject.CommonName != "system:node:n1" || !slices.Equal(c.Subject.Organization, []string{"system:nodes"}) {
				t.Errorf("csr: subject %s, want the caller's, not the request's", c.Subject)
			}
			if life := time.Until(c.NotAfter); life < 29*day || life > 31*day {
				t.Errorf("csr: valid for %s", life)
			}
		}
	}
}
