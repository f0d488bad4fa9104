package kv

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"sort"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// tbModel is the reference for the time-bound tests: every version of every
// key, newest first per key.
type tbModel map[string][]Version

func (m tbModel) add(batch []Version) {
	touched := map[string]bool{}
	for _, v := range batch {
		m[string(v.Key)] = append(m[string(v.Key)], v)
		touched[string(v.Key)] = true
	}
	for k := range touched {
		vs := m[k]
		sort.Slice(vs, func(i, j int) bool { return vs[j].Timestamp.Less(vs[i].Timestamp) })
	}
}

// versions returns the versions in span with start < ts <= end in engine
// order (key ascending, newest first).
func (m tbModel) versions(s Span, start, end Timestamp) []Version {
	keys := make([]string, 0, len(m))
	for k := range m {
		if s.ContainsKey([]byte(k)) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out []Version
	for _, k := range keys {
		for _, v := range m[k] {
			if start.Less(v.Timestamp) && v.Timestamp.LessEq(end) {
				out = append(out, v)
			}
		}
	}
	return out
}

func (m tbModel) revert(s Span, ts Timestamp) {
	for k, vs := range m {
		if !s.ContainsKey([]byte(k)) {
			continue
		}
		kept := vs[:0]
		for _, v := range vs {
			if v.Timestamp.LessEq(ts) {
				kept = append(kept, v)
			}
		}
		m[k] = kept
	}
}

func equalVersions(a, b []Version) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i].Key, b[i].Key) || a[i].Timestamp != b[i].Timestamp ||
			a[i].Tombstone != b[i].Tombstone || !bytes.Equal(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}

func collectVersions(t *testing.T, e *Engine, s Span, start, end Timestamp) []Version {
	t.Helper()
	var out []Version
	err := e.iterVersions(context.Background(), s, start, end, nil, func(key []byte, ts Timestamp, value []byte, tomb bool) error {
		v := Version{Key: append([]byte(nil), key...), Timestamp: ts, Tombstone: tomb}
		if !tomb {
			v.Value = append([]byte{}, value...)
		}
		out = append(out, v)
		return nil
	})
	must(t, err)
	return out
}

func versionsString(vs []Version) string {
	var b bytes.Buffer
	for _, v := range vs {
		fmt.Fprintf(&b, "%s@%s=%q/%v ", v.Key, v.Timestamp, v.Value, v.Tombstone)
	}
	return b.String()
}

// TestTimeBoundIterationRandomized compares, over a random history, every
// time-bound operation on a store that filters blocks by MVCC time with the
// same operations on a store that reads every block and with a reference
// model: iterVersions (catch-up, Export, Fingerprint), Fingerprint,
// commit-time validation of spans and RevertRange. The history mixes data
// in the memtable, in flushed L0 tables and in compacted tables where old
// and new versions share blocks, Pebble deletions left by RevertRange, and
// timestamps that share a wall time and differ in the logical part, right at
// the interval bounds.
func TestTimeBoundIterationRandomized(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	ctx := context.Background()
	filtered := openTest(t, Options{GCInterval: -1})
	// Not openTest: a second leak check would count the first engine's
	// later Pebble goroutines as leaks.
	plain, err := Open(Options{InMemory: true, GCInterval: -1, noTimeBound: true})
	must(t, err)
	t.Cleanup(func() { must(t, plain.Close()) })
	engines := []*Engine{filtered, plain}
	model := tbModel{}
	key := func(i int) []byte { return []byte(fmt.Sprintf("k%04d", i)) }
	const nKeys = 400
	base := time.Now().Add(-time.Hour).UnixNano()
	var used []Timestamp
	seen := map[string]bool{}
	randTS := func() Timestamp {
		// Mostly timestamps already used (so interval bounds fall on
		// versions), sometimes a neighbour in the logical part.
		ts := used[rng.Intn(len(used))]
		switch rng.Intn(4) {
		case 0:
			ts = ts.Prev()
		case 1:
			ts = ts.Next()
		}
		return ts
	}
	// Keys [nKeys, nKeys+runKeys) are written only in runs (below).
	const runKeys = 80
	randSpan := func() Span {
		a, b := rng.Intn(nKeys+runKeys), rng.Intn(nKeys+runKeys)
		if a > b {
			a, b = b, a
		}
		return Span{Key: key(a), EndKey: key(b + 1)}
	}
	check := func(round int) {
		for q := 0; q < 12; q++ {
			s := randSpan()
			start, end := randTS(), randTS()
			if end.Less(start) {
				start, end = end, start
			}
			if rng.Intn(5) == 0 {
				start = Timestamp{}
			}
			want := model.versions(s, start, end)
			for i, e := range engines {
				if got := collectVersions(t, e, s, start, end); !equalVersions(got, want) {
					t.Fatalf("round %d engine %d: versions of %s in (%s, %s]:\n got %s\nwant %s", round, i, s, start, end,
						versionsString(got), versionsString(want))
				}
			}
			fpWant := FingerprintVersions(want, FingerprintOptions{})
			for i, e := range engines {
				fp, err := e.Fingerprint(ctx, s, start, end, FingerprintOptions{})
				must(t, err)
				if fp != fpWant {
					t.Fatalf("round %d engine %d: fingerprint %x, want %x", round, i, fp, fpWant)
				}
			}
			// Validation of a scanned span read at end: a conflict iff a
			// version newer than end exists in it; the first such key is
			// the one reported.
			newer := model.versions(s, end, MaxTimestamp)
			for i, e := range engines {
				err := e.validateAgainstStore(end, &readSet{spans: []Span{s}})
				var re *RetryError
				switch {
				case len(newer) == 0 && err != nil:
					t.Fatalf("round %d engine %d: validation of %s at %s: %v", round, i, s, end, err)
				case len(newer) > 0 && (!asIface(err, &re) || !bytes.Equal(re.Key, newer[0].Key)):
					t.Fatalf("round %d engine %d: validation of %s at %s: %v, want a conflict on %s", round, i, s, end, err, newer[0].Key)
				}
			}
		}
	}
	for round := 0; round < 8; round++ {
		// A batch of new versions at this round's times, on random keys.
		var batch []Version
		for i := 0; i < 500; i++ {
			ts := Timestamp{WallTime: base + int64(round)*int64(time.Second) + rng.Int63n(int64(time.Second)), Logical: rng.Int31n(3)}
			if i > 0 && rng.Intn(4) == 0 {
				// Same wall time as the previous version, another logical.
				ts = Timestamp{WallTime: batch[i-1].Timestamp.WallTime, Logical: batch[i-1].Timestamp.Logical + 1}
			}
			v := Version{Key: key(rng.Intn(nKeys)), Timestamp: ts}
			if id := fmt.Sprintf("%s@%s", v.Key, ts); seen[id] {
				continue
			} else {
				seen[id] = true
			}
			if rng.Intn(5) == 0 {
				v.Tombstone = true
			} else {
				v.Value = bytes.Repeat([]byte{byte('a' + rng.Intn(26))}, 50+rng.Intn(100))
			}
			batch = append(batch, v)
			used = append(used, ts)
		}
		if rng.Intn(2) == 0 {
			// A run of consecutive keys of their own at one wall time, so
			// that some blocks hold a single wall time and interval bounds
			// on it decide whether they are read.
			w := base + int64(round)*int64(time.Second) + rng.Int63n(int64(time.Second))
			for i := 0; i < runKeys; i++ {
				ts := Timestamp{WallTime: w, Logical: rng.Int31n(3)}
				v := Version{Key: key(nKeys + i), Timestamp: ts, Value: bytes.Repeat([]byte("w"), 60)}
				if id := fmt.Sprintf("%s@%s", v.Key, ts); !seen[id] {
					seen[id] = true
					batch = append(batch, v)
					used = append(used, ts)
				}
			}
		}
		for _, e := range engines {
			must(t, e.WriteVersions(ctx, batch))
		}
		model.add(batch)
		switch rng.Intn(4) {
		case 0, 1:
			for _, e := range engines {
				must(t, e.db.Flush())
			}
		case 2:
			// Old and new versions end up in the same blocks.
			for _, e := range engines {
				must(t, e.db.Flush())
				must(t, e.db.Compact(ctx, []byte{localPrefix}, []byte{0xff, 0xff}, false))
			}
		}
		if rng.Intn(3) == 0 {
			// Pebble deletions of versions, in the memtable until a later
			// flush.
			s, ts := randSpan(), randTS()
			for _, e := range engines {
				must(t, e.RevertRange(ctx, s, ts))
			}
			model.revert(s, ts)
		}
		check(round)
	}
	// The whole history agrees too.
	all := Span{Key: MinUserKey, EndKey: MaxUserKey}
	want := model.versions(all, Timestamp{}, MaxTimestamp)
	for i, e := range engines {
		if got := collectVersions(t, e, all, Timestamp{}, MaxTimestamp); !equalVersions(got, want) {
			t.Fatalf("engine %d: final history differs:\n got %s\nwant %s", i, versionsString(got), versionsString(want))
		}
	}
}

// rawCount counts the engine keys an iterator with opts yields over the
// whole keyspace: what Pebble read, before any timestamp check.
func rawCount(t *testing.T, e *Engine, opts *pebble.IterOptions) int {
	t.Helper()
	it, err := e.db.NewIter(opts)
	must(t, err)
	n := 0
	for valid := it.First(); valid; valid = it.Next() {
		n++
	}
	must(t, it.Error())
	must(t, it.Close())
	return n
}

// TestTimeBoundIterationSkipsBlocks: with old data in SSTables (ingested,
// then compacted together with a few recent versions), an iteration bounded
// to recent times reads only a small fraction of the keys, both before and
// after compaction, while returning every recent version; the unfiltered
// iteration reads everything. This is what makes catch-up, RevertRange and
// validation cost proportional to what changed.
func TestTimeBoundIterationSkipsBlocks(t *testing.T) {
	e := openTest(t, Options{GCInterval: -1})
	ctx := context.Background()
	old := Timestamp{WallTime: time.Now().Add(-time.Hour).UnixNano(), Logical: 1}
	// Each recent version makes a whole data block (dataBlockSize, about
	// 270 of these keys) readable, so the table must hold many more blocks
	// than there are recent versions for the fraction read to be small.
	const n = 100000
	var vs []Version
	for i := 0; i < n; i++ {
		vs = append(vs, Version{Key: []byte(fmt.Sprintf("k%06d", i)), Timestamp: old, Value: bytes.Repeat([]byte("v"), 100)})
	}
	must(t, e.IngestVersions(ctx, vs))
	mid := e.Now()
	var recent []Timestamp
	for i := 0; i < 10; i++ {
		recent = append(recent, put(t, e, fmt.Sprintf("k%06d", i*n/10+5), "new"))
	}
	all := Span{Key: MinUserKey, EndKey: MaxUserKey}
	lower, upper := encodeBareKey(nil, all.Key), encodeBareKey(nil, all.EndKey)
	for _, stage := range []string{"flushed", "compacted"} {
		switch stage {
		case "flushed":
			must(t, e.db.Flush())
		case "compacted":
			must(t, e.db.Compact(ctx, lower, upper, false))
		}
		total := rawCount(t, e, &pebble.IterOptions{LowerBound: lower, UpperBound: upper})
		bounded := rawCount(t, e, e.timeBoundIterOptions(lower, upper, mid, Timestamp{}))
		if total != n+10 || bounded < 10 || bounded > total/20 {
			t.Fatalf("%s: a bounded iteration read %d of %d keys", stage, bounded, total)
		}
		got := collectVersions(t, e, all, mid, MaxTimestamp)
		if len(got) != 10 {
			t.Fatalf("%s: %d recent versions: %s", stage, len(got), versionsString(got))
		}
		for i, v := range got {
			if v.Timestamp != recent[i] {
				t.Fatalf("%s: version %d at %s, want %s", stage, i, v.Timestamp, recent[i])
			}
		}
		// Below every version's wall time, nothing is read at all.
		below := Timestamp{WallTime: old.WallTime - 1, Logical: 5}
		if b := rawCount(t, e, e.timeBoundIterOptions(lower, upper, Timestamp{}, below)); b != 0 {
			t.Fatalf("%s: iteration below every version read %d keys", stage, b)
		}
		// Wall times are compared inclusively at both ends: (old.Prev(),
		// old] shares old's wall time at both bounds and must read the
		// old versions.
		if b := rawCount(t, e, e.timeBoundIterOptions(lower, upper, old.Prev(), old)); b < n {
			t.Fatalf("%s: iteration at the old time read %d keys, want at least %d", stage, b, n)
		}
		got = collectVersions(t, e, all, old.Prev(), old)
		if len(got) != n {
			t.Fatalf("%s: %d versions at the old time, want %d", stage, len(got), n)
		}
	}
}
