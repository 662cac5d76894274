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

// NewCertificate returns the `skiff certificate` command and its `check`
// subcommand, which lists the server's certificates and their expiry.
func NewCertificate() *cobra.Command {
	c := &cobra.Command{
		Use:   "certificate",
		Short: "Inspect the server's certificates",
		Args:  cobra.NoArgs,
	}
	var dataDir, output string
	check := &cobra.Command{
		Use:   "check",
		Short: "Print each certificate under <data-dir>/server/tls with its expiry and whether it is due for renewal",
		Long: `Print each certificate under <data-dir>/server/tls: subject, issuer, notAfter
and whether it is due for renewal. A running server renews the serving, admin
and controller certificates by itself before they expire; the CA is not
renewed. The data dir may also come from SKIFF_DATA_DIR.`,
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
	c.AddCommand(check)
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
