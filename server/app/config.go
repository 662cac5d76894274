package app

import (
	"context"
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
	DatastoreInsecure   bool
	CompactInterval     time.Duration
	ServiceCIDR         string
	ClusterCIDR         string
	NodePortRange       string
	DisableAgent        bool
	// DisableScheduler leaves pods to another scheduler (k3s's
	// --disable-scheduler): skiff's own does not run.
	DisableScheduler bool
	NodeName         string
	// The local agent's settings (see LocalAgentConfig).
	NodeIP     string
	NodeLabels []string
	NodeTaints []string
	Runtime    string
	PauseImage string
	OCIRuntime string
	ResolvConf string
	Registries string
	// EvictionHard is the local agent's --eviction-hard; empty means the
	// kubelet's default thresholds.
	EvictionHard string
	// LocalAgent runs this host's agent inside the server process unless
	// DisableAgent is set.
	LocalAgent LocalAgent
	// Leader election among servers sharing a datastore (kube-controller-manager's flags).
	LeaderElectLeaseDuration time.Duration
	LeaderElectRenewDeadline time.Duration
	LeaderElectRetryPeriod   time.Duration
	// TerminatedPodGCThreshold is how many finished pods the pod garbage
	// collector keeps (kube-controller-manager's flag; <= 0 keeps all).
	TerminatedPodGCThreshold int
	// MemoryLimit is the Go runtime's soft memory limit in bytes (0: none);
	// GOMEMLIMIT, when set, wins.
	MemoryLimit int64
	Debug       bool
	EnablePprof bool
}

// DefaultKubeconfig is where the admin kubeconfig goes when
// --write-kubeconfig is not given.
func DefaultKubeconfig(dataDir string) string {
	if os.Geteuid() == 0 {
		return "/etc/skiff/skiff.yaml"
	}
	return filepath.Join(dataDir, "server", "cred", "admin.kubeconfig")
}

// LocalAgent runs the agent that `skiff server` starts on its own host.
// main wires it in: server packages do not import agent packages.
type LocalAgent interface {
	// Validate checks the settings before the server starts.
	Validate(a LocalAgentConfig) error
	// Run runs the agent until ctx ends.
	Run(ctx context.Context, a LocalAgentConfig) error
}

// LocalAgentConfig is the local agent's configuration, from the server's
// flags: it joins this server over loopback with the server's own token.
type LocalAgentConfig struct {
	Server     string
	Token      string
	DataDir    string
	NodeName   string
	NodeIP     string
	Labels     []string
	Taints     []string
	Runtime    string
	PauseImage string
	OCIRuntime string
	ResolvConf string
	Registries string
	// EvictionHard: empty means the kubelet's default thresholds.
	EvictionHard string
	Version      string
	Debug        bool
}

// LocalAgentConfig is the local agent's configuration; server and token
// are known once the server has started.
func (c Config) LocalAgentConfig(server, token string) LocalAgentConfig {
	return LocalAgentConfig{
		Server: server, Token: token, DataDir: c.DataDir, NodeName: c.NodeName, NodeIP: c.NodeIP,
		Labels: c.NodeLabels, Taints: c.NodeTaints, Runtime: c.Runtime, PauseImage: c.PauseImage, OCIRuntime: c.OCIRuntime,
		ResolvConf: c.ResolvConf, Registries: c.Registries, EvictionHard: c.EvictionHard, Version: c.Version, Debug: c.Debug,
	}
}
