package workload_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/crlib/testutils/leaktest"
	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5"
	"github.com/vcdb/vcdb/workload"
)

// These tests run the workloads against a real vcdb node: the binary at
// $VCDB_BIN (set by `make test`) or one built into the test's temporary
// directory, started with an in-memory store on loopback ports.

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// TestMain removes the binary built for these tests, if any.
func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" {
		_ = os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

// vcdbBinary returns the vcdb binary to run.
func vcdbBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("VCDB_BIN"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vcdb-workload-test")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "vcdb")
		cmd := exec.Command("go", "build", "-o", builtBin, "github.com/vcdb/vcdb")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = errors.Newf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// syncBuffer collects a node's output; the process writes it from exec's
// copying goroutine while a failing test reads it.
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

// node is a vcdb process started by a test.
type node struct {
	url  string
	kill func() // SIGKILL and wait; idempotent
}

// startNode starts a single insecure node on store (a directory, or
// type=mem) and the given ports, and returns once it answers queries
// (bounded: 60 s). The node is killed and waited for when the test ends.
func startNode(t *testing.T, store string, sqlPort, httpPort int) *node {
	t.Helper()
	bin := vcdbBinary(t)
	logs := &syncBuffer{}
	cmd := exec.Command(bin, "start-single-node", "--insecure", "--store="+store,
		fmt.Sprintf("--listen-addr=127.0.0.1:%d", sqlPort), fmt.Sprintf("--http-addr=127.0.0.1:%d", httpPort))
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var once sync.Once
	n := &node{
		url: fmt.Sprintf("postgresql://root@127.0.0.1:%d/defaultdb?sslmode=disable", sqlPort),
		kill: func() {
			once.Do(func() {
				_ = cmd.Process.Kill()
				<-exited
			})
		},
	}
	t.Cleanup(n.kill)
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, n.url)
		if err == nil {
			_, err = conn.Exec(ctx, "SELECT 1")
			_ = conn.Close(ctx)
		}
		cancel()
		if err == nil {
			return n
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("vcdb exited during start-up (%v):\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("vcdb did not answer SQL within 60 s: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startVCDB starts an in-memory node on free ports and returns its SQL URL.
func startVCDB(t *testing.T) string {
	t.Helper()
	return startNode(t, "type=mem", freePort(t), freePort(t)).url
}

func connector(t *testing.T, url string) *workload.Connector {
	t.Helper()
	c, err := workload.NewConnector([]string{url}, "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestBankInvariantConcurrent runs two bank workloads at once against one
// node while a checker reads the total over and over: every snapshot, during
// and after the runs (and one AS OF SYSTEM TIME in the past), must hold the
// invariant, and transfers must really have happened.
func TestBankInvariantConcurrent(t *testing.T) {
	// The node is stopped by a cleanup, so the leak check must run after
	// it: cleanups run last-registered first.
	t.Cleanup(leaktest.AfterTest(t))
	url := startVCDB(t)
	c := connector(t, url)
	ctx := context.Background()
	bank := &workload.Bank{Rows: 20, PayloadBytes: 10}
	if err := bank.Init(ctx, c, workload.InitOptions{Drop: true, Concurrency: 2, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	var wg sync.WaitGroup
	sums := make([]workload.Summary, 2)
	errs := make([]error, 2)
	for i := range sums {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			// Few accounts and eight connections make conflicts certain.
			sums[i], errs[i] = workload.Run(ctx, c, &workload.Bank{Rows: 20, PayloadBytes: 10},
				workload.RunOptions{Concurrency: 4, Duration: 2 * time.Second, Seed: uint64(i)})
		}(i)
	}
	checks := 0
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
			res, err := workload.CheckBank(ctx, c, "")
			if err != nil {
				t.Fatalf("check %d during the runs: %v (%s)", checks, err, res)
			}
			checks++
		}
	}
	for i := range errs {
		if errs[i] != nil {
			t.Fatalf("run %d: %v", i, errs[i])
		}
		if sums[i].Total.Ops == 0 {
			t.Fatalf("run %d made no transfers", i)
		}
	}
	if checks == 0 {
		t.Fatal("no check ran during the workload")
	}
	res, err := workload.CheckBank(ctx, c, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Accounts != 20 || res.Total != 20*workload.BankInitialBalance {
		t.Fatalf("after the runs: %s", res)
	}
	// The past is consistent too: the state as of before the runs.
	past, err := workload.CheckBank(ctx, c, before.UTC().Format("2006-01-02 15:04:05.999999"))
	if err != nil {
		t.Fatalf("AS OF SYSTEM TIME before the runs: %v (%s)", err, past)
	}
	// Money moved: the balances differ from the initial ones now.
	conn, err := c.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var moved int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM bank.bank WHERE balance <> $1", int64(workload.BankInitialBalance)).Scan(&moved); err != nil {
		t.Fatal(err)
	}
	if moved == 0 {
		t.Fatal("no balance changed: the transfers did nothing")
	}
}

// TestKVAgainstVCDB loads kv and runs every kind of operation: batched
// reads and upserts, spans, and sequential inserts of new keys.
func TestKVAgainstVCDB(t *testing.T) {
	// The node is stopped by a cleanup, so the leak check must run after
	// it: cleanups run last-registered first.
	t.Cleanup(leaktest.AfterTest(t))
	url := startVCDB(t)
	c := connector(t, url)
	ctx := context.Background()
	kv := workload.DefaultKV()
	kv.InsertCount, kv.MinBlockBytes, kv.MaxBlockBytes, kv.CycleLength = 2000, 16, 64, 2000
	if err := kv.Init(ctx, c, workload.InitOptions{Drop: true, Concurrency: 2, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	mixed := workload.DefaultKV()
	mixed.ReadPercent, mixed.SpanPercent, mixed.SpanLimit, mixed.Batch, mixed.CycleLength = 50, 10, 20, 3, 2000
	sum, err := workload.Run(ctx, c, mixed, workload.RunOptions{Concurrency: 4, Duration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]int64{}
	for _, op := range sum.Ops {
		names[op.Name] = op.Ops
	}
	if names["read"] == 0 || names["write"] == 0 || names["span"] == 0 || sum.Errors != 0 {
		t.Fatalf("mixed run: %+v", sum)
	}
	ins := workload.DefaultKV()
	ins.ReadPercent, ins.InsertOnly, ins.Distribution, ins.WriteSeq, ins.CycleLength = 0, true, workload.Sequential, 1_000_000, 1<<62
	sum, err = workload.Run(ctx, c, ins, workload.RunOptions{Concurrency: 4, Duration: time.Second})
	if err != nil {
		t.Fatalf("inserts of new keys: %v", err)
	}
	conn, err := c.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM kv.kv WHERE k > 1000000").Scan(&n); err != nil {
		t.Fatal(err)
	}
	// Every successful insert is a row; the one in flight when the run
	// ended per connection may have committed too.
	if n < sum.Total.Ops || n > sum.Total.Ops+4 {
		t.Fatalf("%d inserts reported, %d new rows", sum.Total.Ops, n)
	}
}

// TestWorkloadCommand runs the command line against a node, flags after the
// URL as users write them.
func TestWorkloadCommand(t *testing.T) {
	// The node is stopped by a cleanup, so the leak check must run after
	// it: cleanups run last-registered first.
	t.Cleanup(leaktest.AfterTest(t))
	url := startVCDB(t)
	bin := vcdbBinary(t)
	hist := filepath.Join(t.TempDir(), "h.json")
	for _, args := range [][]string{
		{"workload", "init", "bank", url, "--rows=10", "--drop"},
		{"workload", "run", "bank", url, "--rows=10", "--duration=1s", "--concurrency=2", "--histograms=" + hist},
		{"workload", "check", "bank", url},
	} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v\n%s", args, err, out)
		}
		if args[1] == "run" && !strings.Contains(string(out), "__result") {
			t.Fatalf("no summary:\n%s", out)
		}
	}
	data, err := os.ReadFile(hist)
	if err != nil || !bytes.Contains(data, []byte(`"op":"__result"`)) {
		t.Fatalf("--histograms file: %v\n%s", err, data)
	}
}

// TestRunSurvivesRestart runs kv with --tolerate-errors while the node is
// killed and restarted on the same store and port: the run counts the
// failed operations, reconnects, and goes on after the restart.
func TestRunSurvivesRestart(t *testing.T) {
	t.Cleanup(leaktest.AfterTest(t))
	store := t.TempDir()
	sqlPort, httpPort := freePort(t), freePort(t)
	n := startNode(t, store, sqlPort, httpPort)
	c := connector(t, n.url)
	ctx := context.Background()
	kv := workload.DefaultKV()
	kv.InsertCount, kv.CycleLength = 100, 100
	if err := kv.Init(ctx, c, workload.InitOptions{Drop: true, Concurrency: 1, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	var hist bytes.Buffer
	type result struct {
		sum workload.Summary
		err error
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		run := workload.DefaultKV()
		run.ReadPercent, run.CycleLength = 50, 100
		sum, err := workload.Run(ctx, c, run, workload.RunOptions{Concurrency: 2, Duration: 6 * time.Second,
			DisplayEvery: 500 * time.Millisecond, TolerateErrors: true, HistogramsOut: &hist})
		done <- result{sum, err}
	}()
	time.Sleep(1500 * time.Millisecond)
	n.kill()
	time.Sleep(300 * time.Millisecond)
	startNode(t, store, sqlPort, httpPort)
	restarted := time.Since(start).Seconds()
	res := <-done
	if res.err != nil {
		t.Fatalf("a run tolerating errors failed: %v", res.err)
	}
	if res.sum.Errors == 0 {
		t.Fatalf("no errors counted across a restart: %+v", res.sum)
	}
	// Some interval after the restart completed operations.
	after := int64(0)
	for _, line := range strings.Split(strings.TrimSpace(hist.String()), "\n") {
		var rec struct {
			Summary  bool    `json:"summary"`
			ElapsedS float64 `json:"elapsed_s"`
			Ops      int64   `json:"ops"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if !rec.Summary && rec.ElapsedS > restarted+0.5 {
			after += rec.Ops
		}
	}
	if after == 0 {
		t.Fatalf("no operations after the restart at %.1fs:\n%s", restarted, hist.String())
	}
}
