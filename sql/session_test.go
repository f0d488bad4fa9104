package sql

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/cockroachdb/crlib/testutils/leaktest"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/tenant"
)

// testServer starts an in-memory VC for Go tests.
func testServer(t testing.TB) (*Server, func()) {
	e, err := kv.Open(kv.Options{InMemory: true, GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(context.Background(), Config{KV: e, TenantID: tenant.SystemID})
	if err != nil {
		t.Fatal(err)
	}
	return srv, func() {
		srv.Close()
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func newTestSession(t testing.TB, srv *Server) *Session {
	s, err := srv.NewSession(context.Background(), SessionArgs{User: "root", Database: "defaultdb"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// mustExec runs statements without arguments and fails the test on error.
func mustExec(t testing.TB, s *Session, sql string) {
	t.Helper()
	stmts, err := s.Parse(sql)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range stmts {
		if _, _, err := runStatement(context.Background(), s, st, false); err != nil {
			t.Fatalf("%s: %v", st.SQL, err)
		}
	}
}

func mustPrepare(t testing.TB, s *Session, sql string, hints ...*types.T) *Prepared {
	t.Helper()
	stmts, err := s.Parse(sql)
	if err != nil || len(stmts) != 1 {
		t.Fatalf("%s: %v", sql, err)
	}
	p, err := s.Prepare(context.Background(), stmts[0], hints)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return p
}

// execPrepared executes p and returns its rows and tag.
func execPrepared(s *Session, p *Prepared, args ...tree.Datum) ([]tree.Datums, string, error) {
	ctx := context.Background()
	res, err := s.Execute(ctx, p, args)
	if err != nil {
		return nil, "", err
	}
	var rows []tree.Datums
	for {
		row, err := res.Next(ctx)
		if err != nil {
			_, _ = res.Close(ctx)
			return nil, "", err
		}
		if row == nil {
			break
		}
		rows = append(rows, append(tree.Datums(nil), row...))
	}
	tag, err := res.Close(ctx)
	return rows, tag, err
}

// TestPreparedStatements checks placeholder type inference, plan reuse
// across executions, re-planning after a schema change, and the error when
// a re-plan would change the result columns.
func TestPreparedStatements(t *testing.T) {
	defer leaktest.AfterTest(t)()
	srv, stop := testServer(t)
	defer stop()
	s := newTestSession(t, srv)
	defer s.Close()
	mustExec(t, s, "CREATE TABLE kv (k INT PRIMARY KEY, v STRING)")

	ins := mustPrepare(t, s, "INSERT INTO kv VALUES ($1, $2)")
	if got := fmt.Sprint(ins.ParamTypes); got != "[int string]" {
		t.Fatalf("insert param types: %s", got)
	}
	if ins.Columns != nil {
		t.Fatalf("insert returns no rows, got columns %v", ins.Columns)
	}
	for i := 1; i <= 3; i++ {
		_, tag, err := execPrepared(s, ins, tree.NewDInt(tree.DInt(i)), tree.NewDString(fmt.Sprintf("v%d", i)))
		if err != nil || tag != "INSERT 0 1" {
			t.Fatalf("insert %d: %q %v", i, tag, err)
		}
	}
	_, _, err := execPrepared(s, ins, tree.NewDInt(1), tree.NewDString("dup"))
	if pgerror.GetPGCode(err) != pgcode.UniqueViolation {
		t.Fatalf("duplicate insert: %v", err)
	}

	sel := mustPrepare(t, s, "SELECT v FROM kv WHERE k = $1")
	if got := fmt.Sprint(sel.ParamTypes); got != "[int]" {
		t.Fatalf("select param types: %s", got)
	}
	if len(sel.Columns) != 1 || sel.Columns[0].Name != "v" || sel.Columns[0].TableID == 0 || sel.Columns[0].ColumnID != 2 {
		t.Fatalf("select columns: %+v", sel.Columns)
	}
	plan := sel.plan
	if plan == nil {
		t.Fatal("no cached plan")
	}
	for i := 1; i <= 3; i++ {
		rows, tag, err := execPrepared(s, sel, tree.NewDInt(tree.DInt(i)))
		if err != nil || tag != "SELECT 1" || len(rows) != 1 || string(tree.MustBeDString(rows[0][0])) != fmt.Sprintf("v%d", i) {
			t.Fatalf("select %d: %v %q %v", i, rows, tag, err)
		}
	}
	if sel.plan != plan {
		t.Fatal("the plan was rebuilt although the catalog did not change")
	}
	rows, _, err := execPrepared(s, sel, tree.DNull)
	if err != nil || len(rows) != 0 {
		t.Fatalf("k = NULL: %v %v", rows, err)
	}

	// A schema change that keeps the result shape: re-planned silently.
	mustExec(t, s, "CREATE INDEX ON kv (v)")
	if _, _, err := execPrepared(s, sel, tree.NewDInt(2)); err != nil {
		t.Fatal(err)
	}
	if sel.plan == plan {
		t.Fatal("the plan was not rebuilt after a schema change")
	}

	// SELECT * over a table that gains a column changes the result shape.
	star := mustPrepare(t, s, "SELECT * FROM kv WHERE k = $1")
	mustExec(t, s, "ALTER TABLE kv ADD COLUMN w INT")
	_, _, err = execPrepared(s, star, tree.NewDInt(1))
	if pgerror.GetPGCode(err) != pgcode.FeatureNotSupported {
		t.Fatalf("expected cached plan error, got %v", err)
	}

	// Placeholders in LIMIT, IN lists and expressions.
	lim := mustPrepare(t, s, "SELECT k FROM kv WHERE k IN ($1, $2) ORDER BY k DESC LIMIT $3")
	rows, _, err = execPrepared(s, lim, tree.NewDInt(1), tree.NewDInt(3), tree.NewDInt(1))
	if err != nil || len(rows) != 1 || int64(tree.MustBeDInt(rows[0][0])) != 3 {
		t.Fatalf("limit: %v %v", rows, err)
	}
	upd := mustPrepare(t, s, "UPDATE kv SET v = $1 || v WHERE k >= $2 RETURNING k")
	rows, tag, err := execPrepared(s, upd, tree.NewDString("x"), tree.NewDInt(2))
	if err != nil || tag != "UPDATE 2" || len(rows) != 2 {
		t.Fatalf("update: %v %q %v", rows, tag, err)
	}
}

// TestImplicitRetry runs concurrent read-modify-write statements on one
// row from several sessions: every one must succeed (serialization
// conflicts are retried inside the server) and none may be lost.
func TestImplicitRetry(t *testing.T) {
	defer leaktest.AfterTest(t)()
	srv, stop := testServer(t)
	defer stop()
	setup := newTestSession(t, srv)
	mustExec(t, setup, "CREATE TABLE c (k INT PRIMARY KEY, n INT); INSERT INTO c VALUES (1, 0)")
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		s := newTestSession(t, srv)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.Close()
			p := mustPrepare(t, s, "UPDATE c SET n = n + 1 WHERE k = 1")
			for i := 0; i < each; i++ {
				if _, _, err := execPrepared(s, p); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	p := mustPrepare(t, setup, "SELECT n FROM c WHERE k = 1")
	rows, _, err := execPrepared(setup, p)
	if err != nil || int64(tree.MustBeDInt(rows[0][0])) != workers*each {
		t.Fatalf("counter: %v %v", rows, err)
	}
	setup.Close()
}

// TestExplicitConflict checks that concurrent explicit transactions that
// read and write the same row do not both commit: one gets 40001.
func TestExplicitConflict(t *testing.T) {
	defer leaktest.AfterTest(t)()
	srv, stop := testServer(t)
	defer stop()
	a, b := newTestSession(t, srv), newTestSession(t, srv)
	defer a.Close()
	defer b.Close()
	mustExec(t, a, "CREATE TABLE c (k INT PRIMARY KEY, n INT); INSERT INTO c VALUES (1, 0)")
	mustExec(t, a, "BEGIN; UPDATE c SET n = n + 1 WHERE k = 1")
	mustExec(t, b, "BEGIN; UPDATE c SET n = n + 10 WHERE k = 1")
	mustExec(t, a, "COMMIT")
	commit := mustPrepare(t, b, "COMMIT")
	_, _, err := execPrepared(b, commit)
	if pgerror.GetPGCode(err) != pgcode.SerializationFailure {
		t.Fatalf("expected 40001, got %v", err)
	}
	if b.TxnStatus() != 'I' {
		t.Fatalf("status after failed commit: %c", b.TxnStatus())
	}
	rows, _, err := execPrepared(a, mustPrepare(t, a, "SELECT n FROM c"))
	if err != nil || int64(tree.MustBeDInt(rows[0][0])) != 1 {
		t.Fatalf("after conflict: %v %v", rows, err)
	}
}

// TestStatementTimeoutAndCancel checks that a long statement stops with
// 57014 on statement_timeout and on Cancel.
func TestStatementTimeoutAndCancel(t *testing.T) {
	defer leaktest.AfterTest(t)()
	srv, stop := testServer(t)
	defer stop()
	s := newTestSession(t, srv)
	defer s.Close()
	mustExec(t, s, "SET statement_timeout = 50")
	long := mustPrepare(t, s, "SELECT count(*) FROM generate_series(1, 1000000000)")
	start := time.Now()
	_, _, err := execPrepared(s, long)
	if pgerror.GetPGCode(err) != pgcode.QueryCanceled {
		t.Fatalf("expected 57014, got %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("timeout took %s", d)
	}
	mustExec(t, s, "RESET statement_timeout")
	done := make(chan error, 1)
	go func() {
		_, _, err := execPrepared(s, long)
		done <- err
	}()
	deadline := time.After(10 * time.Second)
	for {
		s.Cancel()
		select {
		case err := <-done:
			if pgerror.GetPGCode(err) != pgcode.QueryCanceled {
				t.Fatalf("expected 57014 after cancel, got %v", err)
			}
			return
		case <-deadline:
			t.Fatal("cancel did not stop the statement")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestSchemaChangeConflict checks that a transaction that wrote rows under
// the old schema cannot commit after a concurrent schema change that would
// have needed those rows (an index backfill): it fails with 40001, and the
// new index stays consistent with the table.
func TestSchemaChangeConflict(t *testing.T) {
	defer leaktest.AfterTest(t)()
	srv, stop := testServer(t)
	defer stop()
	a, b := newTestSession(t, srv), newTestSession(t, srv)
	defer a.Close()
	defer b.Close()
	mustExec(t, a, "CREATE TABLE t (k INT PRIMARY KEY, v INT)")
	mustExec(t, a, "BEGIN; INSERT INTO t VALUES (1, 10)")
	mustExec(t, b, "CREATE INDEX v_idx ON t (v)")
	_, _, err := execPrepared(a, mustPrepare(t, a, "COMMIT"))
	if pgerror.GetPGCode(err) != pgcode.SerializationFailure {
		t.Fatalf("expected 40001, got %v", err)
	}
	mustExec(t, a, "INSERT INTO t VALUES (1, 10)")
	// The read through the new index and a full scan agree.
	rows, _, err := execPrepared(b, mustPrepare(t, b, "SELECT k FROM t@v_idx WHERE v = 10"))
	if err != nil || len(rows) != 1 {
		t.Fatalf("index read: %v %v", rows, err)
	}
	// The other order: the schema change's backfill read the table, then a
	// row was written under the old schema; the schema change must not
	// commit.
	mustExec(t, a, "BEGIN; CREATE INDEX k_idx ON t (k, v)")
	mustExec(t, b, "INSERT INTO t VALUES (2, 20)")
	_, _, err = execPrepared(a, mustPrepare(t, a, "COMMIT"))
	if pgerror.GetPGCode(err) != pgcode.SerializationFailure {
		t.Fatalf("expected 40001 for the schema change, got %v", err)
	}
	mustExec(t, a, "CREATE INDEX k_idx ON t (k, v)")
	rows, _, err = execPrepared(b, mustPrepare(t, b, "SELECT k FROM t@k_idx"))
	if err != nil || len(rows) != 2 {
		t.Fatalf("index after retry: %v %v", rows, err)
	}
	// Session b sees a's later schema change at once.
	mustExec(t, a, "ALTER TABLE t ADD COLUMN w INT DEFAULT 5")
	rows, _, err = execPrepared(b, mustPrepare(t, b, "SELECT w FROM t WHERE k = 1"))
	if err != nil || len(rows) != 1 || int64(tree.MustBeDInt(rows[0][0])) != 5 {
		t.Fatalf("new column: %v %v", rows, err)
	}
}

// TestReadOnlyVirtualCluster checks Config.ReadOnlyAt, the mode of a
// replicated VC's read-only view: every read is at the given timestamp and
// every write fails with 25006.
func TestReadOnlyVirtualCluster(t *testing.T) {
	defer leaktest.AfterTest(t)()
	e, err := kv.Open(kv.Options{InMemory: true, GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = e.Close() }()
	ctx := context.Background()
	primary, err := NewServer(ctx, Config{KV: e, TenantID: 5, TenantName: "main"})
	if err != nil {
		t.Fatal(err)
	}
	defer primary.Close()
	w := newTestSession(t, primary)
	defer w.Close()
	mustExec(t, w, "CREATE TABLE t (k INT PRIMARY KEY); INSERT INTO t VALUES (1)")
	readTS := e.Clock().Now()
	mustExec(t, w, "INSERT INTO t VALUES (2)")

	var at atomic.Pointer[kv.Timestamp]
	at.Store(&readTS)
	ro, err := NewServer(ctx, Config{KV: e, TenantID: 5, TenantName: "main-readonly",
		ReadOnlyAt: func() kv.Timestamp { return *at.Load() }})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	r := newTestSession(t, ro)
	defer r.Close()
	count := mustPrepare(t, r, "SELECT count(*) FROM t")
	rows, _, err := execPrepared(r, count)
	if err != nil || int64(tree.MustBeDInt(rows[0][0])) != 1 {
		t.Fatalf("read at the replicated time: %v %v", rows, err)
	}
	now := e.Clock().Now()
	at.Store(&now)
	rows, _, err = execPrepared(r, count)
	if err != nil || int64(tree.MustBeDInt(rows[0][0])) != 2 {
		t.Fatalf("read after the replicated time moved: %v %v", rows, err)
	}
	for _, stmt := range []string{"INSERT INTO t VALUES (3)", "CREATE TABLE u (a INT)", "DELETE FROM t"} {
		st, _ := r.Parse(stmt)
		p, err := r.Prepare(ctx, st[0], nil)
		if err == nil {
			_, err = r.Execute(ctx, p, nil)
		}
		if pgerror.GetPGCode(err) != pgcode.ReadOnlySQLTransaction {
			t.Fatalf("%s: expected 25006, got %v", stmt, err)
		}
	}
	// AS OF SYSTEM TIME may look back, not past the replicated time.
	at.Store(&readTS)
	past := mustPrepare(t, r, "SELECT count(*) FROM t AS OF SYSTEM TIME "+readTS.String())
	if rows, _, err := execPrepared(r, past); err != nil || int64(tree.MustBeDInt(rows[0][0])) != 1 {
		t.Fatalf("AS OF SYSTEM TIME before the replicated time: %v %v", rows, err)
	}
	future := mustPrepare(t, r, "SELECT count(*) FROM t AS OF SYSTEM TIME "+now.String())
	if _, _, err := execPrepared(r, future); pgerror.GetPGCode(err) != pgcode.InvalidParameterValue {
		t.Fatalf("AS OF SYSTEM TIME after the replicated time: %v", err)
	}
	mustExec(t, r, "BEGIN")
	_, _, err = execPrepared(r, mustPrepare(t, r, "UPDATE t SET k = 5"))
	if pgerror.GetPGCode(err) != pgcode.ReadOnlySQLTransaction {
		t.Fatalf("explicit transaction write: %v", err)
	}
	mustExec(t, r, "ROLLBACK")
}

// TestLookupUser checks the bootstrapped principals as authentication sees
// them.
func TestLookupUser(t *testing.T) {
	defer leaktest.AfterTest(t)()
	srv, stop := testServer(t)
	defer stop()
	ctx := context.Background()
	root, found, err := srv.LookupUser(ctx, "root")
	if err != nil || !found || !root.CanLogin || !root.IsAdmin || root.PasswordVerifier != "" {
		t.Fatalf("root: %+v %v %v", root, found, err)
	}
	admin, found, err := srv.LookupUser(ctx, "admin")
	if err != nil || !found || admin.CanLogin {
		t.Fatalf("admin: %+v %v %v", admin, found, err)
	}
	if _, found, err := srv.LookupUser(ctx, "nobody"); err != nil || found {
		t.Fatalf("nobody: %v %v", found, err)
	}
}

// TestShowSessions lists the open sessions with what they run, while they
// run it.
func TestShowSessions(t *testing.T) {
	defer leaktest.AfterTest(t)()
	srv, stop := testServer(t)
	defer stop()
	a := newTestSession(t, srv)
	defer a.Close()
	b, err := srv.NewSession(context.Background(), SessionArgs{User: "root", ApplicationName: "app-b", RemoteAddr: "10.0.0.2:5000"})
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, b, "SELECT 1")
	rows, _, err := execPrepared(a, mustPrepare(t, a, "SHOW SESSIONS"))
	if err != nil || len(rows) != 2 {
		t.Fatalf("show sessions: %v %v", rows, err)
	}
	self, other := formatRowForTest(a, rows[0][1:7]), formatRowForTest(a, rows[1][1:7])
	if self != fmt.Sprintf("%016x | ACTIVE | root |  |  | SHOW SESSIONS", a.id) {
		t.Errorf("own session: %s", self)
	}
	if other != fmt.Sprintf("%016x | IDLE | root | 10.0.0.2:5000 | app-b | ", b.id) {
		t.Errorf("other session: %s", other)
	}
	b.Close()
	rows, _, _ = execPrepared(a, mustPrepare(t, a, "SHOW SESSIONS"))
	if len(rows) != 1 {
		t.Fatalf("closed session still listed: %v", rows)
	}
}
