package pki

import (
	"fmt"
	"github.com/skiff-io/skiff/cliconfig"
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// DefaultKubeconfigMode is the mode of the admin kubeconfig unless
// --write-kubeconfig-mode says otherwise: it holds the admin key.
const DefaultKubeconfigMode os.FileMode = 0o600

// WriteKubeconfig writes an admin kubeconfig for serverURL to path, with
// the server CA and the current admin client certificate embedded so the file is
// usable on its own (copied to a laptop, say); the server calls it again
// after Renew re-issued the admin certificate. A zero mode means
// DefaultKubeconfigMode.
func (b *Bundle) WriteKubeconfig(path, serverURL string, mode os.FileMode) error {
	if mode == 0 {
		mode = DefaultKubeconfigMode
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["default"] = &clientcmdapi.Cluster{
		Server:                   serverURL,
		CertificateAuthorityData: b.ServerCAPEM,
	}
	certPEM, keyPEM := b.Admin()
	cfg.AuthInfos["default"] = &clientcmdapi.AuthInfo{
		ClientCertificateData: certPEM,
		ClientKeyData:         keyPEM,
	}
	cfg.Contexts["default"] = &clientcmdapi.Context{
		Cluster:  "default",
		AuthInfo: "default",
	}
	cfg.CurrentContext = "default"

	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("pki: encode kubeconfig: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("pki: write kubeconfig: %w", err)
	}
	if err := cliconfig.WriteFileAtomic(path, data, mode.Perm()); err != nil {
		return fmt.Errorf("pki: write kubeconfig: %w", err)
	}
	return nil
}
