package replication

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

	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/tenant"
)

// Benchmarks run on on-disk stores (synced commits) under b.TempDir, two
// clusters in one process. Run them one at a time with -benchtime=1x:
//
//	go test ./replication -run XXX -bench BenchmarkReplicationLag -benchtime=1x
//
// VCDB_BENCH_SECONDS (lag, default 5) and VCDB_BENCH_SCAN_MB (initial scan,
// default 256) size them; VCDB_BENCH_MEM=1 uses in-memory stores instead
// (separates disk stalls from the pipeline's own cost).

func benchEnv(b *testing.B) *testEnv {
	opts := defaultEnvOptions()
	opts.heartbeat = time.Second
	if os.Getenv("VCDB_BENCH_MEM") == "" {
		opts.dir = b.TempDir()
	}
	return newTestEnv(b, opts)
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p * float64(len(sorted)-1))
	return sorted[i]
}

// BenchmarkReplicationLag: 16 concurrent writers of single-key
// transactions with 256-byte values (all writes: the worst case for the
// stream) on the primary; the standby samples now − replicated_time every
// 10 ms. Reports lag p50/p99/max in ms and the write rate, and, as a
// control sampled at the same instants, now − the primary's own latest
// rangefeed checkpoint (kv-resolved-lag), the floor of any replication lag.
func BenchmarkReplicationLag(b *testing.B) {
	for i := 0; i < b.N; i++ {
		env := benchEnv(b)
		p := env.addCluster("primary")
		id := p.createVC("main")
		s := env.addCluster("standby")
		ctx := context.Background()
		if _, err := s.consumer.Create(ctx, CreateRequest{TenantName: "main", SourceTenantName: "main", SourceURI: "inproc://primary"}); err != nil {
			b.Fatal(err)
		}
		jobID := s.jobOf("main")
		s.waitReplicated("main", p.eng.Now(), time.Minute)
		// Control, in the same run: the primary's own rangefeed checkpoints
		// (the floor of any replication lag).
		sub, err := p.eng.Subscribe(ctx, tenantSpan(id), p.eng.Now(), kv.SubscribeOptions{})
		if err != nil {
			b.Fatal(err)
		}
		var resolved atomic.Int64
		subDone := make(chan struct{})
		go func() {
			defer close(subDone)
			for ev := range sub.Events() {
				if ev.Type == kv.EventCheckpoint {
					resolved.Store(ev.Resolved.WallTime)
				}
			}
		}()

		dur := time.Duration(envInt("VCDB_BENCH_SECONDS", 5)) * time.Second
		stop := make(chan struct{})
		var writes atomic.Int64
		var wg sync.WaitGroup
		val := make([]byte, 256)
		for w := 0; w < 16; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				rng := rand.New(rand.NewSource(int64(w)))
				for {
					select {
					case <-stop:
						return
					default:
					}
					txn := p.eng.Begin(kv.TxnOptions{})
					_ = txn.Put(append(tenant.Prefix(id), fmt.Sprintf("key%07d", rng.Intn(1000000))...), val)
					if _, err := txn.Commit(ctx); err == nil {
						writes.Add(1)
					}
				}
			}(w)
		}
		var lags, kvLags []float64
		tick := time.NewTicker(10 * time.Millisecond)
		deadline := time.Now().Add(dur)
		b.ResetTimer()
		for time.Now().Before(deadline) {
			<-tick.C
			rt, ok := s.consumer.ReplicatedTime(jobID)
			if !ok {
				continue
			}
			now := time.Now().UnixNano()
			lags = append(lags, float64(now-rt.WallTime)/1e6)
			kvLags = append(kvLags, float64(now-resolved.Load())/1e6)
		}
		b.StopTimer()
		tick.Stop()
		close(stop)
		wg.Wait()
		sub.Close()
		<-subDone
		sort.Float64s(lags)
		sort.Float64s(kvLags)
		b.ReportMetric(percentile(kvLags, 0.5), "kv-resolved-lag-p50-ms")
		b.ReportMetric(percentile(kvLags, 0.99), "kv-resolved-lag-p99-ms")
		b.ReportMetric(percentile(lags, 0.5), "lag-p50-ms")
		b.ReportMetric(percentile(lags, 0.99), "lag-p99-ms")
		b.ReportMetric(lags[len(lags)-1], "lag-max-ms")
		b.ReportMetric(float64(writes.Load())/dur.Seconds(), "writes/s")
		env.close()
	}
}

// loadVC bulk-loads about mb megabytes of 1 KiB values into VC id.
func loadVC(b *testing.B, c *testCluster, id tenant.ID, mb int) int64 {
	val := make([]byte, 1024)
	rand.New(rand.NewSource(1)).Read(val)
	ts := c.eng.Now()
	var total int64
	var batch []kv.Version
	n := mb * 1024
	for i := 0; i < n; i++ {
		k := append(tenant.Prefix(id), fmt.Sprintf("row%09d", i)...)
		batch = append(batch, kv.Version{Key: k, Timestamp: ts, Value: val})
		total += int64(len(k) + len(val))
		if len(batch) == 32768 || i == n-1 {
			if err := c.eng.IngestVersions(context.Background(), batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	return total
}

// BenchmarkInitialScan: a VC of VCDB_BENCH_SCAN_MB megabytes is copied by
// the initial scan (export, frames, SSTable ingestion); reports MB/s.
func BenchmarkInitialScan(b *testing.B) {
	mb := envInt("VCDB_BENCH_SCAN_MB", 256)
	for i := 0; i < b.N; i++ {
		env := benchEnv(b)
		p := env.addCluster("primary")
		id := p.createVC("main")
		bytes := loadVC(b, p, id, mb)
		s := env.addCluster("standby")
		ctx := context.Background()
		b.ResetTimer()
		start := time.Now()
		if _, err := s.consumer.Create(ctx, CreateRequest{TenantName: "main", SourceTenantName: "main", SourceURI: "inproc://primary"}); err != nil {
			b.Fatal(err)
		}
		succeedsSoon(b, 10*time.Minute, func() error {
			st, err := s.consumer.Status(ctx, s.vc("main").ID)
			if err != nil {
				return err
			}
			if st.ReplicatedTime.IsEmpty() {
				return fmt.Errorf("scan running")
			}
			return nil
		})
		el := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(bytes)/1e6/el.Seconds(), "MB/s")
		b.ReportMetric(float64(bytes)/1e6, "MB")
		env.close()
	}
}

// BenchmarkStreamEvents: the standby is paused while 200k small versions
// are committed (in transactions of 100 writes), then resumed; reports the
// catch-up rate through the stream path (rangefeed catch-up, frames,
// batched durable writes) in events/s. Framing v1 (the source VC's
// version is unknown).
func BenchmarkStreamEvents(b *testing.B) { benchStreamEvents(b, false) }

// BenchmarkStreamEventsV2 is BenchmarkStreamEvents with the source VC at
// 25.2, so the stream uses framing v2 (a CRC-32C per frame).
func BenchmarkStreamEventsV2(b *testing.B) { benchStreamEvents(b, true) }

func benchStreamEvents(b *testing.B, v2 bool) {
	const events = 200000
	for i := 0; i < b.N; i++ {
		env := benchEnv(b)
		p := env.addCluster("primary")
		id := p.createVC("main")
		if v2 {
			p.setVersion(id, FramingV2ClusterVersion)
		}
		s := env.addCluster("standby")
		ctx := context.Background()
		if _, err := s.consumer.Create(ctx, CreateRequest{TenantName: "main", SourceTenantName: "main", SourceURI: "inproc://primary"}); err != nil {
			b.Fatal(err)
		}
		s.waitReplicated("main", p.eng.Now(), time.Minute)
		if err := s.consumer.Pause(ctx, "main"); err != nil {
			b.Fatal(err)
		}
		val := make([]byte, 64)
		var last kv.Timestamp
		for t := 0; t < events/100; t++ {
			txn := p.eng.Begin(kv.TxnOptions{})
			for k := 0; k < 100; k++ {
				_ = txn.Put(append(tenant.Prefix(id), fmt.Sprintf("ev%04d-%03d", t, k)...), val)
			}
			ts, err := txn.Commit(ctx)
			if err != nil {
				b.Fatal(err)
			}
			last = ts
		}
		b.ResetTimer()
		start := time.Now()
		if err := s.consumer.Resume(ctx, "main"); err != nil {
			b.Fatal(err)
		}
		s.waitReplicated("main", last, 5*time.Minute)
		el := time.Since(start)
		b.StopTimer()
		b.ReportMetric(events/el.Seconds(), "events/s")
		if m := s.consumer.Metrics(); len(m) != 1 || (m[0].ChecksummedFrames > 0) != v2 {
			b.Fatalf("framing v2 %t, metrics %+v", v2, m)
		}
		env.close()
	}
}

// BenchmarkKVResolvedLag is the control for BenchmarkReplicationLag: the
// same writers on the primary alone, measuring now − the rangefeed's latest
// checkpoint (the floor any replication lag sits on) and commit latency.
func BenchmarkKVResolvedLag(b *testing.B) {
	env := benchEnv(b)
	p := env.addCluster("primary")
	id := p.createVC("main")
	ctx := context.Background()
	sub, err := p.eng.Subscribe(ctx, tenantSpan(id), p.eng.Now(), kv.SubscribeOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()
	var resolved atomic.Int64
	go func() {
		for ev := range sub.Events() {
			if ev.Type == kv.EventCheckpoint {
				resolved.Store(ev.Resolved.WallTime)
			}
		}
	}()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	val := make([]byte, 256)
	var commitLat []float64
	var mu sync.Mutex
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(w)))
			for {
				select {
				case <-stop:
					return
				default:
				}
				t0 := time.Now()
				txn := p.eng.Begin(kv.TxnOptions{})
				_ = txn.Put(append(tenant.Prefix(id), fmt.Sprintf("key%07d", rng.Intn(1000000))...), val)
				_, _ = txn.Commit(ctx)
				mu.Lock()
				commitLat = append(commitLat, float64(time.Since(t0))/1e6)
				mu.Unlock()
			}
		}(w)
	}
	var lags []float64
	for i := 0; i < 300; i++ {
		time.Sleep(10 * time.Millisecond)
		lags = append(lags, float64(time.Now().UnixNano()-resolved.Load())/1e6)
	}
	close(stop)
	wg.Wait()
	sort.Float64s(lags)
	sort.Float64s(commitLat)
	b.ReportMetric(percentile(lags, 0.5), "rlag-p50")
	b.ReportMetric(percentile(lags, 0.99), "rlag-p99")
	b.ReportMetric(percentile(commitLat, 0.5), "commit-p50")
	b.ReportMetric(percentile(commitLat, 0.99), "commit-p99")
	b.ReportMetric(commitLat[len(commitLat)-1], "commit-max")
}

// runWriters runs 16 single-key writers on VC id for d and returns the
// commit rate.
func runWriters(c *testCluster, id tenant.ID, d time.Duration, seed int64) float64 {
	ctx := context.Background()
	stop := make(chan struct{})
	var writes atomic.Int64
	var wg sync.WaitGroup
	val := make([]byte, 256)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(seed*100 + int64(w)))
			for {
				select {
				case <-stop:
					return
				default:
				}
				txn := c.eng.Begin(kv.TxnOptions{})
				_ = txn.Put(append(tenant.Prefix(id), fmt.Sprintf("key%07d", rng.Intn(1000000))...), val)
				if _, err := txn.Commit(ctx); err == nil {
					writes.Add(1)
				}
			}
		}(w)
	}
	time.Sleep(d)
	close(stop)
	wg.Wait()
	return float64(writes.Load()) / d.Seconds()
}

// BenchmarkPrimaryOverhead compares the primary's write rate without a
// stream, with a stream to a standby (in the same process, so the
// standby's CPU and fsyncs compete with the primary's, as they do for two
// binaries on one machine), and with a stream whose frames are discarded
// (the producer's own cost). Rounds of 2 s alternate on three VCs of one
// engine; medians of three.
func BenchmarkPrimaryOverhead(b *testing.B) {
	for i := 0; i < b.N; i++ {
		env := benchEnv(b)
		p := env.addCluster("primary")
		plain := p.createVC("plain")
		streamed := p.createVC("streamed")
		s := env.addCluster("standby")
		ctx := context.Background()
		if _, err := s.consumer.Create(ctx, CreateRequest{TenantName: "streamed", SourceTenantName: "streamed", SourceURI: "inproc://primary"}); err != nil {
			b.Fatal(err)
		}
		s.waitReplicated("streamed", p.eng.Now(), time.Minute)
		// A third VC is streamed to a consumer that discards the frames:
		// the producer's own cost, without the standby's.
		discarded := p.createVC("discarded")
		spec, err := NewInProcessSource(p.producer).StartStream(ctx, "discarded", StartRequest{ConsumerClusterID: "null"})
		if err != nil {
			b.Fatal(err)
		}
		fs, err := NewInProcessSource(p.producer).StreamPartition(ctx, spec.StreamID, PartitionSpec{StartTime: spec.StartTime})
		if err != nil {
			b.Fatal(err)
		}
		drained := make(chan struct{})
		go func() {
			defer close(drained)
			for {
				if _, err := fs.Next(); err != nil {
					return
				}
			}
		}()
		b.ResetTimer()
		var without, with, producerOnly []float64
		for r := 0; r < 3; r++ {
			without = append(without, runWriters(p, plain, 2*time.Second, int64(r)))
			with = append(with, runWriters(p, streamed, 2*time.Second, int64(r)))
			producerOnly = append(producerOnly, runWriters(p, discarded, 2*time.Second, int64(r)))
		}
		b.StopTimer()
		_ = fs.Close()
		<-drained
		sort.Float64s(without)
		sort.Float64s(with)
		sort.Float64s(producerOnly)
		b.ReportMetric(without[1], "writes/s-without")
		b.ReportMetric(with[1], "writes/s-with-stream")
		b.ReportMetric(100*(without[1]-with[1])/without[1], "overhead-with-standby-%")
		b.ReportMetric(100*(without[1]-producerOnly[1])/without[1], "overhead-producer-only-%")
		env.close()
	}
}
