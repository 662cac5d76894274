package pki

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"time"

	"k8s.io/klog/v2"
)

// Names of the leaf certificates a Bundle keeps current.
const (
	CertServing = "serving"
	CertAdmin   = "admin"
	// CertFrontProxy is the front-proxy client certificate, signed by the
	// request-header CA. skiff has no aggregation layer or authenticating
	// proxy yet; the pair is kept so the layout is complete when it does.
	CertFrontProxy = "front-proxy-client"
)

var leafNames = []string{CertServing, CertAdmin, CertFrontProxy}

// DefaultCheckInterval is the longest a Renewer waits between two checks,
// so that a clock jump or a file replaced by hand is noticed.
const DefaultCheckInterval = time.Hour

// leafDef says where one leaf lives and what it must say.
type leafDef struct {
	name, certFile, keyFile string
	issuer                  string
	spec                    leafSpec
}

func (b *Bundle) leafDefs() ([]leafDef, error) {
	dnsNames, ips, err := servingSANs(b.opts)
	if err != nil {
		return nil, err
	}
	v := b.opts.LeafValidity
	return []leafDef{
		{CertServing, b.ServingCertFile, b.ServingKeyFile, CAServer, leafSpec{
			subject: pkix.Name{CommonName: "skiff"}, usage: x509.ExtKeyUsageServerAuth,
			dnsNames: dnsNames, ips: ips, validity: v,
		}},
		{CertAdmin, b.AdminCertFile, b.AdminKeyFile, CAClient, leafSpec{
			subject: pkix.Name{CommonName: AdminUser, Organization: []string{AdminGroup}},
			usage:   x509.ExtKeyUsageClientAuth, validity: v,
		}},
		{CertFrontProxy, b.FrontProxyCertFile, b.FrontProxyKeyFile, CARequestHeader, leafSpec{
			subject: pkix.Name{CommonName: FrontProxyUser},
			usage:   x509.ExtKeyUsageClientAuth, validity: v,
		}},
	}, nil
}

// Renew re-checks the serving, admin and front-proxy certificates as
// Ensure does at start (expiry, SANs, host addresses, CA) and re-issues
// those that are stale, writing each file atomically. It returns the names
// of the certificates that changed since the last call.
func (b *Bundle) Renew() (renewed []string, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	defs, err := b.leafDefs()
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	if b.leaves == nil {
		b.leaves = map[string]leafPair{}
	}
	for _, d := range defs {
		certPEM, keyPEM, cert, err := b.ensureLeaf(d.certFile, d.keyFile, b.cas[d.issuer], d.spec)
		if err != nil {
			return renewed, fmt.Errorf("pki: %s certificate: %w", d.name, err)
		}
		old, had := b.leaves[d.name]
		b.leaves[d.name] = leafPair{certPEM: certPEM, keyPEM: keyPEM, cert: cert}
		if had && !bytes.Equal(old.certPEM, certPEM) {
			renewed = append(renewed, d.name)
		}
	}
	return renewed, nil
}

// Admin returns the current admin client certificate and key (PEM).
func (b *Bundle) Admin() (certPEM, keyPEM []byte) { return b.pair(CertAdmin) }

func (b *Bundle) pair(name string) (certPEM, keyPEM []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.leaves[name]
	return p.certPEM, p.keyPEM
}

// Leaf returns the current certificate called name (CertServing, ...), or
// nil.
func (b *Bundle) Leaf(name string) *x509.Certificate {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.leaves[name].cert
}

// Expiries returns when each current leaf certificate and its CA expire.
func (b *Bundle) Expiries() []Expiry {
	b.mu.Lock()
	defer b.mu.Unlock()
	issuers := map[string]string{CertServing: CAServer, CertAdmin: CAClient, CertFrontProxy: CARequestHeader}
	var out []Expiry
	for _, n := range leafNames {
		if p, ok := b.leaves[n]; ok {
			out = append(out, Expiry{Name: n, NotAfter: p.cert.NotAfter, CANotAfter: b.cas[issuers[n]].cert.NotAfter})
		}
	}
	return out
}

// CAExpiries returns when each CA expires.
func (b *Bundle) CAExpiries() []Expiry {
	var out []Expiry
	for _, n := range caNames {
		out = append(out, Expiry{Name: n, NotAfter: b.cas[n].cert.NotAfter, CANotAfter: b.cas[n].cert.NotAfter})
	}
	return out
}

// RenewBefore is how long before expiry this bundle re-issues a leaf.
func (b *Bundle) RenewBefore() time.Duration { return b.opts.RenewBefore }

// Expiry names a certificate and the end of its validity, and of its
// CA's, which caps it.
type Expiry struct {
	Name                 string
	NotAfter, CANotAfter time.Time
}

// Due reports whether a leaf that expires at notAfter is to be re-issued
// at now: it has renewBefore or less left, and a new one would last
// longer (a leaf never outlives the CA that signs it, so one already cut
// short by the CA's expiry gains nothing from re-issuing).
func Due(now, notAfter, caNotAfter time.Time, renewBefore time.Duration) bool {
	return notAfter.Sub(now) <= renewBefore && notAfter.Before(caNotAfter)
}

// DueAt returns the names of the leaves that are due at now.
func DueAt(now time.Time, leaves []Expiry, renewBefore time.Duration) []string {
	var due []string
	for _, l := range leaves {
		if Due(now, l.NotAfter, l.CANotAfter, renewBefore) {
			due = append(due, l.Name)
		}
	}
	return due
}

// NextCheck returns when to look at the leaves again: at the renewal point
// of the soonest one that can be renewed, and no later than interval from
// now; never before now.
func NextCheck(now time.Time, leaves []Expiry, renewBefore, interval time.Duration) time.Time {
	next := now.Add(interval)
	for _, l := range leaves {
		if !l.NotAfter.Before(l.CANotAfter) {
			continue
		}
		if at := l.NotAfter.Add(-renewBefore); at.Before(next) {
			next = at
		}
	}
	if next.Before(now) {
		return now
	}
	return next
}

// Renewer keeps a Bundle's leaf certificates current while the server runs.
type Renewer struct {
	b        *Bundle
	interval time.Duration
	onRenew  func(renewed []string)
}

// NewRenewer returns a Renewer for b that checks at every renewal point
// and at least every interval (zero means DefaultCheckInterval). onRenew,
// if not nil, is called from Run after certificates were re-issued, with
// their names, so the server can swap them in (the files are already
// written).
func NewRenewer(b *Bundle, interval time.Duration, onRenew func(renewed []string)) *Renewer {
	if interval <= 0 {
		interval = DefaultCheckInterval
	}
	return &Renewer{b: b, interval: interval, onRenew: onRenew}
}

// Run renews certificates until ctx ends.
func (r *Renewer) Run(ctx context.Context) error {
	for {
		wait := r.check()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// check renews what is due and returns how long to wait for the next check.
func (r *Renewer) check() time.Duration {
	b := r.b
	renewed, err := b.Renew()
	for _, n := range renewed {
		c := b.Leaf(n)
		klog.InfoS("Renewed certificate", "name", n, "notAfter", c.NotAfter.Format(time.RFC3339), "serial", c.SerialNumber.Text(16))
	}
	if len(renewed) > 0 && r.onRenew != nil {
		r.onRenew(renewed)
	}
	now := b.now()
	for _, ca := range b.CAExpiries() {
		if ca.NotAfter.Sub(now) <= b.opts.RenewBefore {
			klog.InfoS("A CA expires soon and is not renewed automatically: replace it with `skiff certificate rotate-ca`", "ca", ca.Name, "notAfter", ca.NotAfter.Format(time.RFC3339))
		}
	}
	var wait time.Duration
	if err != nil {
		klog.ErrorS(err, "Certificate renewal failed; will retry")
		wait = min(r.interval, time.Minute, b.opts.RenewBefore/10)
	} else {
		wait = NextCheck(now, b.Expiries(), b.opts.RenewBefore, r.interval).Sub(now)
	}
	// Certificate times have a one-second resolution; never spin.
	return max(wait, time.Second)
}
