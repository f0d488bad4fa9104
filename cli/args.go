package cli

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// reorderArgs returns args (the full os.Args) with the flags of the selected
// (sub)command moved in front of its positional arguments, so that urfave/cli,
// which stops at the first positional argument, sees every flag. The walk
// follows the command tree: each word that names a subcommand descends into it;
// the first other word starts the leaf command's arguments.
//
// A flag given as "--name value" keeps its value; a boolean flag never takes
// the next word. "--" ends flag parsing: everything after it stays positional.
// Flags the command does not define are left in place in front, where
// urfave/cli reports them as errors.
func reorderArgs(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	out := []string{args[0]}
	rest := args[1:]
	flags := app.Flags
	commands := app.Commands
	for len(rest) > 0 {
		// Global or intermediate flags before the next command name stay where
		// they are.
		w := rest[0]
		if strings.HasPrefix(w, "-") {
			n := flagWords(flags, rest)
			out = append(out, rest[:n]...)
			rest = rest[n:]
			continue
		}
		cmd := findCommand(commands, w)
		if cmd == nil {
			break
		}
		out = append(out, w)
		rest = rest[1:]
		flags = cmd.Flags
		commands = cmd.Subcommands
		if len(commands) == 0 {
			break
		}
	}
	var flagArgs, positional []string
	for i := 0; i < len(rest); {
		w := rest[i]
		if w == "--" {
			positional = append(positional, rest[i:]...)
			break
		}
		if strings.HasPrefix(w, "-") && w != "-" {
			n := flagWords(flags, rest[i:])
			flagArgs = append(flagArgs, rest[i:i+n]...)
			i += n
			continue
		}
		positional = append(positional, w)
		i++
	}
	out = append(out, flagArgs...)
	// urfave/cli would take a positional argument that starts with "-" for a
	// flag; "--" in front of the positionals prevents that when needed.
	if len(positional) > 0 && positional[0] != "--" && needsTerminator(positional) {
		out = append(out, "--")
	}
	return append(out, positional...)
}

func needsTerminator(positional []string) bool {
	for _, p := range positional {
		if strings.HasPrefix(p, "-") && p != "-" {
			return true
		}
	}
	return false
}

// flagWords returns how many words of ws (ws[0] being a flag) the flag uses:
// one for "--name=value" and boolean flags, two for "--name value".
func flagWords(flags []cli.Flag, ws []string) int {
	name := strings.TrimLeft(ws[0], "-")
	if strings.Contains(name, "=") {
		return 1
	}
	f := findFlag(flags, name)
	if f == nil {
		return 1
	}
	if _, ok := f.(*cli.BoolFlag); ok {
		return 1
	}
	if len(ws) < 2 {
		return 1
	}
	return 2
}

func findFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

func findCommand(commands []*cli.Command, name string) *cli.Command {
	for _, c := range commands {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}
