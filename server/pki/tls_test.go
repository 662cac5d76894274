package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
)

// serve runs a real HTTPS server on loopback with b's TLS config. Its
// handler stands in for the API's authenticator: a verified client cert
// authenticates, anything else is 401.
func serve(t *testing.T, b *Bundle) string {
	t.Helper()
	cfg, err := b.ServerTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		TLSConfig: cfg,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if len(r.TLS.PeerCertificates) == 0 {
				http.Error(w, "Unauthorized", http.StatusUnauthorized)
				return
			}
			io.WriteString(w, r.TLS.PeerCertificates[0].Subject.CommonName)
		}),
	}
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(l, "", "") }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return "https://" + l.Addr().String()
}

func client(t *testing.T, b *Bundle, certPEM, keyPEM []byte) *http.Client {
	t.Helper()
	cfg := &tls.Config{RootCAs: x509.NewCertPool()}
	cfg.RootCAs.AddCert(b.ServerCA)
	if certPEM != nil {
		c, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		// Always present it: Go's client would otherwise withhold a
		// certificate whose issuer the server does not list, and the
		// server's own refusal would go untested.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &c, nil }
	}
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func TestServerTLSHandshake(t *testing.T) {
	b := mustEnsure(t, testOptions(t.TempDir()))
	url := serve(t, b)

	// A client certificate from another CA must be refused, not ignored.
	other := mustEnsure(t, testOptions(t.TempDir()))
	strangerCert, strangerKey, err := other.IssueClientCert("mallory", nil, day)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		cert, key  []byte
		wantStatus int
		wantBody   string
		wantErr    bool
	}{
		{name: "no client cert", wantStatus: http.StatusUnauthorized, wantBody: "Unauthorized\n"},
		{name: "admin cert", cert: b.AdminCertPEM, key: b.AdminKeyPEM, wantStatus: http.StatusOK, wantBody: AdminUser},
		{name: "cert from another CA", cert: strangerCert, key: strangerKey, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := client(t, b, tt.cert, tt.key).Get(url)
			if tt.wantErr {
				if err == nil {
					resp.Body.Close()
					t.Fatal("request succeeded")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus || string(body) != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
			if resp.ProtoMajor != 2 {
				t.Errorf("protocol %s, want HTTP/2", resp.Proto)
			}
			if v := resp.TLS.Version; v < tls.VersionTLS12 {
				t.Errorf("TLS version %x", v)
			}
		})
	}
}

func TestServerTLSConfigVersions(t *testing.T) {
	b := mustEnsure(t, testOptions(t.TempDir()))
	url := serve(t, b)
	c := client(t, b, nil, nil)
	tr := c.Transport.(*http.Transport)
	tr.TLSClientConfig.MaxVersion = tls.VersionTLS11
	tr.TLSClientConfig.MinVersion = tls.VersionTLS10
	if resp, err := c.Get(url); err == nil {
		resp.Body.Close()
		t.Fatal("TLS 1.1 handshake succeeded")
	}
}

func TestServerTLSReloadsServingCert(t *testing.T) {
	dir := t.TempDir()
	b := mustEnsure(t, testOptions(dir))
	url := serve(t, b)

	o := testOptions(dir)
	o.SANs = append(o.SANs, "added.example.com")
	mustEnsure(t, o)

	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: x509.NewCertPool(), ServerName: "added.example.com"}}
	tr.TLSClientConfig.RootCAs.AddCert(b.ServerCA)
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(url)
	if err != nil {
		t.Fatalf("new SAN not served without restart: %v", err)
	}
	resp.Body.Close()
}
