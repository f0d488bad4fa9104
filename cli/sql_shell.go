package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/cockroachdb/errors"
	"github.com/vcdb/vcdb/certs"
)

// lineReader is where the interactive shell gets its input: a terminal with
// line editing and history (termLineReader), or any reader (tests).
type lineReader interface {
	// ReadLine shows prompt and returns the next line without its newline;
	// io.EOF at the end of input (Ctrl-D on an empty line).
	ReadLine(prompt string) (string, error)
	// Interrupted reports, after ReadLine returned, whether the user pressed
	// Ctrl-C on that line, which abandons the statement being typed.
	Interrupted() bool
}

// sqlShell is the interactive loop of `vcdb sql`: it reads lines, collects
// them until a ';' ends a statement (several per line are fine), runs each
// statement with its timing, and handles the backslash commands.
type sqlShell struct {
	s  *sqlSession
	lr lineReader
	// target describes the connection for the prompt: user@host:port.
	target   string
	database string
	// cancelOnInterrupt makes Ctrl-C (SIGINT) during a statement cancel it
	// on the server instead of killing the shell; off in tests.
	cancelOnInterrupt bool
	// demo runs `\demo` commands in the shell of `vcdb demo`; nil
	// elsewhere.
	demo demoRunner
}

// demoRunner runs the `\demo ARGS` commands of the shell that `vcdb demo`
// opens. It prints to out; a non-empty reconnect URL asks the shell to
// connect there instead (after a failover, to the promoted virtual
// cluster).
type demoRunner interface {
	run(ctx context.Context, args []string, out io.Writer) (reconnect string, err error)
}

const shellHelp = `You are using the vcdb SQL shell. Statements end with a semicolon and may
span several lines. Ctrl-C abandons the statement being typed or cancels the
running one; Ctrl-D or \q leaves. Up and down arrows recall earlier lines.

  \q, quit, exit   leave the shell
  \?, \h           this help
  \l               list databases (SHOW DATABASES)
  \dt, \d          list tables (SHOW TABLES)
  \d TABLE         describe a table (SHOW COLUMNS FROM TABLE)
  \du              list users (SHOW USERS)

Interactive sessions run with sql_safe_updates = true, so DELETE or UPDATE
without WHERE and DROP DATABASE / DROP VIRTUAL CLUSTER are refused until
you SET sql_safe_updates = false.
`

// prompt shows the connection and, as CockroachDB's shell does, the
// transaction state: "  OPEN>" inside a transaction, "  ERROR>" in a failed
// one.
func (sh *sqlShell) prompt() string {
	p := sh.target + "/" + sh.database
	switch sh.s.conn.TxStatus() {
	case 'T':
		p += "  OPEN"
	case 'E':
		p += "  ERROR"
	}
	return p + "> "
}

// continuationPrompt is as wide as the prompt, so that continued lines line
// up with the first one.
func continuationPrompt(prompt string) string {
	w := textWidth(prompt)
	if w < 3 {
		return "-> "
	}
	return strings.Repeat(" ", w-3) + "-> "
}

// run is the read-eval-print loop. It returns nil at the end of input or on
// \q; statement errors are printed and the loop goes on.
func (sh *sqlShell) run(ctx context.Context) error {
	var buf strings.Builder
	for {
		p := sh.prompt()
		if buf.Len() > 0 {
			p = continuationPrompt(p)
		}
		line, err := sh.lr.ReadLine(p)
		if err == io.EOF {
			// End the prompt's line, as shells do on Ctrl-D.
			fmt.Fprintln(sh.s.out)
			return nil
		}
		if err != nil {
			return errors.Wrap(err, "reading input")
		}
		if sh.lr.Interrupted() {
			buf.Reset()
			continue
		}
		trimmed := strings.TrimSpace(line)
		// Backslash commands work mid-statement too, as in psql; the
		// statement being typed is kept.
		if strings.HasPrefix(trimmed, `\`) {
			if quit := sh.backslash(ctx, trimmed); quit {
				return nil
			}
			continue
		}
		if buf.Len() == 0 {
			if trimmed == "quit" || trimmed == "exit" {
				return nil
			}
			if trimmed == "" {
				continue
			}
		}
		buf.WriteString(line)
		buf.WriteByte('\n')
		stmts, rest := splitStatements(buf.String())
		buf.Reset()
		if !isBlankSQL(rest) {
			buf.WriteString(rest)
		}
		for _, st := range stmts {
			sh.execute(ctx, st)
		}
	}
}

// execute runs one statement, printing its error, and refreshes the
// database shown in the prompt after statements that may change it.
func (sh *sqlShell) execute(ctx context.Context, stmt string) {
	var err error
	if sh.cancelOnInterrupt {
		err = sh.execCancellable(ctx, stmt)
	} else {
		err = sh.s.exec(ctx, stmt)
	}
	if err != nil {
		printError(sh.s.errOut, err)
		return
	}
	first := strings.ToLower(strings.Fields(stmt)[0])
	if first == "use" || first == "set" || first == "reset" {
		sh.refreshDatabase(ctx)
	}
}

// execCancellable runs a statement while SIGINT asks the server to cancel
// it. The goroutine it starts ends before it returns.
func (sh *sqlShell) execCancellable(ctx context.Context, stmt string) error {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-sigs:
			// The statement fails with 57014 (query_canceled), which the
			// shell prints; the session stays usable.
			_ = sh.s.conn.CancelRequest(ctx)
		case <-done:
		}
	}()
	err := sh.s.exec(ctx, stmt)
	close(done)
	<-stopped
	return err
}

// refreshDatabase asks the server for the current database (USE and SET
// database change it). Servers without SHOW database keep the old prompt.
func (sh *sqlShell) refreshDatabase(ctx context.Context) {
	if sh.s.conn.TxStatus() == 'E' {
		return
	}
	res, err := sh.s.conn.Exec(ctx, "SHOW database").ReadAll()
	if err != nil || len(res) != 1 || res[0].Err != nil || len(res[0].Rows) != 1 || len(res[0].Rows[0]) != 1 {
		return
	}
	sh.database = string(res[0].Rows[0][0])
}

// backslash runs a backslash command; it returns true for \q.
func (sh *sqlShell) backslash(ctx context.Context, cmd string) (quit bool) {
	fields := strings.Fields(cmd)
	switch {
	case fields[0] == `\q`:
		return true
	case fields[0] == `\?` || fields[0] == `\h`:
		fmt.Fprint(sh.s.out, shellHelp)
		if sh.demo != nil {
			fmt.Fprintln(sh.s.out)
			_, _ = sh.demo.run(ctx, []string{"help"}, sh.s.out)
		}
	case fields[0] == `\demo`:
		sh.demoCommand(ctx, fields[1:])
	case fields[0] == `\l` && len(fields) == 1:
		sh.execute(ctx, "SHOW DATABASES")
	case (fields[0] == `\dt` || fields[0] == `\d`) && len(fields) == 1:
		sh.execute(ctx, "SHOW TABLES")
	case fields[0] == `\d` && len(fields) == 2:
		sh.execute(ctx, "SHOW COLUMNS FROM "+fields[1])
	case fields[0] == `\du` && len(fields) == 1:
		sh.execute(ctx, "SHOW USERS")
	default:
		fmt.Fprintf(sh.s.errOut, "ERROR: invalid command %s. Try \\? for help.\n", cmd)
	}
	return false
}

// demoCommand runs `\demo ARGS` and, when it asks to, moves the shell to
// another server: the old connection is closed only once the new one
// works.
func (sh *sqlShell) demoCommand(ctx context.Context, args []string) {
	if sh.demo == nil {
		fmt.Fprintln(sh.s.errOut, `ERROR: \demo is only available in the shell of vcdb demo`)
		return
	}
	reconnect, err := sh.demo.run(ctx, args, sh.s.out)
	if err != nil {
		printError(sh.s.errOut, err)
		return
	}
	if reconnect == "" {
		return
	}
	u, err := certs.ParseURIFields(reconnect)
	if err != nil {
		printError(sh.s.errOut, err)
		return
	}
	conn, err := connectSQL(ctx, u, sh.s.errOut)
	if err != nil {
		printError(sh.s.errOut, err)
		return
	}
	closeSQLConn(ctx, sh.s.conn)
	sh.s.conn = conn
	sh.target = u.User + "@" + hostPort(u)
	sh.database = u.Database
	if err := sh.s.execQuiet(ctx, "SET sql_safe_updates = true"); err != nil {
		fmt.Fprintf(sh.s.errOut, "warning: could not enable sql_safe_updates: %v\n", err)
	}
	fmt.Fprintf(sh.s.out, "# Connected to: %s\n", u.Redacted())
}

// welcome prints the banner of an interactive session.
func (sh *sqlShell) welcome(connURI string) {
	w := sh.s.out
	fmt.Fprintln(w, "#")
	fmt.Fprintln(w, "# Welcome to the vcdb SQL shell.")
	fmt.Fprintln(w, "# All statements must be terminated by a semicolon.")
	fmt.Fprintln(w, `# To exit, type: \q.`)
	fmt.Fprintln(w, "#")
	if v := sh.s.conn.ParameterStatus("server_version"); v != "" {
		fmt.Fprintf(w, "# Server version: %s\n", v)
	}
	fmt.Fprintf(w, "# Connected to: %s\n", connURI)
	fmt.Fprintln(w, "#")
	fmt.Fprintln(w, `# Enter \? for a brief introduction.`)
	fmt.Fprintln(w, "#")
}
