package cli

import (
	"bufio"
	"context"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestDemoWithoutTerminal runs `vcdb demo` the way `make demo` does on a
// machine without a terminal: it must print a working SQL URL for the sample
// database, serve it, and stop cleanly on SIGTERM.
func TestDemoWithoutTerminal(t *testing.T) {
	cmd := exec.Command(vcdbBinary(t), "demo")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	defer func() {
		_ = cmd.Process.Kill()
	}()

	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "# SQL URL:"); ok {
				urls <- strings.TrimSpace(u)
			}
		}
		exited <- cmd.Wait()
	}()
	var url string
	select {
	case url = <-urls:
	case <-time.After(60 * time.Second):
		t.Fatal("vcdb demo printed no SQL URL within 60s")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connecting to the demo at %s: %v", url, err)
	}
	var n int
	var total string
	if err := conn.QueryRow(ctx, "SELECT count(*), sum(balance)::STRING FROM accounts").Scan(&n, &total); err != nil {
		t.Fatal(err)
	}
	_ = conn.Close(ctx)
	if n != 100 || total != "100000.00" {
		t.Fatalf("sample data: %d accounts totalling %s, want 100 totalling 100000.00", n, total)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("vcdb demo exited with %v after SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("vcdb demo did not stop within 30s of SIGTERM")
	}
}
