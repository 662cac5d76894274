package pki

import (
	"bytes"
	"context"
	"crypto/tls"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestDue(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	ca := now.Add(1000 * day)
	tests := []struct {
		name     string
		notAfter time.Time
		ca       time.Time
		want     bool
	}{
		{"plenty left", now.Add(200 * day), ca, false},
		{"one second more than renewBefore", now.Add(90*day + time.Second), ca, false},
		{"exactly renewBefore left", now.Add(90 * day), ca, true},
		{"inside the window", now.Add(89 * day), ca, true},
		{"expired", now.Add(-time.Hour), ca, true},
		{"cut short by the CA: renewing gains nothing", ca, ca, false},
		{"CA expires later than the leaf", now.Add(10 * day), now.Add(11 * day), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Due(now, tt.notAfter, tt.ca, 90*day); got != tt.want {
				t.Errorf("Due = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDueAtAndNextCheck(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	ca := t0.Add(1000 * time.Second)
	// Leaves valid 20 s, renewed with 10 s left, as the integration test
	// runs them; the front-proxy certificate was issued 4 s after the others.
	leaves := []Expiry{
		{Name: CertServing, NotAfter: t0.Add(20 * time.Second)},
		{Name: CertAdmin, NotAfter: t0.Add(20 * time.Second)},
		{Name: CertFrontProxy, NotAfter: t0.Add(24 * time.Second)},
	}
	const renewBefore, interval = 10 * time.Second, time.Hour
	tests := []struct {
		at       time.Duration
		leaves   []Expiry
		ca       time.Time
		wantDue  []string
		wantNext time.Duration // from t0
	}{
		{at: 0, leaves: leaves, ca: ca, wantNext: 10 * time.Second},
		{at: 9 * time.Second, leaves: leaves, ca: ca, wantNext: 10 * time.Second},
		{at: 10 * time.Second, leaves: leaves, ca: ca, wantDue: []string{CertServing, CertAdmin}, wantNext: 10 * time.Second},
		{at: 12 * time.Second, leaves: leaves, ca: ca, wantDue: []string{CertServing, CertAdmin}, wantNext: 12 * time.Second},
		{at: 14 * time.Second, leaves: leaves, ca: ca, wantDue: []string{CertServing, CertAdmin, CertFrontProxy}, wantNext: 14 * time.Second},
		{at: 30 * time.Second, leaves: leaves, ca: ca, wantDue: []string{CertServing, CertAdmin, CertFrontProxy}, wantNext: 30 * time.Second},
		// Nothing due within the interval: check again after it.
		{at: 0, leaves: []Expiry{{Name: CertAdmin, NotAfter: t0.Add(300 * day)}}, ca: t0.Add(3000 * day), wantNext: interval},
		// A leaf already ending with the CA is not renewed and does not
		// make the renewer spin.
		{at: 15 * time.Second, leaves: []Expiry{{Name: CertAdmin, NotAfter: t0.Add(20 * time.Second)}}, ca: t0.Add(20 * time.Second), wantNext: 15*time.Second + interval},
		// Each leaf is capped by its own CA: the serving one's has ended,
		// the admin one's has not.
		{at: 15 * time.Second, leaves: []Expiry{
			{Name: CertServing, NotAfter: t0.Add(20 * time.Second), CANotAfter: t0.Add(20 * time.Second)},
			{Name: CertAdmin, NotAfter: t0.Add(30 * time.Second)},
		}, ca: ca, wantNext: 20 * time.Second},
	}
	for _, tt := range tests {
		now := t0.Add(tt.at)
		leaves := slices.Clone(tt.leaves)
		for i := range leaves {
			if leaves[i].CANotAfter.IsZero() {
				leaves[i].CANotAfter = tt.ca
			}
		}
		if got := DueAt(now, leaves, renewBefore); !slices.Equal(got, tt.wantDue) {
			t.Errorf("at %s: due %v, want %v", tt.at, got, tt.wantDue)
		}
		if got := NextCheck(now, leaves, renewBefore, interval); !got.Equal(t0.Add(tt.wantNext)) {
			t.Errorf("at %s: next check %s, want t0+%s", tt.at, got.Sub(t0), tt.wantNext)
		}
	}
}

func TestRenewReissuesDueLeaves(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	o := testOptions(t.TempDir())
	o.Now, o.LeafValidity, o.RenewBefore = clock, 20*time.Second, 10*time.Second
	b := mustEnsure(t, o)
	before := readFiles(t, b)
	adminBefore, _ := b.Admin()

	advance(5 * time.Second)
	if renewed, err := b.Renew(); err != nil || len(renewed) != 0 {
		t.Fatalf("renewed %v (%v) with 15 s left", renewed, err)
	}

	advance(6 * time.Second)
	renewed, err := b.Renew()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{CertServing, CertAdmin, CertFrontProxy}; !slices.Equal(renewed, want) {
		t.Fatalf("renewed %v, want %v", renewed, want)
	}
	after := readFiles(t, b)
	for name := range before {
		changed := !bytes.Equal(before[name], after[name])
		want := name == "serving.crt" || name == "admin.crt" || name == "front-proxy-client.crt"
		if changed != want {
			t.Errorf("%s changed=%v, want %v (keys are kept, the CA never changes)", name, changed, want)
		}
	}
	adminAfter, _ := b.Admin()
	if bytes.Equal(adminBefore, adminAfter) || !bytes.Equal(adminAfter, after["admin.crt"]) {
		t.Error("Admin does not return the renewed certificate")
	}
	for _, e := range b.Expiries() {
		if got, want := e.NotAfter, clock().Add(20*time.Second).Truncate(time.Second); !got.Equal(want) {
			t.Errorf("%s notAfter %s, want %s", e.Name, got, want)
		}
	}
	if renewed, _ := b.Renew(); len(renewed) != 0 {
		t.Errorf("renewed %v again at once", renewed)
	}
}

func TestEnsureRejectsRenewBeforeNotShorterThanValidity(t *testing.T) {
	o := testOptions(t.TempDir())
	o.LeafValidity, o.RenewBefore = 10*time.Second, 10*time.Second
	if _, err := Ensure(o); err == nil {
		t.Fatal("Ensure accepted renew-before equal to the validity")
	}
}

// TestRenewerSwapsServingCert runs a Renewer on the real clock with short
// lifetimes and checks that a running TLS server presents the new
// certificate on new connections and that onRenew hears of each renewal.
func TestRenewerSwapsServingCert(t *testing.T) {
	if testing.Short() {
		t.Skip("runs on the real clock for a few seconds")
	}
	o := testOptions(t.TempDir())
	o.LeafValidity, o.RenewBefore = 3*time.Second, 2*time.Second
	b := mustEnsure(t, o)
	url := serve(t, b)
	served := func() string {
		c := client(t, b, nil, nil)
		resp, err := c.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		c.CloseIdleConnections()
		return resp.TLS.PeerCertificates[0].SerialNumber.String()
	}
	first := served()

	got := make(chan []string, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	r := NewRenewer(b, time.Hour, func(n []string) { got <- n })
	go func() { done <- r.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	select {
	case n := <-got:
		if !slices.Contains(n, CertServing) {
			t.Errorf("renewed %v", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no renewal within 10 s of a certificate due after 1 s")
	}
	if again := served(); again == first {
		t.Error("server still presents the first serving certificate")
	}
	certPEM, keyPEM := b.Admin()
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Errorf("renewed admin pair: %v", err)
	}
	if data, _ := os.ReadFile(b.AdminCertFile); !bytes.Equal(data, certPEM) {
		t.Error("admin.crt differs from the renewed certificate")
	}
}

func TestInspect(t *testing.T) {
	dir := t.TempDir()
	mustEnsure(t, testOptions(dir))
	now := time.Now()
	tests := []struct {
		at       time.Duration
		wantLeaf string
		wantCA   string
	}{
		{at: 0, wantLeaf: "ok", wantCA: "ok"},
		{at: 300 * day, wantLeaf: "due for renewal", wantCA: "ok"},
		{at: 366 * day, wantLeaf: "expired", wantCA: "ok"},
		{at: 3600 * day, wantLeaf: "expired", wantCA: "expires soon: rotate it"},
		{at: 3651 * day, wantLeaf: "expired", wantCA: "expired"},
	}
	for _, tt := range tests {
		certs, err := Inspect(dir, now.Add(tt.at), 0)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, c := range certs {
			names = append(names, c.Name)
			want := tt.wantLeaf
			if strings.HasSuffix(c.Name, "-ca") {
				want = tt.wantCA
			}
			if c.Status != want {
				t.Errorf("at +%s: %s status %q, want %q", tt.at, c.Name, c.Status, want)
			}
		}
		if want := []string{"admin", "client-ca", "front-proxy-client", "request-header-ca", "server-ca", "serving"}; !slices.Equal(names, want) {
			t.Errorf("certificates %v, want %v", names, want)
		}
	}
}
