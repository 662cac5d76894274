package tunnel

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net/http"
	"testing"
)

func TestNodeFromRequestNeedsClientAuth(t *testing.T) {
	node := pkix.Name{CommonName: "system:node:n1", Organization: []string{"system:nodes"}}
	tests := []struct {
		name   string
		subj   pkix.Name
		usages []x509.ExtKeyUsage
		want   string
	}{
		{"node client cert", node, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, "n1"},
		{"no extended key usage", node, nil, ""},
		{"serving cert", node, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, ""},
		{"any usage", node, []x509.ExtKeyUsage{x509.ExtKeyUsageAny}, ""},
		{"not in system:nodes", pkix.Name{CommonName: "system:node:n1"}, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &x509.Certificate{Subject: tt.subj, ExtKeyUsage: tt.usages}
			r := &http.Request{TLS: &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{c}}}}
			got, ok := NodeFromRequest(r)
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("NodeFromRequest = %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
}
