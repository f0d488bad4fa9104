package kv

import (
	"encoding/binary"
	"math"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/sstable"
)

// Time-bound iteration.
//
// Every SSTable the engine writes (flushes, compactions, IngestVersions)
// records, per data block, per index block and for the whole table, the
// interval of MVCC wall times of the versions it holds: a Pebble block
// property collected by sstable.BlockIntervalCollector under the name
// mvccTimeProperty. An iterator that only needs versions in a time interval
// (catch-up scans, Fingerprint and Export with a start time, RevertRange,
// commit-time validation of scanned spans) passes a block property filter
// for that interval, and Pebble skips tables and blocks whose versions all
// lie outside it without reading them.
//
// The filter only ever removes versions outside the interval, and only some
// of them: the memtables are not filtered, a block holding one version in
// the interval is read whole, and SSTables written before the collector
// existed carry no property and are always read. Every caller therefore
// keeps checking each version's timestamp exactly as without the filter;
// the filter changes what is read, never what is returned. One more case
// needs that: a Pebble deletion of a version (RevertRange, GC) sits in a
// different block from the version it deletes, and if only the deletion's
// block is skipped the deleted version resurfaces. Both carry the same key
// and so the same timestamp, which lies outside the interval (or the
// deletion's block would have been read), so the caller's own check drops
// it.
//
// The interval is over wall times only (a version at wall time w maps to
// [w, w+1)), which is as precise as blocks of a few kilobytes need; the
// logical part is the callers' check.

// mvccTimeProperty names the block property in SSTables. It is persisted:
// changing what it means requires a new name.
const mvccTimeProperty = "vcdb.mvcc-wall-time"

// blockPropertyCollectors is Options.BlockPropertyCollectors for the store.
var blockPropertyCollectors = []func() pebble.BlockPropertyCollector{
	func() pebble.BlockPropertyCollector {
		return sstable.NewBlockIntervalCollector(mvccTimeProperty, wallTimeMapper{}, nil)
	},
}

// wallTimeMapper maps a versioned engine key to the interval holding its
// wall time, and anything else (local metadata keys) to the empty interval.
type wallTimeMapper struct{}

func (wallTimeMapper) MapPointKey(k pebble.InternalKey, _ []byte) (sstable.BlockInterval, error) {
	uk := k.UserKey
	n := len(uk)
	if n > suffixLen && uk[n-1] == suffixMark && uk[n-suffixLen-1] == sentinel {
		w := ^binary.BigEndian.Uint64(uk[n-suffixLen:])
		if w < math.MaxUint64 {
			return sstable.BlockInterval{Lower: w, Upper: w + 1}, nil
		}
	}
	return sstable.BlockInterval{}, nil
}

// MapRangeKeys: the engine writes no range keys.
func (wallTimeMapper) MapRangeKeys(sstable.Span) (sstable.BlockInterval, error) {
	return sstable.BlockInterval{}, nil
}

// timeBoundIterOptions returns iterator options over the engine-key bounds
// [lower, upper) that may skip SSTable blocks holding only versions with a
// timestamp <= after or > upTo (an empty upTo means no upper limit). The
// result must be used exactly as an unfiltered iterator would be (see the
// comment at the top of this file).
func (e *Engine) timeBoundIterOptions(lower, upper []byte, after, upTo Timestamp) *pebble.IterOptions {
	o := &pebble.IterOptions{LowerBound: lower, UpperBound: upper}
	if e.noTimeBound {
		return o
	}
	// A version newer than after has a wall time >= after's; one at or
	// below upTo has a wall time <= upTo's.
	lo := uint64(0)
	if after.WallTime > 0 {
		lo = uint64(after.WallTime)
	}
	hi := uint64(math.MaxUint64)
	if !upTo.IsEmpty() && upTo.WallTime >= 0 {
		hi = uint64(upTo.WallTime) + 1
	}
	if lo == 0 && hi == math.MaxUint64 {
		return o
	}
	// Capacity len+1, as Pebble asks, so it need not copy the slice.
	filters := make([]pebble.BlockPropertyFilter, 1, 2)
	filters[0] = sstable.NewBlockIntervalFilter(mvccTimeProperty, lo, hi, nil)
	o.PointKeyFilters = filters
	return o
}
