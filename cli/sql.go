package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/urfave/cli/v2"
	"github.com/vcdb/vcdb/certs"
	"golang.org/x/term"
)

// `vcdb sql` (contract §1): an interactive shell on a terminal, a batch tool
// with -e, -f or statements on stdin. It connects with pgx's pgconn through
// certs.ParseURI, the parser vcdb's other clients share, runs statements with
// the simple protocol and prints text results.
//
// Connection settings come from --url (default
// postgresql://root@localhost:26257/defaultdb), overridden part by part by
// --host, --port, --user and --database. Without sslmode in the URL,
// --insecure means sslmode=disable and otherwise sslmode=verify-full with
// ca.crt and, when present, client.<user>.crt/.key from --certs-dir; a URL
// that asks for verification but names no certificates gets them from
// --certs-dir the same way (the connection reference of the fact sheet,
// §2.7, writes URLs like that).

func init() { register(sqlCommand) }

// defaultSQLURL is the server `vcdb sql` reaches without flags.
const defaultSQLURL = "postgresql://root@localhost:26257/defaultdb"

// sqlConnectTimeout bounds connecting when the URL sets no connect_timeout,
// so a shell pointed at nothing fails instead of hanging.
const sqlConnectTimeout = 15 * time.Second

// stmtList collects repeated -e flags. urfave/cli's StringSliceFlag would
// split each value at commas, turning `-e "SELECT 1, 2"` into two
// statements; this flag value keeps every occurrence whole.
//
// urfave/cli registers one value under both names (-e and --execute) and,
// after parsing, copies the value from the name used to the other by calling
// Set(Serialize()). That copy is redundant here, since both names share this
// object, so Serialize returns a marker that Set ignores; the marker starts
// with a NUL byte, which no command-line argument can contain.
type stmtList struct{ stmts []string }

const stmtListSyncMarker = "\x00vcdb:execute-sync"

func (l *stmtList) Set(v string) error {
	if v != stmtListSyncMarker {
		l.stmts = append(l.stmts, v)
	}
	return nil
}
func (l *stmtList) String() string    { return strings.Join(l.stmts, "; ") }
func (l *stmtList) Serialize() string { return stmtListSyncMarker }

func sqlCommand() *cli.Command {
	return &cli.Command{
		Name:  "sql",
		Usage: "open a SQL shell, or run statements from -e, -f or stdin",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "url", Usage: "connection URL (postgresql://...)", EnvVars: []string{"VCDB_URL"}},
			&cli.StringFlag{Name: "host", Usage: "server host (overrides the URL's)"},
			&cli.IntFlag{Name: "port", Aliases: []string{"p"}, Usage: "server port (overrides the URL's)"},
			&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "user (overrides the URL's)"},
			&cli.StringFlag{Name: "database", Aliases: []string{"d"}, Usage: "database (overrides the URL's)"},
			certsDirFlag(),
			&cli.BoolFlag{Name: "insecure", Usage: "connect without TLS (to a node started with --insecure)"},
			&cli.GenericFlag{Name: "execute", Aliases: []string{"e"}, Value: &stmtList{},
				Usage: "statement(s) to run, then exit; may be repeated"},
			&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Usage: "file of statements to run, then exit"},
			&cli.StringFlag{Name: "format", Usage: "output format: table, csv or tsv (default: table on a terminal, tsv otherwise)"},
		},
		Action: runSQL,
	}
}

func runSQL(c *cli.Context) error {
	if c.NArg() != 0 {
		return errors.Newf("sql takes no arguments, got %q (use -e for statements)", c.Args().Slice())
	}
	execs := c.Generic("execute").(*stmtList).stmts
	file := c.String("file")
	if len(execs) > 0 && file != "" {
		return errors.New("give -e or -f, not both")
	}
	stdinFile, stdinTTY := terminalReader(c.App.Reader)
	stdoutFile, _ := c.App.Writer.(*os.File)
	stdoutTTY := stdoutFile != nil && term.IsTerminal(int(stdoutFile.Fd()))
	interactive := len(execs) == 0 && file == "" && stdinTTY

	format := c.String("format")
	if format == "" {
		format = formatTSV
		if stdoutTTY {
			format = formatTable
		}
	}
	if format != formatTable && format != formatCSV && format != formatTSV {
		return errors.Newf("unknown --format %q (want table, csv or tsv)", format)
	}
	// A file is read before connecting, so that a wrong path fails without
	// a server.
	var text string
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return errors.Wrap(err, "reading -f")
		}
		text = string(data)
	}

	var password func() (string, error)
	if stdinTTY {
		password = func() (string, error) {
			fmt.Fprint(c.App.ErrWriter, "Enter password: ")
			pw, err := term.ReadPassword(int(stdinFile.Fd()))
			fmt.Fprintln(c.App.ErrWriter)
			return string(pw), errors.Wrap(err, "reading the password")
		}
	}
	u, err := sqlConnURI(c, password)
	if err != nil {
		return err
	}
	if interactive {
		return runSQLShell(c, u, format, nil)
	}

	ctx := context.Background()
	conn, err := connectSQL(ctx, u, c.App.ErrWriter)
	if err != nil {
		return err
	}
	defer closeSQLConn(ctx, conn)
	s := &sqlSession{conn: conn, out: c.App.Writer, errOut: c.App.ErrWriter, format: format, now: time.Now}
	switch {
	case len(execs) > 0:
		// Each -e runs in turn; statements inside one are split too, so an
		// error stops at the failing statement.
		for _, e := range execs {
			if err := s.runBatch(ctx, e); err != nil {
				return err
			}
		}
		return nil
	case file == "":
		data, err := io.ReadAll(c.App.Reader)
		if err != nil {
			return errors.Wrap(err, "reading stdin")
		}
		text = string(data)
	}
	return s.runBatch(ctx, text)
}

// terminalReader returns r as a file and whether it is a terminal.
func terminalReader(r io.Reader) (*os.File, bool) {
	f, ok := r.(*os.File)
	return f, ok && term.IsTerminal(int(f.Fd()))
}

func closeSQLConn(ctx context.Context, conn *pgconn.PgConn) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}

// openDemoShell opens the interactive shell on the server at uri, as `vcdb
// sql --url=uri` on a terminal does, with demo's `\demo` commands; `vcdb
// demo` uses it. stdin (c.App.Reader) must be a terminal.
func openDemoShell(c *cli.Context, uri string, demo demoRunner) error {
	u, err := certs.ParseURIFields(uri)
	if err != nil {
		return err
	}
	return runSQLShell(c, u, formatTable, demo)
}

// runSQLShell connects and runs the interactive shell with the terminal's
// line editor and the user's history file; demo, when not nil, runs the
// `\demo` commands.
func runSQLShell(c *cli.Context, u *certs.URI, format string, demo demoRunner) error {
	stdinFile, ok := terminalReader(c.App.Reader)
	if !ok {
		return errors.New("the interactive shell needs a terminal on stdin; use -e, -f or pipe statements")
	}
	ctx := context.Background()
	conn, err := connectSQL(ctx, u, c.App.ErrWriter)
	if err != nil {
		return err
	}
	defer closeSQLConn(ctx, conn)
	s := &sqlSession{conn: conn, out: c.App.Writer, errOut: c.App.ErrWriter, format: format, now: time.Now,
		showTimes: format == formatTable}
	sh := newShell(s, u, newTermLineReader(int(stdinFile.Fd()), stdinFile, c.App.Writer, loadHistory(historyPath())))
	sh.cancelOnInterrupt = true
	sh.demo = demo
	return sh.start(ctx, u)
}

// newShell makes the interactive shell for a connection.
func newShell(s *sqlSession, u *certs.URI, lr lineReader) *sqlShell {
	return &sqlShell{
		s:        s,
		lr:       lr,
		target:   u.User + "@" + hostPort(u),
		database: u.Database,
	}
}

// start enables safe updates, prints the banner and runs the loop.
func (sh *sqlShell) start(ctx context.Context, u *certs.URI) error {
	// Interactive sessions refuse statements that are easy to regret
	// (contract §1); batch runs do not.
	safeErr := sh.s.execQuiet(ctx, "SET sql_safe_updates = true")
	sh.welcome(u.Redacted())
	if safeErr != nil {
		fmt.Fprintf(sh.s.errOut, "warning: could not enable sql_safe_updates: %v\n", safeErr)
	}
	if sh.database == "" {
		sh.refreshDatabase(ctx)
	}
	return sh.run(ctx)
}

func hostPort(u *certs.URI) string {
	if strings.Contains(u.Host, ":") {
		return "[" + u.Host + "]:" + strconv.Itoa(int(u.Port))
	}
	return u.Host + ":" + strconv.Itoa(int(u.Port))
}

// sqlConnURI combines --url with the other connection flags. password, when
// not nil, is asked for a password when the connection is secure, has no
// client certificate and the URL gives no password.
func sqlConnURI(c *cli.Context, password func() (string, error)) (*certs.URI, error) {
	raw := c.String("url")
	if raw == "" {
		raw = defaultSQLURL
	}
	u, err := certs.ParseURIFields(raw)
	if err != nil {
		return nil, err
	}
	// ParseURIFields reports a missing sslmode as verify-full; whether it was
	// written decides how --insecure and --certs-dir apply.
	explicitMode := false
	if parsed, err := url.Parse(raw); err == nil {
		explicitMode = parsed.Query().Has("sslmode")
	}
	if c.IsSet("host") {
		// --host=HOST:PORT is accepted, as by CockroachDB.
		h := c.String("host")
		if host, port, err := net.SplitHostPort(h); err == nil {
			p, err := strconv.ParseUint(port, 10, 16)
			if err != nil || p == 0 {
				return nil, errors.Newf("invalid port in --host %q", h)
			}
			h, u.Port = host, uint16(p)
		}
		u.Host = h
	}
	if c.IsSet("port") {
		p := c.Int("port")
		if p <= 0 || p > 65535 {
			return nil, errors.Newf("invalid --port %d", p)
		}
		u.Port = uint16(p)
	}
	if c.IsSet("user") {
		user, err := certs.NormalizeUser(c.String("user"))
		if err != nil {
			return nil, err
		}
		u.User = user
	}
	if c.IsSet("database") {
		u.Database = c.String("database")
	}

	if c.Bool("insecure") {
		if explicitMode && u.SSLMode != certs.SSLModeDisable {
			return nil, errors.Newf("--insecure conflicts with sslmode=%s in --url", u.SSLMode)
		}
		u.SSLMode = certs.SSLModeDisable
		return u, nil
	}
	if u.SSLMode == certs.SSLModeDisable {
		return u, nil
	}
	dir := c.String("certs-dir")
	if u.RootCert == "" && u.SSLMode != certs.SSLModeRequire && !u.SSLInline {
		ca := filepath.Join(dir, certs.CACertFilename)
		if _, err := os.Stat(ca); err != nil {
			return nil, errors.Newf("cannot find %s: give --certs-dir, a URL with sslrootcert, or --insecure for a node started with --insecure", ca)
		}
		u.RootCert = ca
	}
	if u.Cert == "" && u.Key == "" && !u.SSLInline {
		crt := filepath.Join(dir, certs.ClientCertFilename(u.User))
		key := filepath.Join(dir, certs.ClientKeyFilename(u.User))
		if fileExists(crt) && fileExists(key) {
			u.Cert, u.Key = crt, key
		}
	}
	if u.Cert == "" && u.Password == "" && password != nil {
		pw, err := password()
		if err != nil {
			return nil, err
		}
		u.Password = pw
	}
	return u, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// connectSQL dials the server, printing notices to errOut.
func connectSQL(ctx context.Context, u *certs.URI, errOut io.Writer) (*pgconn.PgConn, error) {
	cfg, err := u.PGConnConfig()
	if err != nil {
		return nil, err
	}
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		fmt.Fprintf(errOut, "%s: %s\n", n.Severity, n.Message)
	}
	if cfg.ConnectTimeout == 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, sqlConnectTimeout)
		defer cancel()
	}
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		var pg *pgconn.PgError
		if errors.As(err, &pg) {
			return nil, &sqlError{pg: pg}
		}
		return nil, errors.Newf("cannot connect to %s: %v", hostPort(u), unwrapConnectError(err))
	}
	return conn, nil
}

// unwrapConnectError drops what pgconn adds around the cause ("failed to
// connect to user=... database=...", then "host:port (host):"), since the
// message names the address once already.
func unwrapConnectError(err error) error {
	var ce *pgconn.ConnectError
	if !errors.As(err, &ce) || ce.Unwrap() == nil {
		return err
	}
	inner := ce.Unwrap()
	// One address gives one error, possibly inside an errors.Join.
	if j, ok := inner.(interface{ Unwrap() []error }); ok && len(j.Unwrap()) == 1 {
		inner = j.Unwrap()[0]
	}
	if u, ok := inner.(interface{ Unwrap() error }); ok && u.Unwrap() != nil {
		inner = u.Unwrap()
	}
	return inner
}
