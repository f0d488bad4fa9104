package kv

import (
	"context"
	"sort"

	"github.com/cockroachdb/errors"
)

// TxnOptions configures Begin.
type TxnOptions struct {
	ReadTimestamp Timestamp // zero = now
	ReadOnly      bool      // writes fail; commit never conflicts
}

// Txn is a serializable, optimistic transaction: it reads at its read
// timestamp, buffers its writes (reads see them) and at Commit validates that
// nothing it read changed before its commit timestamp (see commit.go). A Txn
// is not safe for concurrent use.
type Txn struct {
	e        *Engine
	readTS   Timestamp
	readOnly bool
	// gated records that the wait for in-flight commits at or below readTS
	// is done; it is deferred to the first read so that a write-only
	// transaction never waits.
	gated bool
	// minGen is the engine's viewGen loaded right after that wait: reads
	// may use any pooled iterator at least that fresh (iterpool.go).
	minGen uint64
	done   bool
	err    error // a sticky error from Begin (bad read timestamp)
	buf    writeBuffer
	reads  readSet

	// Inline storage so a small transaction (one or two rows) needs no
	// separate allocations for its buffer.
	logInline   [2]bufEntry
	orderInline [2]string
	arenaInline [160]byte
	finalInline [2]write
	readsInline [2][]byte
}

// Savepoint is an opaque marker of a transaction's write buffer.
type Savepoint struct{ n int }

// Begin starts a transaction. It does not block. Without
// opts.ReadTimestamp the read timestamp is taken from the clock when first
// needed (the first read, ReadTimestamp, or Commit of a transaction that
// wrote nothing), so a transaction that only writes never reads the clock
// for it; once taken it never changes.
func (e *Engine) Begin(opts TxnOptions) *Txn {
	t := &Txn{e: e, readOnly: opts.ReadOnly}
	t.buf.log = t.logInline[:0]
	t.buf.order = t.orderInline[:0]
	t.buf.arena = t.arenaInline[:0]
	t.buf.final0 = t.finalInline[:0]
	t.reads.keys = t.readsInline[:0]
	if err := e.checkOpen(); err != nil {
		t.err = err
		return t
	}
	if !opts.ReadTimestamp.IsEmpty() {
		t.readTS = opts.ReadTimestamp
		if err := e.checkFuture(t.readTS); err != nil {
			t.err = err
		} else {
			e.clock.Update(t.readTS)
		}
	}
	return t
}

// ReadTimestamp returns the timestamp the transaction reads at.
func (t *Txn) ReadTimestamp() Timestamp {
	t.takeReadTS()
	return t.readTS
}

// takeReadTS fixes the read timestamp if Begin left it to the first use.
// Any timestamp would do for serializability (commit validates everything
// read against (readTS, commitTS]); taking it late only makes the
// snapshot fresher.
func (t *Txn) takeReadTS() {
	if t.readTS.IsEmpty() && t.err == nil {
		t.readTS = t.e.clock.Now()
	}
}

func (t *Txn) check() error {
	if t.err != nil {
		return t.err
	}
	if t.done {
		return ErrTxnDone
	}
	return t.e.checkOpen()
}

func (t *Txn) checkWrite() error {
	if err := t.check(); err != nil {
		return err
	}
	if t.readOnly {
		return ErrReadOnly
	}
	return nil
}

// gate waits, once, for in-flight commits at or below the read timestamp.
func (t *Txn) gate(ctx context.Context) error {
	if t.gated {
		return nil
	}
	t.takeReadTS()
	if err := t.e.waitApplied(ctx, t.readTS); err != nil {
		return err
	}
	t.minGen = t.e.viewFloor()
	t.gated = true
	return nil
}

// Get returns key's value as the transaction sees it: its own latest write,
// or the newest committed version at or below the read timestamp.
func (t *Txn) Get(ctx context.Context, key []byte) ([]byte, bool, error) {
	if err := t.check(); err != nil {
		return nil, false, err
	}
	if err := validateUserKey(key); err != nil {
		return nil, false, err
	}
	if w, ok := t.buf.get(key); ok {
		if w.tombstone {
			return nil, false, nil
		}
		return append(make([]byte, 0, len(w.value)), w.value...), true, nil
	}
	if err := t.gate(ctx); err != nil {
		return nil, false, err
	}
	v, found, err := t.e.getAt(key, t.readTS, t.minGen)
	if err != nil {
		return nil, false, err
	}
	if !t.readOnly {
		// The write buffer's arena holds read keys too: it only grows, so
		// the copy stays valid for the transaction's life.
		t.reads.keys = append(t.reads.keys, t.buf.copy(key))
	}
	return v, found, nil
}

// Scan returns the rows of span as the transaction sees them.
func (t *Txn) Scan(ctx context.Context, span Span, opts ScanOptions) (ScanResult, error) {
	if err := t.check(); err != nil {
		return ScanResult{}, err
	}
	s, ok := clampSpan(span)
	if !ok {
		return ScanResult{}, nil
	}
	if err := t.gate(ctx); err != nil {
		return ScanResult{}, err
	}
	res, covered, err := t.e.scanAt(s, t.readTS, t.minGen, opts, &t.buf)
	if err != nil {
		return ScanResult{}, err
	}
	if !t.readOnly {
		t.reads.spans = append(t.reads.spans, Span{
			Key:    append([]byte(nil), covered.Key...),
			EndKey: append([]byte(nil), covered.EndKey...),
		})
	}
	return res, nil
}

// Put buffers a write of value (copied) to key.
func (t *Txn) Put(key, value []byte) error {
	if err := t.checkWrite(); err != nil {
		return err
	}
	if err := validateUserKey(key); err != nil {
		return err
	}
	if value == nil {
		value = []byte{}
	}
	t.buf.put(key, value, false)
	return nil
}

// Delete buffers a tombstone for key.
func (t *Txn) Delete(key []byte) error {
	if err := t.checkWrite(); err != nil {
		return err
	}
	if err := validateUserKey(key); err != nil {
		return err
	}
	t.buf.put(key, nil, true)
	return nil
}

// DeleteRange deletes every key of span that is live as of commit.
//
// It is turned into point tombstones at once: the transaction scans the span
// (seeing its own writes) and buffers a tombstone for each live key. The scan
// puts the span in the read set, so Commit fails if any key of the span
// changes before the commit timestamp; hence the keys deleted are exactly
// the keys live at commit time. Rangefeeds and replication therefore only
// ever carry point events, and readers need no range-tombstone logic.
func (t *Txn) DeleteRange(span Span) error {
	if err := t.checkWrite(); err != nil {
		return err
	}
	// The API has no context here; the only wait is for in-flight commits,
	// which is bounded by one WAL sync.
	res, err := t.Scan(context.Background(), span, ScanOptions{})
	if err != nil {
		return err
	}
	for _, kv := range res.KVs {
		t.buf.put(kv.Key, nil, true)
	}
	return nil
}

// Savepoint returns a marker of the write buffer. Reads are not rolled back
// by RollbackTo: the client saw them, so they stay in the read set.
func (t *Txn) Savepoint() Savepoint { return Savepoint{n: len(t.buf.log)} }

// RollbackTo undoes the writes made after sp.
func (t *Txn) RollbackTo(sp Savepoint) error {
	if err := t.check(); err != nil {
		return err
	}
	if sp.n > len(t.buf.log) {
		return errors.New("kv: savepoint is no longer valid")
	}
	t.buf.rollbackTo(sp.n)
	return nil
}

// Commit validates and durably commits the transaction, returning its commit
// timestamp. A transaction without writes commits at its read timestamp
// without validation. A conflict returns an error for which IsRetryable is
// true.
func (t *Txn) Commit(ctx context.Context) (Timestamp, error) {
	if err := t.check(); err != nil {
		return Timestamp{}, err
	}
	t.done = true
	writes := t.buf.final()
	if len(writes) == 0 {
		t.takeReadTS()
		return t.readTS, nil
	}
	return t.e.commit(ctx, t.readTS, &t.reads, writes)
}

// Rollback abandons the transaction.
func (t *Txn) Rollback() { t.done = true }

// writeBuffer holds a transaction's writes as an append-only log (for
// savepoints) indexed by key, plus the keys in sorted order for scans. Small
// buffers (the common single-row transaction) find keys by scanning the log
// and build the index only when they grow, which saves a map per
// transaction.
type writeBuffer struct {
	log []bufEntry
	// latest maps a key to the index of its newest log entry, or -1 when
	// its writes were rolled back. It is nil while the buffer is small.
	latest map[string]int32
	// order holds every key ever written; order[:sorted] is sorted, the
	// tail is sorted and merged in lazily by the next scan.
	order  []string
	sorted int
	arena  []byte
	// final0 is optional storage for final's result.
	final0 []write
}

// smallBuffer is the number of distinct keys up to which writeBuffer works
// without its index.
const smallBuffer = 8

type bufEntry struct {
	key       string
	kb        []byte // key as bytes (arena), so scans need not convert
	value     []byte
	tombstone bool
	prev      int32 // index of the previous entry for key, or -1 (indexed mode)
}

// latestIdx returns the index of key's newest surviving log entry, or -1.
func (b *writeBuffer) latestIdx(key string) int32 {
	if b.latest != nil {
		if i, ok := b.latest[key]; ok {
			return i
		}
		return -1
	}
	for i := len(b.log) - 1; i >= 0; i-- {
		if b.log[i].key == key {
			return int32(i)
		}
	}
	return -1
}

// known reports whether key is in order (written at some point).
func (b *writeBuffer) known(key []byte) bool {
	if b.latest != nil {
		_, ok := b.latest[string(key)]
		return ok
	}
	for _, k := range b.order {
		if k == string(key) {
			return true
		}
	}
	return false
}

func (b *writeBuffer) put(key, value []byte, tombstone bool) {
	var k string
	var kb []byte
	prev := int32(-1)
	if b.known(key) {
		if i := b.latestIdx(string(key)); i >= 0 {
			k, kb, prev = b.log[i].key, b.log[i].kb, i
		} else {
			k, kb = string(key), b.copy(key)
		}
	} else {
		k, kb = string(key), b.copy(key)
		b.order = append(b.order, k)
	}
	var v []byte
	if !tombstone {
		v = b.copy(value)
	}
	idx := int32(len(b.log))
	b.log = append(b.log, bufEntry{key: k, kb: kb, value: v, tombstone: tombstone, prev: prev})
	if b.latest != nil {
		b.latest[k] = idx
	} else if len(b.order) > smallBuffer {
		b.buildIndex()
	}
}

// buildIndex switches to indexed mode: it computes prev links and the map.
func (b *writeBuffer) buildIndex() {
	b.latest = make(map[string]int32, 2*len(b.order))
	for _, k := range b.order {
		b.latest[k] = -1
	}
	for i := range b.log {
		e := &b.log[i]
		e.prev = b.latest[e.key]
		b.latest[e.key] = int32(i)
	}
}

// copy copies p into the buffer's arena.
func (b *writeBuffer) copy(p []byte) []byte {
	if cap(b.arena)-len(b.arena) < len(p) {
		c := 2 * cap(b.arena)
		if c < 256 {
			c = 256
		}
		if c > 1<<20 {
			c = 1 << 20
		}
		if c < len(p) {
			c = len(p)
		}
		b.arena = make([]byte, 0, c)
	}
	start := len(b.arena)
	b.arena = append(b.arena, p...)
	return b.arena[start:len(b.arena):len(b.arena)]
}

func (b *writeBuffer) get(key []byte) (*bufEntry, bool) {
	i := b.latestIdx(string(key))
	if i < 0 {
		return nil, false
	}
	return &b.log[i], true
}

func (b *writeBuffer) rollbackTo(n int) {
	if b.latest != nil {
		for i := len(b.log) - 1; i >= n; i-- {
			b.latest[b.log[i].key] = b.log[i].prev
		}
	}
	b.log = b.log[:n]
}

// sortKeys sorts the unsorted tail of order and merges it in.
func (b *writeBuffer) sortKeys() {
	if b.sorted == len(b.order) {
		return
	}
	tail := b.order[b.sorted:]
	sort.Strings(tail)
	if b.sorted > 0 {
		merged := make([]string, 0, len(b.order))
		head := b.order[:b.sorted]
		i, j := 0, 0
		for i < len(head) && j < len(tail) {
			if head[i] < tail[j] {
				merged = append(merged, head[i])
				i++
			} else {
				merged = append(merged, tail[j])
				j++
			}
		}
		merged = append(merged, head[i:]...)
		merged = append(merged, tail[j:]...)
		b.order = merged
	}
	b.sorted = len(b.order)
}

// search returns the index in the sorted part of order of the first key >= k.
func (b *writeBuffer) search(k []byte) int {
	return sort.Search(b.sorted, func(i int) bool { return b.order[i] >= string(k) })
}

// final returns the surviving writes sorted by key.
func (b *writeBuffer) final() []write {
	b.sortKeys()
	out := b.final0[:0]
	if cap(out) < len(b.order) {
		out = make([]write, 0, len(b.order))
	}
	for _, k := range b.order {
		if i := b.latestIdx(k); i >= 0 {
			e := &b.log[i]
			out = append(out, write{key: e.kb, value: e.value, tombstone: e.tombstone})
		}
	}
	return out
}

// bufIter walks the live entries of a writeBuffer within a span.
type bufIter struct {
	b    *writeBuffer
	span Span
	i    int
}

func (it *bufIter) init(b *writeBuffer, s Span) {
	b.sortKeys()
	it.b, it.span = b, s
}

func (it *bufIter) seekGE() {
	if it.b == nil {
		return
	}
	it.i = it.b.search(it.span.Key)
	it.skip(false)
}

func (it *bufIter) seekLT() {
	if it.b == nil {
		return
	}
	it.i = it.b.search(it.span.EndKey) - 1
	it.skip(true)
}

// skip moves past rolled-back keys.
func (it *bufIter) skip(reverse bool) {
	for it.valid() && it.b.latestIdx(it.b.order[it.i]) < 0 {
		if reverse {
			it.i--
		} else {
			it.i++
		}
	}
}

func (it *bufIter) valid() bool {
	if it.b == nil || it.i < 0 || it.i >= len(it.b.order) {
		return false
	}
	k := it.b.order[it.i]
	return k >= string(it.span.Key) && k < string(it.span.EndKey)
}

// keyEquals reports whether the current key is k.
func (it *bufIter) keyEquals(k []byte) bool {
	return it.b.order[it.i] == string(k)
}

func (it *bufIter) current() (key, value []byte, tombstone bool) {
	e := &it.b.log[it.b.latestIdx(it.b.order[it.i])]
	return e.kb, e.value, e.tombstone
}

func (it *bufIter) advance(reverse bool) {
	if reverse {
		it.i--
	} else {
		it.i++
	}
	it.skip(reverse)
}
