package cmd

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/skiff-io/skiff/cliconfig"
	"github.com/skiff-io/skiff/server/app"
	"github.com/skiff-io/skiff/server/errdefs"
	"github.com/skiff-io/skiff/server/leaderelection"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"
)

// New returns the `skiff server` command. version is the skiff release.
func New(version string, agent app.LocalAgent) *cobra.Command {
	cfg := app.Config{Version: version, LocalAgent: agent}
	var (
		configFile string
		mode       string
		tokenFile  string
		disable    []string
		memLimit   string
		verbosity  int
	)
	c := &cobra.Command{
		Use:   "server",
		Short: "Run the skiff control plane (Kubernetes API on kine/SQLite or etcd)",
		Long: `Run the skiff control plane: a Kubernetes API server whose state lives in an
embedded SQLite database (through kine) or an external etcd cluster.

Every flag can also be set with an environment variable SKIFF_<FLAG> (for
example SKIFF_DATA_DIR) or a key in the config file (--config, default
/etc/skiff/config.yaml). A flag wins over the environment, which wins over
the file.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		PreRunE: func(c *cobra.Command, _ []string) error {
			return cliconfig.Apply(c.Flags(), "config", os.Environ())
		},
		RunE: func(c *cobra.Command, _ []string) error {
			if cfg.DataDir == "" {
				cfg.DataDir = cliconfig.DefaultDataDir()
			}
			if _, err := cliconfig.SetLogVerbosity(verbosity, cfg.Debug); err != nil {
				return err
			}
			m, err := strconv.ParseUint(mode, 8, 32)
			if err != nil || m > 0o777 {
				return fmt.Errorf("--write-kubeconfig-mode: %q is not an octal file mode such as 0600 or 644", mode)
			}
			cfg.WriteKubeconfigMode = os.FileMode(m)
			if cfg.Token, err = cliconfig.Token(cfg.Token, tokenFile); err != nil {
				return err
			}
			if cfg.MemoryLimit, err = parseMemoryLimit(memLimit); err != nil {
				return err
			}
			if cfg.HTTPSPort <= 0 || cfg.HTTPSPort > 65535 {
				return fmt.Errorf("--https-listen-port: %d is not a valid port", cfg.HTTPSPort)
			}
			if !cfg.DisableAgent && cfg.LocalAgent != nil {
				if cfg.NodeName == "" {
					h, _ := os.Hostname()
					cfg.NodeName = strings.ToLower(h)
				}
				if err := cfg.LocalAgent.Validate(cfg.LocalAgentConfig("", "")); err != nil {
					return err
				}
			}
			if err := leaderelection.ValidateTimings(cfg.LeaderElectLeaseDuration, cfg.LeaderElectRenewDeadline, cfg.LeaderElectRetryPeriod); err != nil {
				// Checked before anything starts, though only servers on a
				// shared datastore elect: a bad value fails at once, not on
				// the day a second server joins.
				return errors.New(leaderFlagNames.Replace(strings.TrimPrefix(err.Error(), errdefs.ErrInvalid.Error()+" ")))
			}
			if len(disable) > 0 {
				// --disable names built-in manifests, and skiff does not
				// deploy any yet (the manifests directory is still to come):
				// refusing beats accepting a flag that changes nothing.
				return fmt.Errorf("--disable %s: skiff deploys no built-in manifests yet, so there is nothing to disable; remove the flag", strings.Join(disable, ","))
			}
			return app.Run(c.Context(), cfg)
		},
	}
	f := c.Flags()
	f.StringVarP(&configFile, "config", "c", cliconfig.DefaultFile, "config file (YAML, keys are flag names)")
	f.StringVarP(&cfg.DataDir, "data-dir", "d", "", "directory for state (default /var/lib/skiff as root, ~/.skiff otherwise)")
	f.StringVar(&cfg.BindAddress, "bind-address", "0.0.0.0", "address the API server listens on")
	f.IntVar(&cfg.HTTPSPort, "https-listen-port", 6443, "HTTPS port of the API server")
	f.StringVar(&cfg.AdvertiseAddress, "advertise-address", "", "address agents and the kubernetes Service use to reach this server")
	f.StringSliceVar(&cfg.TLSSANs, "tls-san", nil, "extra host names or IPs in the serving certificate")
	f.StringVarP(&cfg.WriteKubeconfig, "write-kubeconfig", "o", "", "where to write the admin kubeconfig (default /etc/skiff/skiff.yaml as root)")
	f.StringVar(&mode, "write-kubeconfig-mode", "0600", "file mode of the admin kubeconfig")
	f.StringVarP(&cfg.Token, "token", "t", "", "shared secret agents use to join (generated if empty)")
	f.StringVar(&tokenFile, "token-file", "", "file holding the join token")
	f.StringVar(&cfg.DatastoreEndpoint, "datastore-endpoint", "", "external datastore: https://etcd1:2379,https://etcd2:2379, sqlite://path, postgres://… or mysql://… (default: SQLite under the data dir)")
	f.StringVar(&cfg.DatastoreCAFile, "datastore-cafile", "", "CA bundle to verify the datastore")
	f.StringVar(&cfg.DatastoreCertFile, "datastore-certfile", "", "client certificate for the datastore")
	f.StringVar(&cfg.DatastoreKeyFile, "datastore-keyfile", "", "client key for the datastore")
	f.BoolVar(&cfg.DatastoreInsecure, "datastore-insecure", false, "accept a plaintext http:// etcd endpoint (refused otherwise)")
	f.DurationVar(&cfg.CompactInterval, "datastore-compact-interval", 5*time.Minute, "how often old revisions are compacted")
	f.StringVar(&cfg.ServiceCIDR, "service-cidr", "10.43.0.0/16", "ClusterIP range for Services")
	f.StringVar(&cfg.ClusterCIDR, "cluster-cidr", "10.42.0.0/16", "pod IP range")
	f.StringVar(&cfg.NodePortRange, "service-node-port-range", "30000-32767", "NodePort range")
	f.BoolVar(&cfg.DisableAgent, "disable-agent", false, "run the control plane only, without a local agent")
	f.BoolVar(&cfg.DisableScheduler, "disable-scheduler", false, "do not run skiff's scheduler (pods wait for another scheduler to bind them)")
	f.StringVar(&cfg.NodeName, "node-name", "", "node name (default: host name)")
	f.StringArrayVar(&cfg.NodeLabels, "node-label", nil, "label for the local node on registration (key=value)")
	f.StringArrayVar(&cfg.NodeTaints, "node-taint", nil, "taint for the local node on registration (key=value:Effect)")
	f.StringVar(&cfg.NodeIP, "node-ip", "", "IP address to advertise for the local node")
	f.StringVar(&cfg.Runtime, "container-runtime-endpoint", "", "containerd socket for the local agent (default: start containerd under the data dir)")
	f.StringVar(&cfg.PauseImage, "pause-image", "", "image for each pod's sandbox container (default: none)")
	f.StringVar(&cfg.OCIRuntime, "default-runtime", "", "OCI runtime for the local agent's new containers: crun, runc, or a path to either (default: crun when it is on PATH and can run on this host's cgroups, else runc)")
	f.StringVar(&cfg.ResolvConf, "resolv-conf", "", "resolv.conf for pods with host DNS (default /etc/resolv.conf)")
	f.StringVar(&cfg.Registries, "private-registry", "/etc/skiff/registries.yaml", "registries.yaml for the local agent: mirrors, credentials, plain-HTTP registries")
	f.StringVar(&cfg.EvictionHard, "eviction-hard", "", "thresholds under which the local node reports memory, disk or PID pressure, as `skiff agent --eviction-hard` takes them (default: the kubelet's)")
	f.StringSliceVar(&disable, "disable", nil, "built-in manifests not to deploy")
	f.DurationVar(&cfg.LeaderElectLeaseDuration, "leader-elect-lease-duration", 15*time.Second, "how long other servers wait before taking over the controllers of a leader that stopped renewing (shared datastores only)")
	f.DurationVar(&cfg.LeaderElectRenewDeadline, "leader-elect-renew-deadline", 10*time.Second, "how long the leader keeps trying to renew before it stops its controllers")
	f.DurationVar(&cfg.LeaderElectRetryPeriod, "leader-elect-retry-period", 2*time.Second, "how often servers try to acquire or renew the lease")
	f.IntVar(&cfg.TerminatedPodGCThreshold, "terminated-pod-gc-threshold", 12500, "how many finished (Succeeded or Failed) pods to keep before the oldest are deleted; 0 or less keeps them all")
	f.StringVar(&memLimit, "memory-limit", app.DefaultMemoryLimit, "soft limit on the Go runtime's memory (heap and stacks, not SQLite's cache), e.g. 192Mi or 1Gi; 0 turns it off; the GOMEMLIMIT environment variable, when set, wins")
	f.BoolVar(&cfg.Debug, "debug", false, "verbose logging (-v at least 4; also serves /debug/pprof)")
	f.IntVarP(&verbosity, "v", "v", 0, cliconfig.VerbosityUsage)
	f.BoolVar(&cfg.EnablePprof, "enable-pprof", false, "serve /debug/pprof on the API port to authenticated admins")
	return c
}

// leaderFlagNames turns leaderelection's field names into the flags that
// set them.
var leaderFlagNames = strings.NewReplacer(
	"LeaseDuration", "--leader-elect-lease-duration",
	"RenewDeadline", "--leader-elect-renew-deadline",
	"RetryPeriod", "--leader-elect-retry-period",
)

// parseMemoryLimit reads --memory-limit: a Kubernetes quantity in bytes,
// 0 for none.
func parseMemoryLimit(s string) (int64, error) {
	q, err := resource.ParseQuantity(strings.TrimSpace(s))
	if err != nil || q.Sign() < 0 {
		return 0, fmt.Errorf("--memory-limit: %q is not a size such as 192Mi or 1Gi (0 turns the limit off)", s)
	}
	n, ok := q.AsInt64()
	if !ok {
		return 0, fmt.Errorf("--memory-limit: %q is too large", s)
	}
	return n, nil
}
