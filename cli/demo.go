package cli

import (
	"context"
	"fmt"
	neturl "net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5"
	"github.com/urfave/cli/v2"
	"github.com/vcdb/vcdb/server"
)

func init() { register(demoCommand) }

// demoCommand is `vcdb demo` (`make demo`): an in-memory node on loopback
// with a small sample database, and the SQL shell on it. Without a terminal
// it prints the connection URL and serves until interrupted, so scripts and
// tests can use it too.
func demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "start a temporary in-memory vcdb with sample data and open a SQL shell",
		Action: func(c *cli.Context) error {
			return runDemo(c)
		},
	}
}

// demoSchema is the sample database: a bank whose total balance never
// changes, the invariant the workloads and the replication demo rely on.
var demoSchema = []string{
	`CREATE DATABASE IF NOT EXISTS bank`,
	`CREATE TABLE IF NOT EXISTS bank.accounts (id INT PRIMARY KEY, owner STRING NOT NULL, balance DECIMAL(12,2) NOT NULL CHECK (balance >= 0))`,
	`INSERT INTO bank.accounts SELECT i, 'owner ' || i::STRING, 1000 FROM generate_series(1, 100) AS g(i) ON CONFLICT (id) DO NOTHING`,
}

func runDemo(c *cli.Context) error {
	ctx := context.Background()
	node, err := server.StartNode(ctx, server.NodeConfig{
		InMemory:   true,
		Insecure:   true,
		ListenAddr: "127.0.0.1:0",
		HTTPAddr:   "127.0.0.1:0",
		Logf:       func(string, ...interface{}) {},
	})
	if err != nil {
		return errors.Wrap(err, "starting the demo node")
	}
	defer func() {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = node.Shutdown(shutdownCtx)
	}()
	if err := loadDemoData(ctx, node.SQLURL()); err != nil {
		return err
	}
	url := demoURL(node.SQLURL(), "bank")
	out := c.App.Writer
	fmt.Fprintf(out, "#\n# Welcome to the vcdb demo: an in-memory node with the sample database bank.\n#\n")
	fmt.Fprintf(out, "# SQL URL:  %s\n# HTTP URL: %s\n#\n", url, node.HTTPURL())
	if _, ok := terminalReader(c.App.Reader); ok {
		return openDemoShell(c, url, nil)
	}
	fmt.Fprintf(out, "# No terminal on stdin: serving until interrupted (Ctrl-C / SIGTERM).\n")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	select {
	case <-sig:
		return nil
	case <-node.Done():
		return node.Err()
	}
}

func loadDemoData(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return errors.Wrap(err, "connecting to the demo node")
	}
	defer func() { _ = conn.Close(ctx) }()
	for _, stmt := range demoSchema {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return errors.Wrapf(err, "loading demo data: %s", stmt)
		}
	}
	return nil
}

// demoURL points url (the node's SQL URL) at database db.
func demoURL(url, db string) string {
	u, err := neturl.Parse(url)
	if err != nil {
		return url
	}
	u.Path = "/" + db
	return u.String()
}
