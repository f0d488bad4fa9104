package cli

import (
	"fmt"

	"github.com/cockroachdb/errors"
	"github.com/urfave/cli/v2"
	"github.com/vcdb/vcdb/certs"
)

// `vcdb encode-uri [postgresql://][USER[:PASSWORD]@]HOST[:PORT] [flags]`
// (contract §1, fact sheet §2.5): prints the URI a standby uses to reach a
// primary's system VC. certs.EncodeURI does the work.

func init() { register(encodeURICommand) }

func encodeURICommand() *cli.Command {
	return &cli.Command{
		Name:      "encode-uri",
		Usage:     "print a replication source URI (sslinline=true with --inline)",
		ArgsUsage: "[postgresql://][USER[:PASSWORD]@]HOST[:PORT]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "inline", Usage: "embed the certificates' PEM text instead of their paths"},
			&cli.StringFlag{Name: "user", Usage: "user when the address names none (default root)"},
			&cli.StringFlag{Name: "database", Usage: "database of the URI", Value: certs.DefaultEncodeDatabase},
			&cli.StringFlag{Name: "cluster", Usage: "virtual cluster (options=-ccluster=...)", Value: certs.DefaultEncodeCluster},
			// No default here, unlike other commands: encode-uri uses a
			// certs directory only when told to.
			&cli.StringFlag{Name: "certs-dir", Usage: "take ca.crt and client.<user>.crt/.key (when present) from this directory"},
			&cli.StringFlag{Name: "ca-cert", Usage: "CA certificate file (overrides --certs-dir)"},
			&cli.StringFlag{Name: "cert", Usage: "client certificate file (overrides --certs-dir)"},
			&cli.StringFlag{Name: "key", Usage: "client key file (overrides --certs-dir)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return errors.New("encode-uri takes one address: [postgresql://][USER[:PASSWORD]@]HOST[:PORT]")
			}
			opts := certs.EncodeOptions{
				User:     c.String("user"),
				Cluster:  c.String("cluster"),
				CertsDir: c.String("certs-dir"),
				CACert:   c.String("ca-cert"),
				Cert:     c.String("cert"),
				Key:      c.String("key"),
				Inline:   c.Bool("inline"),
			}
			// A database in the address is used unless --database is given.
			if c.IsSet("database") {
				opts.Database = c.String("database")
			}
			uri, err := certs.EncodeURI(c.Args().First(), opts)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.App.Writer, uri)
			return nil
		},
	}
}
