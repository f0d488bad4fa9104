package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/errors"
)

// The test's view of the outside world: the binary, certificates made by
// `vcdb cert`, node processes, psql and the HTTP metrics endpoint.

// Bounds of every wait, generous for a loaded 2-core machine.
const (
	startTimeout   = 60 * time.Second
	commandTimeout = 90 * time.Second
	stopTimeout    = 20 * time.Second
)

var testBinary struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// vcdbBinary is $VCDB_BIN, or the module's main package built once into
// a temporary directory that TestMain removes.
func vcdbBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("VCDB_BIN"); p != "" {
		return p
	}
	testBinary.once.Do(func() {
		testBinary.dir, testBinary.err = os.MkdirTemp("", "vcdb-e2e-bin-")
		if testBinary.err != nil {
			return
		}
		testBinary.path = filepath.Join(testBinary.dir, "vcdb")
		out, err := exec.Command("go", "build", "-o", testBinary.path, "github.com/vcdb/vcdb").CombinedOutput()
		if err != nil {
			testBinary.err = errors.Newf("go build: %v\n%s", err, out)
		}
	})
	if testBinary.err != nil {
		t.Fatal(testBinary.err)
	}
	return testBinary.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if testBinary.dir != "" {
		_ = os.RemoveAll(testBinary.dir)
	}
	if certsRoot != "" {
		_ = os.RemoveAll(certsRoot)
	}
	removePrevBinary()
	os.Exit(code)
}

// scriptsDir is testdata/scripts of the module, where psql runs.
func scriptsDir(t testing.TB) string {
	t.Helper()
	d, err := filepath.Abs(filepath.Join("..", "..", "testdata", "scripts"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// clusterCerts is one physical cluster's certificates: its own CA (each
// cluster normally has one, CRDB-PCR-FACTS §2.3), a node certificate for
// localhost and 127.0.0.1 and root's client certificate.
type clusterCerts struct {
	dir   string
	caKey string
}

func (c clusterCerts) caCert() string { return filepath.Join(c.dir, "ca.crt") }

var (
	certsOnce sync.Once
	certsRoot string
	certsErr  error
	allCerts  map[string]clusterCerts
)

// testCerts makes, once per run, the certificates of the two clusters
// with the binary's `vcdb cert` commands, as the set-up page does.
func testCerts(t testing.TB, bin string) map[string]clusterCerts {
	t.Helper()
	certsOnce.Do(func() {
		certsRoot, certsErr = os.MkdirTemp("", "vcdb-e2e-certs-")
		if certsErr != nil {
			return
		}
		allCerts = map[string]clusterCerts{}
		for _, name := range []string{"primary", "standby"} {
			c := clusterCerts{
				dir:   filepath.Join(certsRoot, name, "certs"),
				caKey: filepath.Join(certsRoot, name, "safe", "ca.key"),
			}
			for _, args := range [][]string{
				{"cert", "create-ca", "--certs-dir", c.dir, "--ca-key", c.caKey},
				{"cert", "create-node", "localhost", "127.0.0.1", "--certs-dir", c.dir, "--ca-key", c.caKey},
				{"cert", "create-client", "root", "--certs-dir", c.dir, "--ca-key", c.caKey},
			} {
				if _, err := runCommand(context.Background(), bin, args...); err != nil {
					certsErr = err
					return
				}
			}
			allCerts[name] = c
		}
	})
	if certsErr != nil {
		t.Fatal(certsErr)
	}
	return allCerts
}

// runCommand runs a command to completion within commandTimeout and
// returns its combined output; the error includes the output.
func runCommand(ctx context.Context, bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), errors.Wrapf(err, "%s %s\n%s", filepath.Base(bin), strings.Join(redactArgs(args), " "), out)
	}
	return string(out), nil
}

// redactArgs hides inline certificates in logged command lines.
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = pemText.ReplaceAllString(a, "{PEM}")
	}
	return out
}

// pemText matches a PEM block as text or query-escaped.
var pemText = regexp.MustCompile(`(?s)-----BEGIN.*?-----END[^-]*-----(%0A|\n)?`)

// freePort asks the kernel for a free port on 127.0.0.1. Clusters keep
// their ports across restarts, since the standby's source URI names the
// primary's.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// process is a child process with its output in a shared log.
type process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func startProcess(log io.Writer, name, bin string, args ...string) (*process, error) {
	p := &process{name: name, cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = log, log
	if err := p.cmd.Start(); err != nil {
		return nil, errors.Wrapf(err, "starting %s", name)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL and waits for the process.
func (p *process) kill() error {
	if p.exited() {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
		return nil
	case <-time.After(stopTimeout):
		return errors.Newf("%s (pid %d) did not exit after SIGKILL", p.name, p.cmd.Process.Pid)
	}
}

// interrupt sends SIGINT and waits, killing the process if it does not
// stop in time.
func (p *process) interrupt() error {
	if p.exited() {
		return p.err
	}
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
		return p.err
	case <-time.After(stopTimeout):
		_ = p.kill()
		return errors.Newf("%s did not stop within %s of SIGINT", p.name, stopTimeout)
	}
}

// syncBuffer is a log written by child processes and read by the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// cluster is one physical cluster: a `vcdb start-single-node` process in
// secure mode with an on-disk store, restartable on the same ports.
type cluster struct {
	name     string
	bin      string
	certs    clusterCerts
	store    string
	urlFile  string
	sqlPort  int
	httpPort int
	// initFlag is --virtualized (primary) or --virtualized-empty
	// (standby); it is given at every start, as an operator's unit file
	// would.
	initFlag string
	log      *syncBuffer
	proc     *process
	starts   int
}

func newCluster(t testing.TB, name, bin string, certs clusterCerts, initFlag string) *cluster {
	dir := t.TempDir()
	return &cluster{
		name: name, bin: bin, certs: certs,
		store:    filepath.Join(dir, "store"),
		urlFile:  filepath.Join(dir, "url"),
		sqlPort:  freePort(t),
		httpPort: freePort(t),
		initFlag: initFlag,
		log:      &syncBuffer{},
	}
}

// start starts the node and waits until it accepts SQL.
func (c *cluster) start() error {
	if c.proc != nil && !c.proc.exited() {
		return errors.Newf("%s is running", c.name)
	}
	_ = os.Remove(c.urlFile)
	c.starts++
	fmt.Fprintf(c.log, "=== %s: start %d at %s\n", c.name, c.starts, time.Now().Format(time.RFC3339Nano))
	p, err := startProcess(c.log, c.name, c.bin, "start-single-node",
		"--store="+c.store, "--certs-dir="+c.certs.dir,
		fmt.Sprintf("--listen-addr=127.0.0.1:%d", c.sqlPort),
		fmt.Sprintf("--http-addr=127.0.0.1:%d", c.httpPort),
		"--listening-url-file="+c.urlFile, "--cache=64MiB", c.initFlag)
	if err != nil {
		return err
	}
	c.proc = p
	deadline := time.Now().Add(startTimeout)
	for {
		if p.exited() {
			return errors.Newf("%s exited before accepting SQL: %v", c.name, p.err)
		}
		if _, err := os.Stat(c.urlFile); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.Newf("%s did not accept SQL within %s", c.name, startTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill is kill -9.
func (c *cluster) kill() error {
	fmt.Fprintf(c.log, "=== %s: SIGKILL at %s\n", c.name, time.Now().Format(time.RFC3339Nano))
	if c.proc == nil {
		return nil
	}
	return c.proc.kill()
}

// url is root's connection URL to virtual cluster vc, in the form of the
// seed page's connection reference (the '=' of -ccluster escaped for
// libpq).
func (c *cluster) url(vc string) string {
	q := url.Values{}
	q.Set("sslmode", "verify-full")
	q.Set("sslrootcert", c.certs.caCert())
	q.Set("sslcert", filepath.Join(c.certs.dir, "client.root.crt"))
	q.Set("sslkey", filepath.Join(c.certs.dir, "client.root.key"))
	q.Set("connect_timeout", "15")
	return fmt.Sprintf("postgresql://root@127.0.0.1:%d/defaultdb?options=-ccluster%%3D%s&%s",
		c.sqlPort, vc, q.Encode())
}

// seedURL is url(vc) written as the seed page writes the workload's URL,
// with a literal '=' in options=-ccluster=NAME, which vcdb's own tools
// accept (libpq does not).
func (c *cluster) seedURL(vc string) string {
	return strings.Replace(c.url(vc), "-ccluster%3D", "-ccluster=", 1)
}

func (c *cluster) sqlAddr() string { return fmt.Sprintf("127.0.0.1:%d", c.sqlPort) }

// metrics returns the values of a metric on /metrics by tenant label.
func (c *cluster) metric(ctx context.Context, name string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("http://127.0.0.1:%d/metrics", c.httpPort), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, errors.Newf("/metrics: %s", resp.Status)
	}
	return parseMetric(string(body), name)
}

// parseMetric finds `name{...tenant="x"...} value` lines of Prometheus
// text.
func parseMetric(text, name string) (map[string]float64, error) {
	res := map[string]float64{}
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		labels, value := "", ""
		if i := strings.LastIndexByte(line, ' '); i > 0 {
			labels, value = line[:i], line[i+1:]
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return nil, errors.Newf("metric line %q: %v", line, err)
		}
		tenant := ""
		if m := tenantLabel.FindStringSubmatch(labels); m != nil {
			tenant = m[1]
		}
		res[tenant] = v
	}
	return res, nil
}

var tenantLabel = regexp.MustCompile(`tenant="([^"]*)"`)

// psqlEnv is psql's environment: no user configuration, UTC times, no
// pager.
func psqlEnv(home string) []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "LC_ALL=C.UTF-8", "PGTZ=UTC",
		"PAGER=", "PSQL_PAGER=", "PGCONNECT_TIMEOUT=15"}
}

// psql runs psql in testdata/scripts with ON_ERROR_STOP and terse output
// (-q: no command tags; -A -t: unaligned rows without headers, columns
// separated by a space) and verbose errors (with their SQLSTATE). args
// are psql's (-f FILE, -v NAME=VALUE, -c SQL).
func psql(ctx context.Context, dir, home, connURL string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	all := append([]string{"-X", "-q", "-A", "-t", "-F", " ", "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose"}, args...)
	all = append(all, connURL)
	cmd := exec.CommandContext(ctx, "psql", all...)
	cmd.Dir = dir
	cmd.Env = psqlEnv(home)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), errors.Wrapf(err, "psql %s\n%s", strings.Join(redactArgs(args), " "), out)
	}
	return string(out), nil
}
