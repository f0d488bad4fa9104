package cli

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"
	"github.com/vcdb/vcdb/tenant"
)

// Main runs the vcdb command line with args (os.Args) and returns the process
// exit status.
func Main(args []string) int {
	app := newApp(os.Stdout, os.Stderr)
	if err := checkCommand(app, args); err != nil {
		fmt.Fprintf(os.Stderr, "ERROR: %v\n", err)
		return 1
	}
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

// checkCommand refuses an unknown top-level command with the list of known
// ones. urfave/cli would answer "No help topic for 'x'", which reads as if
// the user had asked for help.
func checkCommand(app *cli.App, args []string) error {
	if len(args) < 2 || strings.HasPrefix(args[1], "-") {
		return nil
	}
	name := args[1]
	if name == "help" || name == "h" || findCommand(app.Commands, name) != nil {
		return nil
	}
	names := make([]string, 0, len(app.Commands))
	for _, c := range app.Commands {
		names = append(names, c.Name)
	}
	return fmt.Errorf("unknown command %q; commands: %s (see vcdb help)", name, strings.Join(names, ", "))
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the binary version and the cluster versions it runs",
		Action: func(c *cli.Context) error {
			fmt.Fprintf(c.App.Writer, "vcdb %s\n", tenant.BinaryString())
			fmt.Fprintf(c.App.Writer, "cluster versions: %s, %s\n", tenant.MinSupported(), tenant.Binary())
			return nil
		},
	}
}
