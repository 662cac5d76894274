package pki

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

func TestWriteKubeconfig(t *testing.T) {
	b := mustEnsure(t, testOptions(t.TempDir()))
	url := serve(t, b)

	tests := []struct {
		name     string
		mode     os.FileMode
		wantMode os.FileMode
	}{
		{"default mode", 0, 0o600},
		{"given mode", 0o644, 0o644},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "etc", "skiff", "skiff.yaml")
			if err := b.WriteKubeconfig(path, url, tt.mode); err != nil {
				t.Fatal(err)
			}
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != tt.wantMode {
				t.Errorf("mode %o, want %o", st.Mode().Perm(), tt.wantMode)
			}

			cfg, err := clientcmd.LoadFromFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.CurrentContext != "default" {
				t.Errorf("current context %q", cfg.CurrentContext)
			}
			ctx := cfg.Contexts["default"]
			if ctx == nil || ctx.Cluster != "default" || ctx.AuthInfo != "default" {
				t.Fatalf("context: %+v", ctx)
			}
			cl, user := cfg.Clusters["default"], cfg.AuthInfos["default"]
			if cl == nil || user == nil {
				t.Fatalf("cluster %v, user %v", cl, user)
			}
			if cl.Server != url || !bytes.Equal(cl.CertificateAuthorityData, b.ServerCAPEM) {
				t.Errorf("cluster: server %q, CA data matches=%v", cl.Server, bytes.Equal(cl.CertificateAuthorityData, b.ServerCAPEM))
			}
			if !bytes.Equal(user.ClientCertificateData, b.AdminCertPEM) || !bytes.Equal(user.ClientKeyData, b.AdminKeyPEM) {
				t.Error("user: embedded client cert or key differs from the admin credential")
			}

			// The file alone is enough to reach the server as admin.
			rc, err := clientcmd.BuildConfigFromFlags("", path)
			if err != nil {
				t.Fatal(err)
			}
			hc, err := rest.HTTPClientFor(rc)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := hc.Get(url)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if string(body) != AdminUser {
				t.Errorf("server saw %q, want %q", body, AdminUser)
			}
		})
	}
}

func TestWriteKubeconfigReplacesAtomically(t *testing.T) {
	b := mustEnsure(t, testOptions(t.TempDir()))
	dir := t.TempDir()
	path := filepath.Join(dir, "kubeconfig")
	for _, url := range []string{"https://127.0.0.1:6443", "https://10.0.0.1:6443"} {
		if err := b.WriteKubeconfig(path, url, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Clusters["default"].Server; got != "https://10.0.0.1:6443" {
		t.Errorf("server %q after rewrite", got)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("dir has %d entries, want only the kubeconfig", len(entries))
	}
}
