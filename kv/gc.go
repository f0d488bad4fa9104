package kv

import (
	"bytes"
	"context"
	"encoding/binary"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/cockroachdb/pebble/v2"
)

// MVCC garbage collection.
//
// A GC pass computes, for every piece of the user keyspace, a threshold T:
// now minus the TTL of the most specific SetGCTTL configuration containing the
// piece (or Options.DefaultGCTTL), lowered to the oldest protected timestamp
// overlapping it, and never lowered below the threshold already in force.
// It persists the thresholds (synced) before deleting anything, so after a
// crash reads below a threshold still fail rather than see partial history.
// Then, per key, it keeps the newest version at or below T if it is a live
// value (a read at T or later needs it), removes it if it is a tombstone, and
// removes every older version. Reads and transactions whose timestamp is
// below the threshold of what they touch fail with a BelowGCThresholdError
// (or, at commit, a retryable error).
//
// The threshold is raised under commitMu, so commit validation (which needs
// the versions between a transaction's read timestamp and its commit
// timestamp) either completes before any deletion or sees the new threshold.
// Protected timestamps are records (id, span, timestamp) persisted under the
// local key range; Protect refuses a timestamp below the threshold already in
// force, since that history may be gone.

// Readers and GC.
//
// A reader at timestamp ts needs, per key, the newest version at or below ts;
// GC may delete it once the threshold exceeds ts. Checking the threshold
// before reading is not enough: between the check and the moment the
// reader's Pebble iterator takes its snapshot, a GC pass could raise the
// threshold above ts and delete versions the reader needs. So readers check
// after taking the snapshot (snapshotIter, then checkKey/checkSpan). That
// closes the race: a GC pass stores its new threshold before it deletes
// anything, so every deletion the snapshot contains was preceded by the
// store of a threshold that the later check loads (or a higher one); if
// that threshold is still <= ts, none of those deletions removed anything
// a read at ts needs, and deletions after the snapshot are invisible to it.
// Export without a start time likewise loads the thresholds it trims by
// after taking its snapshot. Commit validation is covered differently: it
// runs under commitMu, which the GC pass takes to raise the threshold.

// snapshotIter opens a Pebble iterator, whose snapshot is taken now.
func (e *Engine) snapshotIter(opts *pebble.IterOptions) (*pebble.Iterator, error) {
	if e.testBeforeSnapshot != nil {
		e.testBeforeSnapshot()
	}
	return e.db.NewIter(opts)
}

// GCStats reports one GC pass.
type GCStats struct {
	// VersionsRemoved counts deleted versions (values and tombstones).
	VersionsRemoved int
	// KeysScanned counts user keys examined.
	KeysScanned int
}

// ProtectedTimestamp keeps GC from removing history that a reader at
// Timestamp over Span needs.
type ProtectedTimestamp struct {
	ID        string
	Span      Span
	Timestamp Timestamp
}

type gcTTL struct {
	span Span
	ttl  time.Duration
}

// gcState holds the GC configuration, protected timestamps and the GC
// thresholds in force.
type gcState struct {
	// runMu serializes GC passes.
	runMu sync.Mutex
	mu    struct {
		sync.Mutex
		ttls []gcTTL // sorted by span start
		pts  map[string]ProtectedTimestamp
	}
	// thresholds is replaced (never mutated) under mu; readers load it
	// without locking.
	thresholds atomic.Pointer[thresholdMap]
}

// thresholdMap is an immutable, sorted list of disjoint spans with the GC
// threshold applied to each; keys outside every range have no threshold.
type thresholdMap struct {
	ranges []thresholdRange
}

type thresholdRange struct {
	span      Span
	threshold Timestamp
}

func (m *thresholdMap) thresholdForKey(k []byte) Timestamp {
	if m == nil {
		return Timestamp{}
	}
	r := m.ranges
	i := sort.Search(len(r), func(i int) bool { return bytes.Compare(k, r[i].span.EndKey) < 0 })
	if i < len(r) && bytes.Compare(r[i].span.Key, k) <= 0 {
		return r[i].threshold
	}
	return Timestamp{}
}

// maxOver returns the highest threshold over the clamped span s.
func (m *thresholdMap) maxOver(s Span) Timestamp {
	var max Timestamp
	if m == nil {
		return max
	}
	r := m.ranges
	i := sort.Search(len(r), func(i int) bool { return bytes.Compare(s.Key, r[i].span.EndKey) < 0 })
	for ; i < len(r) && bytes.Compare(r[i].span.Key, s.EndKey) < 0; i++ {
		if max.Less(r[i].threshold) {
			max = r[i].threshold
		}
	}
	return max
}

func (g *gcState) checkKey(key []byte, ts Timestamp) error {
	if th := g.thresholds.Load().thresholdForKey(key); ts.Less(th) {
		return &BelowGCThresholdError{Timestamp: ts, Threshold: th}
	}
	return nil
}

func (g *gcState) checkSpan(s Span, ts Timestamp) error {
	if th := g.thresholds.Load().maxOver(s); ts.Less(th) {
		return &BelowGCThresholdError{Timestamp: ts, Threshold: th}
	}
	return nil
}

// checkReads fails with a retryable error when GC may have removed versions
// that validating the read set needs.
func (g *gcState) checkReads(r *readSet, ts Timestamp) error {
	tm := g.thresholds.Load()
	if tm == nil {
		return nil
	}
	for _, k := range r.keys {
		if th := tm.thresholdForKey(k); ts.Less(th) {
			return &RetryError{Key: k, ReadTimestamp: ts, ConflictTimestamp: th, Reason: "read timestamp below GC threshold"}
		}
	}
	for _, s := range r.spans {
		if th := tm.maxOver(s); ts.Less(th) {
			return &RetryError{Key: s.Key, ReadTimestamp: ts, ConflictTimestamp: th, Reason: "read timestamp below GC threshold"}
		}
	}
	return nil
}

// GCThreshold returns the highest GC threshold in force over span: reads of
// span below it fail.
func (e *Engine) GCThreshold(span Span) Timestamp {
	s, ok := clampSpan(span)
	if !ok {
		return Timestamp{}
	}
	return e.gc.thresholds.Load().maxOver(s)
}

// Protect creates or replaces (same ID) a protected timestamp record.
func (e *Engine) Protect(ctx context.Context, pts ProtectedTimestamp) error {
	if err := e.checkOpen(); err != nil {
		return err
	}
	s, ok := clampSpan(pts.Span)
	if !ok || pts.ID == "" || pts.Timestamp.IsEmpty() {
		return errors.Newf("kv: invalid protected timestamp record %q over %s at %s", pts.ID, pts.Span, pts.Timestamp)
	}
	pts = ProtectedTimestamp{ID: pts.ID, Span: cloneSpan(s), Timestamp: pts.Timestamp}
	e.gc.mu.Lock()
	defer e.gc.mu.Unlock()
	if err := e.gc.checkSpan(s, pts.Timestamp); err != nil {
		return errors.Wrapf(err, "kv: protecting %s at %s", s, pts.Timestamp)
	}
	var val []byte
	val = appendBytes(val, pts.Span.Key)
	val = appendBytes(val, pts.Span.EndKey)
	val = appendTimestamp(val, pts.Timestamp)
	if err := e.db.Set(localKey(localKeyProtected+pts.ID), val, pebble.Sync); err != nil {
		return err
	}
	e.gc.mu.pts[pts.ID] = pts
	return nil
}

// Unprotect removes a protected timestamp record; removing an unknown ID is
// not an error.
func (e *Engine) Unprotect(ctx context.Context, id string) error {
	if err := e.checkOpen(); err != nil {
		return err
	}
	e.gc.mu.Lock()
	defer e.gc.mu.Unlock()
	if err := e.db.Delete(localKey(localKeyProtected+id), pebble.Sync); err != nil {
		return err
	}
	delete(e.gc.mu.pts, id)
	return nil
}

// ProtectedTimestamps returns the records, sorted by ID.
func (e *Engine) ProtectedTimestamps() []ProtectedTimestamp {
	e.gc.mu.Lock()
	defer e.gc.mu.Unlock()
	out := make([]ProtectedTimestamp, 0, len(e.gc.mu.pts))
	for _, p := range e.gc.mu.pts {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// SetGCTTL sets the GC TTL of every key in prefix (a span; the innermost
// configuration containing a key wins). A negative ttl removes the
// configuration, returning the span to Options.DefaultGCTTL.
func (e *Engine) SetGCTTL(ctx context.Context, prefix Span, ttl time.Duration) error {
	if err := e.checkOpen(); err != nil {
		return err
	}
	s, ok := clampSpan(prefix)
	if !ok {
		return errors.Newf("kv: invalid GC TTL span %s", prefix)
	}
	s = cloneSpan(s)
	e.gc.mu.Lock()
	defer e.gc.mu.Unlock()
	key := localKey(localKeyGCConfig + string(s.Key))
	ttls := e.gc.mu.ttls[:0:0]
	for _, c := range e.gc.mu.ttls {
		if !bytes.Equal(c.span.Key, s.Key) || !bytes.Equal(c.span.EndKey, s.EndKey) {
			ttls = append(ttls, c)
		}
	}
	if ttl < 0 {
		if err := e.db.Delete(key, pebble.Sync); err != nil {
			return err
		}
	} else {
		var val []byte
		val = appendBytes(val, s.EndKey)
		val = binary.AppendVarint(val, int64(ttl))
		if err := e.db.Set(key, val, pebble.Sync); err != nil {
			return err
		}
		ttls = append(ttls, gcTTL{span: s, ttl: ttl})
	}
	sort.Slice(ttls, func(i, j int) bool { return bytes.Compare(ttls[i].span.Key, ttls[j].span.Key) < 0 })
	e.gc.mu.ttls = ttls
	return nil
}

// load reads the persisted configuration, protections and thresholds.
func (g *gcState) load(e *Engine) error {
	g.mu.pts = make(map[string]ProtectedTimestamp)
	if err := e.scanLocal(localKeyProtected, func(name string, val []byte) error {
		var p ProtectedTimestamp
		var err error
		p.ID = name
		if p.Span.Key, val, err = readBytes(val); err != nil {
			return err
		}
		if p.Span.EndKey, val, err = readBytes(val); err != nil {
			return err
		}
		if p.Timestamp, _, err = readTimestamp(val); err != nil {
			return err
		}
		g.mu.pts[p.ID] = p
		return nil
	}); err != nil {
		return errors.Wrap(err, "kv: loading protected timestamps")
	}
	if err := e.scanLocal(localKeyGCConfig, func(name string, val []byte) error {
		end, rest, err := readBytes(val)
		if err != nil {
			return err
		}
		ttl, n := binary.Varint(rest)
		if n <= 0 {
			return errors.New("malformed GC TTL")
		}
		g.mu.ttls = append(g.mu.ttls, gcTTL{span: Span{Key: []byte(name), EndKey: end}, ttl: time.Duration(ttl)})
		return nil
	}); err != nil {
		return errors.Wrap(err, "kv: loading GC configuration")
	}
	raw, err := e.readLocal(localKeyThresholds)
	if err != nil {
		return err
	}
	tm, err := decodeThresholds(raw)
	if err != nil {
		return errors.Wrap(err, "kv: loading GC thresholds")
	}
	g.thresholds.Store(tm)
	return nil
}

// scanLocal calls fn for every local key under name with the rest of the key
// and a copy of the value.
func (e *Engine) scanLocal(name string, fn func(rest string, val []byte) error) error {
	lower, upper := localSpanFor(name)
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return err
	}
	defer it.Close()
	for valid := it.First(); valid; valid = it.Next() {
		k := it.Key()
		rest := string(k[len(lower) : len(k)-1]) // drop the sentinel
		if err := fn(rest, append([]byte(nil), it.Value()...)); err != nil {
			return err
		}
	}
	return it.Error()
}

// gcPiece is a part of the keyspace with one GC threshold.
type gcPiece struct {
	span      Span
	threshold Timestamp
}

// computeThresholdsLocked computes the new threshold map at now.
func (g *gcState) computeThresholdsLocked(now Timestamp, defaultTTL time.Duration) *thresholdMap {
	// Elementary pieces: cut the user keyspace at every boundary of a TTL
	// configuration or protection.
	bounds := [][]byte{MinUserKey, MaxUserKey}
	for _, c := range g.mu.ttls {
		bounds = append(bounds, c.span.Key, c.span.EndKey)
	}
	for _, p := range g.mu.pts {
		bounds = append(bounds, p.Span.Key, p.Span.EndKey)
	}
	old := g.thresholds.Load()
	for _, r := range oldRanges(old) {
		bounds = append(bounds, r.span.Key, r.span.EndKey)
	}
	sort.Slice(bounds, func(i, j int) bool { return bytes.Compare(bounds[i], bounds[j]) < 0 })
	var ranges []thresholdRange
	for i := 0; i+1 < len(bounds); i++ {
		a, b := bounds[i], bounds[i+1]
		if bytes.Equal(a, b) {
			continue
		}
		piece := Span{Key: a, EndKey: b}
		ttl := defaultTTL
		var inner []byte
		for _, c := range g.mu.ttls {
			if bytes.Compare(c.span.Key, a) <= 0 && bytes.Compare(b, c.span.EndKey) <= 0 &&
				(inner == nil || bytes.Compare(c.span.Key, inner) >= 0) {
				ttl, inner = c.ttl, c.span.Key
			}
		}
		th := Timestamp{WallTime: now.WallTime - int64(ttl)}
		if now.Less(th) || th.WallTime <= 0 {
			th = Timestamp{}
		}
		for _, p := range g.mu.pts {
			if p.Span.Overlaps(piece) && p.Timestamp.Less(th) {
				th = p.Timestamp
			}
		}
		if prev := old.maxOver(piece); th.Less(prev) {
			th = prev
		}
		if th.IsEmpty() {
			continue
		}
		if n := len(ranges); n > 0 && ranges[n-1].threshold == th && bytes.Equal(ranges[n-1].span.EndKey, a) {
			ranges[n-1].span.EndKey = b
			continue
		}
		ranges = append(ranges, thresholdRange{span: piece, threshold: th})
	}
	return &thresholdMap{ranges: ranges}
}

func oldRanges(m *thresholdMap) []thresholdRange {
	if m == nil {
		return nil
	}
	return m.ranges
}

// RunGC runs one GC pass now.
func (e *Engine) RunGC(ctx context.Context) (GCStats, error) {
	var stats GCStats
	if err := e.checkOpen(); err != nil {
		return stats, err
	}
	e.gc.runMu.Lock()
	defer e.gc.runMu.Unlock()
	now := e.clock.Now()
	// Versions at or below the thresholds must all be visible before
	// deciding which of them is the newest.
	if err := e.waitApplied(ctx, now); err != nil {
		return stats, err
	}
	e.gc.mu.Lock()
	tm := e.gc.computeThresholdsLocked(now, e.opts.DefaultGCTTL)
	raw := encodeThresholds(tm)
	if err := e.db.Set(localKey(localKeyThresholds), raw, pebble.Sync); err != nil {
		e.gc.mu.Unlock()
		return stats, err
	}
	e.commitMu.Lock()
	e.gc.thresholds.Store(tm)
	e.commitMu.Unlock()
	e.gc.mu.Unlock()
	for _, r := range tm.ranges {
		if err := e.gcSpan(ctx, r.span, r.threshold, &stats); err != nil {
			return stats, err
		}
	}
	return stats, nil
}

// gcSpan removes the versions of s that no read at or above threshold needs.
// Deletions are not synced: if a crash loses them the next pass redoes them,
// and the persisted threshold already makes reads below it fail.
func (e *Engine) gcSpan(ctx context.Context, s Span, threshold Timestamp, stats *GCStats) error {
	it, err := e.db.NewIter(&pebble.IterOptions{
		LowerBound: encodeBareKey(nil, s.Key),
		UpperBound: encodeBareKey(nil, s.EndKey),
	})
	if err != nil {
		return err
	}
	defer it.Close()
	b := e.db.NewBatch()
	defer func() { _ = b.Close() }()
	var curKey, seek []byte
	keepSeen := false
	for valid := it.First(); valid; {
		k, ts, err := decodeKey(it.Key())
		if err != nil {
			return err
		}
		if !bytes.Equal(k, curKey) {
			curKey = append(curKey[:0], k...)
			keepSeen = false
			stats.KeysScanned++
			if stats.KeysScanned%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
		}
		if ts.IsEmpty() {
			valid = it.Next()
			continue
		}
		if threshold.Less(ts) {
			seek = encodeKey(seek[:0], curKey, threshold)
			valid = it.SeekGE(seek)
			continue
		}
		remove := keepSeen
		if !keepSeen {
			keepSeen = true
			v, err := it.ValueAndErr()
			if err != nil {
				return err
			}
			_, tomb, err := decodeValue(v)
			if err != nil {
				return err
			}
			remove = tomb
		}
		if remove {
			if err := b.Delete(it.Key(), nil); err != nil {
				return err
			}
			stats.VersionsRemoved++
			if b.Count() >= revertBatchSize {
				if err := e.commitBatch(b, pebble.NoSync); err != nil {
					return err
				}
				b.Reset()
			}
		}
		valid = it.Next()
	}
	if err := it.Error(); err != nil {
		return err
	}
	return e.commitBatch(b, pebble.NoSync)
}

func (e *Engine) gcLoop() {
	t := time.NewTicker(e.opts.GCInterval)
	defer t.Stop()
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-t.C:
		}
		// Errors are retried at the next interval; a failing store also
		// fails commits, which is where callers notice.
		_, _ = e.RunGC(e.ctx)
	}
}

func encodeThresholds(m *thresholdMap) []byte {
	var out []byte
	out = binary.AppendUvarint(out, uint64(len(m.ranges)))
	for _, r := range m.ranges {
		out = appendBytes(out, r.span.Key)
		out = appendBytes(out, r.span.EndKey)
		out = appendTimestamp(out, r.threshold)
	}
	return out
}

func decodeThresholds(raw []byte) (*thresholdMap, error) {
	m := &thresholdMap{}
	if raw == nil {
		return m, nil
	}
	n, k := binary.Uvarint(raw)
	if k <= 0 || n > uint64(len(raw)) {
		return nil, errors.New("malformed threshold count")
	}
	raw = raw[k:]
	for i := uint64(0); i < n; i++ {
		var r thresholdRange
		var err error
		if r.span.Key, raw, err = readBytes(raw); err != nil {
			return nil, err
		}
		if r.span.EndKey, raw, err = readBytes(raw); err != nil {
			return nil, err
		}
		if r.threshold, raw, err = readTimestamp(raw); err != nil {
			return nil, err
		}
		m.ranges = append(m.ranges, r)
	}
	return m, nil
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func readBytes(src []byte) ([]byte, []byte, error) {
	n, k := binary.Uvarint(src)
	if k <= 0 || uint64(len(src)-k) < n {
		return nil, nil, errors.New("kv: malformed metadata record")
	}
	return append([]byte(nil), src[k:k+int(n)]...), src[k+int(n):], nil
}

func appendTimestamp(dst []byte, ts Timestamp) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(ts.WallTime))
	return binary.BigEndian.AppendUint32(dst, uint32(ts.Logical))
}

func readTimestamp(src []byte) (Timestamp, []byte, error) {
	if len(src) < 12 {
		return Timestamp{}, nil, errors.New("kv: malformed timestamp in metadata record")
	}
	return Timestamp{
		WallTime: int64(binary.BigEndian.Uint64(src)),
		Logical:  int32(binary.BigEndian.Uint32(src[8:])),
	}, src[12:], nil
}

func cloneSpan(s Span) Span {
	return Span{Key: append([]byte(nil), s.Key...), EndKey: append([]byte(nil), s.EndKey...)}
}
