package sql

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/lex"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/crlib/testutils/leaktest"
	"github.com/cockroachdb/datadriven"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/tenant"
)

// TestDataDriven runs the SQL behaviour tests in testdata/sql. Every file
// gets a fresh in-memory store and a Host on it (a cluster that is not
// virtualized until a file creates VCs). Directives:
//
//	exec [session=NAME] [vc=VC] [user=USER]
//	                               run the statements of the input (several
//	                               allowed, split by the parser); print each
//	                               one's command tag, or its error
//	query [session=NAME] [vc=VC] [user=USER] [colnames] [rowsort]
//	                               run one query; print its rows (values
//	                               separated by " | ", NULL as NULL), or its
//	                               error
//	let $NAME [session=...]        run a query returning one value and
//	                               substitute it for $NAME in later inputs
//	status [session=...]           print the ReadyForQuery status byte
//	restart                        close the Host (and every session) and
//	                               start a new one on the same store
//	initialize mode=M              Host.Initialize (plain, virtualized,
//	                               virtualized-empty)
//	host                           print the default target cluster, the
//	                               running services and whether the
//	                               cluster is virtualized
//	lookup-user vc=VC user=USER    print what authentication sees
//	kv-keys id=N                   scan VC N's span in KV as of now; print
//	                               how many keys it holds and check that
//	                               every one carries VC N's prefix
//	kv-versions id=N               count every MVCC version in VC N's span
//	drop-job pause|resume          hold the background drop job before it
//	                               clears a VC (to observe "dropping")
//	wait-dropped id=N              wait (bounded) until the drop job has
//	                               cleared VC N
//
// Sessions are created on first use, as USER (default root) of VC (default
// system) in database defaultdb, and named by session= or else by VC and
// USER. A session terminated by STOP SERVICE reports its error once and is
// then forgotten, so the next use reconnects. Decimal HLC timestamps in
// the output (which differ per run) print as <hlc>. Errors print as
// "error: <SQLSTATE> <message>" followed by DETAIL and HINT lines when the
// error has them; notices as "notice: <message>".
func TestDataDriven(t *testing.T) {
	defer leaktest.AfterTest(t)()
	datadriven.Walk(t, filepath.Join("..", "testdata", "sql"), func(t *testing.T, path string) {
		h := newTestHarness(t)
		defer h.close()
		datadriven.RunTest(t, path, h.run)
	})
}

type testHarness struct {
	t        *testing.T
	engine   *kv.Engine
	host     *Host
	sessions map[string]*Session
	vars     map[string]string

	// dropGate, when non-nil, holds the drop job until it is closed.
	dropMu   sync.Mutex
	dropGate chan struct{}
}

func newTestHarness(t *testing.T) *testHarness {
	e, err := kv.Open(kv.Options{InMemory: true, GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	h := &testHarness{t: t, engine: e, sessions: map[string]*Session{}, vars: map[string]string{}}
	h.startHost()
	return h
}

func (h *testHarness) startHost() {
	host, err := NewHost(context.Background(), HostConfig{
		KV:          h.engine,
		StopTimeout: 5 * time.Second,
		Knobs:       HostKnobs{BeforeDropClear: h.beforeDropClear},
	})
	if err != nil {
		h.t.Fatal(err)
	}
	h.host = host
}

func (h *testHarness) beforeDropClear(ctx context.Context, _ tenant.ID) {
	h.dropMu.Lock()
	gate := h.dropGate
	h.dropMu.Unlock()
	if gate == nil {
		return
	}
	select {
	case <-gate:
	case <-ctx.Done():
	}
}

func (h *testHarness) closeSessions() {
	for name, s := range h.sessions {
		s.Close()
		delete(h.sessions, name)
	}
}

func (h *testHarness) close() {
	h.closeSessions()
	h.dropMu.Lock()
	if h.dropGate != nil {
		close(h.dropGate)
		h.dropGate = nil
	}
	h.dropMu.Unlock()
	h.host.Close(context.Background())
	if err := h.engine.Close(); err != nil {
		h.t.Fatal(err)
	}
}

// session returns the session a directive names, creating it on first
// use.
func (h *testHarness) session(d *datadriven.TestData) (*Session, string, error) {
	vc, user := tenant.SystemName, "root"
	if d.HasArg("vc") {
		d.ScanArgs(h.t, "vc", &vc)
	}
	if d.HasArg("user") {
		d.ScanArgs(h.t, "user", &user)
	}
	name := "default"
	switch {
	case d.HasArg("session"):
		d.ScanArgs(h.t, "session", &name)
	case d.HasArg("vc") || d.HasArg("user"):
		name = vc + "/" + user
	}
	if s, ok := h.sessions[name]; ok {
		return s, name, nil
	}
	srv, ok := h.host.Lookup(vc)
	if !ok {
		return nil, name, pgerror.Newf(pgcode.ConnectionException, "service unavailable for target tenant (%s)", vc)
	}
	s, err := srv.NewSession(context.Background(), SessionArgs{User: user, Database: "defaultdb"})
	if err != nil {
		return nil, name, err
	}
	h.sessions[name] = s
	return s, name, nil
}

// forgetIfTerminated drops a session its server terminated, after the
// directive reported its error.
func (h *testHarness) forgetIfTerminated(name string, s *Session) {
	select {
	case <-s.Done():
		s.Close()
		delete(h.sessions, name)
	default:
	}
}

func (h *testHarness) substitute(input string) string {
	names := make([]string, 0, len(h.vars))
	for k := range h.vars {
		names = append(names, k)
	}
	// Longest names first, so $t1 does not clobber $t10.
	sort.Slice(names, func(i, j int) bool { return len(names[i]) > len(names[j]) })
	for _, k := range names {
		input = strings.ReplaceAll(input, k, h.vars[k])
	}
	return input
}

// hlcPattern matches decimal HLC timestamps, which differ per run.
var hlcPattern = regexp.MustCompile(`\b1\d{18}\.\d{10}\b`)

func (h *testHarness) run(t *testing.T, d *datadriven.TestData) string {
	out := h.runDirective(t, d)
	return hlcPattern.ReplaceAllString(out, "<hlc>")
}

func (h *testHarness) runDirective(t *testing.T, d *datadriven.TestData) string {
	ctx := context.Background()
	switch d.Cmd {
	case "exec", "query", "let", "status":
		s, name, err := h.session(d)
		if err != nil {
			return formatError(err)
		}
		defer h.forgetIfTerminated(name, s)
		return h.runSQL(ctx, t, d, s)
	case "restart":
		h.closeSessions()
		h.host.Close(ctx)
		h.startHost()
		return "ok\n"
	case "initialize":
		var mode string
		d.ScanArgs(t, "mode", &mode)
		m := map[string]InitMode{"plain": InitPlain, "virtualized": InitVirtualized, "virtualized-empty": InitVirtualizedEmpty}[mode]
		if err := h.host.Initialize(ctx, m); err != nil {
			return formatError(err)
		}
		return "ok\n"
	case "host":
		var names []string
		for _, id := range h.host.Registry().Running() {
			svc, _ := h.host.Registry().LookupID(id)
			names = append(names, svc.(*Server).TenantName())
		}
		sort.Strings(names)
		return fmt.Sprintf("default target: %s\nrunning: %s\nvirtualized: %t\n",
			h.host.DefaultTargetCluster(), strings.Join(names, ", "), h.host.Virtualized())
	case "lookup-user":
		var vc, user string
		d.ScanArgs(t, "vc", &vc)
		d.ScanArgs(t, "user", &user)
		srv, ok := h.host.Lookup(vc)
		if !ok {
			return fmt.Sprintf("no service for %s\n", vc)
		}
		info, found, err := srv.LookupUser(ctx, user)
		if err != nil {
			return formatError(err)
		}
		if !found {
			return "not found\n"
		}
		return fmt.Sprintf("login=%t admin=%t may-connect=%t password=%t\n",
			info.CanLogin, info.IsAdmin, info.MayConnect, info.PasswordVerifier != "")
	case "kv-keys":
		id := h.scanID(t, d)
		span := kv.Span{Key: tenant.Prefix(id), EndKey: tenant.PrefixEnd(id)}
		n := 0
		for {
			res, err := h.engine.Scan(ctx, span, h.engine.Clock().Now(), kv.ScanOptions{MaxRows: 1000})
			if err != nil {
				t.Fatal(err)
			}
			for _, kvp := range res.KVs {
				got, _, err := tenant.DecodePrefix(kvp.Key)
				if err != nil || got != id {
					return fmt.Sprintf("key %x of tenant %d in the span of tenant %d (%v)\n", kvp.Key, got, id, err)
				}
				n++
			}
			if res.ResumeSpan == nil {
				break
			}
			span = *res.ResumeSpan
		}
		return fmt.Sprintf("%d keys, all of tenant %d\n", n, id)
	case "kv-versions":
		id := h.scanID(t, d)
		n := 0
		err := h.engine.Export(ctx, kv.Span{Key: tenant.Prefix(id), EndKey: tenant.PrefixEnd(id)},
			kv.Timestamp{}, h.engine.Clock().Now(), func(kv.Version) error { n++; return nil })
		if err != nil {
			return formatError(err)
		}
		return fmt.Sprintf("%d versions\n", n)
	case "drop-job":
		h.dropMu.Lock()
		defer h.dropMu.Unlock()
		switch d.CmdArgs[0].Key {
		case "pause":
			if h.dropGate == nil {
				h.dropGate = make(chan struct{})
			}
		case "resume":
			if h.dropGate != nil {
				close(h.dropGate)
				h.dropGate = nil
			}
		}
		return "ok\n"
	case "wait-dropped":
		id := h.scanID(t, d)
		deadline := time.Now().Add(10 * time.Second)
		for {
			rec, err := h.host.Store().Get(ctx, nil, id)
			if err != nil {
				return formatError(err)
			}
			if rec.DataState == tenant.DataStateDropped {
				return "dropped\n"
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: VC %d still %s", d.Pos, id, rec.DataState)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	t.Fatalf("%s: unknown directive %s", d.Pos, d.Cmd)
	return ""
}

func (h *testHarness) scanID(t *testing.T, d *datadriven.TestData) tenant.ID {
	var id int
	d.ScanArgs(t, "id", &id)
	return tenant.ID(id)
}

// runSQL runs exec, query, let and status.
func (h *testHarness) runSQL(ctx context.Context, t *testing.T, d *datadriven.TestData, s *Session) string {
	input := h.substitute(d.Input)
	var out strings.Builder
	switch d.Cmd {
	case "exec":
		stmts, err := s.Parse(input)
		if err != nil {
			return formatError(err)
		}
		for _, st := range stmts {
			tag, _, err := runStatement(ctx, s, st, false)
			writeNotices(&out, s)
			if err != nil {
				out.WriteString(formatError(err))
				continue
			}
			out.WriteString(tag + "\n")
		}
		return out.String()
	case "query":
		stmts, err := s.Parse(input)
		if err != nil {
			return formatError(err)
		}
		if len(stmts) != 1 {
			t.Fatalf("%s: query takes exactly one statement", d.Pos)
		}
		_, rows, err := runStatement(ctx, s, stmts[0], d.HasArg("colnames"))
		writeNotices(&out, s)
		if err != nil {
			out.WriteString(formatError(err))
			return out.String()
		}
		if d.HasArg("rowsort") {
			header := 0
			if d.HasArg("colnames") {
				header = 1
			}
			sort.Strings(rows[header:])
		}
		for _, r := range rows {
			out.WriteString(r + "\n")
		}
		return out.String()
	case "let":
		if len(d.CmdArgs) == 0 || !strings.HasPrefix(d.CmdArgs[0].Key, "$") {
			t.Fatalf("%s: let needs a $name", d.Pos)
		}
		stmts, err := s.Parse(input)
		if err != nil || len(stmts) != 1 {
			t.Fatalf("%s: let: %v", d.Pos, err)
		}
		_, rows, err := runStatement(ctx, s, stmts[0], false)
		if err != nil || len(rows) != 1 {
			t.Fatalf("%s: let: %v (%d rows)", d.Pos, err, len(rows))
		}
		h.vars[d.CmdArgs[0].Key] = rows[0]
		return ""
	case "status":
		return fmt.Sprintf("%c\n", s.TxnStatus())
	}
	return ""
}

// runStatement prepares and executes one statement as the wire server
// does, returning its tag and its rows formatted.
func runStatement(ctx context.Context, s *Session, st Statement, colnames bool) (string, []string, error) {
	p, err := s.Prepare(ctx, st, nil)
	if err != nil {
		return "", nil, err
	}
	args := make(tree.Datums, len(p.ParamTypes))
	for i := range args {
		args[i] = tree.DNull
	}
	res, err := s.Execute(ctx, p, args)
	if err != nil {
		return "", nil, err
	}
	var rows []string
	if colnames {
		var names []string
		for _, c := range res.Columns() {
			names = append(names, c.Name)
		}
		rows = append(rows, strings.Join(names, " | "))
	}
	var rowErr error
	for {
		row, err := res.Next(ctx)
		if err != nil {
			rowErr = err
			break
		}
		if row == nil {
			break
		}
		rows = append(rows, formatRowForTest(s, row))
	}
	tag, err := res.Close(ctx)
	if rowErr != nil {
		return "", nil, rowErr
	}
	return tag, rows, err
}

// formatRowForTest prints datums as the wire server's text format does, in
// the session's time zone and bytea_output.
func formatRowForTest(s *Session, row tree.Datums) string {
	vals := make([]string, len(row))
	for i, d := range row {
		if d == tree.DNull {
			vals[i] = "NULL"
			continue
		}
		if b, ok := d.(*tree.DBytes); ok {
			// The wire server's encoder prints BYTES per bytea_output (the
			// parser's pgwire formatter knows only hex).
			vals[i] = lex.EncodeByteArrayToRawBytes(string(*b), s.BytesEncodeFormat(), false)
			continue
		}
		vals[i] = tree.AsStringWithFlags(d, tree.FmtPgwireText, tree.FmtLocation(s.data.location))
	}
	return strings.Join(vals, " | ")
}

func formatError(err error) string {
	pg := FlattenError(err)
	var b strings.Builder
	fmt.Fprintf(&b, "error: %s %s\n", pg.Code, pg.Message)
	if pg.Detail != "" {
		fmt.Fprintf(&b, "DETAIL: %s\n", pg.Detail)
	}
	if pg.Hint != "" {
		fmt.Fprintf(&b, "HINT: %s\n", pg.Hint)
	}
	return b.String()
}

func writeNotices(b *strings.Builder, s *Session) {
	for _, n := range s.TakeNotices() {
		fmt.Fprintf(b, "notice: %s\n", pgerror.Flatten(n).Message)
	}
}

func TestMain(m *testing.M) {
	os.Exit(m.Run())
}
