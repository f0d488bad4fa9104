package cli

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/jackc/pgx/v5/pgconn"
)

// vcdbBinary returns the vcdb binary under test: $VCDB_BIN (set by `make
// test`) or one built into the test's temporary directory.
func vcdbBinary(t *testing.T) string {
	if bin := os.Getenv("VCDB_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(t.TempDir(), "vcdb")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/vcdb/vcdb")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building vcdb: %v\n%s", err, out)
	}
	return bin
}

// freePort returns a port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// startInsecureNode starts `vcdb start-single-node --insecure` in memory on
// 127.0.0.1 and waits (bounded) until it answers SQL. The node is stopped
// with SIGTERM, then SIGKILL, when the test ends.
func startInsecureNode(t *testing.T, bin string) string {
	port, httpPort := freePort(t), freePort(t)
	var logs bytes.Buffer
	cmd := exec.Command(bin, "start-single-node", "--insecure", "--store=type=mem",
		"--listen-addr=127.0.0.1:"+port, "--http-addr=127.0.0.1:"+httpPort)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	cfg, err := pgconn.ParseConfig("postgresql://root@127.0.0.1:" + port + "/defaultdb?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgconn.ConnectConfig(ctx, cfg)
		cancel()
		if err == nil {
			_ = conn.Close(context.Background())
			return port
		}
		select {
		case werr := <-exited:
			exited <- werr
			t.Fatalf("vcdb exited before serving: %v\n%s", werr, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("vcdb did not serve SQL within 30s: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// runBinary runs the vcdb binary as a user would, with a bounded time.
func runBinary(bin string) func(args []string, stdin io.Reader) (string, string, int) {
	return func(args []string, stdin io.Reader) (string, string, int) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args[1:]...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if stdin != nil {
			cmd.Stdin = stdin
		}
		code := 0
		if err := cmd.Run(); err != nil {
			code = -1
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else {
				errOut.WriteString(err.Error() + "\n")
			}
		}
		return out.String(), errOut.String(), code
	}
}

// TestSQLEndToEnd runs testdata/cli/sql_e2e: the real vcdb binary's `sql`
// command in batch mode against a real in-memory node, and the interactive
// shell (in process) against the same node.
func TestSQLEndToEnd(t *testing.T) {
	bin := vcdbBinary(t)
	port := startInsecureNode(t, bin)
	e := &cliEnv{dir: t.TempDir(), run: runBinary(bin), vars: map[string]string{"$PORT": port}}
	e.directives = map[string]func(t *testing.T, td *datadriven.TestData) string{
		// shell: an interactive session (in process, over a plain line
		// reader) against the node.
		"shell": func(t *testing.T, td *datadriven.TestData) string {
			return e.normalize(t, runTestShell(t, "postgresql://root@127.0.0.1:"+port+"/defaultdb?sslmode=disable", formatTable, td.Input))
		},
	}
	if err := os.WriteFile(filepath.Join(e.dir, "script.sql"), []byte(
		"CREATE TABLE IF NOT EXISTS script_t (id INT PRIMARY KEY, v STRING);\n"+
			"-- a comment; with a semicolon\n"+
			"INSERT INTO script_t VALUES (1, 'a;b'), (2, 'it''s');\n"+
			"SELECT * FROM script_t ORDER BY id;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runCLIFile(t, "../testdata/cli/sql_e2e", e)
}
