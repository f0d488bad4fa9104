package kv

import (
	"context"
	"fmt"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
)

// Benchmarks run each operation on the MVCC engine and, in the same run, the
// equivalent operation on raw Pebble (default comparer, same bloom filters
// and cache), and report both plus their ratio ("x-vs-pebble", lower is
// better; 1.0 means no MVCC overhead).

func openRaw(b *testing.B, dir string) *pebble.DB {
	b.Helper()
	cache := pebble.NewCache(defaultCacheSize)
	defer cache.Unref()
	opts := &pebble.Options{Cache: cache, FormatMajorVersion: pebble.FormatNewest, Logger: quietLogger{}}
	for i := range opts.Levels {
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		opts.Levels[i].FilterType = pebble.TableFilter
	}
	db, err := pebble.Open(dir, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	return db
}

func openBench(b *testing.B, opts Options) *Engine {
	b.Helper()
	if opts.Dir == "" {
		opts.Dir = b.TempDir()
	}
	opts.GCInterval = -1
	e, err := Open(opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = e.Close() })
	return e
}

func benchKey(i int) []byte { return []byte(fmt.Sprintf("\xfe\x02/table/%08d", i)) }

// timePair runs mvcc and raw n times each, alternating in chunks so that
// load from other processes on a shared machine hits both sides alike, and
// returns ns per call of each.
func timePair(n int, mvcc, raw func(i int)) (float64, float64) {
	const chunk = 256
	var tm, tr time.Duration
	for start := 0; start < n; start += chunk {
		end := start + chunk
		if end > n {
			end = n
		}
		t0 := time.Now()
		for i := start; i < end; i++ {
			mvcc(i)
		}
		t1 := time.Now()
		for i := start; i < end; i++ {
			raw(i)
		}
		tm += t1.Sub(t0)
		tr += time.Since(t1)
	}
	return float64(tm.Nanoseconds()) / float64(n), float64(tr.Nanoseconds()) / float64(n)
}

func report(b *testing.B, mvccNs, rawNs float64) {
	b.ReportMetric(mvccNs, "mvcc-ns/op")
	b.ReportMetric(rawNs, "pebble-ns/op")
	b.ReportMetric(mvccNs/rawNs, "x-vs-pebble")
}

// BenchmarkPut: a single-key transaction (Begin, Put, Commit) versus a
// one-Set batch committed with the same durability.
func BenchmarkPut(b *testing.B) {
	for _, durable := range []bool{true, false} {
		name := "durable"
		if !durable {
			name = "nosync"
		}
		b.Run(name, func(b *testing.B) {
			e := openBench(b, Options{DisableSync: !durable})
			raw := openRaw(b, b.TempDir())
			wo := pebble.Sync
			if !durable {
				wo = pebble.NoSync
			}
			ctx := context.Background()
			val := make([]byte, 100)
			b.ReportAllocs()
			b.ResetTimer()
			mv, rw := timePair(b.N, func(i int) {
				txn := e.Begin(TxnOptions{})
				_ = txn.Put(benchKey(i), val)
				if _, err := txn.Commit(ctx); err != nil {
					b.Fatal(err)
				}
			}, func(i int) {
				bt := raw.NewBatch()
				_ = bt.Set(benchKey(i), val, nil)
				if err := bt.Commit(wo); err != nil {
					b.Fatal(err)
				}
				_ = bt.Close()
			})
			report(b, mv, rw)
		})
	}
}

const benchRows = 10000

// loadBoth writes the same rows into the engine (one version each, plus a
// second version of every tenth row) and into raw Pebble, then flushes both
// so reads come from sstables.
func loadBoth(b *testing.B) (*Engine, *pebble.DB) {
	e := openBench(b, Options{DisableSync: true})
	raw := openRaw(b, b.TempDir())
	ctx := context.Background()
	val := make([]byte, 100)
	for start := 0; start < benchRows; start += 500 {
		txn := e.Begin(TxnOptions{})
		bt := raw.NewBatch()
		for i := start; i < start+500; i++ {
			_ = txn.Put(benchKey(i), val)
			_ = bt.Set(benchKey(i), val, nil)
		}
		if _, err := txn.Commit(ctx); err != nil {
			b.Fatal(err)
		}
		_ = bt.Commit(pebble.NoSync)
	}
	txn := e.Begin(TxnOptions{})
	for i := 0; i < benchRows; i += 10 {
		_ = txn.Put(benchKey(i), val)
	}
	if _, err := txn.Commit(ctx); err != nil {
		b.Fatal(err)
	}
	if err := e.db.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := raw.Flush(); err != nil {
		b.Fatal(err)
	}
	return e, raw
}

// BenchmarkGet: a point read at the current time versus raw Pebble Get.
func BenchmarkGet(b *testing.B) {
	e, raw := loadBoth(b)
	ctx := context.Background()
	ts := e.Now()
	rng := rand.New(rand.NewSource(1))
	keys := make([][]byte, 4096)
	for i := range keys {
		keys[i] = benchKey(rng.Intn(benchRows))
	}
	b.ReportAllocs()
	b.ResetTimer()
	mv, rw := timePair(b.N, func(i int) {
		if _, ok, err := e.Get(ctx, keys[i%len(keys)], ts); err != nil || !ok {
			b.Fatal("missing", err)
		}
	}, func(i int) {
		v, closer, err := raw.Get(keys[i%len(keys)])
		if err != nil {
			b.Fatal(err)
		}
		_ = append([]byte(nil), v...)
		_ = closer.Close()
	})
	report(b, mv, rw)
}

// BenchmarkScan100: 100 rows from a random start versus a raw Pebble
// iterator over 100 keys with the same copying.
func BenchmarkScan100(b *testing.B) {
	e, raw := loadBoth(b)
	ctx := context.Background()
	ts := e.Now()
	rng := rand.New(rand.NewSource(1))
	end := []byte("\xfe\x03")
	b.ReportAllocs()
	b.ResetTimer()
	mv, rw := timePair(b.N, func(i int) {
		res, err := e.Scan(ctx, Span{Key: benchKey(rng.Intn(benchRows - 100)), EndKey: end}, ts, ScanOptions{MaxRows: 100})
		if err != nil || len(res.KVs) != 100 {
			b.Fatal("short scan", err)
		}
	}, func(i int) {
		it, _ := raw.NewIter(&pebble.IterOptions{LowerBound: benchKey(rng.Intn(benchRows - 100)), UpperBound: end})
		var arena rowArena
		kvs := make([]KeyValue, 0, 0)
		for valid := it.First(); valid && len(kvs) < 100; valid = it.Next() {
			kvs = append(kvs, arena.row(it.Key(), it.Value()))
		}
		_ = it.Close()
		if len(kvs) != 100 {
			b.Fatal("short raw scan")
		}
	})
	report(b, mv, rw)
}

// BenchmarkCommitConcurrency: durable single-key transactions from 1, 8 and
// 32 concurrent writers (group commit), against raw Pebble synced batches
// from as many goroutines.
func BenchmarkCommitConcurrency(b *testing.B) {
	for _, writers := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			e := openBench(b, Options{})
			raw := openRaw(b, b.TempDir())
			ctx := context.Background()
			val := make([]byte, 100)
			run := func(op func(w, i int)) float64 {
				var wg sync.WaitGroup
				start := time.Now()
				for w := 0; w < writers; w++ {
					wg.Add(1)
					go func(w int) {
						defer wg.Done()
						for i := w; i < b.N; i += writers {
							op(w, i)
						}
					}(w)
				}
				wg.Wait()
				return float64(b.N) / time.Since(start).Seconds()
			}
			b.ResetTimer()
			mv := run(func(w, i int) {
				txn := e.Begin(TxnOptions{})
				_ = txn.Put(benchKey(i), val)
				if _, err := txn.Commit(ctx); err != nil {
					b.Error(err)
				}
			})
			rw := run(func(w, i int) {
				bt := raw.NewBatch()
				_ = bt.Set(benchKey(i), val, nil)
				if err := bt.Commit(pebble.Sync); err != nil {
					b.Error(err)
				}
				_ = bt.Close()
			})
			b.ReportMetric(mv, "commits/s")
			b.ReportMetric(rw, "pebble-commits/s")
			b.ReportMetric(rw/mv, "x-vs-pebble")
		})
	}
}

// BenchmarkRangefeed: events per second delivered to one subscriber while
// 4 writers commit 10-key transactions (not synced, to measure the feed and
// not the disk).
func BenchmarkRangefeed(b *testing.B) {
	e := openBench(b, Options{DisableSync: true})
	ctx := context.Background()
	sub, err := e.Subscribe(ctx, Span{Key: []byte("\xfe\x02"), EndKey: []byte("\xfe\x03")}, e.Now(), SubscribeOptions{BufferSize: 1 << 16})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()
	val := make([]byte, 100)
	const perTxn = 10
	txns := (b.N + perTxn - 1) / perTxn
	want := txns * perTxn
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < txns; i += 4 {
				txn := e.Begin(TxnOptions{})
				for j := 0; j < perTxn; j++ {
					_ = txn.Put(benchKey(i*perTxn+j), val)
				}
				if _, err := txn.Commit(ctx); err != nil {
					b.Error(err)
				}
			}
		}(w)
	}
	got := 0
	for got < want {
		ev, ok := <-sub.Events()
		if !ok {
			b.Fatalf("subscription ended: %v", sub.Err())
		}
		if ev.Type == EventValue {
			got++
		}
	}
	elapsed := time.Since(start)
	wg.Wait()
	b.ReportMetric(float64(got)/elapsed.Seconds(), "events/s")
}
