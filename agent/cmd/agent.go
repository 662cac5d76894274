package cmd

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/skiff-io/skiff/agent/app"
	"github.com/skiff-io/skiff/cliconfig"
	"github.com/spf13/cobra"
)

// DefaultRegistries is the registries.yaml read when --private-registry
// is not given (k3s: /etc/rancher/k3s/registries.yaml).
const DefaultRegistries = "/etc/skiff/registries.yaml"

// New returns the `skiff agent` command. version is the skiff release.
func New(version string) *cobra.Command {
	cfg := app.Config{Version: version}
	var (
		configFile   string
		tokenFile    string
		labels       []string
		taints       []string
		evictionHard string
		verbosity    int
	)
	c := &cobra.Command{
		Use:   "agent",
		Short: "Run a skiff node: join a server and run its pods on containerd",
		Long: `Run a skiff node. The agent joins the server named by --server with the
join token (--token or --token-file; the server keeps it in
<data-dir>/server/token), checking the server's CA against the token first.
It then runs the pods the server assigns to this node on containerd, and
keeps running them when the server is unreachable, also after a reboot.

Every flag can also be set with an environment variable SKIFF_<FLAG> (for
example SKIFF_SERVER) or a key in the config file (--config, default
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
			var err error
			if _, err = cliconfig.SetLogVerbosity(verbosity, cfg.Debug); err != nil {
				return err
			}
			if cfg.Token, err = cliconfig.Token(cfg.Token, tokenFile); err != nil {
				return err
			}
			if cfg.PollWait <= 0 {
				return fmt.Errorf("--sync-interval %s: must be positive", cfg.PollWait)
			}
			if cfg.Server != "" && !strings.HasPrefix(cfg.Server, "https://") {
				return fmt.Errorf("--server %q: want https://host:port", cfg.Server)
			}
			if cfg.EvictionHard, err = app.ParseEvictionHard(evictionHard); err != nil {
				return err
			}
			if cfg.Labels, err = app.ParseLabels(labels); err != nil {
				return err
			}
			if cfg.Taints, err = app.ParseTaints(taints); err != nil {
				return err
			}
			if cfg.NodeName == "" {
				cfg.NodeName = app.DefaultNodeName()
			}
			return app.Run(c.Context(), cfg)
		},
	}
	f := c.Flags()
	f.StringVarP(&configFile, "config", "c", cliconfig.DefaultFile, "config file (YAML, keys are flag names)")
	f.StringVarP(&cfg.DataDir, "data-dir", "d", "", "directory for state (default /var/lib/skiff as root, ~/.skiff otherwise)")
	f.StringVarP(&cfg.Server, "server", "s", "", "server to join, https://host:6443")
	f.StringVarP(&cfg.Token, "token", "t", "", "join token (K10<ca-hash>::<id>:<secret>)")
	f.StringVar(&tokenFile, "token-file", "", "file holding the join token")
	f.StringVar(&cfg.NodeName, "node-name", "", "node name (default: host name)")
	f.StringVar(&cfg.NodeIP, "node-ip", "", "IP address to advertise for the node (default: the address used to reach the server)")
	f.StringArrayVar(&labels, "node-label", nil, "label for the node on registration (key=value)")
	f.StringArrayVar(&taints, "node-taint", nil, "taint for the node on registration (key=value:Effect)")
	f.BoolVar(&cfg.Edge, "edge", false, "edge node: it may go offline for long, and the server never evicts its pods for not reporting")
	f.StringVar(&cfg.Runtime, "container-runtime-endpoint", "", "containerd socket to use (default: start containerd under the data dir)")
	f.StringVar(&cfg.Pause, "pause-image", "", "image for each pod's sandbox container (default: none; pods share a network namespace without one)")
	f.StringVar(&cfg.OCIRuntime, "default-runtime", "", "OCI runtime for new containers: crun, runc, or a path to either (default: crun when it is on PATH and can run on this host's cgroups, else runc)")
	f.StringVar(&cfg.ResolvConf, "resolv-conf", "", "resolv.conf for pods with host DNS (default /etc/resolv.conf)")
	f.StringVar(&cfg.Registries, "private-registry", DefaultRegistries, "registries.yaml: mirrors, credentials, plain-HTTP registries")
	f.StringVar(&evictionHard, "eviction-hard", app.DefaultEvictionHard, "thresholds under which the node reports memory, disk or PID pressure and is tainted against new pods (the kubelet's syntax: signal<quantity or signal<percent%, comma separated)")
	f.DurationVar(&cfg.PollWait, "sync-interval", time.Minute, "longest time an idle node goes without contacting the server (long-poll wait)")
	f.BoolVar(&cfg.Debug, "debug", false, "verbose logging (-v at least 4)")
	f.IntVarP(&verbosity, "v", "v", 0, cliconfig.VerbosityUsage)
	f.StringVar(&cfg.PprofAddress, "pprof-address", "", "serve Go's /debug/pprof on this loopback host:port, without authentication (profiling; default off)")
	return c
}
