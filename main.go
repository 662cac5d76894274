// Command skiff is a Kubernetes-compatible orchestrator for edge and IoT
// fleets: `skiff server` runs the control plane, `skiff agent` a node.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	servercmd "github.com/skiff-io/skiff/server/cmd"
	"github.com/spf13/cobra"
)

// version is set at build time: -ldflags "-X main.version=v0.1.0".
var version = "v0.1.0-dev"

func main() {
	root := &cobra.Command{
		Use:           "skiff",
		Short:         "Kubernetes for edge and IoT fleets, in one small binary",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(servercmd.New(version))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "skiff:", err)
		os.Exit(1)
	}
}
