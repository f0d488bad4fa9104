package kv

import (
	"bytes"
	"context"
	"sort"

	"github.com/cockroachdb/errors"
	"github.com/cockroachdb/pebble/v2"
)

// The commit path.
//
// A read-write transaction commits in four steps:
//
//  1. Under commitMu: check the read set against the in-flight queue (commits
//     that have a timestamp but may not be visible in Pebble yet), then
//     against Pebble (any version newer than the read timestamp of a key or
//     span that was read is a conflict). Then, under inflight.mu, take the
//     commit timestamp from the clock and append the commit (timestamp and
//     write set) to the in-flight queue.
//  2. Still under commitMu: encode the writes at the commit timestamp into
//     one Pebble batch and hand it to Pebble's commit pipeline without
//     waiting for the WAL sync (DB.ApplyNoSyncWait): the batch takes its
//     place in the WAL and becomes visible. commitMu is released.
//  3. Without any lock: wait for the WAL sync (Batch.SyncWait). Pebble's
//     commit pipeline lets concurrent synced batches share one WAL fsync:
//     this is group commit. Then mark the entry — and every entry queued
//     before it — applied (readers waiting for them proceed) and return.
//  4. Pop every applied entry at the head of the queue and, when rangefeeds
//     are open, deliver it to them in timestamp order followed by a
//     checkpoint (rangefeed.go).
//
// Completion in WAL order. Because step 2 runs under commitMu, commits
// enter the WAL in queue (timestamp) order. A WAL sync makes durable
// everything written to the WAL before it: within a file the log writer
// syncs a prefix of the file and signals waiters in order, and when Pebble
// rotates to a new WAL file it closes the old one with a sync before
// writing anything to the new one (DB.rotateWAL). Pebble also publishes
// batches in sequence-number order, so a batch that entered earlier is
// visible no later than one that entered after it. So when a commit's sync
// returns, every commit queued before it is durable and visible too, and
// its finisher marks them applied at once rather than leaving them to
// their own goroutines, which on a busy machine can run well after their
// sync finished (the oldest in-flight commit holds back readers and every
// rangefeed checkpoint). A commit whose hand-off to Pebble fails is marked
// failed before commitMu is released, before any later commit exists, so
// no later finisher marks it applied. Writes outside the commit path
// (WriteVersions, GC, history operations) are not in the queue and do not
// affect this argument.
//
// The hand-off under commitMu adds the memtable insertion (a few
// microseconds) to the serialized part of a commit; the WAL sync, which
// costs a millisecond or more, stays outside every lock.
//
// Why this is serializable: commit timestamps are assigned in the same
// critical section as validation, so when transaction T validates, every
// commit with a smaller timestamp is either in the in-flight queue (its write
// set is checked directly) or already visible in Pebble (checked by reading).
// The in-flight check happens before the Pebble check, so an entry that
// leaves the queue in between is visible to the Pebble check. If no key or
// span T read has a version in (readTS, commitTS], T's reads are exactly what
// it would have read at commitTS, so the history is equivalent to running the
// transactions one at a time in commit-timestamp order.
//
// Why readers never read a stale or non-durable value: a reader at timestamp
// r first waits until every in-flight commit with timestamp <= r is applied
// (waitApplied). A commit's timestamp is taken and its entry queued in one
// inflight.mu critical section, so a reader that obtained r from the clock
// after that commit obtained its timestamp finds the entry (or finds it
// already applied). An entry is marked applied only after the WAL sync of
// its batch or of a later one returned, so what a reader sees at r is
// durable and complete. The
// wait lasts at most one WAL sync. Pebble itself makes a synced batch visible
// before its fsync finishes; the wait is what hides that window.
//
// Rejected designs: without the in-flight queue, doing the Pebble write
// after releasing a lock that only covered validation and timestamp
// assignment lets a reader with a newer read timestamp miss a commit that
// then appears below it (a stale read);
// holding one lock across the WAL sync makes every commit pay a full fsync
// alone (no group commit). Validation reads Pebble under commitMu; typical
// read sets are a handful of keys served from the memtable and block cache,
// so the lock is held for microseconds against a millisecond fsync.
//
// Read-only transactions neither validate nor take commitMu: they read a
// consistent snapshot at their read timestamp and are serialized there.

// commitEntry is a commit that has a timestamp and is not yet published to
// rangefeeds.
type commitEntry struct {
	ts     Timestamp
	writes []write // sorted by key, one per key
	// done (the batch is durable in Pebble, or failed) and failed are
	// guarded by Engine.inflight.
	done   bool
	failed bool
}

// write is one buffered write of a transaction.
type write struct {
	key       []byte
	value     []byte
	tombstone bool
}

// readSet is what a transaction read: point keys and spans (with clamped
// bounds). Keys and span bounds are owned copies.
type readSet struct {
	keys  [][]byte
	spans []Span
}

func (r *readSet) empty() bool { return len(r.keys) == 0 && len(r.spans) == 0 }

// conflictsWith returns the first key of writes (sorted) that r covers.
func (r *readSet) conflictsWith(writes []write) ([]byte, bool) {
	for _, k := range r.keys {
		i := sort.Search(len(writes), func(i int) bool { return bytes.Compare(writes[i].key, k) >= 0 })
		if i < len(writes) && bytes.Equal(writes[i].key, k) {
			return k, true
		}
	}
	for _, s := range r.spans {
		i := sort.Search(len(writes), func(i int) bool { return bytes.Compare(writes[i].key, s.Key) >= 0 })
		if i < len(writes) && bytes.Compare(writes[i].key, s.EndKey) < 0 {
			return writes[i].key, true
		}
	}
	return nil, false
}

// commit validates reads (taken at readTS) and durably applies writes (sorted,
// unique keys) at a new commit timestamp.
func (e *Engine) commit(ctx context.Context, readTS Timestamp, reads *readSet, writes []write) (Timestamp, error) {
	if err := ctx.Err(); err != nil {
		return Timestamp{}, err
	}
	e.commitMu.Lock()
	if err := e.checkOpen(); err != nil {
		e.commitMu.Unlock()
		return Timestamp{}, err
	}
	if p := e.clockErr.Load(); p != nil {
		e.commitMu.Unlock()
		return Timestamp{}, errors.Wrap(*p, "kv: clock high-water mark not persisted")
	}
	if err := e.validateLocked(readTS, reads); err != nil {
		e.commitMu.Unlock()
		return Timestamp{}, err
	}
	ce := &commitEntry{writes: writes}
	e.inflight.Lock()
	// Order matters for readers' fast path: pending is raised before the
	// timestamp is taken (see waitApplied).
	e.pending.Add(1)
	ce.ts = e.clock.Now()
	e.inflight.queue = append(e.inflight.queue, ce)
	e.inflight.Unlock()
	// The batch enters Pebble's commit pipeline (takes its place in the
	// WAL and becomes visible) under commitMu, so commits enter the WAL in
	// timestamp order; the WAL sync is waited for outside (see "Completion
	// in WAL order" above).
	b, err := e.enterBatch(ce)
	if err != nil {
		e.poisoned.CompareAndSwap(nil, &err)
		// Marked failed before any later commit can take a timestamp, so
		// that no later finisher marks it applied.
		e.inflight.Lock()
		e.markFailedLocked(ce)
		e.inflight.Unlock()
		e.commitMu.Unlock()
		e.inflight.Lock()
		e.popOrPublishUnlock()
		return Timestamp{}, errors.Wrap(err, "kv: commit")
	}
	e.commitMu.Unlock()

	err = e.syncBatch(b)
	if err != nil {
		e.poisoned.CompareAndSwap(nil, &err)
	}
	if e.testAfterSync != nil {
		e.testAfterSync(ce.ts)
	}
	e.finish(ce, err)
	if err != nil {
		return Timestamp{}, errors.Wrap(err, "kv: commit")
	}
	return ce.ts, nil
}

// enterBatch writes ce's writes at ce.ts into a Pebble batch and hands it to
// Pebble's commit pipeline without waiting for the WAL sync: when it
// returns, the batch has its place in the WAL and is visible (but is
// durable only once syncBatch returns). Called under commitMu.
func (e *Engine) enterBatch(ce *commitEntry) (*pebble.Batch, error) {
	size := 0
	for i := range ce.writes {
		w := &ce.writes[i]
		size += encodedKeyLen(len(w.key)) + encodedValueLen(w.value, w.tombstone) + 8
	}
	b := e.db.NewBatchWithSize(size + 32)
	for i := range ce.writes {
		w := &ce.writes[i]
		op := b.SetDeferred(encodedKeyLen(len(w.key)), encodedValueLen(w.value, w.tombstone))
		writeKey(op.Key, w.key, ce.ts)
		writeValue(op.Value, w.value, w.tombstone)
		if err := op.Finish(); err != nil {
			_ = b.Close()
			return nil, err
		}
	}
	var err error
	if e.writeOpts.Sync {
		err = e.db.ApplyNoSyncWait(b, e.writeOpts)
	} else {
		err = b.Commit(e.writeOpts)
	}
	// Before finish marks the commit applied: see "Iterator reuse".
	e.bumpView()
	if err != nil {
		// The batch is not closed: Pebble may still hold it for the sync
		// it was queued for, and the engine is poisoned anyway.
		return nil, err
	}
	return b, nil
}

// syncBatch waits for the WAL sync of a batch enterBatch handed to Pebble
// and releases the batch.
func (e *Engine) syncBatch(b *pebble.Batch) error {
	var err error
	if e.writeOpts.Sync {
		err = b.SyncWait()
		if err != nil {
			return err
		}
	}
	return b.Close()
}

// finish marks ce applied — and with it every commit queued before it, see
// "Completion in WAL order" — releasing readers that wait for them, and
// removes the applied commits at the head of the queue, handing them to
// rangefeeds when there are subscriptions. err is ce's sync error (Pebble v2
// ends the process on WAL sync failures, so this is not expected).
func (e *Engine) finish(ce *commitEntry, err error) {
	e.inflight.Lock()
	switch {
	case err != nil:
		e.markFailedLocked(ce)
	case !ce.done && e.opts.ownCompletion:
		ce.done = true
		e.pending.Add(-1)
		e.wakeLocked()
	case !ce.done:
		// ce is still queued (entries leave the queue only once applied),
		// and every entry before it entered the WAL before it.
		woke := false
		for _, q := range e.inflight.queue {
			if !q.done {
				q.done = true
				e.pending.Add(-1)
				woke = true
			}
			if q == ce {
				break
			}
		}
		if woke {
			e.wakeLocked()
		}
	default:
		// A later commit's finisher already marked ce (and everything
		// before it) applied.
	}
	e.popOrPublishUnlock()
}

// markFailedLocked marks ce done and failed (readers stop waiting for it,
// rangefeeds skip it). Called under inflight.mu.
func (e *Engine) markFailedLocked(ce *commitEntry) {
	if ce.done {
		return
	}
	ce.done, ce.failed = true, true
	e.pending.Add(-1)
	e.wakeLocked()
}

// wakeLocked releases the readers waiting in waitApplied. Called under
// inflight.mu.
func (e *Engine) wakeLocked() {
	if e.inflight.wake != nil {
		close(e.inflight.wake)
		e.inflight.wake = nil
	}
}

// popOrPublishUnlock removes the applied commits at the head of the queue,
// through publish when rangefeeds are open. Called under inflight.mu, which
// it releases.
//
// Without subscriptions the head is popped right here, in the finisher's
// critical section, saving the publication path's two lock acquisitions.
// That is safe because subscriptions register under inflight.mu too
// (Subscribe): an entry popped here while no subscription was registered is
// applied and older than the first checkpoint of any subscription
// registered later, whose catch-up scan therefore covers it.
func (e *Engine) popOrPublishUnlock() {
	if !e.feeds.active() {
		e.popAppliedLocked()
		e.inflight.Unlock()
		return
	}
	e.inflight.Unlock()
	e.publish()
}

// popAppliedLocked removes the applied commits at the head of the queue and
// returns how many there were; they stay readable in the queue's backing
// array (publishBuf) until the caller is done with them. Called under
// inflight.mu.
func (e *Engine) popAppliedLocked() int {
	q := e.inflight.queue
	n := 0
	for n < len(q) && q[n].done {
		n++
	}
	if n == 0 {
		return 0
	}
	for i := 0; i < n; i++ {
		q[i] = nil
	}
	e.inflight.queue = q[n:]
	if len(e.inflight.queue) == 0 {
		e.inflight.queue = q[:0]
	}
	return n
}

// publish pops applied commits off the head of the in-flight queue and hands
// them to rangefeeds. publishMu keeps deliveries in timestamp order across
// concurrent finishers.
func (e *Engine) publish() {
	e.publishMu.Lock()
	defer e.publishMu.Unlock()
	e.inflight.Lock()
	q := e.inflight.queue
	n := 0
	for n < len(q) && q[n].done {
		n++
	}
	e.publishBuf = append(e.publishBuf[:0], q[:n]...)
	e.popAppliedLocked()
	e.inflight.Unlock()
	if e.feeds.active() {
		e.publishSubs = e.feeds.snapshot(e.publishSubs)
		for _, ce := range e.publishBuf {
			if !ce.failed {
				e.feeds.publishCommit(ce, e.publishSubs)
			}
		}
		if (n > 0 || e.ckptDeferred) && e.ckptSignal != nil {
			// The resolved timestamp moved, now or when an earlier
			// publisher deferred its checkpoint for the spacing. A
			// finisher whose commit a later one already published still
			// sends that deferred checkpoint once the spacing has passed,
			// saving the hop to the checkpoint loop (with completion in
			// WAL order most finishers have nothing left to publish).
			e.commitCheckpointLocked(e.publishSubs)
		}
	}
	for i := range e.publishBuf {
		e.publishBuf[i] = nil
	}
}

// waitApplied returns once every commit with a timestamp <= ts is applied.
// The caller must have obtained ts from the clock (Now or Update) before
// calling, which orders its clock access after the pending.Add of every
// commit with a smaller timestamp; a zero pending count then proves there is
// nothing to wait for.
//
// Waiters share one channel that the next finishing commit closes (made
// only when someone waits, so commits allocate nothing for it) and then
// look again.
func (e *Engine) waitApplied(ctx context.Context, ts Timestamp) error {
	for {
		if e.pending.Load() == 0 {
			return nil
		}
		e.inflight.Lock()
		blocked := false
		for _, ce := range e.inflight.queue {
			if ts.Less(ce.ts) {
				break
			}
			if !ce.done {
				blocked = true
				break
			}
		}
		if !blocked {
			e.inflight.Unlock()
			return nil
		}
		if e.inflight.wake == nil {
			e.inflight.wake = make(chan struct{})
		}
		ch := e.inflight.wake
		e.inflight.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// validateLocked checks reads against the in-flight queue and then Pebble.
// The order matters, see the comment at the top of this file.
func (e *Engine) validateLocked(readTS Timestamp, reads *readSet) error {
	if reads.empty() {
		return nil
	}
	// Under commitMu, so a GC pass cannot raise the threshold (and start
	// deleting versions this validation needs) in the middle.
	if err := e.gc.checkReads(reads, readTS); err != nil {
		return err
	}
	e.inflight.Lock()
	for _, ce := range e.inflight.queue {
		if ce.failed || !readTS.Less(ce.ts) {
			continue
		}
		if k, ok := reads.conflictsWith(ce.writes); ok {
			e.inflight.Unlock()
			return &RetryError{Key: append([]byte(nil), k...), ReadTimestamp: readTS,
				ConflictTimestamp: ce.ts, Reason: "write by a concurrent commit"}
		}
	}
	e.inflight.Unlock()
	return e.validateAgainstStore(readTS, reads)
}

// validateAgainstStore fails if any key or span in reads has a version newer
// than readTS in Pebble.
func (e *Engine) validateAgainstStore(readTS Timestamp, reads *readSet) error {
	var opts *pebble.IterOptions
	if len(reads.spans) > 0 {
		// Only versions newer than readTS are conflicts: a scanned span's
		// blocks without any are skipped.
		opts = e.timeBoundIterOptions(nil, nil, readTS, Timestamp{})
	}
	it, err := e.db.NewIter(opts)
	if err != nil {
		return err
	}
	defer it.Close()
	var buf []byte
	conflict := func(key []byte, ts Timestamp) error {
		return &RetryError{Key: append([]byte(nil), key...), ReadTimestamp: readTS,
			ConflictTimestamp: ts, Reason: "newer committed value"}
	}
	for _, k := range reads.keys {
		buf = encodeBareKey(buf[:0], k)
		if !it.SeekPrefixGE(buf) {
			if err := it.Error(); err != nil {
				return err
			}
			continue
		}
		_, ts, err := decodeKey(it.Key())
		if err != nil {
			return err
		}
		if readTS.Less(ts) {
			return conflict(k, ts)
		}
	}
	for _, s := range reads.spans {
		buf = encodeBareKey(buf[:0], s.Key)
		end := encodeBareKey(nil, s.EndKey)
		for valid := it.SeekGE(buf); valid; valid = it.NextPrefix() {
			ek := it.Key()
			if compareKeys(ek, end) >= 0 {
				break
			}
			k, ts, err := decodeKey(ek)
			if err != nil {
				return err
			}
			if readTS.Less(ts) {
				return conflict(k, ts)
			}
		}
		if err := it.Error(); err != nil {
			return err
		}
	}
	return nil
}

var _ = pebble.Sync
