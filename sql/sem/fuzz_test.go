package sem

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/parser"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/cockroachdb/errors"
)

// FuzzEval checks that no expression text, however odd, makes the type
// checker or the evaluator panic: TypeCheck and Eval may fail, but only
// with ordinary errors. The seed corpus is testdata/fuzz/FuzzEval plus
// every expression of the datadriven files.
func FuzzEval(f *testing.F) {
	for _, src := range datadrivenExpressions(f) {
		f.Add(src)
	}
	f.Fuzz(fuzzOne)
}

// fuzzOne type-checks and evaluates src; only a panic is a failure.
func fuzzOne(t *testing.T, src string) {
	colTypes := []*types.T{types.Int, types.String, types.Float, types.Decimal, types.TimestampTZ, types.Jsonb, types.Bool}
	row := tree.Datums{
		tree.NewDInt(7), tree.NewDString("abc"), tree.NewDFloat(1.5), &tree.DDecimal{},
		tree.MustMakeDTimestampTZ(testTxnTime, 0), tree.NewDJSON(nil), tree.DBoolTrue,
	}
	row[5], _ = tree.ParseDJSON(`{"a": [1, 2]}`)
	row[3], _ = tree.ParseDDecimal("2.50")
	expr, err := parser.ParseExpr(src)
	if err != nil {
		return
	}
	ctx := context.Background()
	sema := NewSemaContext()
	sema.IVarContainer = ivars(colTypes)
	sema.Placeholders.Init(2, []*types.T{types.Int, types.String})
	if countIndexedVars(expr, len(colTypes)) {
		return // @n beyond the row: the parser module's type checker indexes blindly
	}
	typed, err := TypeCheck(ctx, expr, sema, nil)
	if errors.Is(err, errPanic) {
		t.Fatalf("TypeCheck(%q) panicked: %+v", src, err)
	}
	if err != nil {
		return
	}
	ec := &Context{
		TxnTimestamp: testTxnTime,
		Placeholders: tree.Datums{tree.NewDInt(3), tree.NewDString("x")},
	}
	d, err := Eval(ctx, ec, typed, row)
	if errors.Is(err, errPanic) {
		t.Fatalf("Eval(%q) panicked: %+v", src, err)
	}
	if err != nil {
		return
	}
	// The value must also survive the casts and assignment casts the
	// executor applies to results and stored values.
	for _, typ := range castTargets {
		if _, err := Cast(ctx, ec, d, typ); errors.Is(err, errPanic) {
			t.Fatalf("Cast(%q, %s) panicked: %+v", src, typ, err)
		}
		if _, err := AssignCast(ctx, ec, d, typ, "c"); errors.Is(err, errPanic) {
			t.Fatalf("AssignCast(%q, %s) panicked: %+v", src, typ, err)
		}
	}
}

// castTargets are the column types of vcdb.
var castTargets = []*types.T{
	types.Int, types.Int4, types.Int2, types.Float, types.Float4, types.Decimal,
	types.MakeDecimal(5, 2), types.String, types.MakeVarChar(3), types.MakeChar(2), types.Bool,
	types.Bytes, types.Date, types.Timestamp, types.TimestampTZ, types.Interval, types.Uuid, types.Jsonb,
}

// countIndexedVars reports whether expr refers to a column @n past n.
func countIndexedVars(expr tree.Expr, n int) bool {
	out := false
	_, _ = tree.SimpleVisit(expr, func(e tree.Expr) (bool, tree.Expr, error) {
		if iv, ok := e.(*tree.IndexedVar); ok && (iv.Idx < 0 || iv.Idx >= n) {
			out = true
		}
		return true, e, nil
	})
	return out
}

// datadrivenExpressions returns the first input line of every directive in
// testdata/sem, as fuzz seeds.
func datadrivenExpressions(f *testing.F) []string {
	files, err := filepath.Glob("../../testdata/sem/*")
	if err != nil {
		f.Fatal(err)
	}
	var out []string
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		lines := strings.Split(string(data), "\n")
		for i, l := range lines {
			if i+1 < len(lines) && (strings.HasPrefix(l, "eval") || strings.HasPrefix(l, "filter") ||
				strings.HasPrefix(l, "agg") || strings.HasPrefix(l, "cast") || strings.HasPrefix(l, "assign")) {
				out = append(out, lines[i+1])
			}
		}
	}
	return out
}
