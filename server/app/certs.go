package app

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/skiff-io/skiff/server/pki"
	"k8s.io/klog/v2"
)

// TestCertLifetimeEnv shortens the leaf certificates' lifetimes, for tests
// only: "20s" makes leaves valid 20 seconds and renews them with half of
// that left; "20s,5s" sets both. It is deliberately not a flag: nobody runs
// a real server with certificates that expire in seconds.
const TestCertLifetimeEnv = "SKIFF_TEST_CERT_VALIDITY"

// CertLifetimes returns the leaf certificate validity and renew-before
// window: zero (pki's defaults) unless TestCertLifetimeEnv is set.
func CertLifetimes() (validity, renewBefore time.Duration, err error) {
	v := strings.TrimSpace(os.Getenv(TestCertLifetimeEnv))
	if v == "" {
		return 0, 0, nil
	}
	first, second, hasSecond := strings.Cut(v, ",")
	if validity, err = time.ParseDuration(strings.TrimSpace(first)); err != nil || validity <= 0 {
		return 0, 0, fmt.Errorf("%s=%q: want a duration such as 20s, optionally followed by ,RENEW_BEFORE", TestCertLifetimeEnv, v)
	}
	renewBefore = validity / 2
	if hasSecond {
		if renewBefore, err = time.ParseDuration(strings.TrimSpace(second)); err != nil || renewBefore <= 0 || renewBefore >= validity {
			return 0, 0, fmt.Errorf("%s=%q: renew-before must be a duration shorter than the validity", TestCertLifetimeEnv, v)
		}
	}
	return validity, renewBefore, nil
}

// logSoonestExpiry says at start which certificate expires first.
func logSoonestExpiry(b *pki.Bundle) {
	var soonest pki.Expiry
	for _, e := range b.Expiries() {
		if soonest.Name == "" || e.NotAfter.Before(soonest.NotAfter) {
			soonest = e
		}
	}
	for _, ca := range b.CAExpiries() {
		if ca.NotAfter.Before(soonest.NotAfter) {
			soonest = ca
		}
	}
	klog.InfoS("Certificates loaded", "soonestExpiry", soonest.Name, "notAfter", soonest.NotAfter.Format(time.RFC3339),
		"renewBefore", b.RenewBefore(), "dir", b.Dir)
}

// swapRenewed puts renewed certificates to use: the admin one in the
// written kubeconfig. The serving certificate needs nothing: the
// listener's GetCertificate reloads it.
func swapRenewed(b *pki.Bundle, kubeconfig, serverURL string, mode os.FileMode) func([]string) {
	return func(renewed []string) {
		for _, n := range renewed {
			switch n {
			case pki.CertAdmin:
				if err := b.WriteKubeconfig(kubeconfig, serverURL, mode); err != nil {
					klog.ErrorS(err, "Cannot rewrite the admin kubeconfig with the renewed certificate", "path", kubeconfig)
				} else {
					klog.InfoS("Rewrote the admin kubeconfig with the renewed certificate", "path", kubeconfig)
				}
			}
		}
	}
}
