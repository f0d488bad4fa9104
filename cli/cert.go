package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/urfave/cli/v2"
	"github.com/vcdb/vcdb/certs"
)

// `vcdb cert create-ca | create-node | create-client | list` (contract §1,
// fact sheet §2.3). The work is done by package certs; this file maps flags.

func init() { register(certCommand) }

// certNow is the clock of the cert commands; tests fix it so that expiry
// dates in their expected output do not move.
var certNow = time.Now

// defaultCertsDir is ${HOME}/.vcdb-certs (contract §1), or a relative
// .vcdb-certs when there is no home directory.
func defaultCertsDir() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ".vcdb-certs"
	}
	return filepath.Join(home, ".vcdb-certs")
}

// certsDirFlag is --certs-dir as every command that reads or writes
// certificates declares it.
func certsDirFlag() *cli.StringFlag {
	return &cli.StringFlag{
		Name:    "certs-dir",
		Usage:   "directory of ca.crt, node.crt/.key and client.<user>.crt/.key",
		Value:   defaultCertsDir(),
		EnvVars: []string{"VCDB_CERTS_DIR"},
	}
}

func certCreateFlags(defaultLifetime time.Duration) []cli.Flag {
	return []cli.Flag{
		certsDirFlag(),
		&cli.StringFlag{
			Name:    "ca-key",
			Usage:   "path of the CA key (kept outside --certs-dir)",
			EnvVars: []string{"VCDB_CA_KEY"},
		},
		&cli.DurationFlag{Name: "lifetime", Usage: "how long the certificate is valid", Value: defaultLifetime},
		&cli.IntFlag{Name: "key-size", Usage: "RSA key size in bits", Value: certs.DefaultKeySize},
		&cli.BoolFlag{Name: "overwrite", Usage: "replace existing files (create-ca: replace ca.crt instead of appending to it)"},
	}
}

func certOptions(c *cli.Context) (certs.Options, string, error) {
	caKey := c.String("ca-key")
	if caKey == "" {
		return certs.Options{}, "", errors.New("--ca-key is required")
	}
	return certs.Options{
		KeySize:         c.Int("key-size"),
		Lifetime:        c.Duration("lifetime"),
		Overwrite:       c.Bool("overwrite"),
		AllowCAKeyReuse: c.Bool("allow-ca-key-reuse"),
		Now:             certNow,
	}, caKey, nil
}

func certCommand() *cli.Command {
	return &cli.Command{
		Name:  "cert",
		Usage: "create and list the certificates of a secure cluster",
		Subcommands: []*cli.Command{
			{
				Name:  "create-ca",
				Usage: "create a CA key (--ca-key) and certificate (<certs-dir>/ca.crt)",
				Flags: append(certCreateFlags(certs.DefaultCALifetime),
					&cli.BoolFlag{Name: "allow-ca-key-reuse", Usage: "sign a new CA certificate with an existing --ca-key"}),
				Action: func(c *cli.Context) error {
					if c.NArg() != 0 {
						return errors.Newf("create-ca takes no arguments, got %q", c.Args().Slice())
					}
					opts, caKey, err := certOptions(c)
					if err != nil {
						return err
					}
					return certs.CreateCA(c.String("certs-dir"), caKey, opts)
				},
			},
			{
				Name:      "create-node",
				Usage:     "create node.crt/node.key for the given host names and addresses",
				ArgsUsage: "HOST...",
				Flags:     certCreateFlags(certs.DefaultCertLifetime),
				Action: func(c *cli.Context) error {
					if c.NArg() == 0 {
						return errors.New("create-node needs at least one host name or address")
					}
					opts, caKey, err := certOptions(c)
					if err != nil {
						return err
					}
					return certs.CreateNode(c.String("certs-dir"), caKey, c.Args().Slice(), opts)
				},
			},
			{
				Name:      "create-client",
				Usage:     "create client.<user>.crt/.key",
				ArgsUsage: "USER",
				Flags:     certCreateFlags(certs.DefaultCertLifetime),
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return errors.New("create-client needs exactly one user name")
					}
					opts, caKey, err := certOptions(c)
					if err != nil {
						return err
					}
					return certs.CreateClient(c.String("certs-dir"), caKey, c.Args().First(), opts)
				},
			},
			{
				Name:  "list",
				Usage: "list the certificates of --certs-dir with their expiry and problems",
				Flags: []cli.Flag{certsDirFlag()},
				Action: func(c *cli.Context) error {
					if c.NArg() != 0 {
						return errors.Newf("list takes no arguments, got %q", c.Args().Slice())
					}
					return listCerts(c, c.String("certs-dir"))
				},
			},
		},
	}
}

// listCerts prints `cert list`'s table with CockroachDB's columns. Problems
// are shown in the Error column; the command itself succeeds, as
// CockroachDB's does, so the table is always printed.
func listCerts(c *cli.Context, dir string) error {
	infos, err := certs.List(dir, certNow())
	if err != nil {
		return err
	}
	w := c.App.Writer
	fmt.Fprintf(w, "Certificate directory: %s\n", dir)
	headers := []string{"Usage", "Certificate File", "Key File", "Expires", "Notes", "Error"}
	rows := make([][]string, 0, len(infos))
	for _, in := range infos {
		expires := ""
		if !in.Expires.IsZero() {
			expires = in.Expires.UTC().Format(certs.ListDateFormat)
		}
		rows = append(rows, []string{
			string(in.Usage), in.CertFile, in.KeyFile, expires, in.Notes,
			strings.ReplaceAll(strings.Join(in.Problems, "; "), dir+string(filepath.Separator), ""),
		})
	}
	writeTable(w, headers, rows, nil)
	fmt.Fprintln(w, rowCount(len(rows)))
	return nil
}
