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
//     write set) to the in-flight queue. commitMu is released.
//  2. Without any lock: encode the writes at the commit timestamp into one
//     Pebble batch and Commit it with Sync. Pebble's commit pipeline lets
//     concurrent synced batches share one WAL fsync: this is group commit.
//  3. Mark the entry applied (readers waiting for it proceed) and return.
//  4. Pop every applied entry at the head of the queue and, when rangefeeds
//     are open, deliver it to them in timestamp order followed by a
//     checkpoint (rangefeed.go).
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
// already applied). An entry is marked applied only after its synced Pebble
// commit returned, so what a reader sees at r is durable and complete. The
// wait lasts at most one WAL sync. Pebble itself makes a synced batch visible
// before its fsync finishes; the wait is what hides that window.
//
// Rejected designs: doing the Pebble write after releasing a lock that only
// covered validation and timestamp assignment lets a reader with a newer
// read timestamp miss a commit that then appears below it (a stale read);
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
	e.commitMu.Unlock()

	err := e.applyBatch(ce)
	if err != nil {
		e.poisoned.CompareAndSwap(nil, &err)
	}
	e.finish(ce, err)
	if err != nil {
		return Timestamp{}, errors.Wrap(err, "kv: commit")
	}
	return ce.ts, nil
}

// applyBatch writes ce's writes at ce.ts in one synced Pebble batch.
func (e *Engine) applyBatch(ce *commitEntry) error {
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
			return err
		}
	}
	err := b.Commit(e.writeOpts)
	// Before finish marks the commit applied: see "Iterator reuse".
	e.bumpView()
	if cerr := b.Close(); err == nil {
		err = cerr
	}
	return err
}

// finish marks ce applied (releasing readers that wait for it) and
// removes every applied commit at the head of the queue, handing them to
// rangefeeds when there are subscriptions.
//
// Without subscriptions the head is popped right here, in the critical
// section that marks ce done, saving the publication path's two lock
// acquisitions. That is safe because subscriptions register under
// inflight.mu too (Subscribe): an entry popped here while no subscription
// was registered is applied and older than the first checkpoint of any
// subscription registered later, whose catch-up scan therefore covers it.
func (e *Engine) finish(ce *commitEntry, err error) {
	e.inflight.Lock()
	ce.done = true
	ce.failed = err != nil
	if e.inflight.wake != nil {
		close(e.inflight.wake)
		e.inflight.wake = nil
	}
	e.pending.Add(-1)
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
		if n > 0 && e.ckptSignal != nil {
			// The resolved timestamp moved.
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
