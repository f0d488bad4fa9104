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
