// Package cmd is the `skiff server` command: its flags (named as k3s names
// them), their SKIFF_* environment variables and config file keys, turned
// into one app.Config in one place.
package cmd
