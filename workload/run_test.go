package workload

import (
	"bytes"
	"context"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/crlib/testutils/leaktest"
	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5"
)

// fakeGen is a workload that needs no server: its operations sleep for
// opTime and fail every failEvery-th call. It tests the runner alone.
type fakeGen struct {
	opTime    time.Duration
	failEvery int64
	calls     atomic.Int64
	mu        struct {
		sync.Mutex
		starts []time.Time // when each worker ran its first operation
	}
}

var errFake = errors.New("fake operation failed")

func (g *fakeGen) Name() string { return "fake" }
func (g *fakeGen) Init(context.Context, *Connector, InitOptions) error {
	return nil
}
func (g *fakeGen) NewWorker(_ context.Context, _ *pgx.Conn, _ Dialect, h *Histograms, _ *rand.Rand) (Worker, error) {
	return &fakeWorker{g: g, hist: h.Get("op")}, nil
}

type fakeWorker struct {
	g       *fakeGen
	hist    *namedHistogram
	started bool
}

func (w *fakeWorker) Op(ctx context.Context) error {
	if !w.started {
		w.started = true
		w.g.mu.Lock()
		w.g.mu.starts = append(w.g.mu.starts, time.Now())
		w.g.mu.Unlock()
	}
	start := time.Now()
	if w.g.opTime > 0 {
		if err := sleepCtx(ctx, w.g.opTime); err != nil {
			return err
		}
	}
	if n := w.g.calls.Add(1); w.g.failEvery > 0 && n%w.g.failEvery == 0 {
		return errFake
	}
	w.hist.Record(time.Since(start))
	return nil
}

func noConn(context.Context) (*pgx.Conn, error) { return nil, nil }

func runFake(t *testing.T, ctx context.Context, g *fakeGen, opts RunOptions) (Summary, string, time.Duration, error) {
	t.Helper()
	var out bytes.Buffer
	opts.Out = &out
	start := time.Now()
	sum, err := run(ctx, noConn, Cockroach, g, opts)
	return sum, out.String(), time.Since(start), err
}

func TestRunDuration(t *testing.T) {
	defer leaktest.AfterTest(t)()
	g := &fakeGen{opTime: time.Millisecond}
	sum, out, took, err := runFake(t, context.Background(), g,
		RunOptions{Concurrency: 4, Duration: 500 * time.Millisecond, DisplayEvery: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if took < 500*time.Millisecond || took > 5*time.Second {
		t.Fatalf("a 500ms run took %s", took)
	}
	if sum.Elapsed < 500*time.Millisecond || sum.Total.Ops == 0 || sum.Total.Ops != g.calls.Load() && sum.Total.Ops+4 < g.calls.Load() {
		t.Fatalf("summary %+v after %d calls", sum, g.calls.Load())
	}
	if len(sum.Ops) != 1 || sum.Ops[0].Name != "op" || sum.Total.Name != ResultName {
		t.Fatalf("summary ops %+v", sum.Ops)
	}
	// A 1ms operation cannot have a median below 1ms.
	if sum.Total.P50Ms < 1 {
		t.Fatalf("p50 %.3f ms for 1 ms operations", sum.Total.P50Ms)
	}
	for _, want := range []string{tickHeader, summaryHeader + "__total", summaryHeader + "__result", " op\n"} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
	if lines := strings.Count(out, " op\n"); lines < 3 {
		t.Fatalf("want an interval line every 100ms, got %d lines:\n%s", lines, out)
	}
}

func TestRunMaxRate(t *testing.T) {
	defer leaktest.AfterTest(t)()
	g := &fakeGen{}
	sum, _, _, err := runFake(t, context.Background(), g,
		RunOptions{Concurrency: 4, Duration: time.Second, MaxRate: 200})
	if err != nil {
		t.Fatal(err)
	}
	// 200 ops/s for 1 s: the limiter spaces operations evenly, so the count
	// is at most about 200 whatever the concurrency. It may fall short when
	// the machine is so loaded that sleeps overrun (the limiter does not
	// make up for lost time), hence the loose lower bound.
	if sum.Total.Ops < 40 || sum.Total.Ops > 210 {
		t.Fatalf("%d operations in 1s at --max-rate=200", sum.Total.Ops)
	}
}

func TestRunStopsOnError(t *testing.T) {
	defer leaktest.AfterTest(t)()
	g := &fakeGen{failEvery: 50}
	sum, _, took, err := runFake(t, context.Background(), g,
		RunOptions{Concurrency: 2, Duration: time.Minute})
	if !errors.Is(err, errFake) {
		t.Fatalf("want the operation's error, got %v", err)
	}
	if took > 10*time.Second {
		t.Fatalf("a failed run took %s to stop", took)
	}
	if sum.Total.Ops == 0 {
		t.Fatalf("the operations before the failure are still summarised: %+v", sum)
	}
}

func TestRunToleratesErrors(t *testing.T) {
	defer leaktest.AfterTest(t)()
	g := &fakeGen{failEvery: 3, opTime: 100 * time.Microsecond}
	sum, out, _, err := runFake(t, context.Background(), g,
		RunOptions{Concurrency: 2, Duration: 300 * time.Millisecond, TolerateErrors: true})
	if err != nil {
		t.Fatal(err)
	}
	calls := g.calls.Load()
	if sum.Errors < calls/3-2 || sum.Errors > calls/3+2 || sum.Total.Ops == 0 {
		t.Fatalf("%d errors and %d ops of %d calls failing every third", sum.Errors, sum.Total.Ops, calls)
	}
	if !strings.Contains(out, summaryHeader) {
		t.Fatalf("no summary:\n%s", out)
	}
}

func TestRunRamp(t *testing.T) {
	defer leaktest.AfterTest(t)()
	g := &fakeGen{opTime: time.Millisecond}
	sum, out, took, err := runFake(t, context.Background(), g,
		RunOptions{Concurrency: 4, Ramp: 400 * time.Millisecond, Duration: 300 * time.Millisecond,
			DisplayEvery: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if took < 700*time.Millisecond {
		t.Fatalf("ramp plus duration took only %s", took)
	}
	// The summary covers the measured part only.
	if sum.Elapsed < 300*time.Millisecond || sum.Elapsed > 600*time.Millisecond {
		t.Fatalf("summary covers %s, want about 300ms", sum.Elapsed)
	}
	if sum.Total.Ops >= g.calls.Load() {
		t.Fatalf("the summary counts %d of %d operations: ramp operations must be left out", sum.Total.Ops, g.calls.Load())
	}
	g.mu.Lock()
	starts := append([]time.Time(nil), g.mu.starts...)
	g.mu.Unlock()
	if len(starts) != 4 {
		t.Fatalf("%d workers started", len(starts))
	}
	first, last := starts[0], starts[0]
	for _, s := range starts {
		if s.Before(first) {
			first = s
		}
		if s.After(last) {
			last = s
		}
	}
	// Workers start at 0, 100, 200 and 300ms.
	if spread := last.Sub(first); spread < 250*time.Millisecond {
		t.Fatalf("workers started within %s of each other, want them spread over the ramp", spread)
	}
	if !strings.Contains(out, tickHeader) {
		t.Fatalf("no interval lines:\n%s", out)
	}
}

func TestRunInterrupted(t *testing.T) {
	defer leaktest.AfterTest(t)()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	g := &fakeGen{opTime: time.Millisecond}
	sum, out, took, err := runFake(t, ctx, g, RunOptions{Concurrency: 2})
	if err != nil {
		t.Fatalf("an interrupted run ends normally, got %v", err)
	}
	if took > 5*time.Second || sum.Total.Ops == 0 || !strings.Contains(out, summaryHeader) {
		t.Fatalf("interrupted run: took %s, summary %+v, output:\n%s", took, sum, out)
	}
}

func TestRunRejectsNoConcurrency(t *testing.T) {
	defer leaktest.AfterTest(t)()
	if _, _, _, err := runFake(t, context.Background(), &fakeGen{}, RunOptions{}); err == nil {
		t.Fatal("want an error for --concurrency=0")
	}
}

// TestRunReconnects checks that, with --tolerate-errors, workers whose
// connections could not be opened keep trying (counting each failure) and
// then run; without it, the first failure ends the run before it starts.
func TestRunReconnects(t *testing.T) {
	defer leaktest.AfterTest(t)()
	var opens atomic.Int64
	errDown := errors.New("server down")
	flaky := func(context.Context) (*pgx.Conn, error) {
		if opens.Add(1) <= 3 {
			return nil, errDown
		}
		return nil, nil
	}
	var out bytes.Buffer
	g := &fakeGen{opTime: time.Millisecond}
	sum, err := run(context.Background(), flaky, Cockroach, g,
		RunOptions{Concurrency: 2, Duration: time.Second, TolerateErrors: true, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	// The first two opens (before the clock starts) fail uncounted, as do
	// the reconnects until the third open; then both workers run.
	if sum.Errors < 1 || sum.Errors > 3 || sum.Total.Ops == 0 {
		t.Fatalf("errors %d, ops %d", sum.Errors, sum.Total.Ops)
	}
	g.mu.Lock()
	started := len(g.mu.starts)
	g.mu.Unlock()
	if started != 2 {
		t.Fatalf("%d workers ran, want 2", started)
	}

	opens.Store(0)
	if _, err := run(context.Background(), flaky, Cockroach, &fakeGen{},
		RunOptions{Concurrency: 2, Duration: time.Second, Out: &out}); !errors.Is(err, errDown) {
		t.Fatalf("without --tolerate-errors: want the connection error, got %v", err)
	}
}
