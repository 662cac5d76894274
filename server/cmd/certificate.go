package cmd

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/skiff-io/skiff/cliconfig"
	"github.com/skiff-io/skiff/server/app"
	"github.com/skiff-io/skiff/server/pki"
	"github.com/spf13/cobra"
)

// NewCertificate returns the `skiff certificate` command: `check` lists
// the server's certificates and their expiry, `rotate-ca` replaces its
// CAs.
func NewCertificate() *cobra.Command {
	c := &cobra.Command{
		Use:   "certificate",
		Short: "Inspect the server's certificates and rotate its CAs",
		Args:  cobra.NoArgs,
	}
	var dataDir, output string
	check := &cobra.Command{
		Use:   "check",
		Short: "Print each certificate under <data-dir>/server/tls with its expiry and whether it is due for renewal",
		Long: `Print each certificate under <data-dir>/server/tls: subject, issuer, notAfter
and whether it is due for renewal. A running server renews the serving, admin,
controller and front-proxy certificates by itself before they expire; the
CAs are replaced with rotate-ca. The data dir may also come from
SKIFF_DATA_DIR.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		PreRunE: func(c *cobra.Command, _ []string) error {
			return cliconfig.Apply(c.Flags(), "", os.Environ())
		},
		RunE: func(c *cobra.Command, _ []string) error {
			if dataDir == "" {
				dataDir = cliconfig.DefaultDataDir()
			}
			_, renewBefore, err := app.CertLifetimes()
			if err != nil {
				return err
			}
			certs, err := pki.Inspect(filepath.Join(dataDir, "server", "tls"), time.Now(), renewBefore)
			if err != nil {
				return err
			}
			return printCerts(c.OutOrStdout(), certs, output)
		},
	}
	f := check.Flags()
	f.StringVarP(&dataDir, "data-dir", "d", "", "directory for state (default /var/lib/skiff as root, ~/.skiff otherwise)")
	f.StringVarP(&output, "output", "o", "text", "output format: text or json")
	c.AddCommand(check, newRotateCA())
	return c
}

func newRotateCA() *cobra.Command {
	var dataDir, path string
	var finish bool
	c := &cobra.Command{
		Use:   "rotate-ca",
		Short: "Replace the server, client and request-header CAs, keeping the old ones trusted until --finish",
		Long: `Replace the CAs under <data-dir>/server/tls with new ones: the pairs
server-ca, client-ca and request-header-ca (.crt and .key) found in --path,
the others generated. The new server CA is cross-signed by the old one and
the old client CA stays trusted, so agents and kubeconfigs keep working
while they are re-issued. The server takes the new CAs when it is
restarted, and re-issues its own certificates then; the join token's CA
hash changes (the new token is printed). Once every agent has re-joined
(they do so by themselves) and every copied kubeconfig has been replaced,
run rotate-ca --finish and restart the server again: from then on only the
new CAs are trusted. See docs/control-plane.md, "Rotating the CAs".`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		PreRunE: func(c *cobra.Command, _ []string) error {
			return cliconfig.Apply(c.Flags(), "", os.Environ())
		},
		RunE: func(c *cobra.Command, _ []string) error {
			if dataDir == "" {
				dataDir = cliconfig.DefaultDataDir()
			}
			serverDir := filepath.Join(dataDir, "server")
			tlsDir := filepath.Join(serverDir, "tls")
			out := c.OutOrStdout()
			if finish {
				if path != "" {
					return fmt.Errorf("--finish takes no --path")
				}
				if err := pki.FinishCARotation(tlsDir, time.Now()); err != nil {
					return err
				}
				fmt.Fprintln(out, "CA rotation finished: restart the server; from then on the previous CAs are no longer trusted.")
				return nil
			}
			tokenFile := filepath.Join(serverDir, "token")
			if tok, err := os.ReadFile(tokenFile); err == nil {
				if _, _, _, err := pki.ParseToken(string(tok)); err != nil {
					return fmt.Errorf("%s: %w", tokenFile, err)
				}
			}
			caPEM, err := pki.RotateCA(tlsDir, path, time.Now())
			if err != nil {
				return err
			}
			token, err := pki.RehashToken(tokenFile, caPEM)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "New CAs written to %s; the previous ones stay trusted until rotate-ca --finish.\n", tlsDir)
			fmt.Fprintln(out, "Next: restart the server (it re-issues its certificates and the admin kubeconfig), let the agents re-join,")
			fmt.Fprintln(out, "replace copied kubeconfigs, then run `skiff certificate rotate-ca --finish` and restart the server again.")
			if token != "" {
				fmt.Fprintf(out, "The join token's CA hash changed; new agents join with:\n%s\n", token)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVarP(&dataDir, "data-dir", "d", "", "directory for state (default /var/lib/skiff as root, ~/.skiff otherwise)")
	f.StringVar(&path, "path", "", "directory with the new CAs (server-ca.crt/.key, client-ca.crt/.key, request-header-ca.crt/.key); those absent are generated")
	f.BoolVar(&finish, "finish", false, "end a rotation: stop trusting the previous CAs")
	return c
}

func printCerts(w io.Writer, certs []pki.CertInfo, output string) error {
	switch output {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(certs)
	case "text", "":
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "FILE\tSUBJECT\tISSUER\tNOT AFTER\tSTATUS")
		for _, ci := range certs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", filepath.Base(ci.File), ci.Subject, ci.Issuer,
				ci.NotAfter.UTC().Format(time.RFC3339), ci.Status)
		}
		return tw.Flush()
	default:
		return fmt.Errorf("--output: %q is not text or json", output)
	}
}
