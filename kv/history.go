package kv

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"sort"
	"sync/atomic"

	"github.com/cockroachdb/errors"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
)

// iterVersions calls fn for every version in the clamped span s with
// start < ts <= end, in key order and newest first within a key. key and
// value alias iterator memory valid only during the call. opened, if not
// nil, runs once the iterator's snapshot is taken and before anything is
// read; it checks GC thresholds (see "Readers and GC" in gc.go).
func (e *Engine) iterVersions(ctx context.Context, s Span, start, end Timestamp, opened func() error,
	fn func(key []byte, ts Timestamp, value []byte, tombstone bool) error) error {
	it, err := e.snapshotIter(e.timeBoundIterOptions(encodeBareKey(nil, s.Key), encodeBareKey(nil, s.EndKey), start, end))
	if err != nil {
		return err
	}
	defer it.Close()
	if opened != nil {
		if err := opened(); err != nil {
			return err
		}
	}
	var seek []byte
	n := 0
	for valid := it.First(); valid; {
		if n++; n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		k, ts, err := decodeKey(it.Key())
		if err != nil {
			return err
		}
		if ts.IsEmpty() {
			valid = it.Next()
			continue
		}
		if end.Less(ts) {
			// Skip straight to the newest version at or below end.
			seek = encodeKey(seek[:0], k, end)
			valid = it.SeekGE(seek)
			continue
		}
		if !start.Less(ts) {
			// Everything older of this key is out of range too.
			valid = it.NextPrefix()
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		uv, tomb, err := decodeValue(v)
		if err != nil {
			return err
		}
		if err := fn(k, ts, uv, tomb); err != nil {
			return err
		}
		valid = it.Next()
	}
	return it.Error()
}

// FingerprintOptions configures Fingerprint.
type FingerprintOptions struct {
	// StripPrefix is the number of bytes of each key left out of the hash
	// (the tenant prefix), so equal virtual clusters with different ids
	// hash equal.
	StripPrefix int
}

// Fingerprint returns a stable hash over every (key, timestamp, value,
// tombstone) in span with start < timestamp <= end. Each version is hashed
// with FNV-64a and the hashes are combined with XOR, as CockroachDB's
// fingerprints are, so the result does not depend on how the span is split.
func (e *Engine) Fingerprint(ctx context.Context, span Span, start, end Timestamp, opts FingerprintOptions) (uint64, error) {
	s, ok := clampSpan(span)
	if !ok {
		return 0, nil
	}
	if err := e.prepareRead(ctx, end); err != nil {
		return 0, err
	}
	check := func() error { return e.gc.checkSpan(s, start.Next()) }
	if err := check(); err != nil {
		return 0, err
	}
	var fp uint64
	var buf []byte
	err := e.iterVersions(ctx, s, start, end, check, func(key []byte, ts Timestamp, value []byte, tomb bool) error {
		buf = appendFingerprintInput(buf[:0], key, ts, value, tomb, opts.StripPrefix)
		h := fnv.New64a()
		_, _ = h.Write(buf)
		fp ^= h.Sum64()
		return nil
	})
	return fp, err
}

// FingerprintVersions computes the same hash as Fingerprint over a list of
// versions (a subscriber's or consumer's view of the same data).
func FingerprintVersions(versions []Version, opts FingerprintOptions) uint64 {
	var fp uint64
	var buf []byte
	for _, v := range versions {
		buf = appendFingerprintInput(buf[:0], v.Key, v.Timestamp, v.Value, v.Tombstone, opts.StripPrefix)
		h := fnv.New64a()
		_, _ = h.Write(buf)
		fp ^= h.Sum64()
	}
	return fp
}

func appendFingerprintInput(dst, key []byte, ts Timestamp, value []byte, tomb bool, strip int) []byte {
	if strip > len(key) {
		strip = len(key)
	}
	k := key[strip:]
	dst = binary.AppendUvarint(dst, uint64(len(k)))
	dst = append(dst, k...)
	dst = binary.BigEndian.AppendUint64(dst, uint64(ts.WallTime))
	dst = binary.BigEndian.AppendUint32(dst, uint32(ts.Logical))
	if tomb {
		return append(dst, 0)
	}
	dst = append(dst, 1)
	return append(dst, value...)
}

// Export calls fn for every version in span with start < ts <= end (all
// revisions), in key order, newest first within a key. With start empty it
// gives, for an initial scan, every version <= end needed to read the span
// at any time >= the GC threshold: the versions above the threshold plus, per
// key, the live version the threshold itself reads. The Version passed to fn
// aliases internal memory valid only during the call.
func (e *Engine) Export(ctx context.Context, span Span, start, end Timestamp, fn func(Version) error) error {
	s, ok := clampSpan(span)
	if !ok {
		return nil
	}
	if err := e.prepareRead(ctx, end); err != nil {
		return err
	}
	if !start.IsEmpty() {
		check := func() error { return e.gc.checkSpan(s, start.Next()) }
		if err := check(); err != nil {
			return err
		}
		return e.iterVersions(ctx, s, start, end, check, func(key []byte, ts Timestamp, value []byte, tomb bool) error {
			return fn(Version{Key: key, Timestamp: ts, Value: nilIfTomb(value, tomb), Tombstone: tomb})
		})
	}
	// The thresholds that decide what to leave out are those in force when
	// the snapshot is taken (see "Readers and GC" in gc.go).
	var tm *thresholdMap
	loadThresholds := func() error {
		tm = e.gc.thresholds.Load()
		return nil
	}
	var lastKey []byte
	doneWithKey := false
	return e.iterVersions(ctx, s, Timestamp{}, end, loadThresholds, func(key []byte, ts Timestamp, value []byte, tomb bool) error {
		if !bytes.Equal(key, lastKey) {
			lastKey = append(lastKey[:0], key...)
			doneWithKey = false
		}
		if doneWithKey {
			return nil
		}
		if th := tm.thresholdForKey(key); !th.IsEmpty() && ts.LessEq(th) {
			// The version a read at the threshold sees; nothing older is
			// needed.
			doneWithKey = true
			if tomb {
				return nil
			}
		}
		return fn(Version{Key: key, Timestamp: ts, Value: nilIfTomb(value, tomb), Tombstone: tomb})
	})
}

func nilIfTomb(v []byte, tomb bool) []byte {
	if tomb {
		return nil
	}
	return v
}

// sortVersions sorts versions in engine order (key ascending, newest first)
// and drops exact duplicates (same key and timestamp).
func sortVersions(versions []Version) []Version {
	vs := append([]Version(nil), versions...)
	sort.SliceStable(vs, func(i, j int) bool {
		if c := bytes.Compare(vs[i].Key, vs[j].Key); c != 0 {
			return c < 0
		}
		return vs[j].Timestamp.Less(vs[i].Timestamp)
	})
	out := vs[:0]
	for i, v := range vs {
		if i > 0 && bytes.Equal(v.Key, vs[i-1].Key) && v.Timestamp == vs[i-1].Timestamp {
			continue
		}
		out = append(out, v)
	}
	return out
}

func validateVersions(versions []Version) (Timestamp, error) {
	var maxTS Timestamp
	for _, v := range versions {
		if err := validateUserKey(v.Key); err != nil {
			return Timestamp{}, err
		}
		if v.Timestamp.IsEmpty() || v.Timestamp.WallTime < 0 || v.Timestamp.Logical < 0 {
			return Timestamp{}, errors.Newf("kv: version of %s has invalid timestamp %s", formatUserKey(v.Key), v.Timestamp)
		}
		if maxTS.Less(v.Timestamp) {
			maxTS = v.Timestamp
		}
	}
	return maxTS, nil
}

var ingestSeq atomic.Uint64

// IngestVersions writes versions as an SSTable and links it into the store
// with Pebble's Ingest, the fast path for initial copies. The versions need
// not be sorted. Overlapping existing data is allowed: the same key and
// timestamp is expected to carry the same data, and the ingested copy wins.
// The clock is moved past the newest timestamp. Ingested versions are not
// published to live rangefeeds (see rangefeed.go).
func (e *Engine) IngestVersions(ctx context.Context, versions []Version) error {
	if err := e.checkOpen(); err != nil {
		return err
	}
	if len(versions) == 0 {
		return nil
	}
	maxTS, err := validateVersions(versions)
	if err != nil {
		return err
	}
	vs := sortVersions(versions)
	path := e.fs.PathJoin(e.dir, fmt.Sprintf("ingest-%d.sst", ingestSeq.Add(1)))
	f, err := e.fs.Create(path, "")
	if err != nil {
		return errors.Wrap(err, "kv: creating ingest file")
	}
	wopts := e.popts.MakeWriterOptions(0, e.db.FormatMajorVersion().MaxTableFormat())
	w := sstable.NewWriter(objstorageprovider.NewFileWritable(f), wopts)
	var kbuf, vbuf []byte
	for _, v := range vs {
		kbuf = encodeKey(kbuf[:0], v.Key, v.Timestamp)
		vbuf = encodeValue(vbuf[:0], v.Value, v.Tombstone)
		if err := w.Set(kbuf, vbuf); err != nil {
			_ = w.Close()
			_ = e.fs.Remove(path)
			return errors.Wrap(err, "kv: writing ingest file")
		}
	}
	if err := w.Close(); err != nil {
		_ = e.fs.Remove(path)
		return errors.Wrap(err, "kv: finishing ingest file")
	}
	e.clock.Update(maxTS)
	if err := e.dbIngest(ctx, []string{path}); err != nil {
		_ = e.fs.Remove(path)
		return errors.Wrap(err, "kv: ingesting")
	}
	// Ingest links the file into the store; the staging name may remain.
	_ = e.fs.Remove(path)
	return nil
}

// WriteVersions writes versions at their own timestamps in one durable batch
// (the replication consumer's streaming path) and moves the clock past the
// newest. Writing the same version twice is harmless, which makes replays
// idempotent. These writes bypass transaction validation and are not
// published to live rangefeeds.
func (e *Engine) WriteVersions(ctx context.Context, versions []Version) error {
	if err := e.checkOpen(); err != nil {
		return err
	}
	if len(versions) == 0 {
		return nil
	}
	maxTS, err := validateVersions(versions)
	if err != nil {
		return err
	}
	b := e.db.NewBatch()
	defer b.Close()
	for _, v := range versions {
		op := b.SetDeferred(encodedKeyLen(len(v.Key)), encodedValueLen(v.Value, v.Tombstone))
		writeKey(op.Key, v.Key, v.Timestamp)
		writeValue(op.Value, v.Value, v.Tombstone)
		if err := op.Finish(); err != nil {
			return err
		}
	}
	e.clock.Update(maxTS)
	if err := e.commitBatch(b, e.writeOpts); err != nil {
		e.poisoned.CompareAndSwap(nil, &err)
		return err
	}
	return nil
}

// ClearRange physically removes every version in span (DROP VIRTUAL
// CLUSTER). It is not an MVCC operation: readers at any timestamp see the
// span empty afterwards.
func (e *Engine) ClearRange(ctx context.Context, span Span) error {
	if err := e.checkOpen(); err != nil {
		return err
	}
	s, ok := clampSpan(span)
	if !ok {
		return nil
	}
	if err := e.waitApplied(ctx, e.clock.Now()); err != nil {
		return err
	}
	return e.dbDeleteRange(encodeBareKey(nil, s.Key), encodeBareKey(nil, s.EndKey), e.writeOpts)
}

// revertBatchSize bounds the number of deletions per batch in RevertRange.
const revertBatchSize = 4096

// RevertRange removes every version in span newer than ts, so the span reads,
// at any timestamp >= ts, exactly as it read at ts. It is a physical
// operation for cutover and failback; the caller keeps writers away from the
// span while it runs. It is idempotent, so an interrupted revert is completed
// by running it again.
func (e *Engine) RevertRange(ctx context.Context, span Span, ts Timestamp) error {
	s, ok := clampSpan(span)
	if !ok {
		return nil
	}
	if err := e.checkOpen(); err != nil {
		return err
	}
	if err := e.gc.checkSpan(s, ts); err != nil {
		return err
	}
	// Commits already holding a timestamp must land before we look.
	if err := e.waitApplied(ctx, e.clock.Now()); err != nil {
		return err
	}
	// Only versions newer than ts matter: blocks without any are skipped.
	it, err := e.snapshotIter(e.timeBoundIterOptions(encodeBareKey(nil, s.Key), encodeBareKey(nil, s.EndKey), ts, Timestamp{}))
	if err != nil {
		return err
	}
	defer it.Close()
	if err := e.gc.checkSpan(s, ts); err != nil {
		return err
	}
	b := e.db.NewBatch()
	defer func() { _ = b.Close() }()
	n := 0
	for valid := it.First(); valid; {
		k, vts, err := decodeKey(it.Key())
		if err != nil {
			return err
		}
		if vts.IsEmpty() || vts.LessEq(ts) {
			valid = it.NextPrefix()
			continue
		}
		if err := b.Delete(it.Key(), nil); err != nil {
			return err
		}
		_ = k
		if n++; n%revertBatchSize == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := e.commitBatch(b, pebble.NoSync); err != nil {
				return err
			}
			b.Reset()
		}
		valid = it.Next()
	}
	if err := it.Error(); err != nil {
		return err
	}
	// The final synced commit makes every earlier unsynced batch durable
	// too (the WAL is sequential).
	if err := e.commitBatch(b, e.writeOpts); err != nil {
		return err
	}
	return nil
}
