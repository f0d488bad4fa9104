package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/util/humanizeutil"
	"github.com/cockroachdb/errors"
	"github.com/urfave/cli/v2"
	"github.com/vcdb/vcdb/server"
	"github.com/vcdb/vcdb/sql"
)

// `vcdb start-single-node` (contract §1). The node's lifecycle lives in
// package server (server.StartNode, Node.Shutdown); this file parses the
// flags, prints the start-up banner, handles signals and --background.

func init() { register(startCommand) }

// notifyFDEnv tells a child started by --background which inherited file
// descriptor to report readiness on.
const notifyFDEnv = "VCDB_BACKGROUND_NOTIFY_FD"

// stopSignals returns the channel start-single-node stops on; tests
// replace it to stop a node without signalling the test process.
var stopSignals = func() (<-chan os.Signal, func()) {
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	return ch, func() { signal.Stop(ch) }
}

func startCommand() *cli.Command {
	return &cli.Command{
		Name:  "start-single-node",
		Usage: "start a single-node vcdb",
		Description: "Starts a node that serves SQL (Postgres wire protocol) on --listen-addr and\n" +
			"HTTP (/health, /metrics, /debug/pprof/) on --http-addr. SIGINT or SIGTERM\n" +
			"drains it: running statements may finish within --drain-timeout; a second\n" +
			"signal stops it at once.\n\n" +
			"Secure mode is the default: clients must use TLS (the node presents node.crt\n" +
			"from --certs-dir, made with `vcdb cert create-ca` and `vcdb cert create-node`)\n" +
			"and log in with a client certificate (root only this way) or a password\n" +
			"(SCRAM-SHA-256). --insecure serves plaintext and trusts user names.\n\n" +
			"--virtualized creates the application virtual cluster main and routes\n" +
			"connections to it by default; --virtualized-empty only routes to main. The\n" +
			"system virtual cluster stays reachable with options=-ccluster=system.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "store", Value: "vcdb-data", Usage: "store directory (`PATH` or path=PATH), or type=mem for an in-memory store"},
			&cli.StringFlag{Name: "listen-addr", Value: "localhost:26257", Usage: "SQL address `HOST:PORT` (port 0 picks a free port)"},
			&cli.StringFlag{Name: "http-addr", Value: "localhost:8080", Usage: "HTTP address `HOST:PORT`"},
			certsDirFlag(),
			&cli.BoolFlag{Name: "insecure", Usage: "serve without TLS and trust user names (testing only)"},
			&cli.StringFlag{Name: "cache", Value: defaultCache, Usage: "Pebble block cache: a `SIZE` (512MiB, 2GB) or a fraction of the memory (25%, .25)"},
			&cli.StringFlag{Name: "password-method", Value: "scram-sha-256", Usage: "how password users authenticate: scram-sha-256, or cleartext (over TLS) for clients without SCRAM"},
			&cli.BoolFlag{Name: "virtualized", Usage: "create virtual cluster main and route connections to it"},
			&cli.BoolFlag{Name: "virtualized-empty", Usage: "route connections to virtual cluster main, which is not created"},
			&cli.BoolFlag{Name: "background", Usage: "start in the background and return once the node accepts SQL"},
			&cli.StringFlag{Name: "pid-file", Usage: "write the process id to `FILE` once the node accepts SQL"},
			&cli.StringFlag{Name: "listening-url-file", Usage: "write the SQL URL to `FILE` once the node accepts SQL"},
			&cli.DurationFlag{Name: "drain-timeout", Value: server.DefaultDrainTimeout, Usage: "how long a graceful shutdown lets running statements finish"},
		},
		Action: runStart,
	}
}

// startOptions are the validated flags.
type startOptions struct {
	cfg              server.NodeConfig
	pidFile          string
	listeningURLFile string
	background       bool
}

func parseStartFlags(c *cli.Context) (startOptions, error) {
	var o startOptions
	if c.Args().Len() > 0 {
		return o, errors.Newf("start-single-node takes no arguments (got %q)", c.Args().Slice())
	}
	if c.Bool("virtualized") && c.Bool("virtualized-empty") {
		return o, errors.New("--virtualized and --virtualized-empty are mutually exclusive")
	}
	dir, inMem, err := parseStoreSpec(c.String("store"))
	if err != nil {
		return o, err
	}
	cache, err := parseCacheSize(c.String("cache"), availableMemory)
	if err != nil {
		return o, err
	}
	method, err := server.ParsePasswordMethod(c.String("password-method"))
	if err != nil {
		return o, errors.Wrap(err, "--password-method")
	}
	o.cfg = server.NodeConfig{
		StoreDir:       dir,
		InMemory:       inMem,
		ListenAddr:     c.String("listen-addr"),
		HTTPAddr:       c.String("http-addr"),
		Insecure:       c.Bool("insecure"),
		CertsDir:       c.String("certs-dir"),
		PasswordMethod: method,
		CacheSize:      cache,
		DrainTimeout:   c.Duration("drain-timeout"),
	}
	switch {
	case c.Bool("virtualized"):
		o.cfg.Init = sql.InitVirtualized
	case c.Bool("virtualized-empty"):
		o.cfg.Init = sql.InitVirtualizedEmpty
	}
	o.pidFile = c.String("pid-file")
	o.listeningURLFile = c.String("listening-url-file")
	o.background = c.Bool("background")
	return o, nil
}

// defaultCache is --cache's default: a quarter of the memory, as
// CockroachDB's production checklist recommends for --cache ("--cache=.25"),
// rather than its built-in 128 MiB. Profiles of point SELECTs showed most
// of their time in block-cache misses (pread and block decoding) with
// Pebble's 64 MiB default, which is smaller than the benchmark's working
// set; the PostgreSQL it is compared with runs with shared_buffers=1GB.
// Pebble fills the cache as blocks are read, so a large limit costs no
// memory until data is read. Measured on the benchmark's kv table
// (1,000,000 rows of 64 bytes, 77 MB store on disk), point SELECTs at 8
// connections, 5 interleaved 20 s runs: 28,700 ops/s (median) with 64 MiB,
// 34,700 ops/s with 25% (+21%); Pebble's block reads fell from 24% to 9%
// of the node's CPU and pread from 5.6% to almost nothing.
const defaultCache = "25%"

// minDefaultCache is the least cache a fraction gives (CockroachDB's
// built-in default), for machines or containers with little memory.
const minDefaultCache = 128 << 20

// parseCacheSize reads --cache: a fraction of the memory available to
// the process ("25%", ".25", "0.25"), at least minDefaultCache, or a size
// ("1GiB", "512MB", "268435456").
func parseCacheSize(s string, memory func() (int64, error)) (int64, error) {
	s = strings.TrimSpace(s)
	frac, isFrac := -1.0, false
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil {
			return 0, errors.Newf("--cache=%s: not a percentage", s)
		}
		frac, isFrac = f/100, true
	} else if f, err := strconv.ParseFloat(s, 64); err == nil && f < 1 {
		frac, isFrac = f, true
	}
	if isFrac {
		if frac <= 0 || frac > 0.9 {
			return 0, errors.Newf("--cache=%s: the fraction of memory must be above 0 and at most 90%%", s)
		}
		total, err := memory()
		if err != nil {
			return 0, errors.Wrapf(err, "--cache=%s: reading the memory size (give a size such as 1GiB instead)", s)
		}
		size := int64(frac * float64(total))
		if size < minDefaultCache {
			size = minDefaultCache
		}
		return size, nil
	}
	size, err := humanizeutil.ParseBytes(s)
	if err != nil {
		return 0, errors.Newf("--cache=%s: not a size (512MiB, 2GB) or a fraction (25%%, .25)", s)
	}
	if size < 1<<20 {
		return 0, errors.Newf("--cache=%s: at least 1MiB", s)
	}
	return size, nil
}

// availableMemory is the memory the process may use: the machine's
// (/proc/meminfo MemTotal), or the cgroup's limit when lower (a
// container).
func availableMemory() (int64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	var total int64
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					total = kb << 10
				}
			}
		}
	}
	if total <= 0 {
		return 0, errors.New("no MemTotal in /proc/meminfo")
	}
	for _, p := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		if b, err := os.ReadFile(p); err == nil {
			if limit, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && limit > 0 && limit < total {
				total = limit
			}
		}
	}
	return total, nil
}

// parseStoreSpec reads --store: a directory, path=DIR, or type=mem
// (CockroachDB's spellings; a size=... attribute is accepted and ignored,
// since vcdb does not cap the store's size).
func parseStoreSpec(spec string) (dir string, inMem bool, err error) {
	if spec == "" {
		return "", false, errors.New("--store must not be empty")
	}
	if !strings.Contains(spec, "=") {
		return spec, false, nil
	}
	for _, field := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(field, "=")
		if !ok {
			return "", false, errors.Newf("--store=%s: %q is not key=value", spec, field)
		}
		switch strings.TrimSpace(k) {
		case "path":
			dir = v
		case "type":
			if v != "mem" {
				return "", false, errors.Newf("--store=%s: unknown store type %q (only type=mem)", spec, v)
			}
			inMem = true
		case "size":
		default:
			return "", false, errors.Newf("--store=%s: unknown attribute %q", spec, k)
		}
	}
	if inMem && dir != "" {
		return "", false, errors.Newf("--store=%s: an in-memory store has no path", spec)
	}
	if !inMem && dir == "" {
		return "", false, errors.Newf("--store=%s: missing path", spec)
	}
	return dir, inMem, nil
}

func runStart(c *cli.Context) error {
	o, err := parseStartFlags(c)
	if err != nil {
		return err
	}
	if o.background && os.Getenv(notifyFDEnv) == "" {
		return startInBackground(c, o)
	}
	var notify *os.File
	if fd := os.Getenv(notifyFDEnv); fd != "" {
		n, err := strconv.Atoi(fd)
		if err != nil {
			return errors.Newf("bad %s=%q", notifyFDEnv, fd)
		}
		notify = os.NewFile(uintptr(n), "notify")
		_ = os.Unsetenv(notifyFDEnv)
	}
	err = serveNode(c.Context, c.App.Writer, c.App.ErrWriter, o, notify)
	if err != nil && notify != nil {
		fmt.Fprintf(notify, "error: %v\n", err)
		_ = notify.Close()
	}
	return err
}

// serveNode starts the node, prints the banner (and, in a --background
// child, reports it on notify), then waits for a stop signal and shuts the
// node down gracefully; a second signal cuts the drain short.
func serveNode(ctx context.Context, stdout, stderr io.Writer, o startOptions, notify *os.File) error {
	if o.cfg.Insecure {
		fmt.Fprint(stderr, insecureWarning)
	}
	o.cfg.Logf = log.New(stderr, "", log.LstdFlags).Printf
	sigs, stopNotify := stopSignals()
	defer stopNotify()
	started := time.Now()
	node, err := server.StartNode(ctx, o.cfg)
	if err != nil {
		// Main prints only the message; the hint says what to do.
		if hint := errors.FlattenHints(err); hint != "" {
			return errors.Newf("%v\nHINT: %s", err, hint)
		}
		return err
	}
	banner := startBanner(node, started)
	if err := writeReadyFiles(node, o); err != nil {
		node.Close()
		return err
	}
	defer func() {
		if o.pidFile != "" {
			_ = os.Remove(o.pidFile)
		}
	}()
	fmt.Fprint(stdout, banner)
	if notify != nil {
		fmt.Fprintf(notify, "ok\n%s", banner)
		_ = notify.Close()
	}
	select {
	case sig := <-sigs:
		fmt.Fprintf(stderr, "received %s: draining (up to %s; signal again to stop at once)\n", sig, o.cfg.DrainTimeout)
	case <-node.Done():
		fmt.Fprintf(stderr, "node stopped serving: %v\n", node.Err())
	}
	shutdownCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-shutdownCtx.Done():
		}
	}()
	err = node.Shutdown(shutdownCtx)
	fmt.Fprintln(stderr, "shutdown completed")
	if err == nil {
		err = node.Err()
	}
	return err
}

const insecureWarning = `*
* WARNING: RUNNING IN INSECURE MODE!
*
* - Any client that can reach the SQL port can log in as any user,
*   without a password, and read or write any data.
* - Traffic is not encrypted.
* This mode is for testing only.
*
`

func startBanner(n *server.Node, started time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "vcdb node starting at %s (took %.1fs)\n", started.UTC().Format("2006-01-02 15:04:05.000000 -0700 MST"), time.Since(started).Seconds())
	row := func(k, v string) { fmt.Fprintf(&b, "%-21s%s\n", k+":", v) }
	row("build", "vcdb "+BinaryVersion)
	row("webui", n.HTTPURL())
	row("sql", n.SQLURL())
	if target := n.Host().DefaultTargetCluster(); target != server.SystemClusterName {
		// Connections without a cluster option go to the default target
		// cluster; administration happens in the system VC.
		row("sql (system)", n.SystemSQLURL())
		row("default cluster", target)
	}
	if n.InMemory() {
		row("store[0]", "type=mem")
	} else {
		row("store[0]", "path="+n.StorePath())
	}
	row("pid", strconv.Itoa(os.Getpid()))
	return b.String()
}

// writeReadyFiles writes --pid-file and --listening-url-file, each
// atomically (a reader polling for the file never sees it half written).
func writeReadyFiles(n *server.Node, o startOptions) error {
	if o.pidFile != "" {
		if err := writeFileAtomic(o.pidFile, strconv.Itoa(os.Getpid())+"\n"); err != nil {
			return errors.Wrap(err, "writing --pid-file")
		}
	}
	if o.listeningURLFile != "" {
		if err := writeFileAtomic(o.listeningURLFile, n.SQLURL()+"\n"); err != nil {
			return errors.Wrap(err, "writing --listening-url-file")
		}
	}
	return nil
}

func writeFileAtomic(path, content string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// startInBackground re-executes this command detached from the terminal
// (its own session, stdin from /dev/null, output to a log file in the
// store directory or discarded for an in-memory store) and returns once
// the child reports on an inherited pipe that it accepts SQL, printing
// the child's banner; or with the child's error, HINT included, if it
// failed to start. The insecure-mode warning is printed here, since the
// child's own goes to the log.
func startInBackground(c *cli.Context, o startOptions) error {
	exe, err := os.Executable()
	if err != nil {
		return errors.Wrap(err, "--background: finding the vcdb binary")
	}
	// The child's stderr goes to its log file; the warning is for the
	// person at the terminal, as in the foreground.
	if o.cfg.Insecure {
		fmt.Fprint(c.App.ErrWriter, insecureWarning)
	}
	var args []string
	for _, a := range os.Args[1:] {
		if a == "--background" || a == "-background" || strings.HasPrefix(a, "--background=") || strings.HasPrefix(a, "-background=") {
			continue
		}
		args = append(args, a)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	out, logPath, err := backgroundLog(o)
	if err != nil {
		w.Close()
		return err
	}
	defer out.Close()
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), notifyFDEnv+"=3")
	cmd.ExtraFiles = []*os.File{w}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return errors.Wrap(err, "--background: starting the node")
	}
	// Only the child holds the write end now: EOF means it reported or
	// died.
	w.Close()
	report, _ := io.ReadAll(bufio.NewReader(r))
	status, rest, _ := strings.Cut(string(report), "\n")
	if status == "ok" {
		fmt.Fprint(c.App.Writer, rest)
		if logPath != "" {
			fmt.Fprintf(c.App.Writer, "%-21s%s\n", "logs:", logPath)
		}
		return cmd.Process.Release()
	}
	_ = cmd.Wait()
	// The child's report is the error as the foreground prints it, with
	// its HINT line(s) after the first line: keep all of it.
	if msg, ok := strings.CutPrefix(string(report), "error: "); ok {
		return errors.Newf("the node failed to start: %s", strings.TrimRight(msg, "\n"))
	}
	if logPath != "" {
		return errors.Newf("the node exited before accepting SQL; see %s", logPath)
	}
	return errors.New("the node exited before accepting SQL")
}

func backgroundLog(o startOptions) (*os.File, string, error) {
	if o.cfg.InMemory {
		f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		return f, "", err
	}
	dir := filepath.Join(o.cfg.StoreDir, "logs")
	if err := os.MkdirAll(dir, 0755); err != nil {
		return nil, "", errors.Wrap(err, "--background: creating the log directory")
	}
	path, _ := filepath.Abs(filepath.Join(dir, "vcdb.log"))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0644)
	return f, path, err
}
