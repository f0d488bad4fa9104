package kv

import (
	"bytes"
	"context"

	"github.com/cockroachdb/errors"
	"github.com/cockroachdb/pebble/v2"
)

// ScanOptions limits a Scan.
type ScanOptions struct {
	MaxRows  int   // 0 = unlimited
	MaxBytes int64 // 0 = unlimited; at least one row is always returned if any
	Reverse  bool
}

// ScanResult is one page of a Scan.
type ScanResult struct {
	KVs []KeyValue
	// ResumeSpan is nil when the span was exhausted; otherwise it is what
	// remains to scan (in the scan's direction).
	ResumeSpan *Span
}

// prepareRead validates a read timestamp, pushes the clock past it (so later
// commits get larger timestamps and the read is repeatable) and waits for
// in-flight commits at or below it.
func (e *Engine) prepareRead(ctx context.Context, ts Timestamp) error {
	if err := e.checkOpen(); err != nil {
		return err
	}
	if ts.IsEmpty() {
		return errors.New("kv: read at the empty timestamp")
	}
	if err := e.checkFuture(ts); err != nil {
		return err
	}
	e.clock.Update(ts)
	return e.waitApplied(ctx, ts)
}

// checkFuture refuses timestamps too far ahead of the wall clock: reading
// there would drag the clock (and every later commit) into the future.
func (e *Engine) checkFuture(ts Timestamp) error {
	if ts.WallTime > e.clock.wall()+maxReadFuture && ts.WallTime > e.clock.Last().WallTime {
		return errors.Newf("kv: timestamp %s is too far in the future", ts)
	}
	return nil
}

// Get returns the newest live value of key at or below ts.
func (e *Engine) Get(ctx context.Context, key []byte, ts Timestamp) ([]byte, bool, error) {
	if err := validateUserKey(key); err != nil {
		return nil, false, err
	}
	if err := e.prepareRead(ctx, ts); err != nil {
		return nil, false, err
	}
	return e.getAt(key, ts, e.viewFloor())
}

// getAt reads the newest version of key at or below ts; the caller has done
// prepareRead (or the transaction's gate) and then loaded minGen (see
// "Iterator reuse" in iterpool.go). It fails if ts is below the key's GC
// threshold.
func (e *Engine) getAt(key []byte, ts Timestamp, minGen uint64) ([]byte, bool, error) {
	pi, err := e.readIter(minGen)
	if err != nil {
		return nil, false, err
	}
	// The seek key lives in the pooled iterator (a stack buffer would
	// escape through Pebble's interfaces and cost an allocation).
	pi.key = encodeKey(pi.key[:0], key, ts)
	value, found, err := e.getWith(pi, key, pi.key, ts)
	e.releaseIter(pi)
	return value, found, err
}

// getWith is getAt on the iterator pi; ek is the engine key of (key, ts).
func (e *Engine) getWith(pi *pooledIter, key, ek []byte, ts Timestamp) ([]byte, bool, error) {
	// After the snapshot: see "Readers and GC" in gc.go.
	if err := e.gc.checkKey(key, ts); err != nil {
		return nil, false, err
	}
	it := pi.it
	if pi.bounded {
		it.SetBounds(nil, nil)
		pi.bounded = false
	}
	// SeekPrefixGE restricts the iterator to the user key and consults
	// bloom filters; the first entry at or after (key, ts) is the newest
	// version at or below ts.
	if it.SeekPrefixGE(ek) {
		k := it.Key()
		if len(k) == len(ek) && bytes.Equal(k[:len(key)], key) {
			v, err := it.ValueAndErr()
			if err != nil {
				return nil, false, err
			}
			uv, tomb, err := decodeValue(v)
			if err != nil {
				return nil, false, err
			}
			if !tomb {
				return append(make([]byte, 0, len(uv)), uv...), true, nil
			}
			return nil, false, nil
		}
	}
	return nil, false, it.Error()
}

// Scan returns the visible rows of span at ts, in key order (descending with
// Reverse), limited by opts.
func (e *Engine) Scan(ctx context.Context, span Span, ts Timestamp, opts ScanOptions) (ScanResult, error) {
	s, ok := clampSpan(span)
	if !ok {
		return ScanResult{}, nil
	}
	if err := e.prepareRead(ctx, ts); err != nil {
		return ScanResult{}, err
	}
	res, _, err := e.scanAt(s, ts, e.viewFloor(), opts, nil)
	return res, err
}

// scanAt scans the clamped span s at ts merged with a transaction's buffered
// writes (nil for none). It also returns the part of s the result depends on
// (for the transaction's read set). minGen is as for getAt. It fails if ts
// is below the span's GC threshold.
func (e *Engine) scanAt(s Span, ts Timestamp, minGen uint64, opts ScanOptions, wb *writeBuffer) (ScanResult, Span, error) {
	pi, err := e.readIter(minGen)
	if err != nil {
		return ScanResult{}, Span{}, err
	}
	res, covered, err := e.scanWith(pi, s, ts, opts, wb)
	e.releaseIter(pi)
	return res, covered, err
}

// scanWith is scanAt on the iterator pi.
func (e *Engine) scanWith(pi *pooledIter, s Span, ts Timestamp, opts ScanOptions, wb *writeBuffer) (ScanResult, Span, error) {
	// After the snapshot: see "Readers and GC" in gc.go.
	if err := e.gc.checkSpan(s, ts); err != nil {
		return ScanResult{}, Span{}, err
	}
	// SetBounds copies the bounds into the iterator's own buffers.
	var bounds [2 * 128]byte
	lower := encodeBareKey(bounds[:0:128], s.Key)
	upper := encodeBareKey(bounds[128:128], s.EndKey)
	it := pi.it
	it.SetBounds(lower, upper)
	pi.bounded = true
	m := mvccIter{it: it, ts: ts}
	var b bufIter
	if wb != nil {
		b.init(wb, s)
	}
	var res ScanResult
	var arena rowArena
	var bytesSoFar int64
	covered := s
	if !opts.Reverse {
		m.seekGE(s.Key)
		b.seekGE()
	} else {
		m.seekLT(s.EndKey)
		b.seekLT()
	}
	for {
		key, value, ok := nextMerged(&m, &b, opts.Reverse)
		if m.err != nil {
			return ScanResult{}, Span{}, m.err
		}
		if !ok {
			break
		}
		size := int64(len(key) + len(value))
		limited := (opts.MaxRows > 0 && len(res.KVs) >= opts.MaxRows) ||
			(opts.MaxBytes > 0 && len(res.KVs) > 0 && bytesSoFar+size > opts.MaxBytes)
		if limited {
			// key is the first row not returned. The covered span includes
			// it: the caller observed that it exists (a non-nil resume
			// span), so a transaction must fail if it disappears.
			if !opts.Reverse {
				rk := append([]byte(nil), key...)
				res.ResumeSpan = &Span{Key: rk, EndKey: s.EndKey}
				covered = Span{Key: s.Key, EndKey: keyNext(rk)}
			} else {
				last := res.KVs[len(res.KVs)-1].Key
				res.ResumeSpan = &Span{Key: s.Key, EndKey: last}
				covered = Span{Key: append([]byte(nil), key...), EndKey: s.EndKey}
			}
			break
		}
		bytesSoFar += size
		res.KVs = append(res.KVs, arena.row(key, value))
		// Decide what to advance before moving anything: key may alias
		// either source's memory.
		fromM := m.valid && bytes.Equal(m.key, key)
		fromB := b.valid() && b.keyEquals(key)
		if fromB {
			b.advance(opts.Reverse)
		}
		if fromM {
			m.advance(opts.Reverse)
		}
	}
	if err := it.Error(); err != nil {
		return ScanResult{}, Span{}, err
	}
	return res, covered, nil
}

// nextMerged returns the next row of the merge of the engine iterator and the
// write buffer without advancing either; buffered writes win on equal keys and
// buffered tombstones hide rows. Advancing past hidden rows happens here.
func nextMerged(m *mvccIter, b *bufIter, reverse bool) (key, value []byte, ok bool) {
	for {
		mv, bv := m.valid, b.valid()
		switch {
		case !mv && !bv:
			return nil, nil, false
		case mv && !bv:
			return m.key, m.value, true
		}
		bk, bval, btomb := b.current()
		if mv {
			c := bytes.Compare(m.key, bk)
			if reverse {
				c = -c
			}
			if c < 0 {
				return m.key, m.value, true
			}
			if c == 0 && btomb {
				// The buffered delete hides the stored row.
				m.advance(reverse)
				b.advance(reverse)
				continue
			}
		}
		if btomb {
			b.advance(reverse)
			continue
		}
		return bk, bval, true
	}
}

// rowArena copies rows into shared chunks so a scan allocates a few large
// blocks rather than two slices per row.
type rowArena struct{ buf []byte }

func (a *rowArena) row(key, value []byte) KeyValue {
	n := len(key) + len(value)
	if cap(a.buf)-len(a.buf) < n {
		c := 2 * cap(a.buf)
		if c < 4096 {
			c = 4096
		}
		if c > 1<<20 {
			c = 1 << 20
		}
		if c < n {
			c = n
		}
		a.buf = make([]byte, 0, c)
	}
	start := len(a.buf)
	a.buf = append(a.buf, key...)
	a.buf = append(a.buf, value...)
	k := a.buf[start : start+len(key) : start+len(key)]
	v := a.buf[start+len(key) : start+n : start+n]
	return KeyValue{Key: k, Value: v}
}

// mvccIter walks the visible (newest at or below ts, live) rows of a Pebble
// iterator. key and value alias iterator memory until the next move.
type mvccIter struct {
	it     *pebble.Iterator
	ts     Timestamp
	buf    []byte
	keyBuf []byte
	key    []byte
	value  []byte
	valid  bool
	err    error
}

// seekGE positions at the first visible row with key >= k.
func (m *mvccIter) seekGE(k []byte) {
	m.buf = encodeKey(m.buf[:0], k, m.ts)
	m.it.SeekGE(m.buf)
	m.settleForward()
}

// seekLT positions at the last visible row with key < k.
func (m *mvccIter) seekLT(k []byte) {
	m.buf = encodeBareKey(m.buf[:0], k)
	m.it.SeekLT(m.buf)
	m.settleReverse()
}

func (m *mvccIter) advance(reverse bool) {
	if !reverse {
		m.it.NextPrefix()
		m.settleForward()
		return
	}
	m.keyBuf = append(m.keyBuf[:0], m.key...)
	m.buf = encodeBareKey(m.buf[:0], m.keyBuf)
	m.it.SeekLT(m.buf)
	m.settleReverse()
}

// settleForward moves forward from the iterator's position to the newest
// visible version of the next user key that has a live one.
func (m *mvccIter) settleForward() {
	m.valid = false
	nexts := 0
	for m.it.Valid() {
		k, ts, err := decodeKey(m.it.Key())
		if err != nil {
			m.err = err
			return
		}
		if m.ts.Less(ts) {
			// A version newer than the read timestamp: step over a few
			// versions, then seek straight to (k, ts).
			if nexts < 3 {
				nexts++
				m.it.Next()
				continue
			}
			nexts = 0
			m.keyBuf = append(m.keyBuf[:0], k...)
			m.buf = encodeKey(m.buf[:0], m.keyBuf, m.ts)
			m.it.SeekGE(m.buf)
			continue
		}
		nexts = 0
		v, err := m.it.ValueAndErr()
		if err != nil {
			m.err = err
			return
		}
		uv, tomb, err := decodeValue(v)
		if err != nil {
			m.err = err
			return
		}
		if tomb {
			m.it.NextPrefix()
			continue
		}
		m.key, m.value, m.valid = k, uv, true
		return
	}
	m.err = m.it.Error()
}

// settleReverse moves backward from the iterator's position (some version of
// a user key) to the newest visible version of the nearest user key at or
// before it that has a live one.
func (m *mvccIter) settleReverse() {
	m.valid = false
	for m.it.Valid() {
		k, _, err := decodeKey(m.it.Key())
		if err != nil {
			m.err = err
			return
		}
		m.keyBuf = append(m.keyBuf[:0], k...)
		m.buf = encodeKey(m.buf[:0], m.keyBuf, m.ts)
		if m.it.SeekGE(m.buf) {
			k2, _, err := decodeKey(m.it.Key())
			if err != nil {
				m.err = err
				return
			}
			if bytes.Equal(k2, m.keyBuf) {
				v, err := m.it.ValueAndErr()
				if err != nil {
					m.err = err
					return
				}
				uv, tomb, err := decodeValue(v)
				if err != nil {
					m.err = err
					return
				}
				if !tomb {
					m.key, m.value, m.valid = k2, uv, true
					return
				}
			}
		}
		m.buf = encodeBareKey(m.buf[:0], m.keyBuf)
		m.it.SeekLT(m.buf)
	}
	m.err = m.it.Error()
}
