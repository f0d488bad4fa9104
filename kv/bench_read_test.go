package kv

import (
	"context"
	"math/rand"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
)

// Point-read benchmarks shaped like the SQL point SELECT of `make bench`
// (bench/run.sh): a large table with 64-byte values read by uniformly random
// keys from 8 concurrent clients, with a 1 GiB block cache, in transactions of
// one Get (an implicit SQL transaction) or several. The raw Pebble side holds
// the same rows under the same keys (without versions) and does the same
// number of Gets.

// readFixture is a loaded engine and raw Pebble store shared by the
// read benchmarks of one process (loading a million rows takes seconds, and
// the testing package calls a benchmark function several times).
type readFixture struct {
	dir  string
	e    *Engine
	raw  *pebble.DB
	rows int
}

var readFixtures struct {
	sync.Mutex
	m map[int]*readFixture
}

// closeReadFixtures closes the fixtures and removes their directories
// (TestMain, after the run).
func closeReadFixtures() {
	readFixtures.Lock()
	defer readFixtures.Unlock()
	for _, f := range readFixtures.m {
		_ = f.e.Close()
		_ = f.raw.Close()
		_ = os.RemoveAll(f.dir)
	}
	readFixtures.m = nil
}

const readBenchValueSize = 64

// getReadFixture returns the fixture of the given number of rows, loading it
// on first use: every row is written in transactions of 1000 rows, both
// stores are compacted (the table sits in the bottom level, as after a bulk
// load and its compactions), and then 1% of the rows get a second version
// that stays in the memtable.
func getReadFixture(b *testing.B, rows int) *readFixture {
	readFixtures.Lock()
	defer readFixtures.Unlock()
	if f, ok := readFixtures.m[rows]; ok {
		return f
	}
	dir, err := os.MkdirTemp("", "vcdb-kv-readbench-")
	if err != nil {
		b.Fatal(err)
	}
	e, err := Open(Options{Dir: dir + "/mvcc", CacheSize: 1 << 30, DisableSync: true, GCInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	cache := pebble.NewCache(1 << 30)
	popts := &pebble.Options{Cache: cache, FormatMajorVersion: pebble.FormatNewest, Logger: quietLogger{}}
	for i := range popts.Levels {
		popts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		popts.Levels[i].FilterType = pebble.TableFilter
	}
	raw, err := pebble.Open(dir+"/raw", popts)
	cache.Unref()
	if err != nil {
		b.Fatal(err)
	}
	f := &readFixture{dir: dir, e: e, raw: raw, rows: rows}
	ctx := context.Background()
	val := make([]byte, readBenchValueSize)
	rng := rand.New(rand.NewSource(int64(rows)))
	load := func(from, to, step int) {
		for start := from; start < to; start += 1000 * step {
			txn := e.Begin(TxnOptions{})
			bt := raw.NewBatch()
			for i := start; i < to && i < start+1000*step; i += step {
				rng.Read(val)
				_ = txn.Put(benchKey(i), val)
				_ = bt.Set(benchKey(i), val, nil)
			}
			if _, err := txn.Commit(ctx); err != nil {
				b.Fatal(err)
			}
			if err := bt.Commit(pebble.NoSync); err != nil {
				b.Fatal(err)
			}
			_ = bt.Close()
		}
	}
	load(0, rows, 1)
	for _, db := range []*pebble.DB{e.db, raw} {
		if err := db.Flush(); err != nil {
			b.Fatal(err)
		}
		if err := db.Compact(ctx, []byte{0}, []byte{0xff, 0xff, 0xff}, true); err != nil {
			b.Fatal(err)
		}
	}
	load(0, rows, 100)
	if readFixtures.m == nil {
		readFixtures.m = map[int]*readFixture{}
	}
	readFixtures.m[rows] = f
	return f
}

// parallelPair runs n operations of mvcc and n of raw, each from `workers`
// goroutines, alternating between the two in rounds so that load from
// other processes hits both alike. It returns the wall time per operation of
// each side and the allocations per mvcc operation.
func parallelPair(n, workers int, mvcc, raw func(w *benchWorker)) (mvNs, rawNs, mvAllocs float64) {
	const rounds = 8
	ws := make([]*benchWorker, workers)
	for i := range ws {
		ws[i] = &benchWorker{rng: rand.New(rand.NewSource(int64(i) + 1))}
	}
	phase := func(ops int, op func(w *benchWorker)) time.Duration {
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(bw *benchWorker) {
				defer wg.Done()
				for next.Add(1) <= int64(ops) {
					op(bw)
				}
			}(ws[w])
		}
		wg.Wait()
		return time.Since(start)
	}
	var tm, tr time.Duration
	var mallocs uint64
	var ms runtime.MemStats
	done := 0
	for r := 0; r < rounds && done < n; r++ {
		ops := (n - done) / (rounds - r)
		if ops == 0 {
			ops = n - done
		}
		runtime.ReadMemStats(&ms)
		before := ms.Mallocs
		tm += phase(ops, mvcc)
		runtime.ReadMemStats(&ms)
		mallocs += ms.Mallocs - before
		tr += phase(ops, raw)
		done += ops
	}
	return float64(tm.Nanoseconds()) / float64(n), float64(tr.Nanoseconds()) / float64(n),
		float64(mallocs) / float64(n)
}

// BenchmarkPointReadParallel: 8 concurrent clients read uniformly random keys
// of a 1M-row table. txn-gets=N runs transactions of N Gets (Begin, N×Get,
// Commit; read-write, as an implicit SQL transaction is), get runs one-shot
// Engine.Get; the raw side does N Pebble Gets with a copy of the value. ns/op
// and allocs/op are per operation (transaction or Get), wall time over all
// clients.
func BenchmarkPointReadParallel(b *testing.B) {
	const rows = 1000000
	const clients = 8
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		gets int
		txn  bool
	}{
		{"txn-gets=1", 1, true},
		{"txn-gets=10", 10, true},
		{"get", 1, false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			f := getReadFixture(b, rows)
			e, raw := f.e, f.raw
			ts := e.Now()
			mvcc := func(w *benchWorker) {
				if !tc.txn {
					if _, ok, err := e.Get(ctx, w.key(rows), ts); err != nil || !ok {
						b.Error("missing", err)
					}
					return
				}
				txn := e.Begin(TxnOptions{})
				for j := 0; j < tc.gets; j++ {
					if _, ok, err := txn.Get(ctx, w.key(rows)); err != nil || !ok {
						b.Error("missing", err)
					}
				}
				if _, err := txn.Commit(ctx); err != nil {
					b.Error(err)
				}
			}
			rawOp := func(w *benchWorker) {
				for j := 0; j < tc.gets; j++ {
					v, closer, err := raw.Get(w.key(rows))
					if err != nil {
						b.Error(err)
						return
					}
					_ = append([]byte(nil), v...)
					_ = closer.Close()
				}
			}
			b.ResetTimer()
			mv, rw, allocs := parallelPair(b.N, clients, mvcc, rawOp)
			report(b, mv, rw)
			b.ReportMetric(allocs, "mvcc-allocs/op")
		})
	}
}

// benchWorker is one client goroutine of a parallel benchmark.
type benchWorker struct {
	rng *rand.Rand
	buf []byte
}

// key returns a random one of the first n benchKeys in the worker's buffer.
func (w *benchWorker) key(n int) []byte {
	w.buf = appendBenchKey(w.buf[:0], w.rng.Intn(n))
	return w.buf
}

// appendBenchKey appends benchKey(i) to dst without allocating.
func appendBenchKey(dst []byte, i int) []byte {
	dst = append(dst, "\xfe\x02/table/"...)
	var d [8]byte
	for j := 7; j >= 0; j-- {
		d[j] = byte('0' + i%10)
		i /= 10
	}
	return append(dst, d[:]...)
}

func TestAppendBenchKey(t *testing.T) {
	for _, i := range []int{0, 7, 12345, 99999999} {
		if got, want := appendBenchKey(nil, i), benchKey(i); string(got) != string(want) {
			t.Fatalf("appendBenchKey(%d) = %q, want %q", i, got, want)
		}
	}
}
