package cli

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/crlib/testutils/leaktest"
	"github.com/jackc/pgx/v5"
)

func TestParseStoreSpec(t *testing.T) {
	for _, tc := range []struct {
		spec  string
		dir   string
		inMem bool
		err   string
	}{
		{spec: "vcdb-data", dir: "vcdb-data"},
		{spec: "/var/lib/vcdb", dir: "/var/lib/vcdb"},
		{spec: "path=/data/x", dir: "/data/x"},
		{spec: "path=/data/x,size=10GiB", dir: "/data/x"},
		{spec: "type=mem", inMem: true},
		{spec: "type=mem,size=1GiB", inMem: true},
		{spec: "", err: "must not be empty"},
		{spec: "type=disk", err: "unknown store type"},
		{spec: "type=mem,path=/x", err: "in-memory store has no path"},
		{spec: "size=1GiB", err: "missing path"},
		{spec: "path=/x,color=blue", err: "unknown attribute"},
		{spec: "path=/x,bare", err: "not key=value"},
	} {
		dir, inMem, err := parseStoreSpec(tc.spec)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: got error %v, want %q", tc.spec, err, tc.err)
			}
			continue
		}
		if err != nil || dir != tc.dir || inMem != tc.inMem {
			t.Errorf("%q: got (%q, %v, %v), want (%q, %v)", tc.spec, dir, inMem, err, tc.dir, tc.inMem)
		}
	}
}

func TestStartRejectsFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--store=type=mem", "--certs-dir=" + t.TempDir(), "--listen-addr=127.0.0.1:0", "--http-addr=127.0.0.1:0"},
			"loading the node's certificates"},
		{[]string{"--insecure", "--cache=lots"}, "--cache=lots: not a size"},
		{[]string{"--insecure", "--cache=95%"}, "at most 90%"},
		{[]string{"--insecure", "--password-method=md5"}, "unknown password method"},
		{[]string{"--insecure", "--virtualized", "--virtualized-empty"}, "mutually exclusive"},
		{[]string{"--insecure", "--store=type=nvme"}, "unknown store type"},
		{[]string{"--insecure", "extra"}, "takes no arguments"},
	} {
		_, err := runVCDB(append([]string{"start-single-node"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error with %q", tc.args, err, tc.want)
		}
	}
}

// lockedBuffer is written by the command and read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestStartAndStop runs start-single-node in process with flags after
// nothing in particular (the order users copy from docs), serves SQL and
// HTTP, writes its pid and URL files, and drains on a stop signal.
func TestStartAndStop(t *testing.T) {
	defer leaktest.AfterTest(t)()
	sigs := make(chan os.Signal, 2)
	orig := stopSignals
	stopSignals = func() (<-chan os.Signal, func()) { return sigs, func() {} }
	defer func() { stopSignals = orig }()
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	urlFile := filepath.Join(dir, "url")
	out := &lockedBuffer{}
	errOut := &lockedBuffer{}
	done := make(chan error, 1)
	go func() {
		app := newApp(out, errOut)
		done <- app.Run(reorderArgs(app, []string{"vcdb", "start-single-node", "--insecure",
			"--store", "type=mem", "--listen-addr=127.0.0.1:0", "--http-addr=127.0.0.1:0",
			"--pid-file", pidFile, "--listening-url-file=" + urlFile, "--drain-timeout=5s"}))
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "webui:") {
		select {
		case err := <-done:
			t.Fatalf("start-single-node ended: %v\n%s", err, errOut)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the node did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if b, err := os.ReadFile(pidFile); err != nil || strings.TrimSpace(string(b)) == "" {
		t.Errorf("pid file: %q %v", b, err)
	}
	u, err := os.ReadFile(urlFile)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, strings.TrimSpace(string(u)))
	if err != nil {
		t.Fatal(err)
	}
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1: %d %v", one, err)
	}
	_ = conn.Close(ctx)
	var webui string
	for _, line := range strings.Split(out.String(), "\n") {
		if v, ok := strings.CutPrefix(line, "webui:"); ok {
			webui = strings.TrimSpace(v)
		}
	}
	resp, err := http.Get(webui + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/health: %d", resp.StatusCode)
	}
	http.DefaultClient.CloseIdleConnections()
	sigs <- syscall.SIGTERM
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("start-single-node after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the node did not stop")
	}
	if !strings.Contains(errOut.String(), "shutdown completed") || !strings.Contains(errOut.String(), "INSECURE") {
		t.Errorf("stderr:\n%s", errOut)
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Errorf("pid file left behind: %v", err)
	}
}

func TestParseCacheSize(t *testing.T) {
	const gib = int64(1) << 30
	memory := func() (int64, error) { return 16 * gib, nil }
	for _, tc := range []struct {
		in   string
		want int64
		err  string
	}{
		{in: "25%", want: 4 * gib},
		{in: ".25", want: 4 * gib},
		{in: "0.5", want: 8 * gib},
		{in: "12.5%", want: 2 * gib},
		{in: "0.0001", want: minDefaultCache},
		{in: "1GiB", want: gib},
		{in: "512MiB", want: 512 << 20},
		{in: "2GB", want: 2e9},
		{in: "268435456", want: 268435456},
		{in: "0%", err: "above 0"},
		{in: "91%", err: "at most 90%"},
		{in: "x%", err: "not a percentage"},
		{in: "1KiB", err: "at least 1MiB"},
		{in: "lots", err: "not a size"},
	} {
		got, err := parseCacheSize(tc.in, memory)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: got %d, %v; want error %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: got %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	// The machine's memory is readable here, and the default is a real size.
	if n, err := parseCacheSize(defaultCache, availableMemory); err != nil || n < minDefaultCache {
		t.Errorf("default cache: %d %v", n, err)
	}
}

// TestStartBackground runs the vcdb binary: `start-single-node --background`
// prints the insecure-mode warning on the terminal (not only in the log)
// and returns once the node serves; a second node on the same store, in
// the foreground or in the background, fails with the store-in-use error
// and its HINT line, as the foreground prints it.
func TestStartBackground(t *testing.T) {
	bin := vcdbBinary(t)
	store := t.TempDir()
	pidFile := filepath.Join(t.TempDir(), "pid")
	run := func(args ...string) (stdout, stderr string, err error) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append([]string{"start-single-node", "--insecure", "--store=" + store}, args...)...)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err = cmd.Run()
		return o.String(), e.String(), err
	}
	out, errOut, err := run("--background", "--pid-file="+pidFile,
		"--listen-addr=127.0.0.1:"+freePort(t), "--http-addr=127.0.0.1:"+freePort(t))
	if err != nil {
		t.Fatalf("--background: %v\n%s%s", err, out, errOut)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	// Stop the node when the test ends and wait (bounded) for it to
	// remove its pid file, which it does after closing the store.
	t.Cleanup(func() {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		deadline := time.Now().Add(30 * time.Second)
		for {
			if _, err := os.Stat(pidFile); os.IsNotExist(err) {
				return
			}
			if time.Now().After(deadline) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				t.Errorf("the background node %d did not stop", pid)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	if !strings.Contains(errOut, "WARNING: RUNNING IN INSECURE MODE") {
		t.Errorf("--background --insecure: no warning on stderr:\n%s", errOut)
	}
	if !strings.Contains(out, "sql:") || !strings.Contains(out, "logs:") {
		t.Errorf("--background: banner:\n%s", out)
	}

	abs, _ := filepath.Abs(store)
	inUse := fmt.Sprintf("store %s is in use by another vcdb process (lock file %s, held by pid %d)\nHINT: Stop the other node",
		abs, filepath.Join(abs, "LOCK"), pid)
	_, errOut, err = run("--listen-addr=127.0.0.1:0", "--http-addr=127.0.0.1:0")
	if err == nil || !strings.Contains(errOut, "ERROR: "+inUse) {
		t.Errorf("second node in the foreground: %v\n%s", err, errOut)
	}
	_, errOut, err = run("--background", "--listen-addr=127.0.0.1:0", "--http-addr=127.0.0.1:0")
	if err == nil || !strings.Contains(errOut, "ERROR: the node failed to start: "+inUse) {
		t.Errorf("second node in the background: %v\n%s", err, errOut)
	}
}
