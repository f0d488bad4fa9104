package workload

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5"
)

// RunOptions are the settings shared by every workload's `run`.
type RunOptions struct {
	// Concurrency is the number of connections, each driven by one worker
	// goroutine issuing one operation at a time.
	Concurrency int
	// Duration is how long to measure after the ramp; 0 runs until ctx is
	// cancelled (Ctrl-C).
	Duration time.Duration
	// MaxRate caps operations per second over all workers; 0 is no cap.
	MaxRate float64
	// Ramp staggers the workers' starts over this period. Operations during
	// the ramp are shown but left out of the summary.
	Ramp time.Duration
	// DisplayEvery is the interval of the per-interval lines (default 1s).
	DisplayEvery time.Duration
	// TolerateErrors keeps a run going after failed operations (counted in
	// the errors column), reconnecting when a connection broke. Without it
	// the first error ends the run with that error.
	TolerateErrors bool
	// Seed makes the run's keys and values reproducible; worker i uses the
	// stream (Seed, i).
	Seed uint64
	// Out receives the per-interval lines and the summary.
	Out io.Writer
	// HistogramsOut, when set, receives one JSON object per operation and
	// interval and one per operation in the summary (--histograms FILE).
	HistogramsOut io.Writer
}

// reconnectPause is how long a worker waits before opening a new connection
// after its connection broke, when errors are tolerated: long enough not to
// spin against a server that is down, short enough to notice a restart
// quickly.
const reconnectPause = 200 * time.Millisecond

// Run runs g with opts against the connector's servers and returns the
// summary it printed. It detects the server's dialect first.
func Run(ctx context.Context, c *Connector, g Generator, opts RunOptions) (Summary, error) {
	conn, err := c.Connect(ctx)
	if err != nil {
		return Summary{}, err
	}
	d, err := Detect(ctx, conn)
	_ = conn.Close(ctx)
	if err != nil {
		return Summary{}, err
	}
	return run(ctx, c.Connect, d, g, opts)
}

// openFunc opens one connection; tests substitute one that needs no server.
type openFunc func(ctx context.Context) (*pgx.Conn, error)

// runner is one run: its workers, shared counters and first fatal error.
type runner struct {
	open    openFunc
	dialect Dialect
	gen     Generator
	opts    RunOptions
	hists   *Histograms
	limiter *limiter

	errCount atomic.Int64
	failOnce sync.Once
	failErr  error
	cancel   context.CancelFunc
}

func run(ctx context.Context, open openFunc, d Dialect, g Generator, opts RunOptions) (Summary, error) {
	if opts.Concurrency < 1 {
		return Summary{}, errors.New("--concurrency must be at least 1")
	}
	if opts.DisplayEvery <= 0 {
		opts.DisplayEvery = time.Second
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := &runner{open: open, dialect: d, gen: g, opts: opts, hists: NewHistograms(),
		limiter: newLimiter(opts.MaxRate), cancel: cancel}

	// Connections are opened before the clock starts, so that connection
	// set-up is not measured (pgbench's "without initial connection time").
	type slot struct {
		conn *pgx.Conn
		w    Worker
	}
	slots := make([]slot, opts.Concurrency)
	for i := range slots {
		conn, w, err := r.connect(ctx, i)
		if err != nil && !opts.TolerateErrors {
			for _, s := range slots[:i] {
				closeConn(s.conn)
			}
			return Summary{}, err
		}
		slots[i] = slot{conn, w}
	}

	if _, err := fmt.Fprintln(opts.Out, describe(g, d, opts)); err != nil {
		return Summary{}, err
	}
	start := time.Now()
	rep := newReporter(opts.Out, opts.HistogramsOut, start, opts.Ramp > 0)
	var wg sync.WaitGroup
	for i := range slots {
		wg.Add(1)
		delay := time.Duration(0)
		if opts.Ramp > 0 {
			delay = opts.Ramp * time.Duration(i) / time.Duration(opts.Concurrency)
		}
		go func(i int, s slot) {
			defer wg.Done()
			r.work(ctx, i, s.conn, s.w, delay)
		}(i, slots[i])
	}

	ticker := time.NewTicker(opts.DisplayEvery)
	defer ticker.Stop()
	// The measured part starts when the ramp ends, and its timer with it, so
	// that the summary covers at least --duration.
	var rampDone, end <-chan time.Time
	startDuration := func() {
		if opts.Duration > 0 {
			t := time.NewTimer(opts.Duration)
			end = t.C
		}
	}
	if opts.Ramp > 0 {
		t := time.NewTimer(opts.Ramp)
		defer t.Stop()
		rampDone = t.C
	} else {
		startDuration()
	}
	var repErr error
loop:
	for {
		select {
		case <-ticker.C:
			repErr = errors.CombineErrors(repErr, rep.tick(time.Now(), r.hists.tick(), r.errCount.Load()))
		case <-rampDone:
			// The ramp's last partial interval is shown, then the measured
			// part starts from zero. When the ramp ends right after a
			// regular line (the ramp is a multiple of --display-every), the
			// partial interval is a sliver that would print a misleading
			// line of almost no operations: its few ramp operations, which
			// the summary leaves out anyway, are dropped instead.
			now := time.Now()
			if windows := r.hists.tick(); now.Sub(rep.lastTick) >= opts.DisplayEvery/10 {
				repErr = errors.CombineErrors(repErr, rep.tick(now, windows, r.errCount.Load()))
			}
			rep.endRamp(now, r.errCount.Load())
			ticker.Reset(opts.DisplayEvery)
			startDuration()
		case <-end:
			break loop
		case <-ctx.Done():
			break loop
		}
	}
	stopped := time.Now()
	cancel()
	wg.Wait()
	// Operations that finished since the last interval line count in the
	// summary without a line of their own.
	rep.absorb(r.hists.tick())
	sum, err := rep.summary(stopped, r.errCount.Load())
	repErr = errors.CombineErrors(repErr, err)
	if r.failErr != nil {
		return sum, r.failErr
	}
	return sum, repErr
}

// connect opens worker i's connection and makes its worker.
func (r *runner) connect(ctx context.Context, i int) (*pgx.Conn, Worker, error) {
	conn, err := r.open(ctx)
	if err != nil {
		return nil, nil, err
	}
	rng := rand.New(rand.NewPCG(r.opts.Seed, uint64(i)))
	w, err := r.gen.NewWorker(ctx, conn, r.dialect, r.hists, rng)
	if err != nil {
		closeConn(conn)
		return nil, nil, err
	}
	return conn, w, nil
}

func closeConn(conn *pgx.Conn) {
	if conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}

// fail records the run's first fatal error and stops the run.
func (r *runner) fail(err error) {
	r.failOnce.Do(func() {
		r.failErr = err
		r.cancel()
	})
}

// work is worker i's loop: wait for the rate limiter, run one operation,
// count failures, reconnect when tolerated errors broke the connection.
func (r *runner) work(ctx context.Context, i int, conn *pgx.Conn, w Worker, delay time.Duration) {
	defer func() { closeConn(conn) }()
	if delay > 0 && sleepCtx(ctx, delay) != nil {
		return
	}
	for ctx.Err() == nil {
		if w == nil {
			var err error
			conn, w, err = r.connect(ctx, i)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				r.errCount.Add(1)
				if !r.opts.TolerateErrors {
					r.fail(err)
					return
				}
				_ = sleepCtx(ctx, reconnectPause)
				continue
			}
		}
		if r.limiter.wait(ctx) != nil {
			return
		}
		err := w.Op(ctx)
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			// The run ended while the operation was in flight: that is
			// not a failure of the operation.
			return
		}
		r.errCount.Add(1)
		if !r.opts.TolerateErrors {
			r.fail(errors.Wrapf(err, "%s worker %d", r.gen.Name(), i))
			return
		}
		if conn != nil && conn.IsClosed() {
			closeConn(conn)
			conn, w = nil, nil
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// limiter spaces operations of all workers evenly at a maximum rate. A
// worker that falls behind does not build up credit: the schedule restarts
// from now, so there are no bursts above the rate.
type limiter struct {
	interval time.Duration
	mu       struct {
		sync.Mutex
		next time.Time
	}
}

func newLimiter(rate float64) *limiter {
	if rate <= 0 {
		return nil
	}
	return &limiter{interval: time.Duration(float64(time.Second) / rate)}
}

// wait blocks until the caller's turn; a nil limiter never blocks.
func (l *limiter) wait(ctx context.Context) error {
	if l == nil {
		return ctx.Err()
	}
	l.mu.Lock()
	now := time.Now()
	if l.mu.next.Before(now) {
		l.mu.next = now
	}
	at := l.mu.next
	l.mu.next = at.Add(l.interval)
	l.mu.Unlock()
	if d := at.Sub(now); d > 0 {
		return sleepCtx(ctx, d)
	}
	return ctx.Err()
}

// describe is the one-line description of a run printed before it starts.
func describe(g Generator, d Dialect, opts RunOptions) string {
	s := fmt.Sprintf("%s: %d connections, %s dialect", g.Name(), opts.Concurrency, d)
	if opts.Duration > 0 {
		s += fmt.Sprintf(", %s", opts.Duration)
	}
	if opts.Ramp > 0 {
		s += fmt.Sprintf(" after a %s ramp", opts.Ramp)
	}
	if opts.MaxRate > 0 {
		s += fmt.Sprintf(", at most %.0f ops/s", opts.MaxRate)
	}
	return s
}
