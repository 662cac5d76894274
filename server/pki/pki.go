package pki

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/skiff-io/skiff/cliconfig"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

const (
	caValidity = 10 * 365 * 24 * time.Hour
	// DefaultLeafValidity is how long the serving, admin and controller
	// certificates are valid.
	DefaultLeafValidity = 365 * 24 * time.Hour
	// DefaultRenewBefore is how long before expiry a leaf is re-issued, at
	// start or by the running server's Renewer.
	DefaultRenewBefore = 90 * 24 * time.Hour

	// DefaultServiceIP is the first address of the default service CIDR
	// (10.43.0.0/16, as in k3s): the ClusterIP of the "kubernetes" Service,
	// which in-cluster clients dial.
	DefaultServiceIP = "10.43.0.1"

	// AdminUser and AdminGroup identify the admin client certificate;
	// system:masters is the group Kubernetes authorizers let do anything.
	AdminUser  = "system:admin"
	AdminGroup = "system:masters"
	// ControllerUser is the user of the server's own controllers and node
	// sync hub (group AdminGroup). Their requests are served in process
	// and carry no certificate; no network client can claim it.
	ControllerUser = "system:skiff-controller"
	// FrontProxyUser is the front-proxy client certificate's user, signed
	// by the request-header CA (kube-apiserver's --proxy-client-cert-file).
	FrontProxyUser = "system:front-proxy-client"

	dirMode  os.FileMode = 0o700
	keyMode  os.FileMode = 0o600
	certMode os.FileMode = 0o644
)

// Options says where the credentials live and what the serving
// certificate must be valid for.
type Options struct {
	// Dir holds the files, normally <data-dir>/server/tls.
	Dir string
	// SANs are extra DNS names or IP addresses (--tls-san).
	SANs []string
	// Hostname is the node's hostname; empty means none is added.
	Hostname string
	// ServiceIP is the ClusterIP of the "kubernetes" Service; nil means
	// DefaultServiceIP.
	ServiceIP net.IP
	// HostIPs lists the host's own addresses to put in the serving
	// certificate; nil means every non-loopback, non-link-local address of
	// the host's interfaces. An address that comes or goes (DHCP, a new
	// bridge) re-issues the serving certificate on the next Ensure.
	HostIPs func() ([]net.IP, error)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// LeafValidity and RenewBefore set the lifetime of the leaf
	// certificates and how long before expiry they are re-issued; zero
	// means DefaultLeafValidity and DefaultRenewBefore. Only tests shorten
	// them.
	LeafValidity, RenewBefore time.Duration
}

// Bundle is the server's loaded credentials and the paths of their files.
//
// Three CAs, as in k3s: the server CA signs the serving certificate and is
// what clients trust (kubeconfigs, /cacerts, the join token's hash); the
// client CA signs every client certificate (admin, controller, nodes); the
// request-header CA signs the front-proxy client certificate, which only
// an authenticating proxy in front of the API would present.
type Bundle struct {
	Dir string

	ServerCAFile, ServerCAKeyFile               string
	ClientCAFile, ClientCAKeyFile               string
	RequestHeaderCAFile, RequestHeaderCAKeyFile string
	ServingCertFile, ServingKeyFile             string
	AdminCertFile, AdminKeyFile                 string
	FrontProxyCertFile, FrontProxyKeyFile       string

	// ServerCA is the server CA; ServerCAPEM is its file's contents, whose
	// SHA-256 is the hash in join tokens and which /cacerts serves.
	ServerCA    *x509.Certificate
	ServerCAPEM []byte
	// ClientCA signs client certificates; ClientCAPEM is its file.
	ClientCA    *x509.Certificate
	ClientCAPEM []byte
	// RequestHeaderCA signs the front-proxy client certificate.
	RequestHeaderCA *x509.Certificate
	// ServingCert is the API serving certificate as Ensure left it.
	ServingCert *x509.Certificate
	// AdminCertPEM and AdminKeyPEM are the admin client credential as
	// Ensure left it; Admin returns the current one once Renew has run.
	AdminCertPEM, AdminKeyPEM []byte

	// During a CA rotation (see RotateCA): crossPEM is the server CA
	// signed by the previous one, sent with the serving certificate so
	// clients that trust only the previous CA still verify the server;
	// previousClientCAs still authenticate client certificates.
	crossPEM          []byte
	previousClientCAs []*x509.Certificate

	cas  map[string]*caPair
	now  func() time.Time
	opts Options

	// mu guards leaves and serialises Renew.
	mu     sync.Mutex
	leaves map[string]leafPair
}

// leafPair is one leaf certificate as last loaded or issued.
type leafPair struct {
	certPEM, keyPEM []byte
	cert            *x509.Certificate
}

// Ensure loads the credentials in o.Dir, creating what is missing and
// re-issuing leaf certificates that are stale: SANs changed, expiring
// within o.RenewBefore (90 days), or not signed by their current CA. A CA
// is never replaced once it exists, since nodes and kubeconfigs pin it;
// `skiff certificate rotate-ca` (RotateCA) replaces them on purpose. A
// directory of the older single-CA layout (ca.crt) is adopted: that CA
// becomes both the server and the client CA, so nothing that trusts it or
// holds a certificate it signed notices.
func Ensure(o Options) (*Bundle, error) {
	if o.Dir == "" {
		return nil, errors.New("pki: no directory given")
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	if o.LeafValidity <= 0 {
		o.LeafValidity = DefaultLeafValidity
	}
	if o.RenewBefore <= 0 {
		o.RenewBefore = DefaultRenewBefore
	}
	if o.RenewBefore >= o.LeafValidity {
		return nil, fmt.Errorf("pki: renew-before %s must be shorter than the validity %s", o.RenewBefore, o.LeafValidity)
	}
	if err := os.MkdirAll(o.Dir, dirMode); err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	if err := ensureMode(o.Dir, dirMode); err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	f := func(name string) string { return filepath.Join(o.Dir, name) }
	b := &Bundle{
		Dir:          o.Dir,
		ServerCAFile: f(CAServer + ".crt"), ServerCAKeyFile: f(CAServer + ".key"),
		ClientCAFile: f(CAClient + ".crt"), ClientCAKeyFile: f(CAClient + ".key"),
		RequestHeaderCAFile: f(CARequestHeader + ".crt"), RequestHeaderCAKeyFile: f(CARequestHeader + ".key"),
		ServingCertFile: f("serving.crt"), ServingKeyFile: f("serving.key"),
		AdminCertFile: f("admin.crt"), AdminKeyFile: f("admin.key"),
		FrontProxyCertFile: f(CertFrontProxy + ".crt"), FrontProxyKeyFile: f(CertFrontProxy + ".key"),
		now:  now,
		opts: o,
		cas:  map[string]*caPair{},
	}
	if err := recoverStaged(o.Dir); err != nil {
		return nil, fmt.Errorf("pki: finishing an interrupted rotate-ca: %w", err)
	}
	if err := adoptLegacyCA(o.Dir); err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	if err := removeRetired(o.Dir); err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	for _, name := range caNames {
		ca, err := ensureCA(o.Dir, name, now())
		if err != nil {
			return nil, fmt.Errorf("pki: %w", err)
		}
		b.cas[name] = ca
	}
	b.ServerCA, b.ServerCAPEM = b.cas[CAServer].cert, b.cas[CAServer].certPEM
	b.ClientCA, b.ClientCAPEM = b.cas[CAClient].cert, b.cas[CAClient].certPEM
	b.RequestHeaderCA = b.cas[CARequestHeader].cert
	if err := b.loadTransition(); err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	if _, err := b.Renew(); err != nil {
		return nil, err
	}
	b.ServingCert = b.leaves[CertServing].cert
	b.AdminCertPEM, b.AdminKeyPEM = b.leaves[CertAdmin].certPEM, b.leaves[CertAdmin].keyPEM
	return b, nil
}

// ensureLeaf returns a current certificate for spec from certFile and
// keyFile, re-signing it if needed. An existing key is kept even when the
// certificate is re-issued, so the pair on disk never mismatches while a
// running server reloads it.
func (b *Bundle) ensureLeaf(certFile, keyFile string, issuer *caPair, spec leafSpec) (certPEM, keyPEM []byte, cert *x509.Certificate, err error) {
	if certPEM, err = readOptional(certFile); err != nil {
		return nil, nil, nil, err
	}
	if keyPEM, err = readOptional(keyFile); err != nil {
		return nil, nil, nil, err
	}
	var key crypto.Signer
	if keyPEM != nil {
		key, _ = parseKey(keyPEM) // an unreadable key is replaced below
	}
	if key != nil && certPEM != nil {
		if c, err := parseCert(certPEM); err == nil && keyMatches(key, c) && b.current(c, issuer.cert, spec) {
			if err := ensureMode(keyFile, keyMode); err != nil {
				return nil, nil, nil, err
			}
			if err := ensureMode(certFile, certMode); err != nil {
				return nil, nil, nil, err
			}
			return certPEM, keyPEM, c, nil
		}
	}

	if key == nil {
		k, err := newKey()
		if err != nil {
			return nil, nil, nil, err
		}
		if keyPEM, err = encodeKey(k); err != nil {
			return nil, nil, nil, err
		}
		if err := cliconfig.WriteFileAtomic(keyFile, keyPEM, keyMode); err != nil {
			return nil, nil, nil, err
		}
		key = k
	}
	if certPEM, err = signLeaf(issuer.cert, issuer.key, key.Public(), spec, b.now()); err != nil {
		return nil, nil, nil, err
	}
	if err := cliconfig.WriteFileAtomic(certFile, certPEM, certMode); err != nil {
		return nil, nil, nil, err
	}
	if cert, err = parseCert(certPEM); err != nil {
		return nil, nil, nil, err
	}
	return certPEM, keyPEM, cert, nil
}

// current reports whether c still says what spec asks for, is signed by
// its current CA and is not about to expire.
func (b *Bundle) current(c, ca *x509.Certificate, spec leafSpec) bool {
	if c.CheckSignatureFrom(ca) != nil {
		return false
	}
	if Due(b.now(), c.NotAfter, ca.NotAfter, b.opts.RenewBefore) {
		return false
	}
	if c.Subject.CommonName != spec.subject.CommonName ||
		!slices.Equal(sortedSet(c.Subject.Organization), sortedSet(spec.subject.Organization)) {
		return false
	}
	if !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{spec.usage}) {
		return false
	}
	return slices.Equal(dnsSet(c.DNSNames), dnsSet(spec.dnsNames)) &&
		slices.Equal(ipSet(c.IPAddresses), ipSet(spec.ips))
}

// IssueClientCert signs a new client certificate for user cn in groups
// orgs, with a fresh key, by the client CA. It is how nodes get their own credentials.
func (b *Bundle) IssueClientCert(cn string, orgs []string, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	if cn == "" {
		return nil, nil, errors.New("pki: client certificate needs a common name")
	}
	if validity <= 0 {
		return nil, nil, fmt.Errorf("pki: client certificate validity must be positive, got %s", validity)
	}
	key, err := newKey()
	if err != nil {
		return nil, nil, fmt.Errorf("pki: %w", err)
	}
	ca := b.cas[CAClient]
	certPEM, err = signLeaf(ca.cert, ca.key, key.Public(), leafSpec{
		subject:  pkix.Name{CommonName: cn, Organization: slices.Clone(orgs)},
		usage:    x509.ExtKeyUsageClientAuth,
		validity: validity,
	}, b.now())
	if err != nil {
		return nil, nil, fmt.Errorf("pki: %w", err)
	}
	if keyPEM, err = encodeKey(key); err != nil {
		return nil, nil, fmt.Errorf("pki: %w", err)
	}
	return certPEM, keyPEM, nil
}

// servingSANs returns the names and addresses the serving certificate must
// cover: the fixed in-cluster names, loopback, the service IP, the
// hostname, the host's addresses and --tls-san.
func servingSANs(o Options) ([]string, []net.IP, error) {
	dnsNames := []string{
		"localhost",
		"kubernetes",
		"kubernetes.default",
		"kubernetes.default.svc",
		"kubernetes.default.svc.cluster.local",
	}
	serviceIP := o.ServiceIP
	if serviceIP == nil {
		serviceIP = net.ParseIP(DefaultServiceIP)
	}
	ips := []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback, serviceIP}

	add := func(s string) {
		s = strings.TrimSpace(s)
		if s == "" {
			return
		}
		if ip := net.ParseIP(s); ip != nil {
			ips = append(ips, ip)
		} else {
			dnsNames = append(dnsNames, s)
		}
	}
	add(o.Hostname)
	for _, s := range o.SANs {
		add(s)
	}

	hostIPs := o.HostIPs
	if hostIPs == nil {
		hostIPs = interfaceIPs
	}
	own, err := hostIPs()
	if err != nil {
		return nil, nil, fmt.Errorf("list host addresses: %w", err)
	}
	ips = append(ips, own...)

	var outIPs []net.IP
	for _, s := range ipSet(ips) {
		outIPs = append(outIPs, net.ParseIP(s))
	}
	return dnsSet(dnsNames), outIPs, nil
}

// interfaceIPs lists the host's addresses that a client could dial:
// loopback is covered separately and link-local addresses are useless
// without a zone, so both are left out.
func interfaceIPs() ([]net.IP, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	var ips []net.IP
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip := ipn.IP
		if ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsUnspecified() || ip.IsMulticast() {
			continue
		}
		ips = append(ips, ip)
	}
	return ips, nil
}

// dnsSet normalises DNS names for comparison: lower case, sorted, unique.
func dnsSet(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, strings.ToLower(n))
	}
	return sortedSet(out)
}

// ipSet normalises addresses for comparison, so that an IPv4 address in
// 16-byte form equals its 4-byte form.
func ipSet(ips []net.IP) []string {
	out := make([]string, 0, len(ips))
	for _, ip := range ips {
		out = append(out, ip.String())
	}
	return sortedSet(out)
}

func sortedSet(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

// SignClientCSR signs the key of a PEM certificate request as a client
// certificate for user cn in groups orgs, by the client CA. The request's own subject is
// ignored: the caller decides who the key belongs to (a joining node
// proves its name with the join token and its node password).
func (b *Bundle) SignClientCSR(csrPEM []byte, cn string, orgs []string, validity time.Duration) ([]byte, error) {
	if cn == "" || validity <= 0 {
		return nil, errors.New("pki: client certificate needs a common name and a positive validity")
	}
	block, _ := pem.Decode(csrPEM)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("pki: not a PEM certificate request")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("pki: certificate request: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("pki: certificate request signature: %w", err)
	}
	ca := b.cas[CAClient]
	certPEM, err := signLeaf(ca.cert, ca.key, csr.PublicKey, leafSpec{
		subject:  pkix.Name{CommonName: cn, Organization: slices.Clone(orgs)},
		usage:    x509.ExtKeyUsageClientAuth,
		validity: validity,
	}, b.now())
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	return certPEM, nil
}
