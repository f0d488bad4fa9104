package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/crlib/testutils/leaktest"
	"github.com/cockroachdb/errors"
	"github.com/vcdb/vcdb/certs"
)

// fakeDemo is a demoRunner that records its commands; failover moves the
// shell to another server.
type fakeDemo struct {
	calls     []string
	reconnect string
}

func (f *fakeDemo) run(_ context.Context, args []string, out io.Writer) (string, error) {
	f.calls = append(f.calls, strings.Join(args, " "))
	switch strings.Join(args, " ") {
	case "failover":
		fmt.Fprintln(out, "# (fake) failed over")
		return f.reconnect, nil
	case "help":
		fmt.Fprintln(out, "(fake demo help)")
		return "", nil
	}
	return "", errors.Newf("unknown demo command %q", strings.Join(args, " "))
}

// TestDemoShellCommand checks the shell's side of `\demo`: commands reach
// the demo with their arguments, errors are printed and the shell goes
// on, \? adds the demo's help, and a failover moves the session to the
// server the demo names (with safe updates on again). Without a demo,
// \demo is an error.
func TestDemoShellCommand(t *testing.T) {
	defer leaktest.AfterTest(t)()
	before, after := newFakeServer(t, nil), newFakeServer(t, nil)
	defer before.close()
	defer after.close()
	url := func(fs *fakeServer) string {
		return "postgresql://root@127.0.0.1:" + fs.port() + "/defaultdb?sslmode=disable"
	}
	demo := &fakeDemo{reconnect: url(after)}

	run := func(d demoRunner, input string) string {
		u, err := certs.ParseURIFields(url(before))
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		ctx := context.Background()
		conn, err := connectSQL(ctx, u, &out)
		if err != nil {
			t.Fatal(err)
		}
		s := &sqlSession{conn: conn, out: &out, errOut: &out, format: formatTable, now: stepClock(time.Millisecond)}
		sh := newShell(s, u, &plainLineReader{r: bufio.NewReader(strings.NewReader(input)), out: &out})
		sh.demo = d
		if err := sh.start(ctx, u); err != nil {
			t.Fatal(err)
		}
		closeSQLConn(ctx, sh.s.conn)
		return out.String()
	}

	out := run(demo, "\\?\n\\demo bogus\n\\demo failover\nSELECT 1;\n")
	if got, want := strings.Join(demo.calls, ","), "help,bogus,failover"; got != want {
		t.Errorf("demo commands: %s, want %s", got, want)
	}
	for _, want := range []string{
		"(fake demo help)",
		`ERROR: unknown demo command "bogus"`,
		"# (fake) failed over",
		"# Connected to: postgresql://root@127.0.0.1:" + after.port() + "/defaultdb",
		"root@127.0.0.1:" + after.port() + "/defaultdb> SELECT 1;",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("transcript lacks %q:\n%s", want, out)
		}
	}
	if q := after.takeQueries(); strings.Join(q, ";") != "SET sql_safe_updates = true;SELECT 1" {
		t.Errorf("the server after the failover got %q", q)
	}
	for _, q := range before.takeQueries() {
		if q == "SELECT 1" {
			t.Errorf("SELECT 1 went to the server before the failover")
		}
	}

	out = run(nil, "\\demo failover\n")
	if !strings.Contains(out, `ERROR: \demo is only available in the shell of vcdb demo`) {
		t.Errorf("\\demo outside the demo:\n%s", out)
	}
}
