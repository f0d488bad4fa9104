package kv

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchSeconds is the length of each timed phase of the long-running
// benchmarks, from VCDB_KV_BENCH_SECONDS (default 2).
func benchSeconds() time.Duration {
	if s := os.Getenv("VCDB_KV_BENCH_SECONDS"); s != "" {
		if n, err := strconv.ParseFloat(s, 64); err == nil && n > 0 {
			return time.Duration(n * float64(time.Second))
		}
	}
	return 2 * time.Second
}

func percentileOf(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(p*float64(len(sorted)-1))]
}

// runWriters runs n writers of durable single-key transactions for d and
// returns the commit rate.
func runWriters(b *testing.B, e *Engine, n int, d time.Duration, seed int64) float64 {
	ctx := context.Background()
	val := make([]byte, 256)
	var commits atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(seed*1000 + int64(w)))
			for {
				select {
				case <-stop:
					return
				default:
				}
				txn := e.Begin(TxnOptions{})
				_ = txn.Put(benchKey(rng.Intn(1000000)), val)
				if _, err := txn.Commit(ctx); err != nil {
					b.Error(err)
					return
				}
				commits.Add(1)
			}
		}(w)
	}
	start := time.Now()
	time.Sleep(d)
	close(stop)
	wg.Wait()
	return float64(commits.Load()) / time.Since(start).Seconds()
}

// BenchmarkCheckpointLag measures how closely a rangefeed's resolved
// timestamp follows the clock under durable write load: 16 and 32 writers
// of single-key transactions on an on-disk store, one subscriber over the
// written span, and a sampler that records now − the latest checkpoint the
// subscriber received every millisecond. It reports the lag's p50, p99 and
// max with commit-driven checkpoints (the default) and, on a second store
// in alternating phases of the same run, with the idle tick alone
// (CheckpointSpacing < 0, "tick-") and with every commit marking only
// itself applied rather than every commit queued before it too ("own-",
// the engine before completion in WAL order, commit.go). "floor-" is the age of the oldest
// in-flight commit at the same instants: no checkpoint can be newer, so
// lag − floor ("excess-") is what the checkpoint mechanism adds; the floor
// is commit latency, which on a shared machine has tails of tens of
// milliseconds (WAL fsyncs queued behind other writes to the disk). Commit rates are
// medians over the phases, with the subscriber attached and without any
// ("nosub-"), whose difference is the cost of the feed.
// VCDB_KV_BENCH_SECONDS sets the total measured time per store (default 2s,
// in 8 phases).
func BenchmarkCheckpointLag(b *testing.B) {
	for _, writers := range []int{16, 32} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				benchCheckpointLag(b, writers)
			}
		})
	}
}

// lagPhase runs writers on e for d with one subscriber attached, sampling
// the checkpoint lag and its floor every millisecond; it returns the
// samples (ms) and the commit rate.
func lagPhase(b *testing.B, e *Engine, writers int, d time.Duration, seed int64) (lags, floors []float64, rate float64) {
	ctx := context.Background()
	sub, err := e.Subscribe(ctx, Span{Key: []byte("\xfe\x02"), EndKey: []byte("\xfe\x03")}, e.Now(), SubscribeOptions{BufferSize: 1 << 16})
	if err != nil {
		b.Fatal(err)
	}
	// The catch-up scan comes first (however short the interval, it may
	// read the whole span, see BenchmarkCatchUp); measure from the first
	// checkpoint on.
	for ev := range sub.Events() {
		if ev.Type == EventCheckpoint {
			break
		}
	}
	var resolved atomic.Int64
	resolved.Store(time.Now().UnixNano())
	subDone := make(chan struct{})
	go func() {
		defer close(subDone)
		for ev := range sub.Events() {
			if ev.Type == EventCheckpoint {
				resolved.Store(ev.Resolved.WallTime)
			}
		}
	}()
	stopSampling := make(chan struct{})
	samplingDone := make(chan struct{})
	go func() {
		defer close(samplingDone)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		// Let the writers start.
		time.Sleep(10 * time.Millisecond)
		for {
			select {
			case <-stopSampling:
				return
			case <-tick.C:
			}
			now := time.Now().UnixNano()
			var floor float64
			e.inflight.Lock()
			if len(e.inflight.queue) > 0 {
				floor = float64(now-e.inflight.queue[0].ts.WallTime) / 1e6
			}
			e.inflight.Unlock()
			lags = append(lags, float64(now-resolved.Load())/1e6)
			floors = append(floors, floor)
		}
	}()
	rate = runWriters(b, e, writers, d, seed)
	close(stopSampling)
	<-samplingDone
	sub.Close()
	<-subDone
	if err := sub.Err(); err != nil {
		b.Fatal(err)
	}
	return lags, floors, rate
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return percentileOf(s, 0.5)
}

func benchCheckpointLag(b *testing.B, writers int) {
	e := openBench(b, Options{})
	tick := openBench(b, Options{CheckpointSpacing: -1})
	own := openBench(b, Options{ownCompletion: true})
	const rounds = 8
	d := benchSeconds() / rounds
	var lags, floors, tickLags, tickFloors, ownLags, ownFloors []float64
	var withSub, without, tickRate, ownRate []float64
	for round := 0; round < rounds; round++ {
		without = append(without, runWriters(b, e, writers, d, int64(4*round)))
		l, f, r := lagPhase(b, e, writers, d, int64(4*round+1))
		lags, floors, withSub = append(lags, l...), append(floors, f...), append(withSub, r)
		l, f, r = lagPhase(b, tick, writers, d, int64(4*round+2))
		tickLags, tickFloors, tickRate = append(tickLags, l...), append(tickFloors, f...), append(tickRate, r)
		l, f, r = lagPhase(b, own, writers, d, int64(4*round+3))
		ownLags, ownFloors, ownRate = append(ownLags, l...), append(ownFloors, f...), append(ownRate, r)
	}
	excess := func(lags, floors []float64) []float64 {
		out := make([]float64, len(lags))
		for i := range lags {
			out[i] = lags[i] - floors[i]
		}
		sort.Float64s(out)
		return out
	}
	ex, tickEx := excess(lags, floors), excess(tickLags, tickFloors)
	for _, x := range [][]float64{lags, floors, tickLags, tickFloors, ownLags, ownFloors} {
		sort.Float64s(x)
	}
	b.ReportMetric(percentileOf(ex, 0.99), "excess-p99-ms")
	b.ReportMetric(percentileOf(tickEx, 0.99), "tick-excess-p99-ms")
	b.ReportMetric(percentileOf(lags, 0.5), "lag-p50-ms")
	b.ReportMetric(percentileOf(lags, 0.99), "lag-p99-ms")
	b.ReportMetric(lags[len(lags)-1], "lag-max-ms")
	b.ReportMetric(percentileOf(floors, 0.5), "floor-p50-ms")
	b.ReportMetric(percentileOf(floors, 0.99), "floor-p99-ms")
	b.ReportMetric(percentileOf(tickLags, 0.5), "tick-lag-p50-ms")
	b.ReportMetric(percentileOf(tickLags, 0.99), "tick-lag-p99-ms")
	b.ReportMetric(tickLags[len(tickLags)-1], "tick-lag-max-ms")
	b.ReportMetric(percentileOf(tickFloors, 0.99), "tick-floor-p99-ms")
	b.ReportMetric(percentileOf(ownLags, 0.5), "own-lag-p50-ms")
	b.ReportMetric(percentileOf(ownLags, 0.9), "own-lag-p90-ms")
	b.ReportMetric(percentileOf(lags, 0.9), "lag-p90-ms")
	b.ReportMetric(percentileOf(ownLags, 0.99), "own-lag-p99-ms")
	b.ReportMetric(percentileOf(ownFloors, 0.5), "own-floor-p50-ms")
	b.ReportMetric(median(withSub), "commits/s")
	b.ReportMetric(median(without), "nosub-commits/s")
	b.ReportMetric(median(tickRate), "tick-commits/s")
	b.ReportMetric(median(ownRate), "own-commits/s")
}

// BenchmarkTimeBound measures the operations that need only recent versions
// of a large span — a rangefeed catch-up from a recent timestamp,
// Fingerprint from it, commit-time validation of a transaction that scanned
// the whole span, and a RevertRange with nothing to revert — with block
// filtering by MVCC time (timebound.go) and, in the same run on the same
// store, without it ("-unfiltered-", which is what every one of them cost
// before). The store holds VCDB_KV_BENCH_MB megabytes (default 1024) of
// incompressible 1KB values, ingested an hour in the past, plus 100 recent
// single-key commits spread over the span; it is measured with the recent
// commits flushed to L0 ("l0-") and again after a full compaction has
// merged them into the old data's blocks ("compacted-").
func BenchmarkTimeBound(b *testing.B) {
	mb := 1024
	if s := os.Getenv("VCDB_KV_BENCH_MB"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			mb = n
		}
	}
	for i := 0; i < b.N; i++ {
		benchTimeBound(b, mb)
	}
}

func benchTimeBound(b *testing.B, mb int) {
	b.StopTimer()
	e := openBench(b, Options{})
	ctx := context.Background()
	rng := rand.New(rand.NewSource(1))
	const valueSize = 1000
	rows := mb << 20 / (valueSize + 40)
	key := func(i int) []byte { return []byte(fmt.Sprintf("\xfe\x02/t/%09d", i)) }
	old := Timestamp{WallTime: time.Now().Add(-time.Hour).UnixNano()}
	const chunk = 32768
	vals := make([]byte, chunk*valueSize)
	for start := 0; start < rows; start += chunk {
		end := min(start+chunk, rows)
		rng.Read(vals)
		vs := make([]Version, 0, end-start)
		for i := start; i < end; i++ {
			off := (i - start) * valueSize
			vs = append(vs, Version{Key: key(i), Timestamp: old, Value: vals[off : off+valueSize]})
		}
		if err := e.IngestVersions(ctx, vs); err != nil {
			b.Fatal(err)
		}
	}
	mid := e.Now()
	for i := 0; i < 100; i++ {
		txn := e.Begin(TxnOptions{})
		_ = txn.Put(key(rng.Intn(rows)), []byte("recent"))
		if _, err := txn.Commit(ctx); err != nil {
			b.Fatal(err)
		}
	}
	if err := e.db.Flush(); err != nil {
		b.Fatal(err)
	}
	after := e.Now()
	span := Span{Key: []byte("\xfe\x02"), EndKey: []byte("\xfe\x03")}
	b.ReportMetric(float64(e.db.Metrics().DiskSpaceUsage())/(1<<20), "store-MB")

	timeIt := func(name string, op func()) {
		for _, unfiltered := range []bool{false, true} {
			e.noTimeBound = unfiltered
			t0 := time.Now()
			op()
			ms := float64(time.Since(t0)) / 1e6
			if unfiltered {
				b.ReportMetric(ms, name+"-unfiltered-ms")
			} else {
				b.ReportMetric(ms, name+"-ms")
			}
		}
		e.noTimeBound = false
	}
	measure := func(stage string) {
		b.StartTimer()
		timeIt(stage+"-catchup", func() {
			sub, err := e.Subscribe(ctx, span, mid, SubscribeOptions{})
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for ev := range sub.Events() {
				if ev.Type == EventCheckpoint {
					break
				}
				n++
			}
			sub.Close()
			if n != 100 {
				b.Fatalf("catch-up delivered %d versions, want 100", n)
			}
		})
		timeIt(stage+"-fingerprint", func() {
			if _, err := e.Fingerprint(ctx, span, mid, after, FingerprintOptions{}); err != nil {
				b.Fatal(err)
			}
		})
		timeIt(stage+"-validate", func() {
			if err := e.validateAgainstStore(after, &readSet{spans: []Span{span}}); err != nil {
				b.Fatal(err)
			}
		})
		timeIt(stage+"-revert-noop", func() {
			if err := e.RevertRange(ctx, span, after); err != nil {
				b.Fatal(err)
			}
		})
		b.StopTimer()
	}
	measure("l0")
	if err := e.db.Compact(ctx, []byte{0x02}, []byte{0xff, 0xff}, true); err != nil {
		b.Fatal(err)
	}
	measure("compacted")
}
