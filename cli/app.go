package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"
)

// Main runs the vcdb command line with args (os.Args) and returns the process
// exit status.
func Main(args []string) int {
	app := newApp(os.Stdout, os.Stderr)
	if err := app.Run(reorderArgs(app, args)); err != nil {
		fmt.Fprintf(os.Stderr, "ERROR: %v\n", err)
		return 1
	}
	return 0
}

func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:      "vcdb",
		Usage:     "a Postgres-wire SQL database with virtual clusters and physical cluster replication",
		Writer:    stdout,
		ErrWriter: stderr,
		// Errors are printed once, by Main, with a non-zero exit status.
		ExitErrHandler: func(*cli.Context, error) {},
		Commands: []*cli.Command{
			versionCommand(),
		},
	}
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the binary version",
		Action: func(c *cli.Context) error {
			fmt.Fprintf(c.App.Writer, "vcdb %s\n", BinaryVersion)
			return nil
		},
	}
}
