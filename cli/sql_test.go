package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/crlib/testutils/leaktest"
	"github.com/cockroachdb/datadriven"
	"github.com/urfave/cli/v2"
	"github.com/vcdb/vcdb/certs"
)

// stepClock returns a clock that advances by step at every reading, so the
// shell's timing lines are deterministic.
func stepClock(step time.Duration) func() time.Time {
	t := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time {
		t = t.Add(step)
		return t
	}
}

// TestSQLCommand runs testdata/cli/sql against the fake server: `vcdb`
// commands with $PORT substituted, and
//
//	queries                 the statements the server received since last asked
//	startup                 the startup parameters of the last connection
//	shell [format=F]        an interactive session fed the input lines
func TestSQLCommand(t *testing.T) {
	defer leaktest.AfterTest(t)()
	fs := newFakeServer(t, nil)
	defer fs.close()
	e := &cliEnv{dir: t.TempDir()}
	e.directives = map[string]func(t *testing.T, td *datadriven.TestData) string{
		"queries": func(t *testing.T, td *datadriven.TestData) string {
			var b strings.Builder
			for _, q := range fs.takeQueries() {
				fmt.Fprintf(&b, "%q\n", q)
			}
			return b.String()
		},
		"startup": func(t *testing.T, td *datadriven.TestData) string {
			p := fs.lastStartup()
			return fmt.Sprintf("user=%s database=%s options=%q\n", p["user"], p["database"], p["options"])
		},
		"shell": func(t *testing.T, td *datadriven.TestData) string {
			format := formatTable
			if td.HasArg("format") {
				td.ScanArgs(t, "format", &format)
			}
			return e.normalize(t, runTestShell(t, "postgresql://root:secret@127.0.0.1:"+fs.port()+"/defaultdb?sslmode=disable", format, td.Input))
		},
	}
	e.vars = map[string]string{"$PORT": fs.port()}
	runCLIFile(t, "../testdata/cli/sql", e)
}

// runTestShell runs the interactive shell over a plain line reader and
// returns the transcript: prompts, echoed input, results and errors in the
// order a user would see them. The URI's password must not appear in it.
func runTestShell(t *testing.T, uri, format, input string) string {
	u, err := certs.ParseURIFields(uri)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	ctx := context.Background()
	conn, err := connectSQL(ctx, u, &out)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	s := &sqlSession{conn: conn, out: &out, errOut: &out, format: format, now: stepClock(time.Millisecond), showTimes: format == formatTable}
	sh := newShell(s, u, &plainLineReader{r: bufio.NewReader(strings.NewReader(input)), out: &out})
	if err := sh.start(ctx, u); err != nil {
		fmt.Fprintf(&out, "shell error: %v\n", err)
	}
	if u.Password != "" && strings.Contains(out.String(), u.Password) {
		t.Errorf("the transcript shows the password")
	}
	return out.String()
}

// TestSQLSplit runs testdata/cli/sql_split: how input is cut into
// statements.
func TestSQLSplit(t *testing.T) {
	datadriven.RunTest(t, "../testdata/cli/sql_split", func(t *testing.T, td *datadriven.TestData) string {
		stmts, rest := splitStatements(td.Input)
		var b strings.Builder
		for _, s := range stmts {
			fmt.Fprintf(&b, "stmt: %q\n", s)
		}
		fmt.Fprintf(&b, "rest: %q blank=%v\n", rest, isBlankSQL(rest))
		return b.String()
	})
}

// TestSQLConnFlags checks how --url and the other flags make the connection
// URI (sqlConnURI), including the certificates taken from --certs-dir.
func TestSQLConnFlags(t *testing.T) {
	dir := t.TempDir()
	certsDir := filepath.Join(dir, "certs")
	caKey := filepath.Join(dir, "safe", "ca.key")
	opts := certs.Options{KeySize: 1024}
	if err := certs.CreateCA(certsDir, caKey, opts); err != nil {
		t.Fatal(err)
	}
	if err := certs.CreateClient(certsDir, caKey, "root", opts); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		pw   string // what the password prompt answers, "" for no prompt
		want string
	}{
		{[]string{"--insecure"}, "", "postgresql://root@localhost:26257/defaultdb?sslmode=disable"},
		{[]string{"--insecure", "--host=db1", "--port=1234", "--user=Alice", "--database=bank"}, "",
			"postgresql://alice@db1:1234/bank?sslmode=disable"},
		{[]string{"--insecure", "--host=db1:26001"}, "", "postgresql://root@db1:26001/defaultdb?sslmode=disable"},
		{[]string{"--insecure", "--host=[::1]:26001"}, "", "postgresql://root@[::1]:26001/defaultdb?sslmode=disable"},
		{[]string{"--insecure", "--host=db1:x"}, "", "error: invalid port in --host \"db1:x\""},
		{[]string{"--url=postgresql://u:pw@h:5/d?sslmode=disable&options=-ccluster%3Dmain", "--port=6"}, "",
			"postgresql://u:pw@h:6/d?options=-ccluster%3Dmain&sslmode=disable"},
		// Secure by default: ca.crt and the user's client certificate.
		{[]string{"--certs-dir=" + certsDir}, "",
			"postgresql://root@localhost:26257/defaultdb?sslcert=$C%2Fclient.root.crt&sslkey=$C%2Fclient.root.key&sslmode=verify-full&sslrootcert=$C%2Fca.crt"},
		// The connection reference's form: sslmode in the URL, certificates from --certs-dir.
		{[]string{"--certs-dir=" + certsDir, "--url=postgresql://root@h:26257?options=-ccluster=system&sslmode=verify-full"}, "",
			"postgresql://root@h:26257?options=-ccluster%3Dsystem&sslcert=$C%2Fclient.root.crt&sslkey=$C%2Fclient.root.key&sslmode=verify-full&sslrootcert=$C%2Fca.crt"},
		// A user without a client certificate is asked for a password.
		{[]string{"--certs-dir=" + certsDir, "--user=repl"}, "secret",
			"postgresql://repl:secret@localhost:26257/defaultdb?sslmode=verify-full&sslrootcert=$C%2Fca.crt"},
		{[]string{"--certs-dir=" + filepath.Join(dir, "nothing")}, "", "error: cannot find $D/nothing/ca.crt: give --certs-dir, a URL with sslrootcert, or --insecure for a node started with --insecure"},
		{[]string{"--insecure", "--url=postgresql://h?sslmode=require"}, "", "error: --insecure conflicts with sslmode=require in --url"},
		{[]string{"--insecure", "--port=0"}, "", "error: invalid --port 0"},
		{[]string{"--url=h:26257"}, "", "error: invalid connection URI: must start with postgresql:// (or postgres://)"},
	} {
		var got string
		cmd := sqlCommand()
		cmd.Action = func(c *cli.Context) error {
			prompt := func() (string, error) {
				if tc.pw == "" {
					t.Errorf("%v: unexpected password prompt", tc.args)
				}
				return tc.pw, nil
			}
			u, err := sqlConnURI(c, prompt)
			if err != nil {
				got = "error: " + err.Error()
			} else {
				got = u.String()
			}
			return nil
		}
		app := newApp(&bytes.Buffer{}, &bytes.Buffer{})
		app.Commands = []*cli.Command{cmd}
		if err := app.Run(append([]string{"vcdb", "sql"}, tc.args...)); err != nil {
			t.Fatal(err)
		}
		got = strings.ReplaceAll(got, strings.ReplaceAll(certsDir, "/", "%2F"), "$C")
		got = strings.ReplaceAll(got, dir, "$D")
		if got != tc.want {
			t.Errorf("%v:\n got %s\nwant %s", tc.args, got, tc.want)
		}
	}
}

// TestOpenDemoShellNeedsTerminal checks the entry point `vcdb demo` uses.
func TestOpenDemoShellNeedsTerminal(t *testing.T) {
	app := newApp(&bytes.Buffer{}, &bytes.Buffer{})
	app.Reader = strings.NewReader("SELECT 1;")
	var got error
	app.Commands = []*cli.Command{{Name: "x", Action: func(c *cli.Context) error {
		got = openDemoShell(c, "postgresql://root@127.0.0.1:1/defaultdb?sslmode=disable", nil)
		return nil
	}}}
	if err := app.Run([]string{"vcdb", "x"}); err != nil {
		t.Fatal(err)
	}
	if got == nil || !strings.Contains(got.Error(), "needs a terminal") {
		t.Fatalf("got %v", got)
	}
}
