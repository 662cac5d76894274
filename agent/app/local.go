package app

import (
	"context"
	"strings"

	"github.com/skiff-io/skiff/protocol"
)

// LocalConfig is what `skiff server` hands its local agent (the server
// defines the same fields; main converts between them).
type LocalConfig struct {
	Server, Token, DataDir, NodeName, NodeIP string
	Labels, Taints                           []string
	Runtime, PauseImage, ResolvConf          string
	OCIRuntime                               string
	Registries, Version                      string
	// EvictionHard: empty means DefaultEvictionHard.
	EvictionHard string
	Debug        bool
}

// FromLocal builds the agent's Config for a server's own node: it carries
// the control-plane role label.
func FromLocal(l LocalConfig) (Config, error) {
	labels, err := ParseLabels(l.Labels)
	if err != nil {
		return Config{}, err
	}
	taints, err := ParseTaints(l.Taints)
	if err != nil {
		return Config{}, err
	}
	if l.Token != "" {
		if _, _, _, err := protocol.ParseToken(l.Token); err != nil {
			return Config{}, err
		}
	}
	server := l.Server
	if server != "" && !strings.HasPrefix(server, "https://") {
		server = "https://" + server
	}
	evictionHard := l.EvictionHard
	if evictionHard == "" {
		evictionHard = DefaultEvictionHard
	}
	eviction, err := ParseEvictionHard(evictionHard)
	if err != nil {
		return Config{}, err
	}
	cfg := Config{
		Version: l.Version, Server: server, Token: l.Token, DataDir: l.DataDir, NodeName: l.NodeName,
		NodeIP: l.NodeIP, Labels: labels, Taints: taints, Runtime: l.Runtime, Pause: l.PauseImage, OCIRuntime: l.OCIRuntime,
		ResolvConf: l.ResolvConf, Registries: l.Registries, ControlPlane: true, Debug: l.Debug,
		EvictionHard: eviction,
	}
	return cfg, cfg.Check()
}

// RunLocal runs a server's own agent.
func RunLocal(ctx context.Context, l LocalConfig) error {
	cfg, err := FromLocal(l)
	if err != nil {
		return err
	}
	return Run(ctx, cfg)
}
