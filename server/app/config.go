package app

import (
	"os"
	"path/filepath"
	"time"
)

// Config is the whole server configuration, built from flags, SKIFF_*
// environment variables and the config file by server/cmd.
type Config struct {
	Version             string
	DataDir             string
	BindAddress         string
	HTTPSPort           int
	AdvertiseAddress    string
	TLSSANs             []string
	WriteKubeconfig     string
	WriteKubeconfigMode os.FileMode
	Token               string
	DatastoreEndpoint   string
	DatastoreCAFile     string
	DatastoreCertFile   string
	DatastoreKeyFile    string
	CompactInterval     time.Duration
	ServiceCIDR         string
	ClusterCIDR         string
	NodePortRange       string
	DisableAgent        bool
	NodeName            string
	// Leader election among servers sharing a datastore (kube-controller-manager's flags).
	LeaderElectLeaseDuration time.Duration
	LeaderElectRenewDeadline time.Duration
	LeaderElectRetryPeriod   time.Duration
	Debug                    bool
	EnablePprof              bool
}

// DefaultDataDir is /var/lib/skiff for root and ~/.skiff otherwise, as
// k3s chooses between /var/lib/rancher/k3s and ~/.rancher/k3s.
func DefaultDataDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/skiff"
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ".skiff"
	}
	return filepath.Join(home, ".skiff")
}

// DefaultKubeconfig is where the admin kubeconfig goes when
// --write-kubeconfig is not given.
func DefaultKubeconfig(dataDir string) string {
	if os.Geteuid() == 0 {
		return "/etc/skiff/skiff.yaml"
	}
	return filepath.Join(dataDir, "server", "cred", "admin.kubeconfig")
}
