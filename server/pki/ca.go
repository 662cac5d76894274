package pki

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/skiff-io/skiff/cliconfig"
	"k8s.io/klog/v2"
)

// Names of the CAs a Bundle keeps; each lives in <name>.crt and <name>.key.
const (
	CAServer        = "server-ca"
	CAClient        = "client-ca"
	CARequestHeader = "request-header-ca"
)

var caNames = []string{CAServer, CAClient, CARequestHeader}

const (
	// legacyCA is the single CA of data dirs written before the CAs were
	// split; Ensure adopts it as both server and client CA.
	legacyCA = "ca"
	// CrossSignedFile holds, during a CA rotation, the new server CA signed
	// by the previous one.
	CrossSignedFile = "server-ca-cross-signed.crt"
	// PreviousClientCAFile holds, during a CA rotation, the previous client
	// CA, whose certificates the server still accepts.
	PreviousClientCAFile = "client-ca-previous.crt"
)

// caPair is one CA: its certificate file (possibly a bundle whose first
// certificate is the CA that signs), and its key.
type caPair struct {
	name              string
	certFile, keyFile string
	certPEM, keyPEM   []byte
	cert              *x509.Certificate
	key               crypto.Signer
}

// adoptLegacyCA turns the single ca.crt/ca.key of older data dirs into the
// server and client CA, by copying it, and then removes it. Every step can
// be repeated, so a crash half-way is finished by the next start.
func adoptLegacyCA(dir string) error {
	legacyCert, legacyKey := filepath.Join(dir, legacyCA+".crt"), filepath.Join(dir, legacyCA+".key")
	certPEM, err := readOptional(legacyCert)
	if err != nil || certPEM == nil {
		return err
	}
	keyPEM, err := readOptional(legacyKey)
	if err != nil {
		return err
	}
	for _, name := range []string{CAServer, CAClient} {
		crt := filepath.Join(dir, name+".crt")
		if have, err := readOptional(crt); err != nil || have != nil {
			if err != nil {
				return err
			}
			continue
		}
		if keyPEM == nil {
			return fmt.Errorf("%s exists but %s does not: restore the CA key (a new CA would break every node and kubeconfig that trusts the old one)", legacyCert, legacyKey)
		}
		if err := cliconfig.WriteFileAtomic(filepath.Join(dir, name+".key"), keyPEM, keyMode); err != nil {
			return err
		}
		if err := cliconfig.WriteFileAtomic(crt, certPEM, certMode); err != nil {
			return err
		}
	}
	// The key goes first: ca.crt left alone is adopted no further, since
	// both copies exist by now.
	if err := os.Remove(legacyKey); err != nil && !os.IsNotExist(err) {
		return err
	}
	if err := os.Remove(legacyCert); err != nil && !os.IsNotExist(err) {
		return err
	}
	klog.InfoS("Adopted the single cluster CA as server CA and client CA; `skiff certificate rotate-ca` separates them", "dir", dir)
	return nil
}

// readCAFiles names the pair called name in dir and reads its files; a
// missing file reads as nil.
func readCAFiles(dir, name string) (ca *caPair, certPEM, keyPEM []byte, err error) {
	ca = &caPair{name: name, certFile: filepath.Join(dir, name+".crt"), keyFile: filepath.Join(dir, name+".key")}
	if certPEM, err = readOptional(ca.certFile); err != nil {
		return nil, nil, nil, err
	}
	if keyPEM, err = readOptional(ca.keyFile); err != nil {
		return nil, nil, nil, err
	}
	return ca, certPEM, keyPEM, nil
}

// ensureCA loads the CA called name in dir, creating it when absent.
func ensureCA(dir, name string, now time.Time) (*caPair, error) {
	ca, certPEM, keyPEM, err := readCAFiles(dir, name)
	if err != nil {
		return nil, err
	}
	switch {
	case certPEM == nil:
		// The key is written before the certificate, so a key alone is what
		// a crash during the first start leaves; nothing was signed with it.
		certPEM, keyPEM, err = newCA(name, now, caValidity)
		if err != nil {
			return nil, err
		}
		if err := cliconfig.WriteFileAtomic(ca.keyFile, keyPEM, keyMode); err != nil {
			return nil, err
		}
		if err := cliconfig.WriteFileAtomic(ca.certFile, certPEM, certMode); err != nil {
			return nil, err
		}
	case keyPEM == nil:
		return nil, fmt.Errorf("%s exists but %s does not: restore the CA key (a new CA would break every node and kubeconfig that trusts the old one)", ca.certFile, ca.keyFile)
	}
	if err := ca.parse(certPEM, keyPEM, now); err != nil {
		return nil, err
	}
	if err := ensureMode(ca.keyFile, keyMode); err != nil {
		return nil, err
	}
	if err := ensureMode(ca.certFile, certMode); err != nil {
		return nil, err
	}
	return ca, nil
}

// parse checks that certPEM and keyPEM make a usable CA and fills ca.
func (ca *caPair) parse(certPEM, keyPEM []byte, now time.Time) error {
	cert, err := parseCert(certPEM)
	if err != nil {
		return fmt.Errorf("parse %s: %w", ca.certFile, err)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return fmt.Errorf("parse %s: %w", ca.keyFile, err)
	}
	if !cert.IsCA || (cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageCertSign == 0) {
		return fmt.Errorf("%s is not a CA certificate", ca.certFile)
	}
	if !keyMatches(key, cert) {
		return fmt.Errorf("%s does not match %s", ca.keyFile, ca.certFile)
	}
	if !now.Before(cert.NotAfter) {
		return fmt.Errorf("CA certificate %s expired on %s", ca.certFile, cert.NotAfter.Format(time.RFC3339))
	}
	ca.cert, ca.certPEM, ca.keyPEM, ca.key = cert, certPEM, keyPEM, key
	return nil
}

// loadTransition reads the files a CA rotation leaves until it is
// finished.
func (b *Bundle) loadTransition() error {
	cross, err := readOptional(filepath.Join(b.Dir, CrossSignedFile))
	if err != nil {
		return err
	}
	if cross != nil {
		c, err := parseCert(cross)
		if err != nil {
			return fmt.Errorf("parse %s: %w", CrossSignedFile, err)
		}
		if !bytes.Equal(c.RawSubjectPublicKeyInfo, b.ServerCA.RawSubjectPublicKeyInfo) {
			return fmt.Errorf("%s does not hold the current server CA's key: remove it or finish the rotation with `skiff certificate rotate-ca --finish`", CrossSignedFile)
		}
		b.crossPEM = cross
	}
	prev, err := readOptional(filepath.Join(b.Dir, PreviousClientCAFile))
	if err != nil {
		return err
	}
	if prev != nil {
		if b.previousClientCAs, err = parseCerts(prev); err != nil {
			return fmt.Errorf("parse %s: %w", PreviousClientCAFile, err)
		}
	}
	if cross != nil || prev != nil {
		klog.InfoS("A CA rotation is in progress: the previous CAs are still trusted until `skiff certificate rotate-ca --finish`", "dir", b.Dir)
	}
	return nil
}

// RotatingCA reports whether a CA rotation is in progress: the previous
// server CA still vouches for the server, the previous client CA still
// authenticates clients.
func (b *Bundle) RotatingCA() bool { return b.crossPEM != nil || b.previousClientCAs != nil }

// ClientCAPool returns the CAs whose client certificates the server
// accepts: the client CA, and during a rotation the previous one.
func (b *Bundle) ClientCAPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(b.ClientCAPEM)
	for _, c := range b.previousClientCAs {
		pool.AddCert(c)
	}
	return pool
}

// parseCerts returns every certificate in b; at least one.
func parseCerts(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no CERTIFICATE PEM block")
	}
	return out, nil
}

// crossSign signs the CA certificate next with the key of prev: a
// certificate with next's subject and key, so a chain from a leaf that
// next signed verifies for a client that trusts only prev. It lasts no
// longer than prev.
func crossSign(next, prev *caPair, now time.Time) ([]byte, error) {
	serial, err := serialNumber()
	if err != nil {
		return nil, err
	}
	notAfter := next.cert.NotAfter
	if notAfter.After(prev.cert.NotAfter) {
		notAfter = prev.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               next.cert.Subject,
		SubjectKeyId:          next.cert.SubjectKeyId,
		NotBefore:             now.Add(-backdate).UTC(),
		NotAfter:              notAfter.UTC(),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, prev.cert, next.cert.PublicKey, prev.key)
	if err != nil {
		return nil, fmt.Errorf("cross-sign %s: %w", next.name, err)
	}
	return encodeCert(der), nil
}

// retiredFiles are credentials older servers issued and nothing uses now:
// controller.crt/key was the system:masters client certificate of the
// server's own controllers, whose requests are served in process since.
var retiredFiles = []string{"controller.crt", "controller.key"}

// removeRetired deletes retiredFiles from dir: an unused key that
// authenticates as system:masters is a risk and no help.
func removeRetired(dir string) error {
	for _, name := range retiredFiles {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}
