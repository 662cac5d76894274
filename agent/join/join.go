package join

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/skiff-io/skiff/cliconfig"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/skiff-io/skiff/protocol"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
)

// ErrRefused classifies answers that joining again will not change: a
// wrong token, a node name owned by another machine, a CA that does not
// match the token.
var ErrRefused = errors.New("join refused")

// Config says whom to join and as what.
type Config struct {
	Server string // https://host:6443
	Token  string
	Dir    string // <data-dir>/agent
	// Node is the Node to register on the first join.
	Node corev1.Node
}

// Credentials are a joined node's identity and the cluster's addressing.
type Credentials struct {
	dir         string
	PodCIDR     string
	ClusterCIDR string
	ServiceCIDR string

	mu   sync.Mutex
	ca   []byte // the server CA bundle, as /cacerts served it
	cert *tls.Certificate
	leaf *x509.Certificate
}

type saved struct {
	Server      string `json:"server"`
	PodCIDR     string `json:"podCIDR"`
	ClusterCIDR string `json:"clusterCIDR"`
	ServiceCIDR string `json:"serviceCIDR"`
}

func credDir(dir string) string { return filepath.Join(dir, "cred") }

// Load reads the credentials of an earlier join; os.ErrNotExist when the
// node never joined.
func Load(dir string) (*Credentials, error) {
	cd := credDir(dir)
	ca, err := os.ReadFile(filepath.Join(cd, "server-ca.crt"))
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(cd, "join.json"))
	if err != nil {
		return nil, err
	}
	var s saved
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(cd, "join.json"), err)
	}
	c := &Credentials{dir: dir, ca: ca, PodCIDR: s.PodCIDR, ClusterCIDR: s.ClusterCIDR, ServiceCIDR: s.ServiceCIDR}
	if err := c.loadCert(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Credentials) loadCert() error {
	cd := credDir(c.dir)
	cert, err := tls.LoadX509KeyPair(filepath.Join(cd, "client.crt"), filepath.Join(cd, "client.key"))
	if err != nil {
		return err
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.cert, c.leaf = &cert, leaf
	c.mu.Unlock()
	return nil
}

// NotAfter is when the node certificate expires.
func (c *Credentials) NotAfter() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leaf.NotAfter
}

// NeedsRenewal reports whether less than a third of the certificate's
// life is left.
func (c *Credentials) NeedsRenewal(now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	life := c.leaf.NotAfter.Sub(c.leaf.NotBefore)
	return c.leaf.NotAfter.Sub(now) < life/3
}

// TLSConfig trusts only the server CA for the server at serverURL and
// presents the node certificate, both as they are at each handshake: a
// renewal swaps the certificate, and a re-join after a CA rotation swaps
// the CA, without the connections' configuration being rebuilt.
func (c *Credentials) TLSConfig(serverURL string) *tls.Config {
	host := serverURL
	if u, err := url.Parse(serverURL); err == nil && u.Host != "" {
		host = u.Hostname()
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// The standard verification would fix the roots now; the server is
		// verified in VerifyConnection instead, as strictly (chain to the
		// server CA, the server's name, server auth), against the CA held
		// at the handshake.
		InsecureSkipVerify: true, //nolint:gosec
		VerifyConnection: func(cs tls.ConnectionState) error {
			return c.verifyServer(cs.PeerCertificates, host)
		},
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			c.mu.Lock()
			defer c.mu.Unlock()
			return c.cert, nil
		},
	}
}

// verifyServer checks the server's certificate chain against the server
// CA the node holds.
func (c *Credentials) verifyServer(certs []*x509.Certificate, host string) error {
	if len(certs) == 0 {
		return errors.New("the server presented no certificate")
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(c.CA())
	inter := x509.NewCertPool()
	for _, ic := range certs[1:] {
		inter.AddCert(ic)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: host})
	return err
}

// CA returns the server CA bundle the node trusts.
func (c *Credentials) CA() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ca
}

// ServerCAChanged reports whether the server at serverURL, verified with
// the CA the node holds, now serves another CA at /cacerts: after `skiff
// certificate rotate-ca` and a server restart, the new server CA is
// cross-signed by the old one, so the node can see it and re-join.
func (c *Credentials) ServerCAChanged(ctx context.Context, serverURL string) (bool, error) {
	tr := &http.Transport{TLSClientConfig: c.TLSConfig(serverURL)}
	defer tr.CloseIdleConnections()
	ca, err := getCACerts(ctx, &http.Client{Timeout: 30 * time.Second, Transport: tr}, strings.TrimSuffix(serverURL, "/"))
	if err != nil {
		return false, err
	}
	return !bytes.Equal(ca, c.CA()), nil
}

// Join asks the server for a node certificate and stores it. It is also
// how a joined node renews its certificate.
func Join(ctx context.Context, cfg Config) (*Credentials, error) {
	hash, _, _, err := protocol.ParseToken(cfg.Token)
	if err != nil {
		return nil, fmt.Errorf("%w: --token: %v", ErrRefused, err)
	}
	base := strings.TrimSuffix(cfg.Server, "/")
	if !strings.HasPrefix(base, "https://") {
		return nil, fmt.Errorf("%w: --server %q must be an https:// URL", ErrRefused, cfg.Server)
	}
	trusted, err := os.ReadFile(filepath.Join(credDir(cfg.Dir), "server-ca.crt"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	ca, err := fetchCA(ctx, base, hash, trusted)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(credDir(cfg.Dir), 0o700); err != nil {
		return nil, err
	}
	password, err := nodePassword(cfg.Dir)
	if err != nil {
		return nil, err
	}
	key, keyPEM, err := loadOrCreateKey(filepath.Join(credDir(cfg.Dir), "client.key"))
	if err != nil {
		return nil, err
	}
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: protocol.NodeUserPrefix + cfg.Node.Name, Organization: []string{protocol.NodesGroup}},
	}, key)
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(protocol.JoinRequest{
		APIVersion: protocol.APIVersion, Password: password,
		CSR:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER}),
		Node: cfg.Node,
	})
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("%w: the server's /cacerts is not a PEM certificate", ErrRefused)
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+protocol.PathJoin, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(cfg.Token))
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("join %s: %w", base, err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusBadRequest:
		return nil, fmt.Errorf("%w by %s: %s", ErrRefused, base, strings.TrimSpace(string(rb)))
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("join %s: %s: %s", base, resp.Status, strings.TrimSpace(string(rb)))
	}
	var jr protocol.JoinResponse
	if err := json.Unmarshal(rb, &jr); err != nil {
		return nil, fmt.Errorf("join %s: decoding the answer: %w", base, err)
	}
	cd := credDir(cfg.Dir)
	s, _ := json.Marshal(saved{Server: base, PodCIDR: jr.PodCIDR, ClusterCIDR: jr.ClusterCIDR, ServiceCIDR: jr.ServiceCIDR})
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{"server-ca.crt", ca, 0o644},
		{"client.key", keyPEM, 0o600},
		{"client.crt", jr.Certificate, 0o644},
		{"join.json", s, 0o600},
	} {
		if err := cliconfig.WriteFileAtomic(filepath.Join(cd, f.name), f.data, f.mode); err != nil {
			return nil, err
		}
	}
	c := &Credentials{dir: cfg.Dir, ca: ca, PodCIDR: jr.PodCIDR, ClusterCIDR: jr.ClusterCIDR, ServiceCIDR: jr.ServiceCIDR}
	if err := c.loadCert(); err != nil {
		return nil, err
	}
	return c, nil
}

// Renew joins again and swaps the new certificate into c, so connections
// made from c.TLSConfig() present it from then on.
func (c *Credentials) Renew(ctx context.Context, cfg Config) error {
	fresh, err := Join(ctx, cfg)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.cert, c.leaf, c.ca = fresh.cert, fresh.leaf, fresh.ca
	c.mu.Unlock()
	klog.InfoS("node certificate renewed", "notAfter", fresh.NotAfter())
	return nil
}

// fetchCA reads /cacerts without trusting the server yet and checks it
// against the token's hash. A token without a hash trusts the first
// answer, as k3s does, and says so. A node that joined before holds the
// server CA it trusted then (trusted): when the hash no longer matches
// because the CAs were rotated, a server that proves itself with that CA
// (the new CA is cross-signed by the old one) may hand over the new one.
func fetchCA(ctx context.Context, base, hash string, trusted []byte) ([]byte, error) {
	tr := &http.Transport{
		// Not trusted: the body is checked against the token's hash below.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}, //nolint:gosec
	}
	defer tr.CloseIdleConnections()
	ca, err := getCACerts(ctx, &http.Client{Timeout: 30 * time.Second, Transport: tr}, base)
	if err != nil {
		return nil, err
	}
	if hash == "" {
		klog.InfoS("the join token carries no CA hash: trusting the server's CA without checking it", "server", base)
		return ca, nil
	}
	got := protocol.CAHash(ca)
	if got == hash {
		return ca, nil
	}
	if pool := x509.NewCertPool(); len(trusted) > 0 && pool.AppendCertsFromPEM(trusted) {
		vt := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
		defer vt.CloseIdleConnections()
		if vca, err := getCACerts(ctx, &http.Client{Timeout: 30 * time.Second, Transport: vt}, base); err == nil {
			klog.InfoS("the server's CA changed (CA rotation); trusting the new one, vouched for by the CA this node held", "server", base, "hash", protocol.CAHash(vca))
			return vca, nil
		}
	}
	return nil, fmt.Errorf("%w: the CA of %s has hash %s but the token expects %s (wrong server, someone in between, or the CAs were rotated: use the server's new token)", ErrRefused, base, got, hash)
}

// getCACerts reads base's /cacerts with hc.
func getCACerts(ctx context.Context, hc *http.Client, base string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+protocol.PathCACerts, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reach %s: %w", base, err)
	}
	defer resp.Body.Close()
	ca, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("reach %s: %w", base, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s%s answered %s", base, protocol.PathCACerts, resp.Status)
	}
	return ca, nil
}

// nodePassword is the node's own secret, created once.
func nodePassword(dir string) (string, error) {
	path := filepath.Join(dir, "node-password")
	if b, err := os.ReadFile(path); err == nil && len(bytes.TrimSpace(b)) >= 16 {
		return string(bytes.TrimSpace(b)), nil
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	p := hex.EncodeToString(b)
	return p, cliconfig.WriteFileAtomic(path, []byte(p+"\n"), 0o600)
}

func loadOrCreateKey(path string) (*ecdsa.PrivateKey, []byte, error) {
	if b, err := os.ReadFile(path); err == nil {
		if blk, _ := pem.Decode(b); blk != nil {
			if k, err := x509.ParseECPrivateKey(blk.Bytes); err == nil {
				return k, b, nil
			}
		}
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, nil, err
	}
	return k, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}
