package server

import (
	"bufio"
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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5/pgproto3"
)

// End-to-end tests start the real binary (`vcdb start-single-node`) on
// 127.0.0.1 and talk to it with pgx, psql, raw sockets and HTTP. The
// binary is $VCDB_BIN (set by `make test`) or is built once for the
// package's tests.

var testBinary struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if testBinary.dir != "" {
		_ = os.RemoveAll(testBinary.dir)
	}
	for _, dir := range []string{fixtureRoot, cliCertsRoot} {
		if dir != "" {
			_ = os.RemoveAll(dir)
		}
	}
	os.Exit(code)
}

func vcdbBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("VCDB_BIN"); p != "" {
		return p
	}
	testBinary.once.Do(func() {
		testBinary.dir, testBinary.err = os.MkdirTemp("", "vcdb-server-test-")
		if testBinary.err != nil {
			return
		}
		testBinary.path = filepath.Join(testBinary.dir, "vcdb")
		cmd := exec.Command("go", "build", "-o", testBinary.path, "github.com/vcdb/vcdb")
		if out, err := cmd.CombinedOutput(); err != nil {
			testBinary.err = &buildError{err: err, out: string(out)}
		}
	})
	if testBinary.err != nil {
		t.Fatalf("building vcdb: %v", testBinary.err)
	}
	return testBinary.path
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// syncBuffer is a bytes.Buffer safe for a writer process and a reading
// test.
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

// procNode is a vcdb process started by a test.
type procNode struct {
	cmd     *exec.Cmd
	url     string // SQL URL
	httpURL string
	stdout  *syncBuffer
	stderr  *syncBuffer
	done    chan struct{} // closed when the process exited
	waitErr error
}

// startProcNode starts `vcdb start-single-node` with an in-memory store on
// 127.0.0.1 ports chosen by the kernel and waits (bounded) until it
// accepts SQL. The process is killed when the test ends.
func startProcNode(t *testing.T, extra ...string) *procNode {
	t.Helper()
	return startNodeProcess(t, append([]string{"--store=type=mem", "--insecure",
		"--listen-addr=127.0.0.1:0", "--http-addr=127.0.0.1:0"}, extra...)...)
}

// startNodeProcess starts `vcdb start-single-node` with the given flags
// and waits (bounded) until it accepts SQL. The process is killed when
// the test ends.
func startNodeProcess(t *testing.T, flags ...string) *procNode {
	t.Helper()
	dir := t.TempDir()
	urlFile := filepath.Join(dir, "url")
	args := append([]string{"start-single-node", "--listening-url-file=" + urlFile}, flags...)
	n := &procNode{cmd: exec.Command(vcdbBinary(t), args...), stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	n.cmd.Stdout, n.cmd.Stderr = n.stdout, n.stderr
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		n.waitErr = n.cmd.Wait()
		close(n.done)
	}()
	t.Cleanup(func() {
		_ = n.cmd.Process.Kill()
		<-n.done
		if t.Failed() {
			t.Logf("node stdout:\n%s\nnode stderr:\n%s", n.stdout, n.stderr)
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-n.done:
			t.Fatalf("vcdb exited before accepting SQL: %v\nstderr:\n%s", n.waitErr, n.stderr)
		default:
		}
		// The URL file is written once the node accepts SQL; the banner
		// (with the HTTP URL) right after it.
		b, err := os.ReadFile(urlFile)
		if err == nil && strings.Contains(n.stdout.String(), "webui:") {
			n.url = strings.TrimSpace(string(b))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("vcdb did not start in time\nstderr:\n%s", n.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	n.httpURL = bannerField(n.stdout.String(), "webui")
	return n
}

// bannerField returns the value of a "name:   value" banner line.
func bannerField(banner, name string) string {
	sc := bufio.NewScanner(strings.NewReader(banner))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && k == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// addr is the node's SQL host:port.
func (n *procNode) addr(t *testing.T) string {
	u, err := url.Parse(n.url)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// signal sends sig and waits (bounded) for the process to exit.
func (n *procNode) stop(t *testing.T, sig syscall.Signal) error {
	t.Helper()
	if err := n.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-n.done:
		return n.waitErr
	case <-time.After(60 * time.Second):
		t.Fatal("vcdb did not exit after a signal")
		return nil
	}
}

// waitForGoroutine waits (bounded) until the node's goroutine dump shows
// a goroutine in the given function: how the tests know that a statement
// is running without any SQL-level sleep.
func (n *procNode) waitForGoroutine(t *testing.T, fn string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, dump := httpGet(t, n.httpURL+"/debug/pprof/goroutine?debug=2"); strings.Contains(dump, fn) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no goroutine in %s", fn)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func httpGet(t *testing.T, u string) (int, string) {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestE2EStartupAndHTTP(t *testing.T) {
	n := startProcNode(t)
	for _, want := range []string{"build:", "vcdb v", "sql:", "postgresql://root@127.0.0.1:", "/defaultdb?sslmode=disable", "store[0]:", "type=mem", "webui:", "http://127.0.0.1:"} {
		if !strings.Contains(n.stdout.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, n.stdout)
		}
	}
	if !strings.Contains(n.stderr.String(), "INSECURE") {
		t.Errorf("no insecure-mode warning:\n%s", n.stderr)
	}
	if code, body := httpGet(t, n.httpURL+"/health"); code != 200 {
		t.Errorf("/health: %d %s", code, body)
	}
	if code, body := httpGet(t, n.httpURL+"/health?ready=1"); code != 200 {
		t.Errorf("/health?ready=1: %d %s", code, body)
	}
	if code, body := httpGet(t, n.httpURL+"/debug/pprof/"); code != 200 || !strings.Contains(body, "goroutine") {
		t.Errorf("/debug/pprof/: %d", code)
	}
	if code, body := httpGet(t, n.httpURL+"/debug/pprof/goroutine?debug=1"); code != 200 || !strings.Contains(body, "goroutine profile") {
		t.Errorf("goroutine profile: %d", code)
	}
	conn := connectURL(t, n.url)
	_ = conn
	if code, body := httpGet(t, n.httpURL+"/metrics"); code != 200 || !strings.Contains(body, `sql_conns{tenant="system"} 1`) || !strings.Contains(body, "sql_new_conns") {
		t.Errorf("/metrics: %d\n%s", code, body)
	}
}

// TestE2EOversizedMessage: a message over the size limit gets a FATAL
// error and closes that connection only.
func TestE2EOversizedMessage(t *testing.T) {
	n := startProcNode(t)
	other := connectURL(t, n.url)
	c := dialStartup(t, n.addr(t))
	// A Query claiming 1 GiB: refused from its header alone.
	if _, err := c.nc.Write([]byte{'Q', 0x40, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.receiveAll(), ","); got != "ErrorResponse FATAL 08P01" {
		t.Errorf("got %s", got)
	}
	var one int
	if err := other.QueryRow(context.Background(), "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("the other connection broke: %v", err)
	}
}

// TestE2EGracefulShutdown: SIGTERM lets a running statement finish, closes
// idle connections with 57P01, refuses new connections and exits 0.
func TestE2EGracefulShutdown(t *testing.T) {
	n := startProcNode(t)
	busy := dialStartup(t, n.addr(t))
	idle := dialStartup(t, n.addr(t))
	// A statement of a fraction of a second; the signal is sent once the
	// goroutine dump (/debug/pprof/) shows it running.
	busy.query(t, "SELECT count(*) FROM generate_series(1, 5000000)")
	n.waitForGoroutine(t, "(*conn).runSimpleStatement")
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(idle.receiveAll(), ","); got != "ErrorResponse FATAL 57P01" {
		t.Errorf("idle connection got %s", got)
	}
	if got, want := strings.Join(busy.receiveAll(), ","),
		"RowDescription,DataRow,CommandComplete,ReadyForQuery,ErrorResponse FATAL 57P01"; got != want {
		t.Errorf("busy connection got %s, want %s", got, want)
	}
	select {
	case <-n.done:
	case <-time.After(60 * time.Second):
		t.Fatal("vcdb did not exit after SIGTERM")
	}
	if n.waitErr != nil {
		t.Errorf("exit: %v\n%s", n.waitErr, n.stderr)
	}
	if !strings.Contains(n.stderr.String(), "shutdown completed") {
		t.Errorf("stderr:\n%s", n.stderr)
	}
	if nc, err := net.DialTimeout("tcp", n.addr(t), time.Second); err == nil {
		nc.Close()
		t.Error("the stopped node still accepts connections")
	}
}

// TestE2EPsql runs the psql scripts of testdata/server/psql with
// `psql -X -v ON_ERROR_STOP=1 -f FILE` against the real binary; the
// datadriven file script holds each run's output and exit status.
func TestE2EPsql(t *testing.T) {
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Fatalf("psql is required (Debian package postgresql-client; .ci/run installs it): %v", err)
	}
	n := startProcNode(t)
	dir, err := filepath.Abs("../testdata/server/psql")
	if err != nil {
		t.Fatal(err)
	}
	datadriven.RunTest(t, filepath.Join(dir, "script"), func(t *testing.T, d *datadriven.TestData) string {
		if d.Cmd != "psql" {
			d.Fatalf(t, "unknown directive %s", d.Cmd)
		}
		var file string
		d.ScanArgs(t, "file", &file)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, psql, "-X", "-v", "ON_ERROR_STOP=1", "-f", file, n.url)
		cmd.Dir = dir
		// A fixed environment: no ~/.psqlrc effects, UTF-8, no pager.
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C.UTF-8", "PAGER=", "PSQL_PAGER=", "HOME=" + t.TempDir()}
		out, err := cmd.CombinedOutput()
		code := 0
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			code = exitErr.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		// The node's port changes from run to run.
		return strings.ReplaceAll(string(out), n.addr(t), "HOST:PORT") + fmt.Sprintf("exit status %d\n", code)
	})
}

// TestE2EBackground: --background returns once the node accepts SQL,
// printing the banner; the node keeps running detached, writes its pid
// file, and stops on SIGTERM (removing the pid file).
func TestE2EBackground(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "vcdb.pid")
	urlFile := filepath.Join(dir, "url")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, vcdbBinary(t), "start-single-node", "--store="+filepath.Join(dir, "store"),
		"--insecure", "--listen-addr=127.0.0.1:0", "--http-addr=127.0.0.1:0", "--background",
		"--pid-file="+pidFile, "--listening-url-file="+urlFile)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("--background: %v\n%s", err, out)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("no pid file after --background returned: %v\n%s", err, out)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	for _, want := range []string{"sql:", "webui:", "store[0]:", "path=" + filepath.Join(dir, "store"), "logs:"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	u, err := os.ReadFile(urlFile)
	if err != nil {
		t.Fatal(err)
	}
	conn := connectURL(t, strings.TrimSpace(string(u)))
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatal(err)
	}
	_ = conn.Close(ctx)
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The node is not our child: watch its pid file and its /proc
	// entry (gone, or a zombie until its new parent reaps it).
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, statErr := os.Stat(pidFile)
		if os.IsNotExist(statErr) && !processRunning(pid) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the background node did not stop after SIGTERM")
		}
		time.Sleep(10 * time.Millisecond)
	}
	stopped = true
}

// processRunning reports whether pid is alive and not a zombie.
func processRunning(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// TestE2EStartErrors: flags the node cannot honour yet fail clearly.
func TestE2EStartErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--store=type=mem", "--listen-addr=127.0.0.1:0", "--certs-dir=" + t.TempDir()}, "loading the node's certificates"},
		{[]string{"--store=type=mem", "--insecure", "--virtualized", "--virtualized-empty"}, "mutually exclusive"},
		{[]string{"--store=type=disk", "--insecure"}, "unknown store type"},
		{[]string{"--store=type=mem", "--insecure", "--listen-addr=256.0.0.1:99999"}, "listening for SQL"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		args := append([]string{"start-single-node", "--http-addr=127.0.0.1:0"}, tc.args...)
		out, err := exec.CommandContext(ctx, vcdbBinary(t), args...).CombinedOutput()
		cancel()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("%v: err %v, output:\n%s", tc.args, err, out)
		}
	}
}

// TestE2ECancel: a CancelRequest with the backend's key stops a running
// statement of the real engine with 57014; the connection stays usable.
func TestE2ECancel(t *testing.T) {
	n := startProcNode(t)
	c := dialStartup(t, n.addr(t))
	c.query(t, "SELECT count(*) FROM generate_series(1, 1000000000)")
	n.waitForGoroutine(t, "(*conn).runSimpleStatement")
	nc, err := net.DialTimeout("tcp", n.addr(t), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := (&pgproto3.CancelRequest{ProcessID: c.key.ProcessID, SecretKey: c.key.SecretKey}).Encode(nil)
	if _, err := nc.Write(req); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	got := c.receiveUntil(t, "ReadyForQuery")
	if !strings.Contains(got, `"Code":"57014"`) || !strings.Contains(got, `"TxStatus":"I"`) {
		t.Fatalf("after cancel: %s", got)
	}
	c.query(t, "SELECT 1")
	if got := c.receiveUntil(t, "ReadyForQuery"); !strings.Contains(got, `"DataRow"`) {
		t.Fatalf("after cancel the connection does not work: %s", got)
	}
}
