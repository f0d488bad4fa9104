package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"
)

func init() { register(demoCommand) }

// demoCommand is `vcdb demo` (`make demo`, issue 7 item 9): physical
// cluster replication between two secure clusters in this process (see
// pcrDemo), and the SQL shell on the primary's main, where `\demo
// failover` fails over. Without a terminal it prints the connection URLs
// and the replication status and serves until interrupted, so scripts and
// tests can use it too.
func demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "start a primary and a standby replicating a bank workload, and open a SQL shell",
		Description: "Starts two in-memory clusters on 127.0.0.1 in secure mode with temporary\n" +
			"certificates: a primary (--virtualized) whose virtual cluster main runs a small\n" +
			"bank workload, and a standby (--virtualized-empty) replicating main, with\n" +
			"main-readonly for reads. The shell opens on the primary's main; \\demo failover\n" +
			"fails over to the standby and \\demo status shows the stream.",
		Action: runDemo,
	}
}

func runDemo(c *cli.Context) error {
	ctx := context.Background()
	out := c.App.Writer
	fmt.Fprintln(out, "# Starting a primary and a standby cluster and a replication stream...")
	d, err := startPCRDemo(ctx)
	if err != nil {
		return err
	}
	defer d.close()
	fmt.Fprintln(out, "#")
	fmt.Fprintln(out, "# Welcome to the vcdb demo: physical cluster replication on this machine.")
	fmt.Fprintln(out, "#")
	fmt.Fprintln(out, "# The primary serves virtual cluster main, where a bank workload moves money")
	fmt.Fprintf(out, "# between %d accounts (bank.bank; the total never changes). The standby\n", demoBankRows)
	fmt.Fprintln(out, "# replicates main and serves reads of it as main-readonly.")
	fmt.Fprintln(out, "#")
	d.printURLs(out)
	fmt.Fprintln(out, "#")
	if err := d.printStatus(ctx, out); err != nil {
		return err
	}
	fmt.Fprintln(out, "#")
	if _, ok := terminalReader(c.App.Reader); ok {
		fmt.Fprintln(out, `# In the shell: \demo failover fails over to the standby, \demo status`)
		fmt.Fprintln(out, `# shows the stream, \demo help lists the demo's commands.`)
		return openDemoShell(c, d.url("primary", "main"), d)
	}
	fmt.Fprintln(out, "# No terminal on stdin: serving until interrupted (Ctrl-C / SIGTERM).")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	select {
	case <-sig:
		return nil
	case <-d.primary.Done():
		return d.primary.Err()
	case <-d.standby.Done():
		return d.standby.Err()
	}
}
