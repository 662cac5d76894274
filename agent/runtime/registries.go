package runtime

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/containerd/containerd/remotes/docker"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// registries is a parsed k3s-format registries.yaml.
type registries struct {
	Mirrors map[string]mirror         `json:"mirrors"`
	Configs map[string]registryConfig `json:"configs"`
}

type mirror struct {
	Endpoints []string `json:"endpoint"`
}

type registryConfig struct {
	Auth *registryAuth `json:"auth"`
	TLS  *registryTLS  `json:"tls"`
}

type registryAuth struct {
	Username      string `json:"username"`
	Password      string `json:"password"`
	Auth          string `json:"auth"`
	IdentityToken string `json:"identitytoken"`
}

type registryTLS struct {
	CAFile             string `json:"ca_file"`
	CertFile           string `json:"cert_file"`
	KeyFile            string `json:"key_file"`
	InsecureSkipVerify bool   `json:"insecure_skip_verify"`
}

func loadRegistries(path string) (*registries, error) {
	regs := &registries{}
	if path == "" {
		return regs, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return regs, nil
	}
	if err != nil {
		return nil, fmt.Errorf("runtime: read registries file: %w", err)
	}
	if err := yaml.Unmarshal(b, regs); err != nil {
		return nil, fmt.Errorf("runtime: parse %s: %w", path, err)
	}
	return regs, nil
}

// credentials are user/secret pairs by registry host.
type credentials map[string][2]string

// pullSecretCredentials reads dockerconfigjson (and legacy dockercfg) pull
// secrets, keyed by registry host.
func pullSecretCredentials(secrets []corev1.Secret) credentials {
	creds := credentials{}
	type entry struct {
		Username      string `json:"username"`
		Password      string `json:"password"`
		Auth          string `json:"auth"`
		IdentityToken string `json:"identitytoken"`
	}
	for _, s := range secrets {
		entries := map[string]entry{}
		if b, ok := s.Data[corev1.DockerConfigJsonKey]; ok {
			var cfg struct {
				Auths map[string]entry `json:"auths"`
			}
			if json.Unmarshal(b, &cfg) == nil {
				entries = cfg.Auths
			}
		} else if b, ok := s.Data[corev1.DockerConfigKey]; ok {
			json.Unmarshal(b, &entries)
		}
		for key, e := range entries {
			user, secret := e.Username, e.Password
			if e.Auth != "" {
				if u, p, ok := decodeAuth(e.Auth); ok {
					user, secret = u, p
				}
			}
			if e.IdentityToken != "" {
				user, secret = "", e.IdentityToken
			}
			host := registryKeyHost(key)
			if _, seen := creds[host]; !seen { // first secret wins, as in the kubelet
				creds[host] = [2]string{user, secret}
			}
		}
	}
	return creds
}

func decodeAuth(s string) (user, pass string, ok bool) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return "", "", false
	}
	return strings.Cut(string(b), ":")
}

// registryKeyHost turns a docker config key ("https://index.docker.io/v1/",
// "registry:5000") into the host the resolver asks credentials for.
func registryKeyHost(key string) string {
	k := key
	if i := strings.Index(k, "://"); i >= 0 {
		k = k[i+3:]
	}
	k, _, _ = strings.Cut(k, "/")
	switch k {
	case "index.docker.io", "docker.io":
		return "registry-1.docker.io"
	}
	return k
}

// hosts returns the resolver's endpoints for a registry: its mirrors from
// registries.yaml in order, then the registry itself.
func (regs *registries) hosts(secrets credentials) docker.RegistryHosts {
	return func(registry string) ([]docker.RegistryHost, error) {
		var out []docker.RegistryHost
		m, ok := regs.Mirrors[registry]
		if !ok {
			m = regs.Mirrors["*"]
		}
		for _, ep := range m.Endpoints {
			h, err := regs.endpoint(ep, secrets, docker.HostCapabilityPull|docker.HostCapabilityResolve)
			if err != nil {
				return nil, err
			}
			out = append(out, h)
		}
		def := registry
		if registry == "docker.io" {
			def = "registry-1.docker.io"
		}
		scheme := "https://"
		if isLocalhost(def) {
			scheme = "http://"
		}
		caps := docker.HostCapabilityPull | docker.HostCapabilityResolve | docker.HostCapabilityPush
		h, err := regs.endpoint(scheme+def, secrets, caps)
		if err != nil {
			return nil, err
		}
		// The registry's own endpoint is tried once mirrors failed; an
		// endpoint equal to a mirror is not repeated.
		for _, o := range out {
			if o.Host == h.Host && o.Scheme == h.Scheme {
				return out, nil
			}
		}
		return append(out, h), nil
	}
}

func isLocalhost(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (regs *registries) endpoint(raw string, secrets credentials, caps docker.HostCapabilities) (docker.RegistryHost, error) {
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return docker.RegistryHost{}, fmt.Errorf("runtime: registries.yaml endpoint %q: %w", raw, err)
	}
	path := strings.TrimSuffix(u.Path, "/")
	if !strings.HasSuffix(path, "/v2") {
		path += "/v2"
	}
	cfg := regs.Configs[u.Host]
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig, err = cfg.tlsConfig()
	if err != nil {
		return docker.RegistryHost{}, err
	}
	client := &http.Client{Transport: tr, Timeout: 0}
	tr.ResponseHeaderTimeout = 30 * time.Second
	host := u.Host
	auth := docker.NewDockerAuthorizer(docker.WithAuthClient(client), docker.WithAuthCreds(func(h string) (string, string, error) {
		if c, ok := secrets[h]; ok {
			return c[0], c[1], nil
		}
		if c, ok := regs.Configs[h]; ok && c.Auth != nil {
			return c.Auth.credentials()
		}
		if h != host {
			// A token server on another host: offer the endpoint's credentials.
			if c, ok := secrets[host]; ok {
				return c[0], c[1], nil
			}
			if cfg.Auth != nil {
				return cfg.Auth.credentials()
			}
		}
		return "", "", nil
	}))
	return docker.RegistryHost{
		Client:       client,
		Authorizer:   auth,
		Host:         u.Host,
		Scheme:       u.Scheme,
		Path:         path,
		Capabilities: caps,
	}, nil
}

func (a *registryAuth) credentials() (string, string, error) {
	if a.IdentityToken != "" {
		return "", a.IdentityToken, nil
	}
	if a.Auth != "" {
		u, p, ok := decodeAuth(a.Auth)
		if !ok {
			return "", "", errors.New("runtime: registries.yaml: auth is not base64 user:password")
		}
		return u, p, nil
	}
	return a.Username, a.Password, nil
}

func (c registryConfig) tlsConfig() (*tls.Config, error) {
	t := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.TLS == nil {
		return t, nil
	}
	t.InsecureSkipVerify = c.TLS.InsecureSkipVerify
	if c.TLS.CAFile != "" {
		pem, err := os.ReadFile(c.TLS.CAFile)
		if err != nil {
			return nil, fmt.Errorf("runtime: registries.yaml ca_file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		pool.AppendCertsFromPEM(pem)
		t.RootCAs = pool
	}
	if c.TLS.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.TLS.CertFile, c.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("runtime: registries.yaml client certificate: %w", err)
		}
		t.Certificates = []tls.Certificate{cert}
	}
	return t, nil
}

// CheckRegistriesFile parses a registries.yaml as the runtime will, so a
// broken file is refused before anything starts; a missing one is fine.
func CheckRegistriesFile(path string) error {
	_, err := loadRegistries(path)
	return err
}
