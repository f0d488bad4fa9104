package replication

import (
	"context"
	"fmt"
	"math/rand"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/crlib/testutils/leaktest"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/tenant"
)

// startWriters runs n goroutines committing random puts and deletes to the
// VC until stop is closed; it returns a wait function giving the highest
// commit timestamp.
func startWriters(t *testing.T, c *testCluster, id tenant.ID, n int, stop <-chan struct{}) func() kv.Timestamp {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var last kv.Timestamp
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(w)))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var kvs [][2]string
				for k := 0; k < 1+rng.Intn(4); k++ {
					key := fmt.Sprintf("k%03d", rng.Intn(200))
					val := ""
					if rng.Intn(5) != 0 {
						val = fmt.Sprintf("w%d-%d", w, i)
					}
					kvs = append(kvs, [2]string{key, val})
				}
				ts, err := c.write(id, kvs)
				if err != nil {
					if kv.IsRetryable(err) {
						continue
					}
					t.Error(err)
					return
				}
				mu.Lock()
				if last.Less(ts) {
					last = ts
				}
				mu.Unlock()
				if i%8 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		}(w)
	}
	return func() kv.Timestamp {
		wg.Wait()
		return last
	}
}

// TestPropertyConcurrentWriters: under concurrent writers and dropped
// connections, the replicated time never regresses, and at every sampled
// replicated time R the standby's data equals the primary's, with every
// revision in (start, R].
func TestPropertyConcurrentWriters(t *testing.T) {
	t.Cleanup(leaktest.AfterTest(t))
	env := newTestEnv(t, defaultEnvOptions())
	p := env.addCluster("primary")
	id := p.createVC("main")
	s := env.addCluster("standby")
	ctx := context.Background()
	if _, err := p.write(id, [][2]string{{"seed", "1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.consumer.Create(ctx, CreateRequest{TenantName: "main", SourceTenantName: "main", SourceURI: "inproc://primary"}); err != nil {
		t.Fatal(err)
	}
	jobID := s.jobOf("main")
	start := s.vc("main")
	_ = start

	stop := make(chan struct{})
	wait := startWriters(t, p, id, 4, stop)

	// Sample the replicated time every millisecond: it never regresses.
	var samples []kv.Timestamp
	var regressions atomic.Int32
	sampleStop := make(chan struct{})
	sampleDone := make(chan struct{})
	go func() {
		defer close(sampleDone)
		var prev kv.Timestamp
		for {
			select {
			case <-sampleStop:
				return
			case <-time.After(time.Millisecond):
			}
			rt, ok := s.consumer.ReplicatedTime(jobID)
			if !ok {
				continue
			}
			if rt.Less(prev) {
				regressions.Add(1)
			}
			if rt != prev && len(samples) < 400 {
				samples = append(samples, rt)
			}
			prev = rt
		}
	}()
	for i := 0; i < 4; i++ {
		time.Sleep(150 * time.Millisecond)
		env.cutStreams()
	}
	time.Sleep(150 * time.Millisecond)
	close(stop)
	last := wait()
	s.waitReplicated("main", last, 30*time.Second)
	close(sampleStop)
	<-sampleDone
	if n := regressions.Load(); n > 0 {
		t.Fatalf("replicated time regressed %d times", n)
	}
	if len(samples) < 10 {
		t.Fatalf("only %d distinct replicated times sampled", len(samples))
	}
	st, err := s.consumer.Status(ctx, s.vc("main").ID)
	if err != nil {
		t.Fatal(err)
	}
	// Check a spread of the sampled times plus the last.
	checks := []kv.Timestamp{st.ReplicatedTime}
	for i := 0; i < len(samples); i += len(samples)/12 + 1 {
		checks = append(checks, samples[i])
	}
	rec, err := s.consumer.Job(ctx, jobID)
	if err != nil {
		t.Fatal(err)
	}
	startTS := rec.Machine.StartTime
	for _, r := range checks {
		if a, b := p.fingerprint("main", kv.Timestamp{}, r), s.fingerprint("main", kv.Timestamp{}, r); a != b {
			t.Fatalf("latest data differs at %s", r)
		}
		if a, b := p.fingerprint("main", startTS, r), s.fingerprint("main", startTS, r); a != b {
			t.Fatalf("revisions in (start, %s] differ", r)
		}
	}
	if n := countVersions(t, p, "main", startTS, st.ReplicatedTime); n < 100 {
		t.Fatalf("only %d versions written; the test proves little", n)
	}
}

// TestPropertyCrashKeepsReplicatedTime crashes the standby (only synced
// data survives) while writers run: after each crash, everything at or
// below the persisted replicated time is present, revision for revision,
// and replication then catches up.
func TestPropertyCrashKeepsReplicatedTime(t *testing.T) {
	t.Cleanup(leaktest.AfterTest(t))
	env := newTestEnv(t, defaultEnvOptions())
	p := env.addCluster("primary")
	id := p.createVC("main")
	s := env.addCluster("standby")
	ctx := context.Background()
	if _, err := s.consumer.Create(ctx, CreateRequest{TenantName: "main", SourceTenantName: "main", SourceURI: "inproc://primary"}); err != nil {
		t.Fatal(err)
	}
	jobID := s.jobOf("main")
	s.waitReplicated("main", p.eng.Now(), 30*time.Second)
	rec, err := s.consumer.Job(ctx, jobID)
	if err != nil {
		t.Fatal(err)
	}
	startTS := rec.Machine.StartTime
	stop := make(chan struct{})
	wait := startWriters(t, p, id, 3, stop)
	var checked int
	for i := 0; i < 4; i++ {
		time.Sleep(time.Duration(50+30*i) * time.Millisecond)
		var persisted kv.Timestamp
		var standbyFP, standbyLatest uint64
		s.crashAndInspect(func(eng *kv.Engine) {
			prog, err := readProgress(ctx, eng, jobID)
			if err != nil {
				t.Fatal(err)
			}
			persisted = prog.ReplicatedTime
			sid := s.vc("main").ID
			if standbyFP, err = Fingerprint(ctx, eng, sid, startTS, persisted); err != nil {
				t.Fatal(err)
			}
			if standbyLatest, err = Fingerprint(ctx, eng, sid, kv.Timestamp{}, persisted); err != nil {
				t.Fatal(err)
			}
		})
		if persisted.IsEmpty() {
			t.Fatal("no persisted replicated time after a crash")
		}
		if a := p.fingerprint("main", startTS, persisted); a != standbyFP {
			t.Fatalf("crash %d: revisions at or below the persisted replicated time %s are missing", i, persisted)
		}
		if a := p.fingerprint("main", kv.Timestamp{}, persisted); a != standbyLatest {
			t.Fatalf("crash %d: data at the persisted replicated time %s differs", i, persisted)
		}
		checked++
	}
	close(stop)
	last := wait()
	s.waitReplicated("main", last, 30*time.Second)
	st, err := s.consumer.Status(ctx, s.vc("main").ID)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := p.fingerprint("main", startTS, st.ReplicatedTime), s.fingerprint("main", startTS, st.ReplicatedTime); a != b {
		t.Fatal("after catching up the revisions differ")
	}
	if checked != 4 {
		t.Fatal("not every crash was checked")
	}
}
