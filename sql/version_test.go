package sql

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/crlib/testutils/leaktest"
	"github.com/cockroachdb/datadriven"
	"github.com/cockroachdb/errors"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/tenant"
)

// TestVersionsDataDriven runs the mixed-release tests in testdata/versions:
// a store written by one release and reopened by another, in one process
// (tenant.TestingSetBinaryVersion). Each file gets a fresh in-memory store
// and no Host until its first `binary` directive. Directives, besides
// those of TestDataDriven:
//
//	binary version=V        close the Host (and every session), make this
//	                        process release V and start a Host on the same
//	                        store; print ok, or the refusal, after which
//	                        the previous release is started again
//	wait-auto-finalize      wait (bounded) until the auto-finalizer has
//	                        served every wake so far
//	log                     print the Host's log lines about versions
//	                        since the last `log`, and forget them
func TestVersionsDataDriven(t *testing.T) {
	defer leaktest.AfterTest(t)()
	datadriven.Walk(t, filepath.Join("..", "testdata", "versions"), func(t *testing.T, path string) {
		e, err := kv.Open(kv.Options{InMemory: true, GCInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		vh := &versionHarness{testHarness: &testHarness{t: t, engine: e, sessions: map[string]*Session{}, vars: map[string]string{}}}
		defer vh.close()
		datadriven.RunTest(t, path, vh.run)
	})
}

type versionHarness struct {
	*testHarness
	restore func()
	release tenant.Version

	logMu sync.Mutex
	logs  []string
}

func (vh *versionHarness) logf(format string, args ...interface{}) {
	line := fmt.Sprintf(format, args...)
	if !strings.Contains(line, "version") {
		return
	}
	vh.logMu.Lock()
	defer vh.logMu.Unlock()
	vh.logs = append(vh.logs, line)
}

func (vh *versionHarness) close() {
	if vh.host != nil {
		vh.testHarness.close()
	} else if err := vh.engine.Close(); err != nil {
		vh.t.Fatal(err)
	}
	if vh.restore != nil {
		vh.restore()
	}
}

func (vh *versionHarness) startHost() error {
	host, err := NewHost(context.Background(), HostConfig{KV: vh.engine, StopTimeout: 5 * time.Second, Logf: vh.logf})
	if err != nil {
		return err
	}
	vh.host = host
	return nil
}

func (vh *versionHarness) stopHost() {
	if vh.host == nil {
		return
	}
	vh.closeSessions()
	vh.host.Close(context.Background())
	vh.host = nil
}

// setRelease makes the process release v, undoing the previous switch.
func (vh *versionHarness) setRelease(v tenant.Version) {
	if vh.restore != nil {
		vh.restore()
	}
	vh.restore = tenant.TestingSetBinaryVersion(v)
	vh.release = v
}

func (vh *versionHarness) run(t *testing.T, d *datadriven.TestData) string {
	ctx := context.Background()
	switch d.Cmd {
	case "binary":
		var s string
		d.ScanArgs(t, "version", &s)
		v, err := tenant.ParseVersion(s)
		if err != nil {
			t.Fatalf("%s: %v", d.Pos, err)
		}
		prev := vh.release
		vh.stopHost()
		vh.setRelease(v)
		err = vh.startHost()
		if err == nil {
			return "ok\n"
		}
		var sve *StoreVersionError
		if !errors.As(err, &sve) || prev.IsZero() {
			t.Fatalf("%s: %v", d.Pos, err)
		}
		vh.setRelease(prev)
		if err := vh.startHost(); err != nil {
			t.Fatalf("%s: restarting as %s: %v", d.Pos, prev, err)
		}
		return fmt.Sprintf("refused (vc=%s store=%s binary=%s): %v\nrestarted as %s\n", sve.VC, sve.Store, sve.Binary, err, prev)
	case "wait-auto-finalize":
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := vh.host.waitAutoFinalized(ctx); err != nil {
			t.Fatalf("%s: %v", d.Pos, err)
		}
		return "ok\n"
	case "log":
		vh.logMu.Lock()
		defer vh.logMu.Unlock()
		out := strings.Join(vh.logs, "\n")
		vh.logs = nil
		if out == "" {
			return "(none)\n"
		}
		return out + "\n"
	case "restart":
		vh.stopHost()
		if err := vh.startHost(); err != nil {
			t.Fatalf("%s: %v", d.Pos, err)
		}
		return "ok\n"
	}
	if vh.host == nil {
		t.Fatalf("%s: no Host yet: start one with `binary version=V`", d.Pos)
	}
	return vh.testHarness.run(t, d)
}

// openAs starts a Host as release v on the on-disk store in dir, runs fn
// on it (when it started) and closes it and the engine. It returns
// NewHost's error and the number of MVCC versions in the system VC's span
// before and after (a refused start must write nothing).
func openAs(t *testing.T, dir string, v tenant.Version, fn func(h *Host)) (err error, before, after int) {
	t.Helper()
	defer tenant.TestingSetBinaryVersion(v)()
	e, oerr := kv.Open(kv.Options{Dir: dir, GCInterval: -1})
	if oerr != nil {
		t.Fatal(oerr)
	}
	defer func() {
		if cerr := e.Close(); cerr != nil {
			t.Fatal(cerr)
		}
	}()
	count := func() int {
		n := 0
		span := kv.Span{Key: tenant.Prefix(tenant.SystemID), EndKey: tenant.PrefixEnd(tenant.SystemID)}
		if xerr := e.Export(context.Background(), span, kv.Timestamp{}, e.Clock().Now(),
			func(kv.Version) error { n++; return nil }); xerr != nil {
			t.Fatal(xerr)
		}
		return n
	}
	before = count()
	h, err := NewHost(context.Background(), HostConfig{KV: e, StopTimeout: 5 * time.Second})
	if err == nil {
		if fn != nil {
			fn(h)
		}
		h.Close(context.Background())
	}
	return err, before, count()
}

// systemVersion reads the system VC's cluster version through SQL.
func systemVersion(t *testing.T, h *Host) string {
	t.Helper()
	s, err := h.System().NewSession(context.Background(), SessionArgs{User: "root", Database: "defaultdb"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stmts, err := s.Parse("SHOW CLUSTER SETTING version")
	if err != nil {
		t.Fatal(err)
	}
	_, rows, err := runStatement(context.Background(), s, stmts[0], false)
	if err != nil || len(rows) != 1 {
		t.Fatalf("SHOW CLUSTER SETTING version: %v %v", rows, err)
	}
	return rows[0]
}

// TestStoreVersionCheck: an on-disk store written by one release and
// reopened by another. The next release opens (and, with nothing holding
// it, finalizes) a store of the previous one; an older binary, or one two
// releases ahead, refuses before writing anything, naming both versions.
func TestStoreVersionCheck(t *testing.T) {
	defer leaktest.AfterTest(t)()
	v243, v251, v252 := tenant.Version{Year: 24, Release: 3}, tenant.Version{Year: 25, Release: 1}, tenant.Version{Year: 25, Release: 2}

	mustOpen := func(dir string, v tenant.Version, fn func(h *Host)) {
		t.Helper()
		if err, _, _ := openAs(t, dir, v, fn); err != nil {
			t.Fatalf("opening as %s: %v", v, err)
		}
	}
	refused := func(dir string, v tenant.Version, store tenant.Version) {
		t.Helper()
		err, before, after := openAs(t, dir, v, nil)
		var sve *StoreVersionError
		if !errors.As(err, &sve) {
			t.Fatalf("opening a %s store as %s: got %v, want a StoreVersionError", store, v, err)
		}
		if sve.VC != tenant.SystemName || sve.Store != store || sve.Binary != v {
			t.Fatalf("opening a %s store as %s: %+v", store, v, sve)
		}
		msg := err.Error()
		if !strings.Contains(msg, store.String()) || !strings.Contains(msg, "v"+v.String()+".0") {
			t.Fatalf("the refusal must name both versions: %s", msg)
		}
		if before != after {
			t.Fatalf("a refused start wrote to the store: %d versions before, %d after", before, after)
		}
	}

	t.Run("previous release store opens", func(t *testing.T) {
		dir := t.TempDir()
		mustOpen(dir, v251, func(h *Host) {
			if got := systemVersion(t, h); got != "25.1" {
				t.Fatalf("bootstrapped at %s", got)
			}
		})
		mustOpen(dir, v252, func(h *Host) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := h.waitAutoFinalized(ctx); err != nil {
				t.Fatal(err)
			}
			if got := systemVersion(t, h); got != "25.2" {
				t.Fatalf("after auto-finalization: %s", got)
			}
		})
		// Finalized: the previous release can no longer open it.
		refused(dir, v251, v252)
		mustOpen(dir, v252, nil)
	})
	t.Run("newer store refused", func(t *testing.T) {
		dir := t.TempDir()
		mustOpen(dir, v252, nil)
		refused(dir, v251, v252)
		refused(dir, v243, v252)
		mustOpen(dir, v252, nil)
	})
	t.Run("too old store refused", func(t *testing.T) {
		dir := t.TempDir()
		mustOpen(dir, v243, nil)
		refused(dir, v252, v243)
		mustOpen(dir, v243, nil)
	})
}

// TestAutoFinalizerStopsOnClose: Close stops the auto-finalizer (leaktest
// checks that no goroutine is left), also right after start.
func TestAutoFinalizerStopsOnClose(t *testing.T) {
	defer leaktest.AfterTest(t)()
	e, err := kv.Open(kv.Options{InMemory: true, GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = e.Close() }()
	for i := 0; i < 3; i++ {
		h, err := NewHost(context.Background(), HostConfig{KV: e})
		if err != nil {
			t.Fatal(err)
		}
		h.wakeAutoFinalizer()
		h.Close(context.Background())
		h.wakeAutoFinalizer() // after Close: must not block
	}
}

// TestReadOnlyVCVersionRefused: a read-only view of a replicated VC
// refuses to change its version settings (its version follows its source
// by replication), with 55000 rather than the generic read-only error.
func TestReadOnlyVCVersionRefused(t *testing.T) {
	defer leaktest.AfterTest(t)()
	e, err := kv.Open(kv.Options{InMemory: true, GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = e.Close() }()
	h, err := NewHost(context.Background(), HostConfig{KV: e})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(context.Background())
	ctx := context.Background()
	if _, err := h.createVirtualCluster(ctx, vcSpec{name: "src"}, false); err != nil {
		t.Fatal(err)
	}
	rec, err := h.Store().GetByName(ctx, nil, "src")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(ctx, Config{KV: e, TenantID: rec.ID, TenantName: "reader",
		ReadOnlyAt: func() kv.Timestamp { return e.Clock().Now() }})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	s, err := srv.NewSession(ctx, SessionArgs{User: "root", Database: "defaultdb"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, q := range []string{
		"SET CLUSTER SETTING version = '25.2'",
		"SET CLUSTER SETTING cluster.preserve_downgrade_option = '25.2'",
	} {
		stmts, err := s.Parse(q)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = runStatement(ctx, s, stmts[0], false)
		if code := pgerror.GetPGCode(err); code != pgcode.ObjectNotInPrerequisiteState {
			t.Errorf("%s: got %v (%s), want 55000", q, err, code)
		}
	}
	stmts, _ := s.Parse("SHOW CLUSTER SETTING version")
	if _, rows, err := runStatement(ctx, s, stmts[0], false); err != nil || len(rows) != 1 || rows[0] != tenant.Binary().String() {
		t.Fatalf("SHOW in the reader: %v %v", rows, err)
	}
}
