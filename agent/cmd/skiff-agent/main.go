// Command skiff-agent is skiff's agent alone: `skiff agent` as the full
// binary runs it, built without the control plane's code (API server,
// kine, controllers, validation) for nodes where every megabyte of memory
// counts. `AGENT_ONLY=1 hack/build` builds it; install it as `skiff` and
// run `skiff agent --server … --token …` as with the full binary.
//
// Why it is smaller at run time, not only on disk: package initialisation
// touches pages all over a binary, and the kernel maps the pages around
// each one it faults in, so the full binary's agent keeps some 20 MiB more
// of it resident (docs/agent.md, "The agent's memory").
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	agentcmd "github.com/skiff-io/skiff/agent/cmd"
	"github.com/skiff-io/skiff/agent/runtime"
	"github.com/skiff-io/skiff/cliconfig"
	"github.com/skiff-io/skiff/protocol"
	"github.com/spf13/cobra"
)

// version is set at build time: -ldflags "-X main.version=v0.1.0".
var version = "v0.1.0-dev"

func main() {
	if runtime.IsLogDriver() {
		os.Exit(runtime.LogDriverMain())
	}
	b := cliconfig.ReadBuild(version)
	root := &cobra.Command{
		Use:           "skiff",
		Short:         "skiff's node agent (a build without the server)",
		Version:       fmt.Sprintf("%s (Kubernetes %s, commit %s, agent only)", version, protocol.KubernetesVersion, b.Short()),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(agentcmd.New(version))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "skiff:", err)
		os.Exit(1)
	}
}
