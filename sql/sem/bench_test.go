package sem

import (
	"context"
	"testing"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/parser"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
)

// The executor evaluates filters and projections once per row, so these
// benchmarks measure one evaluation and report allocations and rows/s.

func benchExpr(b *testing.B, src string, cols []*types.T, phTypes []*types.T) tree.TypedExpr {
	b.Helper()
	expr, err := parser.ParseExpr(src)
	if err != nil {
		b.Fatal(err)
	}
	sema := NewSemaContext()
	sema.IVarContainer = ivars(cols)
	sema.Placeholders.Init(len(phTypes), phTypes)
	typed, err := TypeCheck(context.Background(), expr, sema, nil)
	if err != nil {
		b.Fatal(err)
	}
	return typed
}

// runBench evaluates expr over rows (round robin), as a filter or as a
// projection, reporting allocations and rows/s.
func runBench(b *testing.B, ec *Context, expr tree.TypedExpr, filter bool, rows ...tree.Datums) {
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		row := rows[i%len(rows)]
		var err error
		if filter {
			_, err = EvalFilter(ctx, ec, expr, row)
		} else {
			_, err = Eval(ctx, ec, expr, row)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "rows/s")
}

// BenchmarkFilterEqPlaceholder is WHERE a = $1 on an INT column.
func BenchmarkFilterEqPlaceholder(b *testing.B) {
	filter := benchExpr(b, "@1 = $1", []*types.T{types.Int}, []*types.T{types.Int})
	ec := &Context{Placeholders: tree.Datums{tree.NewDInt(42)}}
	rows := []tree.Datums{{tree.NewDInt(41)}, {tree.NewDInt(42)}}
	runBench(b, ec, filter, true, rows...)
}

// BenchmarkFilterStringEq is WHERE s = 'constant' on a STRING column.
func BenchmarkFilterStringEq(b *testing.B) {
	filter := benchExpr(b, "@1 = 'hello'", []*types.T{types.String}, nil)
	ec := &Context{}
	row := tree.Datums{tree.NewDString("hello")}
	runBench(b, ec, filter, true, row)
}

// BenchmarkFilterRange is WHERE a BETWEEN 10 AND 20 AND b LIKE 'ab%'.
func BenchmarkFilterRange(b *testing.B) {
	filter := benchExpr(b, "@1 BETWEEN 10 AND 20 AND @2 LIKE 'ab%'", []*types.T{types.Int, types.String}, nil)
	ec := &Context{}
	row := tree.Datums{tree.NewDInt(15), tree.NewDString("abc")}
	runBench(b, ec, filter, true, row)
}

// BenchmarkArithInt is a projection a * 2 + b on INT columns.
func BenchmarkArithInt(b *testing.B) {
	expr := benchExpr(b, "@1 * 2 + @2", []*types.T{types.Int, types.Int}, nil)
	ec := &Context{}
	row := tree.Datums{tree.NewDInt(20), tree.NewDInt(2)}
	runBench(b, ec, expr, false, row)
}

// BenchmarkArithDecimal is price * qty on DECIMAL and INT columns.
func BenchmarkArithDecimal(b *testing.B) {
	expr := benchExpr(b, "@1 * @2", []*types.T{types.Decimal, types.Int}, nil)
	price, err := tree.ParseDDecimal("19.99")
	if err != nil {
		b.Fatal(err)
	}
	ec := &Context{}
	row := tree.Datums{price, tree.NewDInt(3)}
	runBench(b, ec, expr, false, row)
}

// BenchmarkFunctionCall is lower(s) || '!' .
func BenchmarkFunctionCall(b *testing.B) {
	expr := benchExpr(b, "lower(@1) || '!'", []*types.T{types.String}, nil)
	ec := &Context{}
	row := tree.Datums{tree.NewDString("Hello")}
	runBench(b, ec, expr, false, row)
}

// BenchmarkAggregateSumInt feeds sum(INT) one row at a time.
func BenchmarkAggregateSumInt(b *testing.B) {
	ctx := context.Background()
	agg, err := NewAggregate("sum", []*types.T{types.Int})
	if err != nil {
		b.Fatal(err)
	}
	args := tree.Datums{tree.NewDInt(3)}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if err := agg.Add(ctx, args); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "rows/s")
}

// BenchmarkFilterInList is WHERE a IN (a list of 20 constants).
func BenchmarkFilterInList(b *testing.B) {
	filter := benchExpr(b, "@1 IN (1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31, 33, 35, 37, 39)",
		[]*types.T{types.Int}, nil)
	ec := &Context{}
	rows := []tree.Datums{{tree.NewDInt(39)}, {tree.NewDInt(2)}}
	runBench(b, ec, filter, true, rows...)
}

// BenchmarkFilterInSubquery is WHERE a IN (subquery) with 1000 rows, the
// subquery's result cached by the executor as one tuple.
func BenchmarkFilterInSubquery(b *testing.B) {
	ctx := context.Background()
	expr, err := parser.ParseExpr("@1 IN (SELECT x FROM t)")
	if err != nil {
		b.Fatal(err)
	}
	_, _ = tree.SimpleVisit(expr, func(e tree.Expr) (bool, tree.Expr, error) {
		if s, ok := e.(*tree.Subquery); ok {
			s.SetType(types.MakeTuple([]*types.T{types.Int}))
		}
		return true, e, nil
	})
	sema := NewSemaContext()
	sema.IVarContainer = ivars{types.Int}
	filter, err := TypeCheck(ctx, expr, sema, nil)
	if err != nil {
		b.Fatal(err)
	}
	vals := &tree.DTuple{D: make(tree.Datums, 1000)}
	for i := range vals.D {
		vals.D[i] = tree.NewDInt(tree.DInt(2 * (999 - i)))
	}
	ec := &Context{Subquery: func(context.Context, *tree.Subquery) (tree.Datum, error) { return vals, nil }}
	rows := []tree.Datums{{tree.NewDInt(998)}, {tree.NewDInt(3)}}
	runBench(b, ec, filter, true, rows...)
}
