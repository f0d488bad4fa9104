package sql

import (
	"context"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/crlib/testutils/leaktest"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/replication"
	"github.com/vcdb/vcdb/tenant"
)

// testHost starts a Host on an in-memory store.
func testHost(t testing.TB, cfg HostConfig) (*Host, *kv.Engine, func()) {
	e, err := kv.Open(kv.Options{InMemory: true, GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	cfg.KV = e
	h, err := NewHost(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h, e, func() {
		h.Close(context.Background())
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func rootSession(t testing.TB, srv *Server) *Session {
	t.Helper()
	s, err := srv.NewSession(context.Background(), SessionArgs{User: "root", Database: "defaultdb"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestHostClusterID checks that the cluster id is a UUID made once per
// store.
func TestHostClusterID(t *testing.T) {
	defer leaktest.AfterTest(t)()
	ctx := context.Background()
	h, e, stop := testHost(t, HostConfig{})
	defer stop()
	id := h.ClusterID()
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(id) {
		t.Fatalf("cluster id %q is not a v4 UUID", id)
	}
	h.Close(ctx)
	h2, err := NewHost(ctx, HostConfig{KV: e})
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close(ctx)
	if h2.ClusterID() != id {
		t.Fatalf("cluster id changed across restarts: %s, then %s", id, h2.ClusterID())
	}
}

// TestStopServiceWaitsForStatements checks that STOP SERVICE terminates a
// session whose result is still open: the session's Done channel closes
// and its statement is cancelled at once, and STOP returns as soon as the
// connection closes the result, well before StopTimeout.
func TestStopServiceWaitsForStatements(t *testing.T) {
	defer leaktest.AfterTest(t)()
	ctx := context.Background()
	h, _, stop := testHost(t, HostConfig{StopTimeout: 20 * time.Second})
	defer stop()
	sys := rootSession(t, h.System())
	defer sys.Close()
	mustExec(t, sys, "CREATE VIRTUAL CLUSTER main; ALTER VIRTUAL CLUSTER main START SERVICE SHARED")
	srv, ok := h.Lookup("main")
	if !ok {
		t.Fatal("main is not running")
	}
	app := rootSession(t, srv)
	defer app.Close()
	mustExec(t, app, "CREATE TABLE t (k INT PRIMARY KEY); INSERT INTO t SELECT i FROM generate_series(1, 5000) AS g(i)")
	res, err := app.Execute(ctx, mustPrepare(t, app, "SELECT * FROM t"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if row, err := res.Next(ctx); err != nil || row == nil {
		t.Fatalf("first row: %v %v", row, err)
	}

	start := time.Now()
	stopped := make(chan error, 1)
	go func() {
		stopped <- h.setServiceMode(ctx, vcSpec{name: "main"}, tenant.ServiceModeNone)
	}()
	select {
	case <-app.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the session was not terminated")
	}
	if _, ok := h.Lookup("main"); ok {
		t.Fatal("a stopping service is still routable")
	}
	select {
	case err := <-stopped:
		t.Fatalf("STOP SERVICE returned (%v) while a statement was still running", err)
	case <-time.After(20 * time.Millisecond):
	}
	// The connection notices: its statement was cancelled.
	for {
		row, err := res.Next(ctx)
		if err != nil {
			break
		}
		if row == nil {
			t.Fatal("the statement ran to completion despite the stop")
		}
	}
	_, _ = res.Close(ctx)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("STOP SERVICE took %s", d)
	}
	// Every later call on the session fails with 57P01, and the server
	// takes no new session.
	if _, err := app.Prepare(ctx, Statement{}, nil); pgerror.GetPGCode(err) != pgcode.AdminShutdown {
		t.Fatalf("Prepare on a terminated session: %v", err)
	}
	if _, err := srv.NewSession(ctx, SessionArgs{User: "root"}); pgerror.GetPGCode(err) != pgcode.AdminShutdown {
		t.Fatalf("NewSession on a stopped server: %v", err)
	}
}

// TestHostConcurrentRouting runs lookups and sessions against a VC while
// its service is started and stopped, for the race detector and for the
// invariant that a VC is routable exactly while it is serving.
func TestHostConcurrentRouting(t *testing.T) {
	defer leaktest.AfterTest(t)()
	ctx := context.Background()
	h, _, stop := testHost(t, HostConfig{})
	defer stop()
	sys := rootSession(t, h.System())
	defer sys.Close()
	mustExec(t, sys, "CREATE VIRTUAL CLUSTER main")
	done := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				srv, ok := h.Lookup("main")
				if !ok {
					continue
				}
				s, err := srv.NewSession(ctx, SessionArgs{User: "root"})
				if err != nil {
					if pgerror.GetPGCode(err) != pgcode.AdminShutdown {
						t.Errorf("NewSession: %v", err)
					}
					continue
				}
				stmts, _ := s.Parse("SELECT 1")
				if _, _, err := runStatement(ctx, s, stmts[0], false); err != nil &&
					pgerror.GetPGCode(err) != pgcode.AdminShutdown && pgerror.GetPGCode(err) != pgcode.QueryCanceled {
					t.Errorf("SELECT 1: %v", err)
				}
				s.Close()
			}
		}()
	}
	for i := 0; i < 10; i++ {
		mustExec(t, sys, "ALTER VIRTUAL CLUSTER main START SERVICE SHARED")
		mustExec(t, sys, "ALTER VIRTUAL CLUSTER main STOP SERVICE")
	}
	close(done)
	wg.Wait()
	if _, ok := h.Lookup("main"); ok {
		t.Fatal("main is routable after STOP SERVICE")
	}
}

// fakeReplication is a ReplicationStatusProvider with a fixed status.
type fakeReplication struct {
	st *replication.ReplicationStatus
}

func (f fakeReplication) Status(context.Context, tenant.ID) (*replication.ReplicationStatus, error) {
	return f.st, nil
}

// TestReplicationStatusHook checks how SHOW formats what the replication
// layer reports for a VC with a consumer job: the status as data_state,
// times truncated to microseconds (retained_time plus 1 µs), the lag,
// the failover time as a decimal.
func TestReplicationStatusHook(t *testing.T) {
	defer leaktest.AfterTest(t)()
	ctx := context.Background()
	retained := kv.Timestamp{WallTime: 1_700_000_000_123_456_789}
	replicated := kv.Timestamp{WallTime: 1_700_000_100_000_000_999, Logical: 3}
	failover := kv.Timestamp{WallTime: 1_700_000_200_000_000_000, Logical: 1}
	fake := fakeReplication{st: &replication.ReplicationStatus{
		JobID: 42, SourceTenantName: "main", SourceURI: "postgresql://repl@primary:26257?redacted",
		RetainedTime: retained, ReplicatedTime: replicated, FailoverTime: failover,
		Status: replication.StatusReplicating,
	}}
	h, _, stop := testHost(t, HostConfig{ReplicationStatus: fake})
	defer stop()
	s := rootSession(t, h.System())
	defer s.Close()
	mustExec(t, s, "CREATE VIRTUAL CLUSTER standby")
	rec, err := h.store.GetByName(ctx, nil, "standby")
	if err != nil {
		t.Fatal(err)
	}
	rec.ConsumerJobID = 42
	if err := h.store.Put(ctx, nil, rec); err != nil {
		t.Fatal(err)
	}
	query := func(q string) string {
		stmts, _ := s.Parse(q)
		_, rows, err := runStatement(ctx, s, stmts[0], false)
		if err != nil || len(rows) != 1 {
			t.Fatalf("%s: %v %v", q, rows, err)
		}
		return rows[0]
	}
	if got := query("SELECT * FROM [SHOW VIRTUAL CLUSTERS] WHERE id = 2"); got != "2 | standby | replicating | none" {
		t.Errorf("SHOW VIRTUAL CLUSTERS: %s", got)
	}
	got := query("SELECT id, name, ingestion_job_id, source_tenant_name, source_cluster_uri, retained_time, replicated_time, failover_time, status FROM [SHOW VIRTUAL CLUSTER standby WITH REPLICATION STATUS]")
	want := "2 | standby | 42 | main | postgresql://repl@primary:26257?redacted | " +
		"2023-11-14 22:13:20.123457+00 | 2023-11-14 22:15:00+00 | 1700000200000000000.0000000001 | replicating"
	if got != want {
		t.Errorf("WITH REPLICATION STATUS:\n got %s\nwant %s", got, want)
	}
	if lag := query("SELECT replication_lag > '1 year'::INTERVAL FROM [SHOW VIRTUAL CLUSTER standby WITH REPLICATION STATUS]"); lag != "t" {
		t.Errorf("lag of a status from 2023: %s", lag)
	}
	// A finished job shows the record's state again.
	fake.st.Status = replication.StatusComplete
	if got := query("SELECT data_state FROM [SHOW VIRTUAL CLUSTER standby]"); got != "ready" {
		t.Errorf("after completion: %s", got)
	}
}
