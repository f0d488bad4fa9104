package sem

import (
	"context"
	"testing"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/parser"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
)

// mustTypeCheck parses and type-checks src with the given column types.
func mustTypeCheck(t testing.TB, src string, cols ...*types.T) tree.TypedExpr {
	t.Helper()
	expr, err := parser.ParseExpr(src)
	if err != nil {
		t.Fatal(err)
	}
	sema := NewSemaContext()
	sema.IVarContainer = ivars(cols)
	typed, err := TypeCheck(context.Background(), expr, sema, nil)
	if err != nil {
		t.Fatal(err)
	}
	return typed
}

// subqueries returns the subqueries of expr, after giving each a type.
func typeSubqueries(t *testing.T, expr tree.Expr, typ *types.T) []*tree.Subquery {
	var subs []*tree.Subquery
	_, err := tree.SimpleVisit(expr, func(e tree.Expr) (bool, tree.Expr, error) {
		if s, ok := e.(*tree.Subquery); ok {
			s.SetType(typ)
			subs = append(subs, s)
			return false, e, nil
		}
		return true, e, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return subs
}

func TestSubqueryHook(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		src  string
		typ  *types.T
		rows tree.Datum
		want string
	}{
		{"@1 IN (SELECT x FROM t)", types.MakeTuple([]*types.T{types.Int}),
			tree.NewDTuple(types.MakeTuple([]*types.T{types.Int, types.Int}), tree.NewDInt(1), tree.NewDInt(5)), "true"},
		{"@1 IN (SELECT x FROM t)", types.MakeTuple([]*types.T{types.Int}),
			tree.NewDTuple(types.MakeTuple([]*types.T{types.Int}), tree.NewDInt(1)), "false"},
		{"@1 NOT IN (SELECT x FROM t)", types.MakeTuple([]*types.T{types.Int}),
			tree.NewDTuple(types.MakeTuple([]*types.T{types.Int, types.Unknown}), tree.NewDInt(1), tree.DNull), "NULL"},
		{"@1 + (SELECT max(x) FROM t)", types.Int, tree.NewDInt(10), "15"},
		{"EXISTS (SELECT 1)", types.Bool, tree.DBoolTrue, "true"},
	} {
		t.Run(tc.src, func(t *testing.T) {
			expr, err := parser.ParseExpr(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			subs := typeSubqueries(t, expr, tc.typ)
			if len(subs) != 1 {
				t.Fatalf("found %d subqueries", len(subs))
			}
			sema := NewSemaContext()
			sema.IVarContainer = ivars{types.Int}
			typed, err := TypeCheck(ctx, expr, sema, nil)
			if err != nil {
				t.Fatal(err)
			}
			ec := &Context{}
			calls := 0
			ec.Subquery = func(_ context.Context, s *tree.Subquery) (tree.Datum, error) {
				calls++
				if s != subs[0] {
					t.Errorf("hook got another subquery")
				}
				// Re-entrant use of the same Context with another row must not
				// disturb the outer evaluation.
				inner := mustTypeCheck(t, "@1 * 100", types.Int)
				if _, err := Eval(ctx, ec, inner, tree.Datums{tree.NewDInt(7)}); err != nil {
					t.Fatal(err)
				}
				return tc.rows, nil
			}
			d, err := Eval(ctx, ec, typed, tree.Datums{tree.NewDInt(5)})
			if err != nil {
				t.Fatal(err)
			}
			if got := tree.AsStringWithFlags(d, tree.FmtSimple); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
			if calls != 1 {
				t.Errorf("hook called %d times", calls)
			}
		})
	}
}

func TestSubqueryWithoutHookOrType(t *testing.T) {
	ctx := context.Background()
	expr, err := parser.ParseExpr("(SELECT 1) + 1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := TypeCheck(ctx, expr, NewSemaContext(), nil); pgerror.GetPGCode(err) != pgcode.Internal {
		t.Fatalf("untyped subquery: got %v, want an internal error", err)
	}
	typeSubqueries(t, expr, types.Int)
	typed, err := TypeCheck(ctx, expr, NewSemaContext(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Eval(ctx, &Context{}, typed, nil); pgerror.GetPGCode(err) != pgcode.FeatureNotSupported {
		t.Fatalf("no hook: got %v, want 0A000", err)
	}
}

func TestEvalFilter(t *testing.T) {
	ctx := context.Background()
	filter := mustTypeCheck(t, "@1 > 1", types.Int)
	for _, tc := range []struct {
		v    tree.Datum
		want bool
	}{{tree.NewDInt(2), true}, {tree.NewDInt(1), false}, {tree.DNull, false}} {
		got, err := EvalFilter(ctx, &Context{}, filter, tree.Datums{tc.v})
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("%s > 1: got %t", tc.v, got)
		}
	}
	// A row value that is a distinct *DBool (not the shared singleton)
	// still passes.
	b := tree.DBool(true)
	got, err := EvalFilter(ctx, &Context{}, mustTypeCheck(t, "@1", types.Bool), tree.Datums{&b})
	if err != nil || !got {
		t.Fatalf("got %t, %v", got, err)
	}
}

// panicOp is an operator whose evaluation panics, standing for a bug.
type panicOp struct{}

func (panicOp) Eval(context.Context, tree.OpEvaluator, tree.Datum, tree.Datum) (tree.Datum, error) {
	panic("boom")
}

func TestPanicBecomesInternalError(t *testing.T) {
	expr := &tree.BinaryExpr{
		Left:  tree.NewDInt(1),
		Right: tree.NewDInt(2),
		Op:    &tree.BinOp{EvalOp: panicOp{}},
	}
	_, err := Eval(context.Background(), &Context{}, expr, nil)
	if pgerror.GetPGCode(err) != pgcode.Internal {
		t.Fatalf("got %v, want an internal error", err)
	}
}

func TestCompare(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		a, b tree.Datum
		want int
	}{
		{tree.NewDInt(1), tree.NewDInt(2), -1},
		{tree.NewDString("b"), tree.NewDString("a"), 1},
		{tree.NewDInt(2), tree.NewDFloat(2), 0},
	} {
		got, err := Compare(ctx, nil, tc.a, tc.b)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("Compare(%s, %s) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
	if _, err := Compare(ctx, nil, tree.NewDInt(1), tree.NewDString("a")); err == nil {
		t.Error("comparing INT with STRING succeeded")
	}
}

func TestAggregateLookup(t *testing.T) {
	for _, name := range []string{"count", "COUNT", "sum", "avg", "min", "max", "bool_and", "string_agg", "array_agg"} {
		if !IsAggregate(name) {
			t.Errorf("IsAggregate(%q) = false", name)
		}
	}
	for _, name := range []string{"lower", "now", "nosuch"} {
		if IsAggregate(name) {
			t.Errorf("IsAggregate(%q) = true", name)
		}
	}
	ctx := context.Background()
	agg, err := NewAggregate("count", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := agg.Add(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	if d, _ := agg.Result(ctx); tree.AsStringWithFlags(d, tree.FmtSimple) != "3" {
		t.Errorf("count(*) = %s", d)
	}
	sum, err := NewAggregate("SUM", []*types.T{types.Float})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []tree.Datum{tree.NewDFloat(1.5), tree.DNull, tree.NewDFloat(2)} {
		if err := sum.Add(ctx, tree.Datums{v}); err != nil {
			t.Fatal(err)
		}
	}
	if d, _ := sum.Result(ctx); tree.AsStringWithFlags(d, tree.FmtSimple) != "3.5" {
		t.Errorf("sum = %s", d)
	}
	if _, err := NewAggregate("sum", []*types.T{types.String}); pgerror.GetPGCode(err) != pgcode.UndefinedFunction {
		t.Errorf("sum(string): got %v", err)
	}
	if _, err := NewAggregate("lower", []*types.T{types.String}); pgerror.GetPGCode(err) != pgcode.UndefinedFunction {
		t.Errorf("lower as aggregate: got %v", err)
	}
}

func TestTypeCheckAndRequire(t *testing.T) {
	ctx := context.Background()
	expr, err := parser.ParseExpr("1 + 1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = TypeCheckAndRequire(ctx, expr, NewSemaContext(), types.Bool, "WHERE")
	if pgerror.GetPGCode(err) != pgcode.DatatypeMismatch {
		t.Fatalf("got %v, want 42804", err)
	}
	if want := "argument of WHERE must be type bool, not type int"; err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
	expr, _ = parser.ParseExpr("NULL")
	if _, err := TypeCheckAndRequire(ctx, expr, NewSemaContext(), types.Bool, "WHERE"); err != nil {
		t.Fatal(err)
	}
}

func TestBuiltinsRegistered(t *testing.T) {
	// Every name the contract lists resolves.
	for _, name := range []string{
		"version", "current_database", "current_schema", "current_user", "session_user",
		"current_setting", "now", "current_timestamp", "transaction_timestamp",
		"statement_timestamp", "clock_timestamp", "current_date", "localtimestamp",
		"unique_rowid", "gen_random_uuid", "uuid_generate_v4", "cluster_logical_timestamp",
		"follower_read_timestamp", "pg_backend_pid", "pg_typeof",
		"length", "char_length", "octet_length", "lower", "upper", "btrim", "ltrim", "rtrim",
		"substr", "substring", "strpos", "replace", "concat", "concat_ws", "left", "right",
		"repeat", "reverse", "lpad", "rpad", "split_part", "starts_with", "initcap", "md5",
		"sha256", "to_hex", "encode", "decode", "regexp_replace", "ascii", "chr",
		"abs", "ceil", "ceiling", "floor", "round", "trunc", "sqrt", "cbrt", "power", "pow",
		"exp", "ln", "log", "mod", "sign", "pi", "random", "greatest", "least", "div",
		"width_bucket", "extract", "date_part", "date_trunc", "age", "to_timestamp", "to_char",
		"make_date", "timezone", "jsonb_build_object", "jsonb_typeof", "to_jsonb",
		"jsonb_array_length", "count", "sum", "avg", "min", "max",
	} {
		if _, ok := tree.FunDefs[name]; !ok {
			t.Errorf("%s is not registered", name)
		}
		if _, ok := tree.ResolvedBuiltinFuncDefs["pg_catalog."+name]; !ok {
			t.Errorf("%s is not resolvable", name)
		}
	}
}

// TestInIndexMatchesScan checks IN over a long, cached list (searched
// through the sorted index) against the SQL definition, row after row.
func TestInIndexMatchesScan(t *testing.T) {
	ctx := context.Background()
	expr, err := parser.ParseExpr("@1 IN (SELECT x FROM t)")
	if err != nil {
		t.Fatal(err)
	}
	typeSubqueries(t, expr, types.MakeTuple([]*types.T{types.Int}))
	sema := NewSemaContext()
	sema.IVarContainer = ivars{types.Int}
	typed, err := TypeCheck(ctx, expr, sema, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, withNull := range []bool{false, true} {
		vals := &tree.DTuple{}
		for i := 50; i > 0; i-- {
			vals.D = append(vals.D, tree.NewDInt(tree.DInt(3*i)))
		}
		if withNull {
			vals.D = append(vals.D, tree.DNull)
		}
		ec := &Context{Subquery: func(context.Context, *tree.Subquery) (tree.Datum, error) { return vals, nil }}
		for x := -2; x < 160; x++ {
			d, err := Eval(ctx, ec, typed, tree.Datums{tree.NewDInt(tree.DInt(x))})
			if err != nil {
				t.Fatal(err)
			}
			want := tree.Datum(tree.DBoolFalse)
			switch {
			case x > 0 && x <= 150 && x%3 == 0:
				want = tree.DBoolTrue
			case withNull:
				want = tree.DNull
			}
			if d != want {
				t.Fatalf("withNull=%t: %d IN list = %s, want %s", withNull, x, d, want)
			}
		}
	}
}
