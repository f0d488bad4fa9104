package replication

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cockroachdb/crlib/testutils/leaktest"
	"github.com/vcdb/vcdb/kv"
)

// TestInitialScanResumes cuts the stream several times during the initial
// scan: each reconnect resumes the scan at the last durable key rather than
// at the beginning, and the copy is exact.
func TestInitialScanResumes(t *testing.T) {
	t.Cleanup(leaktest.AfterTest(t))
	opts := defaultEnvOptions()
	opts.frameBytes = 512      // many frames
	opts.scanBatchBytes = 2048 // many SSTables, each a resume point
	env := newTestEnv(t, opts)
	p := env.addCluster("primary")
	id := p.createVC("main")
	for i := 0; i < 400; i += 20 {
		var kvs [][2]string
		for k := i; k < i+20; k++ {
			kvs = append(kvs, [2]string{fmt.Sprintf("key%04d", k), fmt.Sprintf("value-%04d-padding-padding", k)})
		}
		if _, err := p.write(id, kvs); err != nil {
			t.Fatal(err)
		}
	}
	// Some history too: overwrite and delete.
	if _, err := p.write(id, [][2]string{{"key0001", "again"}, {"key0002", ""}}); err != nil {
		t.Fatal(err)
	}
	s := env.addCluster("standby")
	env.streams.Lock()
	env.streams.cutAfter, env.streams.cutsLeft = 8, 3
	env.streams.Unlock()
	ctx := context.Background()
	if _, err := s.consumer.Create(ctx, CreateRequest{TenantName: "main", SourceTenantName: "main", SourceURI: "inproc://primary"}); err != nil {
		t.Fatal(err)
	}
	s.waitReplicated("main", p.eng.Now(), 30*time.Second)
	env.streams.Lock()
	specs := append([]PartitionSpec(nil), env.streams.specs...)
	env.streams.Unlock()
	if len(specs) < 4 {
		t.Fatalf("expected at least 4 stream attempts, got %d", len(specs))
	}
	var last []byte
	for i, sp := range specs[:4] {
		if !sp.InitialScan {
			t.Fatalf("attempt %d was not an initial scan", i)
		}
		if i > 0 && string(sp.ScanResumeKey) <= string(last) {
			t.Fatalf("attempt %d resumed at %q, not past %q", i, sp.ScanResumeKey, last)
		}
		last = sp.ScanResumeKey
	}
	rec, err := s.consumer.Job(ctx, s.jobOf("main"))
	if err != nil {
		t.Fatal(err)
	}
	at := rec.Machine.StartTime
	if a, b := p.fingerprint("main", kv.Timestamp{}, at), s.fingerprint("main", kv.Timestamp{}, at); a != b {
		t.Fatal("the resumed scan's copy differs")
	}
	// Every revision at or below the start time that the primary keeps
	// was copied (the scan carries history, not just the latest values).
	if a, b := countVersions(t, p, "main", kv.Timestamp{}, at), countVersions(t, s, "main", kv.Timestamp{}, at); a != b {
		t.Fatalf("primary has %d versions at or below the start time, standby %d", a, b)
	}
}
