package cliconfig

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DefaultDataDir is where server and agent keep their state when
// --data-dir is not given: /var/lib/skiff for root and ~/.skiff otherwise,
// as k3s chooses between /var/lib/rancher/k3s and ~/.rancher/k3s.
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

// Token resolves --token and --token-file (both roles take the pair):
// at most one may be given, and a named file must hold a token.
func Token(token, file string) (string, error) {
	if file == "" {
		return token, nil
	}
	if token != "" {
		return "", fmt.Errorf("--token and --token-file cannot both be given")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", fmt.Errorf("--token-file %s is empty", file)
	}
	return t, nil
}
