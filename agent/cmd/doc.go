// Package cmd turns `skiff agent` flags, SKIFF_* environment variables and
// the config file into an agent app.Config. It must not import server/.
package cmd
