package cli

import (
	"fmt"
	"io"
	"os"
	"sort"

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
		Commands:       commands(),
	}
}

// registered holds the constructors of the top-level commands. Each command
// lives in its own file and registers itself from an init function, so that
// adding a command never edits a shared list.
var registered []func() *cli.Command

func register(newCommand func() *cli.Command) {
	registered = append(registered, newCommand)
}

// commands builds the top-level commands, sorted by name for `vcdb help`.
func commands() []*cli.Command {
	cmds := make([]*cli.Command, 0, len(registered))
	for _, newCommand := range registered {
		cmds = append(cmds, newCommand())
	}
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].Name < cmds[j].Name })
	return cmds
}

func init() { register(versionCommand) }

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
