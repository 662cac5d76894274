package pki

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// CertInfo describes one certificate file, for `skiff certificate check`.
type CertInfo struct {
	// Name is the file name without ".crt": ca, serving, admin, ...
	Name      string    `json:"name"`
	File      string    `json:"file"`
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	Serial    string    `json:"serial"`
	NotBefore time.Time `json:"notBefore"`
	NotAfter  time.Time `json:"notAfter"`
	IsCA      bool      `json:"isCA"`
	// Due says the certificate is within its renewal window: a leaf that
	// the running server re-issues, or a CA that must be replaced by hand.
	Due     bool `json:"due"`
	Expired bool `json:"expired"`
	// Status sums up Due and Expired in words.
	Status string `json:"status"`
}

// Inspect reads every *.crt file in dir (normally <data-dir>/server/tls)
// and says, for the time now, whether each is due for renewal with
// renewBefore (zero means DefaultRenewBefore).
func Inspect(dir string, now time.Time, renewBefore time.Duration) ([]CertInfo, error) {
	if renewBefore <= 0 {
		renewBefore = DefaultRenewBefore
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.crt"))
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("pki: no certificates in %s", dir)
	}
	sort.Strings(files)
	// A leaf is capped by its CA's expiry: the CA files in dir, by subject.
	caNotAfter := map[string]time.Time{}
	var out []CertInfo
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("pki: %w", err)
		}
		c, err := parseCert(data)
		if err != nil {
			return nil, fmt.Errorf("pki: %s: %w", f, err)
		}
		if c.IsCA && filepath.Base(f) != CrossSignedFile {
			caNotAfter[c.Subject.String()] = c.NotAfter
		}
		out = append(out, CertInfo{
			Name: strings.TrimSuffix(filepath.Base(f), ".crt"), File: f,
			Subject: c.Subject.String(), Issuer: c.Issuer.String(), Serial: c.SerialNumber.Text(16),
			NotBefore: c.NotBefore, NotAfter: c.NotAfter, IsCA: c.IsCA,
		})
	}
	for i := range out {
		ci := &out[i]
		ci.Expired = !now.Before(ci.NotAfter)
		if ci.IsCA {
			ci.Due = ci.NotAfter.Sub(now) <= renewBefore
		} else {
			limit, ok := caNotAfter[ci.Issuer]
			if !ok {
				limit = now.Add(100 * 365 * 24 * time.Hour) // no CA file: nothing caps the leaf
			}
			ci.Due = Due(now, ci.NotAfter, limit, renewBefore)
		}
		switch {
		case ci.Expired:
			ci.Status = "expired"
		case ci.Due && ci.IsCA:
			ci.Status = "expires soon: rotate it"
		case ci.Due:
			ci.Status = "due for renewal"
		default:
			ci.Status = "ok"
		}
	}
	return out, nil
}
