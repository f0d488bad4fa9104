package kv

import (
	"context"
	"runtime"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Iterator reuse.
//
// Opening a Pebble iterator for every read is expensive next to the read
// itself: NewIter takes a reference on the DB's read state, the first seek
// builds the merging iterator with one iterator per memtable and per level
// and opens a table iterator in every level it visits, and Close tears all of
// that down again (together about a third of a point Get on a table in the
// block cache). Reads (Get, Scan, Txn.Get, Txn.Scan) therefore take an
// iterator from a small pool and put it back afterwards, re-bounding it with
// SetBounds for scans.
//
// A Pebble iterator reads a fixed view of the DB: the one current when it
// was opened. Reusing it later is correct only if that view still contains
// everything the new read must see. Every write of user keys the engine
// makes to Pebble (commits, GC deletions, WriteVersions, IngestVersions,
// RevertRange, ClearRange) increments viewGen after the write returns, and a
// pooled iterator carries the value of viewGen loaded just before it was
// opened (its gen). A reader loads viewGen after its wait for in-flight
// commits (waitApplied), giving minGen, and may use any iterator with gen
// >= minGen:
//
//   - Every write the reader must see incremented viewGen before the
//     reader loaded minGen: a commit at or below the read timestamp
//     increments it before it is marked applied, which waitApplied waits
//     for; any other write the reader depends on returned before the read
//     began.
//   - An iterator with gen >= minGen was opened after its opener loaded gen,
//     which was after the increments of all those writes (viewGen only
//     grows, so loading a value >= minGen orders the load after the
//     increment that produced minGen and every earlier one), and Pebble
//     makes a write visible before it returns. So the iterator's view
//     contains them all.
//
// Newer writes in the view do not matter: a reader filters versions by its
// read timestamp, exactly as with a freshly opened iterator, and a version
// above the timestamp is invisible to it. A batch that Pebble made visible
// before its WAL sync finished can be in a pooled iterator's view, but only a
// reader whose timestamp is at or above that commit's can see it, and that
// reader waited for the commit to be applied (durable) first, as it would
// with a fresh iterator. The GC threshold check stays after taking the
// iterator (the snapshot was taken no later than that), so the argument of
// "Readers and GC" in gc.go is unchanged. A transaction loads minGen once,
// when it first waits (gate), so its reads may share iterators opened after
// that, which is what its reads at its fixed read timestamp need.
//
// Staleness is therefore cheap to detect but the pool must not keep old
// views alive: an open iterator pins memtables and sstables (memory, disk
// space of compacted-away files). Readers close the stale iterators they
// find at the top of the pool, and the checkpoint loop's idle tick closes
// every stale one and every one older than maxPooledIterAge. Close closes
// the pool, waits for the iterators in use (each held for one read) and
// closes them all before closing Pebble.
type iterPool struct {
	mu    sync.Mutex
	free  []*pooledIter
	inUse int
	// closed is set by Engine.Close; iterators released afterwards are
	// closed at once and new ones are refused.
	closed bool
	// drained, when not nil, is closed by the release that brings inUse to
	// zero after the pool was closed.
	drained chan struct{}
	// max bounds len(free).
	max int
	// maxSweeps is how many sweeps an iterator may survive in the pool
	// (maxPooledIterAge over the sweep interval).
	maxSweeps int
	// scratch is sweepIters' buffer; only the checkpoint loop uses it.
	scratch []*pooledIter
	// opened counts the iterators readIter opened (tests).
	opened int
}

// pooledIter is a pooled Pebble iterator.
type pooledIter struct {
	it *pebble.Iterator
	// gen is the value of Engine.viewGen loaded before it was opened.
	gen uint64
	// bounded records that a scan set bounds on it; a point read removes
	// them (SeekPrefixGE refuses keys outside the bounds).
	bounded bool
	// sweeps counts the idle sweeps it has been through.
	sweeps int
	// key is a buffer for the seek key of point reads.
	key []byte
}

// maxPooledIterAge bounds how long an iterator stays pooled (counted in
// sweeps of the checkpoint loop's idle tick), so that a view that no write
// made stale still does not pin files (compacted-away sstables) for long.
const maxPooledIterAge = time.Second

// init sizes the pool; sweepInterval is the checkpoint loop's idle tick.
func (p *iterPool) init(sweepInterval time.Duration) {
	p.max = 4 * runtime.GOMAXPROCS(0)
	if p.max < 8 {
		p.max = 8
	}
	p.maxSweeps = int(maxPooledIterAge / sweepInterval)
	if p.maxSweeps < 1 {
		p.maxSweeps = 1
	}
}

// bumpView records that a write to Pebble returned; see "Iterator reuse".
func (e *Engine) bumpView() { e.viewGen.Add(1) }

// viewFloor returns the minGen of a read that starts now: the caller has
// waited for the commits it must see.
func (e *Engine) viewFloor() uint64 { return e.viewGen.Load() }

// readIter returns an iterator (without bounds unless the caller sets them)
// whose view contains every write that incremented viewGen up to minGen.
// The caller must releaseIter it.
func (e *Engine) readIter(minGen uint64) (*pooledIter, error) {
	p := &e.iters
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrClosed
		}
		n := len(p.free)
		if n == 0 {
			p.inUse++
			p.opened++
			p.mu.Unlock()
			break
		}
		pi := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		if pi.gen >= minGen {
			p.inUse++
			p.mu.Unlock()
			if e.testBeforeSnapshot != nil {
				// The read's snapshot is this iterator's (older) one.
				e.testBeforeSnapshot()
			}
			return pi, nil
		}
		p.mu.Unlock()
		_ = pi.it.Close()
	}
	gen := e.viewGen.Load()
	if e.testBeforeSnapshot != nil {
		e.testBeforeSnapshot()
	}
	it, err := e.db.NewIter(nil)
	if err != nil {
		e.iterDone()
		return nil, err
	}
	return &pooledIter{it: it, gen: gen}, nil
}

// releaseIter returns pi to the pool, or closes it when the pool is full or
// closed or the iterator failed.
func (e *Engine) releaseIter(pi *pooledIter) {
	p := &e.iters
	keep := pi.it.Error() == nil
	p.mu.Lock()
	if keep && !p.closed && len(p.free) < p.max {
		pi.sweeps = 0
		p.free = append(p.free, pi)
		p.inUse--
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	// Closed before iterDone: Close waits for inUse to reach zero and
	// then closes Pebble, which must find no open iterator.
	_ = pi.it.Close()
	e.iterDone()
}

// iterDone ends one use of the pool.
func (e *Engine) iterDone() {
	p := &e.iters
	p.mu.Lock()
	p.inUse--
	if p.inUse == 0 && p.drained != nil {
		close(p.drained)
		p.drained = nil
	}
	p.mu.Unlock()
}

// sweepIters closes pooled iterators that are stale (a write happened since
// they were opened) or have been pooled for maxSweeps sweeps. The
// checkpoint loop calls it on its idle tick.
func (e *Engine) sweepIters() {
	p := &e.iters
	gen := e.viewGen.Load()
	p.mu.Lock()
	if len(p.free) == 0 {
		p.mu.Unlock()
		return
	}
	kept := p.free[:0]
	drop := p.scratch[:0]
	for _, pi := range p.free {
		pi.sweeps++
		if pi.gen < gen || pi.sweeps > p.maxSweeps {
			drop = append(drop, pi)
		} else {
			kept = append(kept, pi)
		}
	}
	for i := len(kept); i < len(p.free); i++ {
		p.free[i] = nil
	}
	p.free = kept
	p.mu.Unlock()
	for i, pi := range drop {
		_ = pi.it.Close()
		drop[i] = nil
	}
	p.scratch = drop[:0]
}

// closeIters closes the pool for Engine.Close: it waits for the iterators
// in use (each is held for one read, which does not block) and closes every
// pooled one.
func (e *Engine) closeIters() {
	p := &e.iters
	p.mu.Lock()
	p.closed = true
	free := p.free
	p.free = nil
	var drained chan struct{}
	if p.inUse > 0 {
		drained = make(chan struct{})
		p.drained = drained
	}
	p.mu.Unlock()
	for _, pi := range free {
		_ = pi.it.Close()
	}
	if drained != nil {
		<-drained
	}
}

// The engine's writes of user keys to Pebble other than commits
// (applyBatch) go through these wrappers, which bump viewGen after the write
// returns, failed or not. Writes of engine-local metadata keys (clock
// high-water mark, protected timestamps, GC TTLs and thresholds) do not:
// pooled iterators only serve reads clamped to the user keyspace, and
// metadata is read with DB.Get. (The clock renewal writes every few
// seconds; making the pool stale for it would cost little but make reuse
// unpredictable.)

func (e *Engine) dbDeleteRange(start, end []byte, o *pebble.WriteOptions) error {
	err := e.db.DeleteRange(start, end, o)
	e.bumpView()
	return err
}

func (e *Engine) commitBatch(b *pebble.Batch, o *pebble.WriteOptions) error {
	err := b.Commit(o)
	e.bumpView()
	return err
}

func (e *Engine) dbIngest(ctx context.Context, paths []string) error {
	err := e.db.Ingest(ctx, paths)
	e.bumpView()
	return err
}
