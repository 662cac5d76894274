// Command skiff is a Kubernetes-compatible orchestrator for edge and IoT
// fleets: `skiff server` runs the control plane, `skiff agent` a node.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	agentapp "github.com/skiff-io/skiff/agent/app"
	agentcmd "github.com/skiff-io/skiff/agent/cmd"
	"github.com/skiff-io/skiff/agent/runtime"
	"github.com/skiff-io/skiff/cliconfig"
	"github.com/skiff-io/skiff/protocol"
	serverapp "github.com/skiff-io/skiff/server/app"
	servercmd "github.com/skiff-io/skiff/server/cmd"
	"github.com/spf13/cobra"
)

// version is set at build time: -ldflags "-X main.version=v0.1.0".
var version = "v0.1.0-dev"

func main() {
	// Containerd's shims run this binary (under another name) to write
	// container logs; that process does nothing else.
	if runtime.IsLogDriver() {
		os.Exit(runtime.LogDriverMain())
	}
	root := &cobra.Command{
		Use:           "skiff",
		Short:         "Kubernetes for edge and IoT fleets, in one small binary",
		Version:       versionLine(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(servercmd.New(version, localAgent{}), servercmd.NewCertificate(), agentcmd.New(version))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "skiff:", err)
		os.Exit(1)
	}
}

// versionLine is what `skiff --version` prints after "skiff version": skiff's
// version, the Kubernetes API it serves and the commit it was built from.
func versionLine() string {
	b := cliconfig.ReadBuild(version)
	return fmt.Sprintf("%s (Kubernetes %s, commit %s)", version, protocol.KubernetesVersion, b.Short())
}

// localAgent runs the server's own node: server and agent packages do not
// import each other, so main joins them.
type localAgent struct{}

func convert(a serverapp.LocalAgentConfig) agentapp.LocalConfig {
	return agentapp.LocalConfig{
		Server: a.Server, Token: a.Token, DataDir: a.DataDir, NodeName: a.NodeName, NodeIP: a.NodeIP,
		Labels: a.Labels, Taints: a.Taints, Runtime: a.Runtime, PauseImage: a.PauseImage, OCIRuntime: a.OCIRuntime,
		ResolvConf: a.ResolvConf, Registries: a.Registries, EvictionHard: a.EvictionHard, Version: a.Version, Debug: a.Debug,
	}
}

func (localAgent) Validate(a serverapp.LocalAgentConfig) error {
	_, err := agentapp.FromLocal(convert(a))
	return err
}

func (localAgent) Run(ctx context.Context, a serverapp.LocalAgentConfig) error {
	return agentapp.RunLocal(ctx, convert(a))
}
