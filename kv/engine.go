package kv

import (
	"context"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Options configures Open.
type Options struct {
	// Dir is the on-disk store directory (ignored when InMemory).
	Dir string
	// InMemory keeps the store in Pebble's vfs.NewMem (tests, demos). Syncs
	// are free there, so durability and group-commit numbers are meaningless.
	InMemory bool
	// FS overrides the file system (tests: errorfs); it wins over InMemory.
	FS vfs.FS
	// WallClock overrides the clock's wall time source (tests).
	WallClock func() int64
	// CheckpointInterval is the cadence of rangefeed checkpoints while no
	// commit is published (the idle tick); 0 means
	// DefaultCheckpointInterval. Under write load checkpoints follow
	// commits instead (CheckpointSpacing).
	CheckpointInterval time.Duration
	// CheckpointSpacing is the minimum time between two commit-driven
	// checkpoints: after commits are published, a checkpoint follows as
	// soon as this much time has passed since the previous one, so a busy
	// engine sends one checkpoint per group of commits rather than one per
	// commit. 0 means DefaultCheckpointSpacing; a negative value disables
	// commit-driven checkpoints (only the idle tick remains).
	CheckpointSpacing time.Duration
	// GCInterval is the period of the background MVCC GC pass; 0 means
	// DefaultGCInterval and a negative value disables background GC (RunGC
	// still works).
	GCInterval time.Duration
	// DefaultGCTTL is the GC TTL of spans without a SetGCTTL configuration;
	// 0 means DefaultGCTTL (CockroachDB's gc.ttlseconds default of 4h).
	DefaultGCTTL time.Duration
	// CacheSize is Pebble's block cache size in bytes; 0 means 64 MiB.
	CacheSize int64
	// MemTableSize is Pebble's memtable size in bytes; 0 means Pebble's
	// default.
	MemTableSize uint64
	// DisableSync commits without waiting for the WAL sync. Benchmarks only:
	// it gives up durability of acknowledged commits.
	DisableSync bool

	// noTimeBound makes time-bound iterations read every block (tests and
	// benchmarks compare results and costs with and without the filter).
	noTimeBound bool
	// sleep replaces time.Sleep in Open's wait for the wall clock to pass
	// the persisted clock high-water mark (tests with a manual wall clock
	// advance it there).
	sleep func(time.Duration)
	// ownCompletion makes every commit mark only itself applied, not the
	// commits queued before it (benchmarks compare checkpoint lag with and
	// without completion in WAL order, commit.go).
	ownCompletion bool
}

// Defaults for Options.
const (
	// DefaultCheckpointInterval is short because a standby's replicated time
	// can trail the primary by no less than the checkpoint cadence.
	DefaultCheckpointInterval = 5 * time.Millisecond
	// DefaultCheckpointSpacing bounds commit-driven checkpoints to a few
	// thousand per second, a small fraction of the commit rate under load,
	// while adding at most a quarter of a millisecond to their delay.
	DefaultCheckpointSpacing = 250 * time.Microsecond
	DefaultGCInterval        = 10 * time.Minute
	DefaultGCTTL             = 4 * time.Hour
	defaultCacheSize         = 64 << 20
	// dataBlockSize and indexBlockSize are the SSTable block sizes (Pebble
	// defaults to 4 KiB for both). A point read looks up, in every level
	// it visits, the filter, index and data blocks in the block cache; an
	// index of one block instead of two levels saves one lookup, and fewer,
	// larger data blocks keep that index small. About 10% off a point read
	// on a 1M-row table (BenchmarkPointReadParallel); CockroachDB uses the
	// same sizes. The cost is more bytes read per block-cache miss and
	// coarser time-bound block filtering (timebound.go).
	dataBlockSize  = 32 << 10
	indexBlockSize = 256 << 10
	// hwmLead is how far ahead of the wall clock the persisted clock
	// high-water mark is kept, and so how far in the future a node restarted
	// after a crash could hand out timestamps if Open did not wait; Open
	// waits at most this long. Renewal happens when half of it is left, so
	// a synced write of a few bytes every quarter second keeps the mark
	// ahead, and a renewal stalled for a quarter second (an fsync stall, a
	// starved goroutine) is what it takes for Now to sync itself.
	hwmLead = int64(500 * time.Millisecond)
	// maxReadFuture bounds how far ahead of the local wall clock a read
	// timestamp may be; reading in the future pushes the clock forward.
	maxReadFuture = int64(10 * time.Second)
)

// Engine is an MVCC store on Pebble. It is safe for concurrent use.
//
// Goroutines: Open starts the clock high-water-mark renewal loop, the
// rangefeed checkpoint loop and (unless disabled) the GC loop, plus one
// goroutine per rangefeed subscription. All of them stop on Close, which
// waits for them before closing Pebble.
type Engine struct {
	db *pebble.DB
	// lock is Pebble's directory lock, taken before the DB was opened
	// (lock.go) and released after it is closed.
	lock  *pebble.Lock
	popts *pebble.Options
	fs    vfs.FS
	dir   string
	opts  Options
	clock *Clock
	// noTimeBound is Options.noTimeBound (timebound.go).
	noTimeBound bool
	// testBeforeSnapshot, when set (tests only), runs just before a reader
	// takes its Pebble snapshot (snapshotIter, readIter) or, reusing a
	// pooled iterator, adopts that iterator's older one (readIter).
	testBeforeSnapshot func()
	// testAfterSync, when set (tests only), runs in a committer after its
	// WAL sync returned and before it marks anything applied.
	testAfterSync func(ts Timestamp)
	writeOpts     *pebble.WriteOptions

	// commitMu serializes commit validation with commit timestamp
	// assignment and the hand-off of commit batches to Pebble's commit
	// pipeline (see commit.go). It is never held across a WAL sync.
	commitMu sync.Mutex
	inflight struct {
		sync.Mutex
		// queue holds commits that have a timestamp but are not yet
		// published to rangefeeds, in timestamp order.
		queue []*commitEntry
		// wake, when not nil, is closed by the next commit that finishes
		// (readers waiting in waitApplied).
		wake chan struct{}
	}
	// pending counts commits that have a timestamp but are not applied;
	// readers skip the in-flight check when it is zero.
	pending atomic.Int64
	// publishMu orders deliveries to rangefeeds: popping applied commits
	// off the queue and appending their events (and checkpoints) to
	// subscriptions happens under it, so subscribers see timestamp order.
	publishMu   sync.Mutex
	publishBuf  []*commitEntry
	publishSubs []*Subscription
	feeds       feedRegistry
	// ckptSignal wakes the checkpoint loop when a commit-driven checkpoint
	// was skipped for CheckpointSpacing (capacity 1: signals coalesce); nil
	// when commit-driven checkpoints are disabled.
	ckptSignal chan struct{}
	// lastResolved is the newest checkpoint handed to subscriptions and
	// lastCkptAt when the last one was computed; guarded by publishMu.
	lastResolved Timestamp
	lastCkptAt   time.Time
	// ckptDeferred records that a commit-driven checkpoint was skipped
	// for CheckpointSpacing and not sent since; guarded by publishMu.
	ckptDeferred bool

	gc gcState

	// viewGen counts writes to Pebble (incremented after each returns) and
	// iters holds reusable read iterators; see "Iterator reuse" in
	// iterpool.go.
	viewGen atomic.Uint64
	iters   iterPool

	hwm struct {
		sync.Mutex
		persisted int64
		// sealed is set by Close once it lowered the mark to the last
		// timestamp handed out: no later mark may be persisted (the store
		// is about to close), so a Now after Close records an error
		// instead.
		sealed bool
	}
	clockErr atomic.Pointer[error]
	// poisoned is set when a commit's WAL write or sync failed. Pebble may
	// already have made that batch visible, so serving reads afterwards
	// could expose data that a crash would lose; every later operation
	// fails instead, and reopening the store recovers what is durable.
	// (Pebble v2 itself ends the process on a WAL write or sync failure;
	// this guards any commit error that reaches us.)
	poisoned atomic.Pointer[error]
	renewCh  chan struct{}

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed atomic.Bool
}

// Open opens (creating if needed) a store.
func Open(opts Options) (*Engine, error) {
	if opts.CheckpointInterval <= 0 {
		opts.CheckpointInterval = DefaultCheckpointInterval
	}
	if opts.CheckpointSpacing == 0 {
		opts.CheckpointSpacing = DefaultCheckpointSpacing
	}
	if opts.GCInterval == 0 {
		opts.GCInterval = DefaultGCInterval
	}
	if opts.DefaultGCTTL <= 0 {
		opts.DefaultGCTTL = DefaultGCTTL
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = defaultCacheSize
	}
	fs := opts.FS
	dir := opts.Dir
	if fs == nil {
		if opts.InMemory {
			fs = vfs.NewMem()
		} else {
			fs = vfs.Default
		}
	}
	if opts.InMemory && dir == "" {
		dir = "mem"
	}
	if dir == "" {
		return nil, errors.New("kv: Options.Dir is required for an on-disk store")
	}
	cache := pebble.NewCache(opts.CacheSize)
	defer cache.Unref()
	popts := &pebble.Options{
		FS:                 fs,
		Comparer:           comparer,
		Cache:              cache,
		FormatMajorVersion: pebble.FormatNewest,
		Logger:             quietLogger{},
		// Per-block MVCC time intervals for time-bound iteration
		// (timebound.go).
		BlockPropertyCollectors: blockPropertyCollectors,
	}
	if opts.MemTableSize > 0 {
		popts.MemTableSize = opts.MemTableSize
	}
	// Bloom filters on prefixes (user keys, thanks to Split) let point reads
	// skip tables that cannot hold the key.
	for i := range popts.Levels {
		popts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		popts.Levels[i].FilterType = pebble.TableFilter
		popts.Levels[i].BlockSize = dataBlockSize
		popts.Levels[i].IndexBlockSize = indexBlockSize
	}
	popts.EnsureDefaults()
	lock, err := lockStore(fs, dir)
	if err != nil {
		return nil, err
	}
	popts.Lock = lock
	db, err := pebble.Open(dir, popts)
	if err != nil {
		_ = lock.Close()
		return nil, errors.Wrap(err, "kv: opening pebble")
	}
	// closeDB undoes the opening when a later step fails.
	closeDB := func() {
		_ = db.Close()
		_ = lock.Close()
	}
	e := &Engine{
		db:          db,
		lock:        lock,
		popts:       popts,
		fs:          fs,
		dir:         dir,
		opts:        opts,
		writeOpts:   pebble.Sync,
		renewCh:     make(chan struct{}, 1),
		noTimeBound: opts.noTimeBound,
	}
	if opts.CheckpointSpacing > 0 {
		e.ckptSignal = make(chan struct{}, 1)
	}
	if opts.DisableSync {
		e.writeOpts = pebble.NoSync
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.feeds.init()
	e.iters.init(opts.CheckpointInterval)
	if err := e.initClock(); err != nil {
		closeDB()
		return nil, err
	}
	if err := e.gc.load(e); err != nil {
		closeDB()
		return nil, err
	}
	e.startLoops()
	return e, nil
}

// initClock starts the clock above the persisted high-water mark, so no
// timestamp handed out before a restart is handed out again. It first waits,
// at most hwmLead, for the wall clock to pass the mark: after a crash the
// mark leads the last timestamp by up to the lead, and without the wait the
// clock would hand out timestamps that far in the future (now(), AS OF
// SYSTEM TIME and a standby's replication lag would be skewed). A mark
// further ahead than the lead (the wall clock went backwards, or a store
// written with a longer lead) is not waited for: the clock goes on from the
// mark with logical ticks until the wall clock catches up, which keeps it
// monotonic.
func (e *Engine) initClock() error {
	hwm, err := e.readLocal(localKeyClockHWM)
	if err != nil {
		return err
	}
	var limit int64
	if len(hwm) == 8 {
		limit = int64(binary.BigEndian.Uint64(hwm))
	} else if hwm != nil {
		return errors.Newf("kv: malformed clock high-water mark (%d bytes)", len(hwm))
	}
	c := NewClock(e.opts.WallClock)
	e.waitForWall(c.wall, limit)
	c.startAbove(limit)
	c.window = hwmLead
	c.persist = e.persistHWM
	c.persistErr = func(err error) { e.clockErr.Store(&err) }
	c.renew = func() {
		select {
		case e.renewCh <- struct{}{}:
		default:
		}
	}
	e.hwm.persisted = limit
	e.clock = c
	// Raise the mark before serving anything.
	c.Now()
	if p := e.clockErr.Load(); p != nil {
		return errors.Wrap(*p, "kv: persisting clock high-water mark")
	}
	return nil
}

// waitForWall sleeps until wall() is above mark, unless that is more than
// hwmLead away.
func (e *Engine) waitForWall(wall func() int64, mark int64) {
	sleep := e.opts.sleep
	if sleep == nil {
		sleep = time.Sleep
	}
	// The mark is passed one nanosecond after it is reached.
	budget := hwmLead + 1
	for {
		gap := mark - wall() + 1
		if gap <= 0 || gap > budget {
			return
		}
		// The budget counts real time as well, which a sleep may exceed
		// (timer granularity, a wall clock slower than time.Sleep).
		start := time.Now()
		sleep(time.Duration(gap))
		budget -= max(gap, int64(time.Since(start)))
	}
}

// persistHWM durably records a clock high-water mark. Marks only move
// forward on disk even when the renewal loop and a synchronous extension
// race (Close's sealHWM alone lowers the mark, once nothing else runs).
func (e *Engine) persistHWM(limit int64) error {
	e.hwm.Lock()
	defer e.hwm.Unlock()
	if e.hwm.sealed {
		return ErrClosed
	}
	if limit <= e.hwm.persisted {
		return nil
	}
	if err := e.writeHWMLocked(limit); err != nil {
		return err
	}
	e.hwm.persisted = limit
	return nil
}

func (e *Engine) writeHWMLocked(limit int64) error {
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], uint64(limit))
	return e.db.Set(localKey(localKeyClockHWM), buf[:], pebble.Sync)
}

// sealHWM, called by Close once no commit is left, lowers the persisted mark
// to the wall time of the last timestamp handed out, so a restart after a
// clean shutdown need not wait for the lead to pass. The clock's lock is
// held throughout, and the clock's own limit is lowered with the mark, so
// every later Now (a caller using the clock after Close) has to persist a
// mark, which fails: the engine then refuses commits and nothing it hands
// out can be reused after a restart without being flagged. If the write
// fails the old, higher mark stays, which is safe.
func (e *Engine) sealHWM() {
	c := e.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	e.hwm.Lock()
	defer e.hwm.Unlock()
	mark := c.mu.last.WallTime
	if mark < e.hwm.persisted && e.poisoned.Load() == nil && e.clockErr.Load() == nil {
		if err := e.writeHWMLocked(mark); err == nil {
			e.hwm.persisted = mark
			c.mu.limit = mark
		}
	}
	e.hwm.sealed = true
}

func (e *Engine) startLoops() {
	e.wg.Add(2)
	go func() {
		defer e.wg.Done()
		e.renewLoop()
	}()
	go func() {
		defer e.wg.Done()
		e.checkpointLoop()
	}()
	if e.opts.GCInterval > 0 {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			e.gcLoop()
		}()
	}
}

// renewLoop keeps the clock's persisted high-water mark ahead of the wall
// clock, so Now rarely has to sync. It wakes when less than half the lead is
// left (a timer, so an idle engine keeps its mark ahead too and the first
// commit after a pause does not sync it) or when Now or Update ask
// (renewCh).
func (e *Engine) renewLoop() {
	timer := time.NewTimer(e.clock.renewalDelay())
	defer timer.Stop()
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-e.renewCh:
		case <-timer.C:
		}
		next := time.Duration(0)
		if target := e.clock.renewalTarget(); target != 0 {
			if err := e.persistHWM(target); err != nil {
				e.clockErr.Store(&err)
				// Commits are refused from now on; retry at a calm pace
				// rather than spin on a failing store.
				next = time.Duration(hwmLead / 2)
			} else {
				e.clock.raiseLimit(target)
			}
		}
		if next == 0 {
			next = e.clock.renewalDelay()
		}
		timer.Reset(next)
	}
}

// Close stops the engine's goroutines, ends every subscription and closes
// Pebble. Transactions still open fail afterwards.
func (e *Engine) Close() error {
	if !e.closed.CompareAndSwap(false, true) {
		return ErrClosed
	}
	e.cancel()
	e.feeds.closeAll(ErrClosed)
	e.wg.Wait()
	// Wait for commits that already have a timestamp: closing Pebble under
	// them would fail them after they were promised.
	e.commitMu.Lock()
	defer e.commitMu.Unlock()
	for e.pending.Load() > 0 {
		_ = e.waitApplied(context.Background(), MaxTimestamp)
	}
	e.sealHWM()
	e.closeIters()
	err := e.db.Close()
	if lerr := e.lock.Close(); err == nil {
		err = lerr
	}
	return err
}

// Clock returns the engine's clock.
func (e *Engine) Clock() *Clock { return e.clock }

// Now is shorthand for e.Clock().Now().
func (e *Engine) Now() Timestamp { return e.clock.Now() }

// checkOpen returns ErrClosed after Close.
func (e *Engine) checkOpen() error {
	if e.closed.Load() {
		return ErrClosed
	}
	if p := e.poisoned.Load(); p != nil {
		return errors.Wrap(*p, "kv: engine failed after a storage error; reopen it")
	}
	return nil
}

// Local (engine metadata) keys. They are bare engine keys under localPrefix,
// outside every user span.
const (
	localKeyClockHWM   = "clock-hwm"
	localKeyGCConfig   = "gc-ttl/"
	localKeyProtected  = "pts/"
	localKeyThresholds = "gc-thresholds"
)

func localKey(name string) []byte {
	k := make([]byte, 0, len(name)+2)
	k = append(k, localPrefix)
	k = append(k, name...)
	return append(k, sentinel)
}

// localSpanFor returns the engine-key bounds of local keys starting with
// name.
func localSpanFor(name string) (lower, upper []byte) {
	lower = append([]byte{localPrefix}, name...)
	upper = PrefixEnd(lower)
	return lower, upper
}

// readLocal returns a copy of a local key's value, or nil.
func (e *Engine) readLocal(name string) ([]byte, error) {
	v, closer, err := e.db.Get(localKey(name))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return append([]byte{}, v...), nil
}

// quietLogger drops Pebble's informational messages, which are noise in tests
// and in the server log, and keeps errors.
type quietLogger struct{}

func (quietLogger) Infof(string, ...interface{}) {}
func (quietLogger) Errorf(format string, args ...interface{}) {
	pebble.DefaultLogger.Errorf(format, args...)
}
func (quietLogger) Fatalf(format string, args ...interface{}) {
	pebble.DefaultLogger.Fatalf(format, args...)
}
