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
	CA          []byte
	PodCIDR     string
	ClusterCIDR string
	ServiceCIDR string

	mu   sync.Mutex
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
	c := &Credentials{dir: dir, CA: ca, PodCIDR: s.PodCIDR, ClusterCIDR: s.ClusterCIDR, ServiceCIDR: s.ServiceCIDR}
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

// TLSConfig trusts only the cluster CA and presents the node certificate,
// re-read after every renewal.
func (c *Credentials) TLSConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.CA)
	return &tls.Config{
		RootCAs:    pool,
		MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			c.mu.Lock()
			defer c.mu.Unlock()
			return c.cert, nil
		},
	}
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
	ca, err := fetchCA(ctx, base, hash)
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
	c := &Credentials{dir: cfg.Dir, CA: ca, PodCIDR: jr.PodCIDR, ClusterCIDR: jr.ClusterCIDR, ServiceCIDR: jr.ServiceCIDR}
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
	c.cert, c.leaf = fresh.cert, fresh.leaf
	c.mu.Unlock()
	klog.InfoS("node certificate renewed", "notAfter", fresh.NotAfter())
	return nil
}

// fetchCA reads /cacerts without trusting the server yet and checks it
// against the token's hash. A token without a hash trusts the first
// answer, as k3s does, and says so.
func fetchCA(ctx context.Context, base, hash string) ([]byte, error) {
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		// Not trusted: the body is checked against the token's hash below.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}, //nolint:gosec
	}}
	defer hc.CloseIdleConnections()
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
	if hash == "" {
		klog.InfoS("the join token carries no CA hash: trusting the server's CA without checking it", "server", base)
		return ca, nil
	}
	if got := protocol.CAHash(ca); got != hash {
		return nil, fmt.Errorf("%w: the CA of %s has hash %s but the token expects %s (wrong server, or someone in between)", ErrRefused, base, got, hash)
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
