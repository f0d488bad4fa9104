package replication

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/crlib/testutils/leaktest"
	"github.com/cockroachdb/errors"
	"github.com/vcdb/vcdb/kv"
)

// TestFailoverRevertResumesAfterRestart: a failover to a past time whose
// revert is interrupted (a crash after some chunks) resumes after the
// restart at the recorded chunk instead of starting over, and ends with the
// standby exactly at the failover time.
func TestFailoverRevertResumesAfterRestart(t *testing.T) {
	t.Cleanup(leaktest.AfterTest(t))
	env := newTestEnv(t, defaultEnvOptions())
	p := env.addCluster("primary")
	id := p.createVC("main")
	s := env.addCluster("standby")
	ctx := context.Background()
	for i := 0; i < 50; i++ {
		if _, err := p.write(id, [][2]string{{fmt.Sprintf("k%02d", i), "old"}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.consumer.Create(ctx, CreateRequest{TenantName: "main", SourceTenantName: "main", SourceURI: "inproc://primary"}); err != nil {
		t.Fatal(err)
	}
	s.waitReplicated("main", p.eng.Now(), 30*time.Second)
	failoverAt := p.eng.Now()
	var last kv.Timestamp
	for i := 0; i < 50; i++ {
		ts, err := p.write(id, [][2]string{{fmt.Sprintf("k%02d", i), "new"}})
		if err != nil {
			t.Fatal(err)
		}
		last = ts
	}
	s.waitReplicated("main", last, 30*time.Second)

	// Revert in chunks of 5 keys; "crash" after 4 chunks.
	s.consumer.cfg.RevertChunkKeys = 5
	crashed := make(chan struct{})
	var once atomic.Bool
	s.consumer.cfg.Knobs.AfterRevertChunk = func(n int) error {
		if n == 4 && once.CompareAndSwap(false, true) {
			close(crashed)
		}
		if once.Load() {
			return errors.New("test: crash during revert")
		}
		return nil
	}
	jobID := s.jobOf("main")
	if _, err := s.consumer.Complete(ctx, "main", FailoverTarget{Time: failoverAt}); err != nil {
		t.Fatal(err)
	}
	<-crashed
	prog, err := readProgress(ctx, s.eng, jobID)
	if err != nil {
		t.Fatal(err)
	}
	if len(prog.RevertResumeKey) == 0 || prog.RevertDone {
		t.Fatalf("no revert checkpoint recorded: %+v", prog)
	}

	// Restart with a counting knob: fewer chunks than a full revert.
	env.mu.Lock()
	s.stopServices()
	env.mu.Unlock()
	if err := s.eng.Close(); err != nil {
		t.Fatal(err)
	}
	s.open()
	var after atomic.Int32
	s.startServicesWith(func(cfg *ConsumerConfig) {
		cfg.RevertChunkKeys = 5
		cfg.Knobs.AfterRevertChunk = func(int) error { after.Add(1); return nil }
	})
	waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	rec, err := s.consumer.WaitForJob(waitCtx, jobID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Machine.Status != StatusComplete {
		t.Fatalf("status %s", rec.Machine.Status)
	}
	// 50 keys in chunks of 5 is 10 (plus a final partial scan); 4 were
	// done before the crash.
	if n := after.Load(); n == 0 || n > 8 {
		t.Fatalf("revert after restart did %d chunks; expected it to resume (≤ 8)", n)
	}
	if a, b := p.fingerprint("main", kv.Timestamp{}, failoverAt), s.fingerprint("main", kv.Timestamp{}, s.eng.Now()); a != b {
		t.Fatal("standby is not exactly at the failover time")
	}
}

// BenchmarkFailover measures COMPLETE REPLICATION TO LATEST to the VC being
// ready (activation committed), at the KV level, after writes.
func BenchmarkFailover(b *testing.B) {
	for i := 0; i < b.N; i++ {
		env := benchEnv(b)
		p := env.addCluster("primary")
		id := p.createVC("main")
		s := env.addCluster("standby")
		ctx := context.Background()
		if _, err := s.consumer.Create(ctx, CreateRequest{TenantName: "main", SourceTenantName: "main", SourceURI: "inproc://primary"}); err != nil {
			b.Fatal(err)
		}
		var last kv.Timestamp
		for k := 0; k < 2000; k++ {
			ts, err := p.write(id, [][2]string{{fmt.Sprintf("k%05d", k), "v"}})
			if err != nil {
				b.Fatal(err)
			}
			last = ts
		}
		s.waitReplicated("main", last, time.Minute)
		jobID := s.jobOf("main")
		b.ResetTimer()
		start := time.Now()
		if _, err := s.consumer.Complete(ctx, "main", FailoverTarget{Latest: true}); err != nil {
			b.Fatal(err)
		}
		succeedsSoon(b, time.Minute, func() error {
			rec, err := s.records.Get(ctx, nil, s.vc("main").ID)
			if err != nil {
				return err
			}
			if rec.ConsumerJobID != 0 {
				return errors.New("not yet active")
			}
			return nil
		})
		el := time.Since(start)
		b.StopTimer()
		_, _ = s.consumer.WaitForJob(ctx, jobID)
		b.ReportMetric(float64(el.Microseconds())/1000, "failover-ms")
		env.close()
	}
}
