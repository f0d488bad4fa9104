package cli

import (
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

func testApp() *cli.App {
	return &cli.App{
		Flags: []cli.Flag{&cli.BoolFlag{Name: "verbose"}},
		Commands: []*cli.Command{
			{Name: "cert", Subcommands: []*cli.Command{{
				Name: "create-node",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "certs-dir"},
					&cli.StringFlag{Name: "ca-key"},
					&cli.BoolFlag{Name: "overwrite"},
				},
			}}},
			{Name: "encode-uri", Flags: []cli.Flag{
				&cli.StringFlag{Name: "ca-cert"},
				&cli.BoolFlag{Name: "inline"},
			}},
			{Name: "sql", Flags: []cli.Flag{
				&cli.StringSliceFlag{Name: "execute", Aliases: []string{"e"}},
			}},
		},
	}
}

func TestReorderArgs(t *testing.T) {
	for _, tc := range []struct {
		in, want []string
	}{
		{
			in:   []string{"vcdb", "cert", "create-node", "localhost", "127.0.0.1", "--certs-dir=certs", "--ca-key", "ca.key"},
			want: []string{"vcdb", "cert", "create-node", "--certs-dir=certs", "--ca-key", "ca.key", "localhost", "127.0.0.1"},
		},
		{
			in:   []string{"vcdb", "encode-uri", "repl:pw@host:26257", "--ca-cert", "certs/ca.crt", "--inline"},
			want: []string{"vcdb", "encode-uri", "--ca-cert", "certs/ca.crt", "--inline", "repl:pw@host:26257"},
		},
		{
			// A boolean flag does not swallow the argument after it.
			in:   []string{"vcdb", "cert", "create-node", "--overwrite", "localhost"},
			want: []string{"vcdb", "cert", "create-node", "--overwrite", "localhost"},
		},
		{
			// Repeated value flags keep their order and values.
			in:   []string{"vcdb", "sql", "-e", "SELECT 1", "-e", "SELECT 2"},
			want: []string{"vcdb", "sql", "-e", "SELECT 1", "-e", "SELECT 2"},
		},
		{
			// After "--" nothing is a flag.
			in:   []string{"vcdb", "encode-uri", "--inline", "--", "-weird"},
			want: []string{"vcdb", "encode-uri", "--inline", "--", "-weird"},
		},
		{
			// Unknown flags are kept (urfave/cli then reports them).
			in:   []string{"vcdb", "encode-uri", "host", "--bogus"},
			want: []string{"vcdb", "encode-uri", "--bogus", "host"},
		},
	} {
		got := reorderArgs(testApp(), tc.in)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("reorderArgs(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

// TestUnknownFlagAfterArgumentFails checks the contract's rule that a flag is
// never silently ignored, wherever it stands.
func TestUnknownFlagAfterArgumentFails(t *testing.T) {
	app := testApp()
	app.Commands[1].Action = func(*cli.Context) error { return nil }
	app.ExitErrHandler = func(*cli.Context, error) {}
	if err := app.Run(reorderArgs(app, []string{"vcdb", "encode-uri", "host", "--bogus"})); err == nil {
		t.Fatal("expected an error for an unknown flag after a positional argument")
	}
}

func TestUnknownCommand(t *testing.T) {
	app := newApp(io.Discard, io.Discard)
	err := checkCommand(app, []string{"vcdb", "nosuch"})
	if err == nil || !strings.Contains(err.Error(), `unknown command "nosuch"`) || !strings.Contains(err.Error(), "start-single-node") {
		t.Fatalf("checkCommand(nosuch) = %v; want an unknown-command error listing the commands", err)
	}
	for _, ok := range [][]string{{"vcdb"}, {"vcdb", "version"}, {"vcdb", "help"}, {"vcdb", "--help"}} {
		if err := checkCommand(app, ok); err != nil {
			t.Errorf("checkCommand(%q) = %v", ok, err)
		}
	}
}
