package app

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/skiff-io/skiff/server/pki"
	utilnet "k8s.io/apimachinery/pkg/util/net"
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

// loopbackTransport is the round tripper of the server's own API clients
// (controllers, node sync hub, join endpoint), authenticated with the
// controller certificate.
//
// The API authenticates a request when it starts and checks the client
// certificate's expiry on every request, so a renewed certificate must
// not merely be offered on new handshakes: connections made with the old
// one must stop taking new requests before it expires. Each rotation
// therefore starts a fresh http.Transport; requests from then on go over
// new connections, while watches already open run on over the old ones
// until they end, and those connections close once idle.
type loopbackTransport struct {
	roots *x509.CertPool
	cert  atomic.Pointer[tls.Certificate]
	cur   atomic.Pointer[http.Transport]
}

func newLoopbackTransport(caPEM, certPEM, keyPEM []byte) (*loopbackTransport, error) {
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("loopback client: no CA certificate")
	}
	t := &loopbackTransport{roots: roots}
	if err := t.rotate(certPEM, keyPEM); err != nil {
		return nil, err
	}
	return t, nil
}

// rotate makes the next requests use a new certificate.
func (t *loopbackTransport) rotate(certPEM, keyPEM []byte) error {
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("loopback client certificate: %w", err)
	}
	t.cert.Store(&c)
	next := utilnet.SetTransportDefaults(&http.Transport{
		// The server's own address never goes through a proxy.
		Proxy: func(*http.Request) (*url.URL, error) { return nil, nil },
		TLSClientConfig: &tls.Config{
			MinVersion: tls.VersionTLS12,
			RootCAs:    t.roots,
			// Always the current certificate, also for a connection an old
			// transport still opens for a request already under way.
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				return t.cert.Load(), nil
			},
		},
		TLSHandshakeTimeout: 10 * time.Second,
		IdleConnTimeout:     90 * time.Second,
		MaxIdleConnsPerHost: 25,
	})
	if old := t.cur.Swap(next); old != nil {
		old.CloseIdleConnections()
	}
	return nil
}

func (t *loopbackTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return t.cur.Load().RoundTrip(r)
}

// CloseIdleConnections lets client-go close the current transport's idle
// connections.
func (t *loopbackTransport) CloseIdleConnections() { t.cur.Load().CloseIdleConnections() }

// swapRenewed puts renewed certificates to use: the controller one in the
// loopback transport, the admin one in the written kubeconfig. The serving
// certificate needs nothing: the listener's GetCertificate reloads it.
func swapRenewed(b *pki.Bundle, lt *loopbackTransport, kubeconfig, serverURL string, mode os.FileMode) func([]string) {
	return func(renewed []string) {
		for _, n := range renewed {
			switch n {
			case pki.CertController:
				if err := lt.rotate(b.Controller()); err != nil {
					klog.ErrorS(err, "Cannot use the renewed controller certificate")
				}
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
