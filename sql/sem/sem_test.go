package sem

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/lex"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/parser"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/duration"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/timeutil/pgdate"
	"github.com/cockroachdb/datadriven"
)

// testTxnTime is the transaction timestamp of every datadriven test unless
// a directive sets now=.
var testTxnTime = time.Date(2024, 3, 10, 12, 34, 56, 123456000, time.UTC)

// TestDataDriven runs the files under testdata/sem. Directives:
//
//	eval [types=(T,...)] [placeholders=(T,...)] [desired=T] [tz=Zone] [now=RFC3339]
//	     [extra_float_digits=N] [intervalstyle=S] [datestyle=S]
//	  The first input line is an expression; it is type-checked and
//	  evaluated, and the output is "value : TYPE" or "error: CODE message".
//	  With types, every further line is a row (a tuple literal) that
//	  supplies @1, @2, ...; with placeholders, every further line supplies
//	  $1, $2, ...: one output line per input row.
//	filter types=(T,...)
//	  Like eval with rows, printing EvalFilter's verdict.
//	cast type=T / assign type=T
//	  Evaluates the expression, then applies Cast / AssignCast.
//	compare
//	  Two expressions on two lines: Compare's result.
//	agg types=(T,...)
//	  The first line is an aggregate call over @1...; further lines are
//	  rows.
//	asof hlc=NANOS [allow-future]
//	  Evaluates an AS OF SYSTEM TIME expression: "wall,logical".
func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "../../testdata/sem", func(t *testing.T, path string) {
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			return runDirective(t, d)
		})
	})
}

func testContext(t *testing.T, d *datadriven.TestData) *Context {
	rowID := int64(1000)
	ec := &Context{
		TxnTimestamp:  testTxnTime,
		StmtTimestamp: testTxnTime.Add(time.Millisecond),
		SessionUser:   "alice",
		User:          "alice",
		Database:      "defaultdb",
		SearchPath:    []string{"$user", "public"},
		Version:       "vcdb test version",
		BackendPID:    4242,
		UniqueRowID: func() int64 {
			rowID++
			return rowID
		},
		ClusterLogicalTimestamp: func() *tree.DDecimal {
			dd := &tree.DDecimal{}
			dd.SetFinite(testTxnTime.UnixNano(), 0)
			return dd
		},
		SessionSetting: func(name string) (string, bool) {
			v, ok := map[string]string{"application_name": "sem_test", "timezone": "UTC"}[name]
			return v, ok
		},
		Clock:            func() time.Time { return testTxnTime.Add(time.Second) },
		ExtraFloatDigits: 1,
	}
	for _, arg := range d.CmdArgs {
		switch arg.Key {
		case "tz":
			loc, err := time.LoadLocation(arg.Vals[0])
			if err != nil {
				t.Fatal(err)
			}
			ec.Location = loc
		case "now":
			now, err := time.Parse(time.RFC3339Nano, arg.Vals[0])
			if err != nil {
				t.Fatal(err)
			}
			ec.TxnTimestamp, ec.StmtTimestamp = now, now
		case "extra_float_digits":
			n, err := strconv.Atoi(arg.Vals[0])
			if err != nil {
				t.Fatal(err)
			}
			ec.ExtraFloatDigits = int32(n)
		case "bytea_output":
			f, ok := lex.BytesEncodeFormatFromString(arg.Vals[0])
			if !ok {
				t.Fatalf("bad bytea_output %q", arg.Vals[0])
			}
			ec.ByteaOutput = f
		case "intervalstyle":
			ec.IntervalStyle = duration.IntervalStyle(duration.IntervalStyle_value[strings.ToUpper(arg.Vals[0])])
		case "datestyle":
			ds, err := pgdate.ParseDateStyle(arg.Vals[0], pgdate.DefaultDateStyle())
			if err != nil {
				t.Fatal(err)
			}
			ec.DateStyle = ds
		}
	}
	return ec
}

func parseTypes(t *testing.T, d *datadriven.TestData, key string) []*types.T {
	var out []*types.T
	for _, arg := range d.CmdArgs {
		if arg.Key != key {
			continue
		}
		for _, v := range arg.Vals {
			out = append(out, parseType(t, v))
		}
	}
	return out
}

func parseType(t *testing.T, s string) *types.T {
	ref, err := parser.GetTypeFromValidSQLSyntax(s)
	if err != nil {
		t.Fatalf("type %s: %v", s, err)
	}
	typ, err := tree.ResolveType(context.Background(), ref, nil)
	if err != nil {
		t.Fatalf("type %s: %v", s, err)
	}
	return typ
}

// ivars gives IndexedVars their types during type checking.
type ivars []*types.T

func (iv ivars) IndexedVarResolvedType(idx int) *types.T { return iv[idx] }

func formatErr(err error) string {
	return fmt.Sprintf("error: %s %s", pgerror.GetPGCode(err), err.Error())
}

func formatDatum(d tree.Datum) string {
	return tree.AsStringWithFlags(d, tree.FmtSimple)
}

// rowValues evaluates a tuple literal into datums of the given types.
func rowValues(t *testing.T, ec *Context, line string, typs []*types.T) tree.Datums {
	ctx := context.Background()
	expr, err := parser.ParseExpr(line)
	if err != nil {
		t.Fatalf("row %q: %v", line, err)
	}
	tup, ok := expr.(*tree.Tuple)
	if !ok {
		tup = &tree.Tuple{Exprs: tree.Exprs{expr}}
	}
	if len(tup.Exprs) != len(typs) {
		t.Fatalf("row %q has %d values, want %d", line, len(tup.Exprs), len(typs))
	}
	row := make(tree.Datums, len(typs))
	for i, e := range tup.Exprs {
		typed, err := TypeCheck(ctx, e, NewSemaContext(), typs[i])
		if err != nil {
			t.Fatalf("row %q: %v", line, err)
		}
		v, err := Eval(ctx, ec, typed, nil)
		if err != nil {
			t.Fatalf("row %q: %v", line, err)
		}
		if v, err = AssignCast(ctx, ec, v, typs[i], "col"); err != nil {
			t.Fatalf("row %q: %v", line, err)
		}
		row[i] = v
	}
	return row
}

func runDirective(t *testing.T, d *datadriven.TestData) string {
	ctx := context.Background()
	ec := testContext(t, d)
	lines := strings.Split(strings.TrimSpace(d.Input), "\n")
	colTypes := parseTypes(t, d, "types")
	phTypes := parseTypes(t, d, "placeholders")

	typeCheck := func(src string, desired *types.T) (tree.TypedExpr, error) {
		expr, err := parser.ParseExpr(src)
		if err != nil {
			return nil, err
		}
		sema := NewSemaContext()
		sema.IVarContainer = ivars(colTypes)
		sema.DateStyle, sema.IntervalStyle = ec.DateStyle, ec.IntervalStyle
		sema.Placeholders.Init(len(phTypes), phTypes)
		return TypeCheck(ctx, expr, sema, desired)
	}

	switch d.Cmd {
	case "eval", "filter":
		var desired *types.T
		if d.HasArg("desired") {
			var s string
			d.ScanArgs(t, "desired", &s)
			desired = parseType(t, s)
		}
		typed, err := typeCheck(lines[0], desired)
		if err != nil {
			return formatErr(err) + "\n"
		}
		evalOne := func(row tree.Datums) string {
			if d.Cmd == "filter" {
				ok, err := EvalFilter(ctx, ec, typed, row)
				if err != nil {
					return formatErr(err)
				}
				return strconv.FormatBool(ok)
			}
			v, err := Eval(ctx, ec, typed, row)
			if err != nil {
				return formatErr(err)
			}
			return fmt.Sprintf("%s : %s", formatDatum(v), typed.ResolvedType().SQLString())
		}
		if len(lines) == 1 {
			return evalOne(nil) + "\n"
		}
		var out strings.Builder
		for _, line := range lines[1:] {
			var row tree.Datums
			if len(phTypes) > 0 {
				ec.Placeholders = rowValues(t, ec, line, phTypes)
			} else {
				row = rowValues(t, ec, line, colTypes)
			}
			fmt.Fprintf(&out, "%s -> %s\n", line, evalOne(row))
		}
		return out.String()

	case "cast", "assign":
		var typStr string
		d.ScanArgs(t, "type", &typStr)
		target := parseType(t, typStr)
		typed, err := typeCheck(lines[0], nil)
		if err != nil {
			return formatErr(err) + "\n"
		}
		v, err := Eval(ctx, ec, typed, nil)
		if err != nil {
			return formatErr(err) + "\n"
		}
		if d.Cmd == "cast" {
			v, err = Cast(ctx, ec, v, target)
		} else {
			v, err = AssignCast(ctx, ec, v, target, "c")
		}
		if err != nil {
			return formatErr(err) + "\n"
		}
		return fmt.Sprintf("%s : %s\n", formatDatum(v), v.ResolvedType().SQLString())

	case "compare":
		var ds [2]tree.Datum
		for i := 0; i < 2; i++ {
			typed, err := typeCheck(lines[i], nil)
			if err != nil {
				return formatErr(err) + "\n"
			}
			if ds[i], err = Eval(ctx, ec, typed, nil); err != nil {
				return formatErr(err) + "\n"
			}
		}
		c, err := Compare(ctx, ec, ds[0], ds[1])
		if err != nil {
			return formatErr(err) + "\n"
		}
		return fmt.Sprintf("%d\n", c)

	case "agg":
		typed, err := typeCheck(lines[0], nil)
		if err != nil {
			return formatErr(err) + "\n"
		}
		f, ok := typed.(*tree.FuncExpr)
		if !ok {
			return fmt.Sprintf("not an aggregate: %T\n", typed)
		}
		agg, err := NewAggregateForExpr(f)
		if err != nil {
			return formatErr(err) + "\n"
		}
		for _, line := range lines[1:] {
			row := rowValues(t, ec, line, colTypes)
			args := make(tree.Datums, len(f.Exprs))
			for i, e := range f.Exprs {
				if args[i], err = Eval(ctx, ec, e.(tree.TypedExpr), row); err != nil {
					return formatErr(err) + "\n"
				}
			}
			if err := agg.Add(ctx, args); err != nil {
				return formatErr(err) + "\n"
			}
		}
		v, err := agg.Result(ctx)
		if err != nil {
			return formatErr(err) + "\n"
		}
		return fmt.Sprintf("%s : %s\n", formatDatum(v), typed.ResolvedType().SQLString())

	case "asof":
		var nowStr string
		d.ScanArgs(t, "hlc", &nowStr)
		now, err := strconv.ParseInt(nowStr, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		expr, err := parser.ParseExpr(lines[0])
		if err != nil {
			return formatErr(err) + "\n"
		}
		wall, logical, err := EvalSystemTime(ctx, ec, expr, now, d.HasArg("allow-future"))
		if err != nil {
			return formatErr(err) + "\n"
		}
		return fmt.Sprintf("%d,%d (now%+.9fs)\n", wall, logical, float64(wall-now)/1e9)
	}
	t.Fatalf("unknown directive %q", d.Cmd)
	return ""
}
