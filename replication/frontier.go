package replication

import (
	"bytes"

	"github.com/vcdb/vcdb/kv"
)

// Frontier tracks, for every part of a span, the time up to which that part
// is complete, and reports the minimum: the replicated time.
//
// It is a pure data structure (no goroutines, no I/O). The consumer forwards
// it only with checkpoints whose preceding data is durable, so its minimum
// is always a time at which the standby holds a complete copy. Today a
// stream has one partition covering the VC span, so the frontier has one
// entry most of the time; it is kept general so that partitioned streams
// (several source nodes) need no new invariant, only more Forward calls.
//
// Invariant: the entries are sorted, disjoint and cover exactly the tracked
// span; an entry's timestamp only grows (Forward never moves a part back).
type Frontier struct {
	entries []frontierEntry
}

type frontierEntry struct {
	key, endKey []byte
	ts          kv.Timestamp
}

// NewFrontier returns a frontier over span with every part at ts.
func NewFrontier(span kv.Span, ts kv.Timestamp) *Frontier {
	return &Frontier{entries: []frontierEntry{{
		key:    append([]byte(nil), span.Key...),
		endKey: append([]byte(nil), span.EndKey...),
		ts:     ts,
	}}}
}

// Frontier returns the minimum timestamp over the span.
func (f *Frontier) Frontier() kv.Timestamp {
	var min kv.Timestamp
	for i, e := range f.entries {
		if i == 0 || e.ts.Less(min) {
			min = e.ts
		}
	}
	return min
}

// Forward raises the parts of the tracked span that overlap span to at
// least ts. Parts already above ts, and any part of span outside the tracked
// span, are left alone. It reports whether the frontier (the minimum) moved.
func (f *Frontier) Forward(span kv.Span, ts kv.Timestamp) bool {
	before := f.Frontier()
	out := make([]frontierEntry, 0, len(f.entries)+2)
	for _, e := range f.entries {
		lo := maxKey(e.key, span.Key)
		hi := minKey(e.endKey, span.EndKey)
		if bytes.Compare(lo, hi) >= 0 || !e.ts.Less(ts) {
			out = append(out, e)
			continue
		}
		if bytes.Compare(e.key, lo) < 0 {
			out = append(out, frontierEntry{key: e.key, endKey: lo, ts: e.ts})
		}
		out = append(out, frontierEntry{key: lo, endKey: hi, ts: ts})
		if bytes.Compare(hi, e.endKey) < 0 {
			out = append(out, frontierEntry{key: hi, endKey: e.endKey, ts: e.ts})
		}
	}
	f.entries = coalesce(out)
	return before.Less(f.Frontier())
}

// coalesce merges adjacent entries with equal timestamps, keeping the
// entry count proportional to the number of distinct fronts.
func coalesce(es []frontierEntry) []frontierEntry {
	out := es[:0]
	for _, e := range es {
		if n := len(out); n > 0 && out[n-1].ts == e.ts && bytes.Equal(out[n-1].endKey, e.key) {
			out[n-1].endKey = e.endKey
			continue
		}
		out = append(out, e)
	}
	return out
}

// Entries calls fn for each part of the span and its timestamp, in key
// order (for tests and debugging).
func (f *Frontier) Entries(fn func(span kv.Span, ts kv.Timestamp)) {
	for _, e := range f.entries {
		fn(kv.Span{Key: e.key, EndKey: e.endKey}, e.ts)
	}
}

func maxKey(a, b []byte) []byte {
	if bytes.Compare(a, b) >= 0 {
		return a
	}
	return b
}

func minKey(a, b []byte) []byte {
	if bytes.Compare(a, b) <= 0 {
		return a
	}
	return b
}
