package sql

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/crlib/testutils/leaktest"
	"github.com/cockroachdb/datadriven"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/tenant"
)

// TestDataDriven runs the SQL behaviour tests in testdata/sql. Directives:
//
//	exec [session=NAME]            run the statements of the input (several
//	                               allowed, split by the parser); print each
//	                               one's command tag, or its error
//	query [session=NAME] [colnames] [rowsort]
//	                               run one query; print its rows (values
//	                               separated by " | ", NULL as NULL), or its
//	                               error
//	let $NAME [session=NAME]       run a query returning one value and
//	                               substitute it for $NAME in later inputs
//	status [session=NAME]          print the ReadyForQuery status byte
//
// Decimal HLC timestamps in the output (which differ per run) print as
// <hlc>.
// Errors print as "error: <SQLSTATE> <message>" followed by DETAIL and HINT
// lines when the error has them; notices as "notice: <message>". Every file
// gets a fresh in-memory store and VC; sessions are created on first use
// with user root and database defaultdb.
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
	srv      *Server
	sessions map[string]*Session
	vars     map[string]string
}

func newTestHarness(t *testing.T) *testHarness {
	e, err := kv.Open(kv.Options{InMemory: true, GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(context.Background(), Config{KV: e, TenantID: tenant.SystemID})
	if err != nil {
		t.Fatal(err)
	}
	return &testHarness{t: t, engine: e, srv: srv, sessions: map[string]*Session{}, vars: map[string]string{}}
}

func (h *testHarness) close() {
	for _, s := range h.sessions {
		s.Close()
	}
	h.srv.Close()
	if err := h.engine.Close(); err != nil {
		h.t.Fatal(err)
	}
}

func (h *testHarness) session(d *datadriven.TestData) *Session {
	name := "default"
	if d.HasArg("session") {
		d.ScanArgs(h.t, "session", &name)
	}
	s, ok := h.sessions[name]
	if !ok {
		var err error
		s, err = h.srv.NewSession(context.Background(), SessionArgs{User: "root", Database: "defaultdb"})
		if err != nil {
			h.t.Fatal(err)
		}
		h.sessions[name] = s
	}
	return s
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
	s := h.session(d)
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
	t.Fatalf("%s: unknown directive %s", d.Pos, d.Cmd)
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
// the session's time zone.
func formatRowForTest(s *Session, row tree.Datums) string {
	vals := make([]string, len(row))
	for i, d := range row {
		if d == tree.DNull {
			vals[i] = "NULL"
			continue
		}
		vals[i] = tree.AsStringWithFlags(d, tree.FmtPgwireText, tree.FmtLocation(s.data.location))
	}
	return strings.Join(vals, " | ")
}

func formatError(err error) string {
	pg := pgerror.Flatten(err)
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
