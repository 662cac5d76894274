package pki

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"
)

// ServerTLSConfig returns the TLS configuration for the API listener.
//
// Client certificates are optional but, when presented, must chain to the
// client CA (or, during a CA rotation, the previous one): a request
// without one goes on to token authentication, which answers 401 if it
// fails. During a rotation the serving certificate goes out with the
// server CA cross-signed by the previous one, so clients that still trust
// only the previous CA verify it. The serving certificate is re-read from disk when its
// files change, so a later Ensure that re-issues it takes effect without a
// restart. Use it as http.Server.TLSConfig (with ServeTLS(l, "", "")) so
// net/http also serves HTTP/2.
func (b *Bundle) ServerTLSConfig() (*tls.Config, error) {
	r := &certReloader{certFile: b.ServingCertFile, keyFile: b.ServingKeyFile}
	if b.crossPEM != nil {
		c, err := parseCert(b.crossPEM)
		if err != nil {
			return nil, fmt.Errorf("pki: %s: %w", CrossSignedFile, err)
		}
		r.chain = [][]byte{c.Raw}
	}
	if err := r.reload(); err != nil {
		return nil, fmt.Errorf("pki: load serving certificate: %w", err)
	}
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"h2", "http/1.1"},
		ClientAuth:     tls.VerifyClientCertIfGiven,
		ClientCAs:      b.ClientCAPool(),
		GetCertificate: r.getCertificate,
	}, nil
}

// certReloader serves a key pair from disk and reloads it when either file
// is replaced. Ensure writes the files by rename, so a replacement shows as
// a different file, not just a newer mtime.
type certReloader struct {
	certFile, keyFile string
	// chain is sent after the certificate (the cross-signed server CA).
	chain [][]byte

	mu       sync.Mutex
	cert     *tls.Certificate
	certStat os.FileInfo
	keyStat  os.FileInfo
}

func (r *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.changed() {
		// On failure keep serving the old pair: between the two renames of a
		// re-issue, the files can briefly disagree; the next handshake retries.
		_ = r.reloadLocked()
	}
	return r.cert, nil
}

func (r *certReloader) reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reloadLocked()
}

func (r *certReloader) reloadLocked() error {
	cs, err := os.Stat(r.certFile)
	if err != nil {
		return err
	}
	ks, err := os.Stat(r.keyFile)
	if err != nil {
		return err
	}
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return err
	}
	c.Certificate = append(c.Certificate, r.chain...)
	r.cert, r.certStat, r.keyStat = &c, cs, ks
	return nil
}

func (r *certReloader) changed() bool {
	return fileChanged(r.certFile, r.certStat) || fileChanged(r.keyFile, r.keyStat)
}

func fileChanged(path string, old os.FileInfo) bool {
	st, err := os.Stat(path)
	if err != nil {
		return false // a missing file cannot be loaded; keep what we have
	}
	return !os.SameFile(st, old) || !st.ModTime().Equal(old.ModTime()) || st.Size() != old.Size()
}
