package apiserver

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net/http"
	"testing"
	"time"
)

func TestAuthenticateClientCertNeedsClientAuth(t *testing.T) {
	admin := pkix.Name{CommonName: "system:admin", Organization: []string{"system:masters"}}
	tests := []struct {
		name     string
		usages   []x509.ExtKeyUsage
		notAfter time.Time
		want     bool
	}{
		{"client auth", []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, time.Now().Add(time.Hour), true},
		{"client and server auth", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, time.Now().Add(time.Hour), true},
		{"no extended key usage", nil, time.Now().Add(time.Hour), false},
		{"any usage", []x509.ExtKeyUsage{x509.ExtKeyUsageAny}, time.Now().Add(time.Hour), false},
		{"serving certificate", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, time.Now().Add(time.Hour), false},
		{"expired since the handshake", []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, time.Now().Add(-time.Second), false},
	}
	s := &Server{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &x509.Certificate{Subject: admin, ExtKeyUsage: tt.usages, NotAfter: tt.notAfter}
			r := &http.Request{Header: http.Header{}, TLS: &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{c}}}}
			u, err := s.authenticate(r)
			if err != nil {
				t.Fatal(err)
			}
			if got := u != nil; got != tt.want {
				t.Errorf("authenticated %v (%+v), want %v", got, u, tt.want)
			}
		})
	}
}
