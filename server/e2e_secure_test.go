package server

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/vcdb/vcdb/certs"
)

// End-to-end tests of secure mode and virtual clusters against the real
// binary, with certificates made by `vcdb cert` and real clients (psql,
// pgx, the shared URI parser of package certs).

// cliCerts are certificates made with the binary's `vcdb cert` commands.
type cliCerts struct {
	// dir is the certs directory: ca.crt, node.crt/.key for localhost
	// only (so 127.0.0.1 is a wrong host name), client.root.crt/.key.
	dir   string
	caKey string
	// otherDir has another CA's ca.crt and client.root.crt/.key.
	otherDir string
	// expiredDir has ca.crt and an expired client.root.crt/.key from the
	// right CA (made with package certs, since `vcdb cert` has no clock
	// flag).
	expiredDir string
}

var cliCertsOnce struct {
	sync.Once
	c   *cliCerts
	err error
}

// testCLICerts makes the certificates once per test binary run, in a
// directory TestMain removes.
func testCLICerts(t *testing.T) *cliCerts {
	t.Helper()
	bin := vcdbBinary(t)
	cliCertsOnce.Do(func() {
		cliCertsOnce.c, cliCertsOnce.err = makeCLICerts(bin)
	})
	if cliCertsOnce.err != nil {
		t.Fatal(cliCertsOnce.err)
	}
	return cliCertsOnce.c
}

var cliCertsRoot string

func makeCLICerts(bin string) (*cliCerts, error) {
	root, err := os.MkdirTemp("", "vcdb-e2e-certs-")
	if err != nil {
		return nil, err
	}
	cliCertsRoot = root
	c := &cliCerts{
		dir:        filepath.Join(root, "certs"),
		caKey:      filepath.Join(root, "safe", "ca.key"),
		otherDir:   filepath.Join(root, "other"),
		expiredDir: filepath.Join(root, "expired"),
	}
	otherKey := filepath.Join(root, "other-safe", "ca.key")
	for _, args := range [][]string{
		{"cert", "create-ca", "--certs-dir", c.dir, "--ca-key", c.caKey},
		// Flags after the positional arguments, as in CockroachDB's docs.
		{"cert", "create-node", "localhost", "--certs-dir", c.dir, "--ca-key", c.caKey},
		{"cert", "create-client", "root", "--certs-dir", c.dir, "--ca-key", c.caKey},
		{"cert", "create-ca", "--certs-dir", c.otherDir, "--ca-key", otherKey},
		{"cert", "create-client", "root", "--certs-dir", c.otherDir, "--ca-key", otherKey},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
		cancel()
		if err != nil {
			return nil, errors.Newf("vcdb %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if err := copyFile(filepath.Join(c.dir, "ca.crt"), filepath.Join(c.expiredDir, "ca.crt")); err != nil {
		return nil, err
	}
	// Issued 30 minutes ago for one minute: expired, by the right CA
	// (whose validity starts an hour before it was made).
	past := time.Now().Add(-30 * time.Minute)
	if err := certs.CreateClient(c.expiredDir, c.caKey, "root",
		certs.Options{Now: func() time.Time { return past }, Lifetime: time.Minute}); err != nil {
		return nil, err
	}
	return c, nil
}

// startSecureProcNode starts a secure node (certificates of c) listening
// on localhost, the only name of its node certificate.
func startSecureProcNode(t *testing.T, c *cliCerts, store string, extra ...string) *procNode {
	t.Helper()
	return startNodeProcess(t, append([]string{"--store=" + store, "--certs-dir=" + c.dir,
		"--listen-addr=localhost:0", "--http-addr=127.0.0.1:0"}, extra...)...)
}

// e2eScript runs a script of testdata/server/e2e against a running node.
// Directives (the first input line of psql and pgx is the connection
// string, URL or keyword/value):
//
//	psql [password=PW]        psql -X -v ON_ERROR_STOP=1 -f - with the
//	                          rest of the input; prints the output and
//	                          the exit status
//	pgx [password=PW] [certs-parser]   pgx.Connect (or
//	                          certs.ParsePGXConfig, the shared parser that
//	                          understands sslinline); each further input
//	                          line is one statement (simple protocol)
//	encode-uri                vcdb encode-uri with the input's words as
//	                          arguments; the output becomes {URI}
//	node-log                  the node's stderr lines that contain one of
//	                          the input lines
//	restart                   stop the node (SIGTERM) and start it again
//	                          on the same store, with the input's words as
//	                          extra flags
//
// Templates in arguments and input: {HOST} (localhost:port), {PORT},
// {CERTS}, {OTHER} and {EXPIRED} (certificate directories), {URI}.
type e2eScript struct {
	t     *testing.T
	c     *cliCerts
	node  *procNode
	start func(extra ...string) *procNode
	uri   string
}

func (s *e2eScript) expand(str string) string {
	port := s.node.port(s.t)
	return strings.NewReplacer(
		"{HOST}", "localhost:"+port, "{PORT}", port,
		"{CERTS}", s.c.dir, "{OTHER}", s.c.otherDir, "{EXPIRED}", s.c.expiredDir,
		"{URI}", s.uri,
	).Replace(str)
}

// scrub replaces what changes from run to run in client output.
func (s *e2eScript) scrub(out string) string {
	port := s.node.port(s.t)
	out = strings.NewReplacer(
		s.c.dir, "{CERTS}", s.c.otherDir, "{OTHER}", s.c.expiredDir, "{EXPIRED}",
		":"+port, ":{PORT}", "port "+port, "port {PORT}",
	).Replace(out)
	out = pemText.ReplaceAllString(out, "{PEM}")
	return ipv6Line.ReplaceAllString(out, "")
}

// openError is the system's reason for failing to open a file.
var openError = regexp.MustCompile(`: (no such file or directory|file name too long)`)

// pemText matches a PEM block as text or query-escaped (the CA differs
// from run to run).
var pemText = regexp.MustCompile(`(?s)-----BEGIN.*?-----END[^-]*-----(%0A|\n)?`)

// ipv6Line drops libpq's report of a first attempt on ::1 (localhost
// resolves to both; the node listens on 127.0.0.1), which depends on the
// machine's resolver.
var ipv6Line = regexp.MustCompile(`(?m)^psql: error: connection to server at "localhost" \(::1\).*\n(\s+Is the server running.*\n)?`)

// firstLine splits a directive's input into its first line (a
// connection string) and the rest.
func firstLine(input string) (string, string) {
	first, rest, _ := strings.Cut(input, "\n")
	return strings.TrimSpace(first), rest
}

func (s *e2eScript) run(t *testing.T, d *datadriven.TestData) string {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	switch d.Cmd {
	case "psql":
		conninfo, input := firstLine(d.Input)
		cmd := exec.CommandContext(ctx, "psql", "-X", "-v", "ON_ERROR_STOP=1", "-f", "-", s.expand(conninfo))
		cmd.Stdin = strings.NewReader(s.expand(input) + "\n")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C.UTF-8", "PAGER=", "PSQL_PAGER=", "HOME=" + t.TempDir()}
		if d.HasArg("password") {
			var pw string
			d.ScanArgs(t, "password", &pw)
			cmd.Env = append(cmd.Env, "PGPASSWORD="+pw)
		}
		out, err := cmd.CombinedOutput()
		code := 0
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			code = exitErr.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return s.scrub(string(out)) + fmt.Sprintf("exit status %d\n", code)
	case "pgx":
		u, input := firstLine(d.Input)
		u = s.expand(u)
		var cfg *pgx.ConnConfig
		var err error
		if d.HasArg("certs-parser") {
			cfg, err = certs.ParsePGXConfig(u)
		} else {
			cfg, err = pgx.ParseConfig(u)
		}
		if err != nil {
			// PEM text taken as a file name fails with ENOENT or
			// ENAMETOOLONG depending on where the random base64 has its
			// slashes.
			msg := openError.ReplaceAllString(s.scrub(err.Error()), ": cannot open")
			return "parse error: " + msg + "\n"
		}
		if d.HasArg("password") {
			d.ScanArgs(t, "password", &cfg.Password)
		}
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return "connect error: " + s.scrub(pgErrorString(err)) + "\n"
		}
		defer conn.Close(context.Background())
		var out strings.Builder
		for _, stmt := range strings.Split(s.expand(input), "\n") {
			if strings.TrimSpace(stmt) == "" {
				continue
			}
			out.WriteString(queryString(ctx, conn, stmt))
		}
		return out.String()
	case "encode-uri":
		out, err := exec.CommandContext(ctx, vcdbBinary(t), append([]string{"encode-uri"}, strings.Fields(s.expand(d.Input))...)...).CombinedOutput()
		if err != nil {
			return fmt.Sprintf("error: %v\n%s", err, out)
		}
		s.uri = strings.TrimSpace(string(out))
		return s.scrub(s.uri) + "\n"
	case "node-log":
		var out strings.Builder
		for _, line := range strings.Split(s.node.stderr.String(), "\n") {
			for _, want := range strings.Split(d.Input, "\n") {
				if want != "" && strings.Contains(line, want) {
					// Drop the timestamp and the client's port.
					if i := strings.Index(line, " authentication"); i >= 0 {
						line = line[i+1:]
					}
					out.WriteString(regexp.MustCompile(`from (127\.0\.0\.1|\[::1\]):\d+`).ReplaceAllString(line, "from CLIENT") + "\n")
					break
				}
			}
		}
		return out.String()
	case "restart":
		if err := s.node.stop(t, syscall.SIGTERM); err != nil {
			t.Fatalf("stopping the node: %v", err)
		}
		s.node = s.start(strings.Fields(d.Input)...)
		return ""
	}
	d.Fatalf(t, "unknown directive %s", d.Cmd)
	return ""
}

// pgErrorString prints a server error as SEVERITY CODE: message (HINT),
// and other errors as they are.
func pgErrorString(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		s := fmt.Sprintf("%s %s: %s", pgErr.Severity, pgErr.Code, pgErr.Message)
		if pgErr.Hint != "" {
			s += " (HINT: " + pgErr.Hint + ")"
		}
		return s
	}
	return err.Error()
}

// queryString runs one statement and prints its rows (tab-separated) or
// its error.
func queryString(ctx context.Context, conn *pgx.Conn, stmt string) string {
	rows, err := conn.Query(ctx, stmt, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return "ERROR " + pgErrorString(err) + "\n"
	}
	var out bytes.Buffer
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return "ERROR " + pgErrorString(err) + "\n"
		}
		strs := make([]string, len(vals))
		for i, v := range vals {
			strs[i] = fmt.Sprint(v)
		}
		out.WriteString(strings.Join(strs, "\t") + "\n")
	}
	if err := rows.Err(); err != nil {
		return out.String() + "ERROR " + pgErrorString(err) + "\n"
	}
	if len(rows.FieldDescriptions()) == 0 {
		out.WriteString(rows.CommandTag().String() + "\n")
	}
	return out.String()
}

// port is the node's SQL port.
func (n *procNode) port(t *testing.T) string {
	addr := n.addr(t)
	return addr[strings.LastIndexByte(addr, ':')+1:]
}

// TestE2ESecure runs testdata/server/e2e/secure against a secure node.
func TestE2ESecure(t *testing.T) {
	c := testCLICerts(t)
	s := &e2eScript{t: t, c: c}
	s.start = func(extra ...string) *procNode { return startSecureProcNode(t, c, "type=mem", extra...) }
	s.node = s.start()
	u, err := url.Parse(s.node.url)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"sslmode":     "verify-full",
		"sslrootcert": filepath.Join(c.dir, "ca.crt"),
		"sslcert":     filepath.Join(c.dir, "client.root.crt"),
		"sslkey":      filepath.Join(c.dir, "client.root.key"),
	} {
		if got := u.Query().Get(k); got != want {
			t.Errorf("printed URL %s: %s=%q, want %q", s.node.url, k, got, want)
		}
	}
	if strings.Contains(s.node.stderr.String(), "INSECURE") {
		t.Errorf("a secure node printed the insecure warning:\n%s", s.node.stderr)
	}
	// The printed URL works as is.
	conn := connectURL(t, s.node.url)
	var user string
	if err := conn.QueryRow(context.Background(), "SELECT current_user").Scan(&user); err != nil || user != "root" {
		t.Fatalf("printed URL: %q %v", user, err)
	}
	datadriven.RunTest(t, "../testdata/server/e2e/secure", s.run)
}

// TestE2EVirtualized runs testdata/server/e2e/virtualized against a secure
// node started with --virtualized.
func TestE2EVirtualized(t *testing.T) {
	c := testCLICerts(t)
	s := &e2eScript{t: t, c: c}
	s.start = func(extra ...string) *procNode {
		return startSecureProcNode(t, c, "type=mem", append([]string{"--virtualized"}, extra...)...)
	}
	s.node = s.start()
	banner := s.node.stdout.String()
	if got := bannerField(banner, "default cluster"); got != "main" {
		t.Errorf("banner's default cluster is %q:\n%s", got, banner)
	}
	if got := bannerField(banner, "sql (system)"); !strings.Contains(got, "options=-ccluster%3Dsystem") {
		t.Errorf("banner's system URL is %q:\n%s", got, banner)
	}
	datadriven.RunTest(t, "../testdata/server/e2e/virtualized", s.run)
}

// TestE2ERestart runs testdata/server/e2e/restart: a --virtualized secure
// node on a disk store, restarted by the script (SIGTERM, then the same
// command; "--no-virtualized" in a restart's input drops the flag).
func TestE2ERestart(t *testing.T) {
	c := testCLICerts(t)
	store := filepath.Join(t.TempDir(), "store")
	s := &e2eScript{t: t, c: c}
	s.start = func(extra ...string) *procNode {
		flags := []string{"--virtualized"}
		for _, f := range extra {
			if f == "--no-virtualized" {
				flags = nil
			} else {
				flags = append(flags, f)
			}
		}
		return startSecureProcNode(t, c, store, flags...)
	}
	s.node = s.start()
	datadriven.RunTest(t, "../testdata/server/e2e/restart", s.run)
}
