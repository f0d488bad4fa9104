package kv

import "sync/atomic"

// gcState holds the GC configuration, protected timestamps and the GC
// thresholds in force.
type gcState struct {
	thresholds atomic.Pointer[thresholdMap]
}

// thresholdMap is an immutable, sorted list of disjoint spans with the GC
// threshold applied to each.
type thresholdMap struct {
	ranges []thresholdRange
}

type thresholdRange struct {
	span      Span
	threshold Timestamp
}

func (g *gcState) load(e *Engine) error { return nil }

func (g *gcState) checkKey(key []byte, ts Timestamp) error { return nil }

func (g *gcState) checkSpan(s Span, ts Timestamp) error { return nil }

func (g *gcState) checkReads(r *readSet, ts Timestamp) error { return nil }

func (e *Engine) gcLoop() { <-e.ctx.Done() }
