package sem

import (
	"context"
	"strconv"
	"strings"

	"github.com/cockroachdb/apd/v3"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/volatility"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/arith"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/duration"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/json"
	"github.com/cockroachdb/errors"
)

// Aggregate accumulates the rows of one group. The executor creates one
// per group and aggregate call (NewAggregate or NewAggregateForExpr),
// calls Add once per input row with the evaluated arguments, and Result
// once at the end. NULL arguments are passed as tree.DNull: each aggregate
// applies SQL's rules itself (count(x), sum, avg, min, max, ... skip NULLs;
// array_agg keeps them). With no rows, count gives 0 and the others NULL.
//
// DISTINCT: NewAggregate returns the plain aggregate, the caller may wrap
// it with Distinct; NewAggregateForExpr wraps it itself when the call says
// DISTINCT. FILTER (WHERE ...) is the caller's: it skips Add for rows the
// filter rejects.
type Aggregate interface {
	Add(ctx context.Context, args tree.Datums) error
	Result(ctx context.Context) (tree.Datum, error)
}

// IsAggregate reports whether name (case-insensitive, as written in SQL)
// is an aggregate function.
func IsAggregate(name string) bool {
	d, ok := lookupBuiltin(strings.ToLower(name))
	return ok && len(d.overloads) > 0 && d.overloads[0].Class == tree.AggregateClass
}

// NewAggregate returns an accumulator for the aggregate name applied to
// arguments of the given types. count with no argument types is count(*).
// The result type is the type TypeCheck gave the FuncExpr.
func NewAggregate(name string, argTypes []*types.T) (Aggregate, error) {
	name = strings.ToLower(name)
	if name == "count" && len(argTypes) == 0 {
		name = "count_rows"
	}
	d, ok := lookupBuiltin(name)
	if !ok || len(d.overloads) == 0 || d.overloads[0].Class != tree.AggregateClass {
		return nil, pgerror.Newf(pgcode.UndefinedFunction, "unknown aggregate function: %s()", name)
	}
	for i := range d.overloads {
		ol := &d.overloads[i]
		if ol.Types.Length() == len(argTypes) && ol.Types.Match(argTypes) || (len(argTypes) == 0 && ol.Types.Length() == 0) {
			return ol.AggregateFunc.(aggregateCtor)(argTypes), nil
		}
	}
	return nil, pgerror.Newf(pgcode.UndefinedFunction, "unknown signature: %s(%s)", name, typeNames(argTypes))
}

// NewAggregateForExpr returns the accumulator for a type-checked aggregate
// call, wrapped with Distinct for DISTINCT calls.
func NewAggregateForExpr(f *tree.FuncExpr) (Aggregate, error) {
	ol := f.ResolvedOverload()
	if ol == nil || ol.Class != tree.AggregateClass {
		return nil, errors.AssertionFailedf("%s is not a type-checked aggregate call", f)
	}
	argTypes := make([]*types.T, len(f.Exprs))
	for i, e := range f.Exprs {
		argTypes[i] = e.(tree.TypedExpr).ResolvedType()
	}
	agg := ol.AggregateFunc.(aggregateCtor)(argTypes)
	if f.Type == tree.DistinctFuncType {
		agg = Distinct(agg)
	}
	return agg, nil
}

func typeNames(ts []*types.T) string {
	var b strings.Builder
	for i, t := range ts {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(t.String())
	}
	return b.String()
}

// newAggEvaluator returns the evaluator an aggregate uses to compare and
// convert its inputs: same-typed comparisons never consult the session, so
// an empty Context is enough. Each aggregate has its own, so that groups
// aggregated on different goroutines share no state.
func newAggEvaluator() *evaluator {
	return &evaluator{ec: &Context{}}
}

func aggOverload(ps tree.TypeList, ret tree.ReturnTyper, nullInput bool, ctor aggregateCtor) tree.Overload {
	return tree.Overload{
		Types:             ps,
		ReturnType:        ret,
		Volatility:        volatility.Immutable,
		Class:             tree.AggregateClass,
		AggregateFunc:     ctor,
		CalledOnNullInput: nullInput,
	}
}

var aggregateBuiltins = map[string]builtinDef{
	"count_rows": def("aggregate",
		aggOverload(params(), tree.FixedReturnType(types.Int), true,
			func([]*types.T) Aggregate { return &countAgg{rows: true} })),
	"count": def("aggregate",
		aggOverload(params(types.AnyElement), tree.FixedReturnType(types.Int), true,
			func([]*types.T) Aggregate { return &countAgg{} })),
	"sum": def("aggregate",
		aggOverload(params(types.Int), tree.FixedReturnType(types.Decimal), false,
			func([]*types.T) Aggregate { return &sumIntAgg{} }),
		aggOverload(params(types.Float), tree.FixedReturnType(types.Float), false,
			func([]*types.T) Aggregate { return &sumFloatAgg{} }),
		aggOverload(params(types.Decimal), tree.FixedReturnType(types.Decimal), false,
			func([]*types.T) Aggregate { return &sumDecimalAgg{} }),
		aggOverload(params(types.Interval), tree.FixedReturnType(types.Interval), false,
			func([]*types.T) Aggregate { return &sumIntervalAgg{} })),
	"avg": def("aggregate",
		aggOverload(params(types.Int), tree.FixedReturnType(types.Decimal), false,
			func([]*types.T) Aggregate { return &avgAgg{sum: &sumIntAgg{}} }),
		aggOverload(params(types.Float), tree.FixedReturnType(types.Float), false,
			func([]*types.T) Aggregate { return &avgAgg{sum: &sumFloatAgg{}} }),
		aggOverload(params(types.Decimal), tree.FixedReturnType(types.Decimal), false,
			func([]*types.T) Aggregate { return &avgAgg{sum: &sumDecimalAgg{}} }),
		aggOverload(params(types.Interval), tree.FixedReturnType(types.Interval), false,
			func([]*types.T) Aggregate { return &avgAgg{sum: &sumIntervalAgg{}} })),
	"min": def("aggregate",
		aggOverload(params(types.AnyElement), tree.IdentityReturnType(0), false,
			func([]*types.T) Aggregate { return &minMaxAgg{sign: -1, ev: newAggEvaluator()} })),
	"max": def("aggregate",
		aggOverload(params(types.AnyElement), tree.IdentityReturnType(0), false,
			func([]*types.T) Aggregate { return &minMaxAgg{sign: 1, ev: newAggEvaluator()} })),
	"bool_and": def("aggregate",
		aggOverload(params(types.Bool), tree.FixedReturnType(types.Bool), false,
			func([]*types.T) Aggregate { return &boolAgg{and: true} })),
	"every": def("aggregate",
		aggOverload(params(types.Bool), tree.FixedReturnType(types.Bool), false,
			func([]*types.T) Aggregate { return &boolAgg{and: true} })),
	"bool_or": def("aggregate",
		aggOverload(params(types.Bool), tree.FixedReturnType(types.Bool), false,
			func([]*types.T) Aggregate { return &boolAgg{} })),
	"string_agg": def("aggregate",
		aggOverload(params(types.String, types.String), tree.FixedReturnType(types.String), true,
			func([]*types.T) Aggregate { return &stringAgg{} }),
		aggOverload(params(types.Bytes, types.Bytes), tree.FixedReturnType(types.Bytes), true,
			func([]*types.T) Aggregate { return &stringAgg{bytes: true} })),
	"array_agg": def("aggregate",
		aggOverload(params(types.AnyElement), func(args []tree.TypedExpr) *types.T {
			if len(args) == 0 {
				return tree.UnknownReturnType
			}
			return types.MakeArray(args[0].ResolvedType())
		}, true, func(argTypes []*types.T) Aggregate {
			elem := types.Unknown
			if len(argTypes) > 0 {
				elem = argTypes[0]
			}
			return &arrayAgg{arr: tree.NewDArray(elem)}
		})),
	"jsonb_agg": def("aggregate",
		aggOverload(params(types.AnyElement), tree.FixedReturnType(types.Jsonb), true,
			func([]*types.T) Aggregate { return &jsonAgg{} })),
	"json_agg": def("aggregate",
		aggOverload(params(types.AnyElement), tree.FixedReturnType(types.Jsonb), true,
			func([]*types.T) Aggregate { return &jsonAgg{} })),
}

type countAgg struct {
	rows bool // count(*): every row counts
	n    int64
}

func (a *countAgg) Add(_ context.Context, args tree.Datums) error {
	if a.rows || (len(args) > 0 && args[0] != tree.DNull) {
		a.n++
	}
	return nil
}

func (a *countAgg) Result(context.Context) (tree.Datum, error) { return newInt(a.n), nil }

// summer is a sum that avg can divide.
type summer interface {
	Aggregate
	count() int64
}

// sumIntAgg adds in int64 while it fits and in a decimal once it does not,
// so that sum(INT) is exact (its result type is DECIMAL).
type sumIntAgg struct {
	n      int64
	small  int64
	big    apd.Decimal
	useBig bool
}

func (a *sumIntAgg) Add(_ context.Context, args tree.Datums) error {
	if args[0] == tree.DNull {
		return nil
	}
	v := intOf(args[0])
	a.n++
	if !a.useBig {
		if s, ok := arith.AddWithOverflow(a.small, v); ok {
			a.small = s
			return nil
		}
		a.useBig = true
		a.big.SetInt64(a.small)
	}
	_, err := tree.ExactCtx.Add(&a.big, &a.big, apd.New(v, 0))
	return err
}

func (a *sumIntAgg) total() *apd.Decimal {
	if a.useBig {
		return &a.big
	}
	return apd.New(a.small, 0)
}

func (a *sumIntAgg) Result(context.Context) (tree.Datum, error) {
	if a.n == 0 {
		return tree.DNull, nil
	}
	dd := &tree.DDecimal{}
	dd.Set(a.total())
	return dd, nil
}

func (a *sumIntAgg) count() int64 { return a.n }

type sumFloatAgg struct {
	n   int64
	sum float64
}

func (a *sumFloatAgg) Add(_ context.Context, args tree.Datums) error {
	if args[0] != tree.DNull {
		a.n++
		a.sum += floatOf(args[0])
	}
	return nil
}

func (a *sumFloatAgg) Result(context.Context) (tree.Datum, error) {
	if a.n == 0 {
		return tree.DNull, nil
	}
	return newFloat(a.sum), nil
}

func (a *sumFloatAgg) count() int64 { return a.n }

type sumDecimalAgg struct {
	n   int64
	sum apd.Decimal
}

func (a *sumDecimalAgg) Add(_ context.Context, args tree.Datums) error {
	if args[0] == tree.DNull {
		return nil
	}
	a.n++
	_, err := tree.ExactCtx.Add(&a.sum, &a.sum, decOf(args[0]))
	return err
}

func (a *sumDecimalAgg) Result(context.Context) (tree.Datum, error) {
	if a.n == 0 {
		return tree.DNull, nil
	}
	dd := &tree.DDecimal{}
	dd.Set(&a.sum)
	return dd, nil
}

func (a *sumDecimalAgg) count() int64 { return a.n }

type sumIntervalAgg struct {
	n   int64
	sum duration.Duration
}

func (a *sumIntervalAgg) Add(_ context.Context, args tree.Datums) error {
	if args[0] != tree.DNull {
		a.n++
		a.sum = a.sum.Add(durOf(args[0]))
	}
	return nil
}

func (a *sumIntervalAgg) Result(context.Context) (tree.Datum, error) {
	if a.n == 0 {
		return tree.DNull, nil
	}
	return newInterval(a.sum), nil
}

func (a *sumIntervalAgg) count() int64 { return a.n }

// avgAgg divides a sum by the number of non-NULL inputs.
type avgAgg struct {
	sum summer
}

func (a *avgAgg) Add(ctx context.Context, args tree.Datums) error { return a.sum.Add(ctx, args) }

func (a *avgAgg) Result(ctx context.Context) (tree.Datum, error) {
	n := a.sum.count()
	if n == 0 {
		return tree.DNull, nil
	}
	s, err := a.sum.Result(ctx)
	if err != nil {
		return nil, err
	}
	switch v := s.(type) {
	case *tree.DFloat:
		return newFloat(float64(*v) / float64(n)), nil
	case *tree.DDecimal:
		dd := &tree.DDecimal{}
		cond, err := tree.DecimalCtx.Quo(&dd.Decimal, &v.Decimal, apd.New(n, 0))
		return decResult(dd, cond, err)
	case *tree.DInterval:
		return newInterval(v.Duration.Div(n)), nil
	}
	return nil, errors.AssertionFailedf("unexpected sum %T", s)
}

type minMaxAgg struct {
	sign int // -1 keeps the smallest, +1 the largest
	cur  tree.Datum
	ev   *evaluator
}

func (a *minMaxAgg) Add(ctx context.Context, args tree.Datums) error {
	d := args[0]
	if d == tree.DNull {
		return nil
	}
	if a.cur == nil {
		a.cur = d
		return nil
	}
	c, err := d.Compare(ctx, a.ev, a.cur)
	if err != nil {
		return err
	}
	if c*a.sign > 0 {
		a.cur = d
	}
	return nil
}

func (a *minMaxAgg) Result(context.Context) (tree.Datum, error) {
	if a.cur == nil {
		return tree.DNull, nil
	}
	return a.cur, nil
}

type boolAgg struct {
	and  bool
	seen bool
	res  bool
}

func (a *boolAgg) Add(_ context.Context, args tree.Datums) error {
	if args[0] == tree.DNull {
		return nil
	}
	b := bool(*args[0].(*tree.DBool))
	if !a.seen {
		a.seen, a.res = true, b
	} else if a.and {
		a.res = a.res && b
	} else {
		a.res = a.res || b
	}
	return nil
}

func (a *boolAgg) Result(context.Context) (tree.Datum, error) {
	if !a.seen {
		return tree.DNull, nil
	}
	return tree.MakeDBool(tree.DBool(a.res)), nil
}

// stringAgg concatenates non-NULL values, each after the first preceded by
// its row's delimiter (PostgreSQL's string_agg).
type stringAgg struct {
	bytes bool
	seen  bool
	buf   strings.Builder
}

func (a *stringAgg) Add(_ context.Context, args tree.Datums) error {
	if args[0] == tree.DNull {
		return nil
	}
	if a.seen && args[1] != tree.DNull {
		a.buf.WriteString(bytesOrString(args[1]))
	}
	a.seen = true
	a.buf.WriteString(bytesOrString(args[0]))
	return nil
}

func bytesOrString(d tree.Datum) string {
	if b, ok := d.(*tree.DBytes); ok {
		return string(*b)
	}
	return stringOf(d)
}

func (a *stringAgg) Result(context.Context) (tree.Datum, error) {
	if !a.seen {
		return tree.DNull, nil
	}
	if a.bytes {
		return tree.NewDBytes(tree.DBytes(a.buf.String())), nil
	}
	return tree.NewDString(a.buf.String()), nil
}

type arrayAgg struct {
	arr *tree.DArray
}

func (a *arrayAgg) Add(_ context.Context, args tree.Datums) error {
	return a.arr.Append(args[0])
}

func (a *arrayAgg) Result(context.Context) (tree.Datum, error) {
	if a.arr.Len() == 0 {
		return tree.DNull, nil
	}
	return a.arr, nil
}

type jsonAgg struct {
	b  *json.ArrayBuilder
	ev *evaluator
}

func (a *jsonAgg) Add(_ context.Context, args tree.Datums) error {
	if a.ev == nil {
		a.ev = newAggEvaluator()
	}
	j, err := a.ev.toJSON(args[0])
	if err != nil {
		return err
	}
	if a.b == nil {
		a.b = json.NewArrayBuilder(8)
	}
	a.b.Add(j)
	return nil
}

func (a *jsonAgg) Result(context.Context) (tree.Datum, error) {
	if a.b == nil {
		return tree.DNull, nil
	}
	return tree.NewDJSON(a.b.Build()), nil
}

// Distinct wraps an aggregate so that it sees each distinct argument list
// once (aggregate(DISTINCT ...)). Values are distinct by SQL equality, so
// 1.0 and 1.00, or '1 day' and '24 hours', count once.
func Distinct(agg Aggregate) Aggregate {
	return &distinctAgg{inner: agg, seen: map[string]struct{}{}}
}

type distinctAgg struct {
	inner Aggregate
	seen  map[string]struct{}
	key   []byte
}

func (a *distinctAgg) Add(ctx context.Context, args tree.Datums) error {
	a.key = a.key[:0]
	for _, d := range args {
		a.key = appendDistinctKey(a.key, d)
	}
	if _, dup := a.seen[string(a.key)]; dup {
		return nil
	}
	a.seen[string(a.key)] = struct{}{}
	return a.inner.Add(ctx, args)
}

func (a *distinctAgg) Result(ctx context.Context) (tree.Datum, error) { return a.inner.Result(ctx) }

// appendDistinctKey appends a canonical encoding of d: equal datums (in
// the SQL sense) get equal keys. Each part is length-prefixed so that keys
// of different argument lists cannot collide.
func appendDistinctKey(b []byte, d tree.Datum) []byte {
	var s string
	switch v := tree.UnwrapDOidWrapper(d).(type) {
	case *tree.DDecimal:
		var r apd.Decimal
		r.Reduce(&v.Decimal)
		s = "n" + r.String()
	case *tree.DInt:
		s = "n" + strconv.FormatInt(int64(*v), 10)
	case *tree.DFloat:
		f := float64(*v)
		if f == 0 {
			f = 0 // -0 and 0 are equal
		}
		s = "f" + strconv.FormatFloat(f, 'g', -1, 64)
	case *tree.DInterval:
		nanos, months, days := v.Duration.EncodeBigInt()
		_, _ = months, days
		s = "i" + nanos.String()
	case *tree.DTuple:
		inner := []byte{'t'}
		for _, e := range v.D {
			inner = appendDistinctKey(inner, e)
		}
		s = string(inner)
	case *tree.DArray:
		inner := []byte{'a'}
		for _, e := range v.Array {
			inner = appendDistinctKey(inner, e)
		}
		s = string(inner)
	default:
		if d == tree.DNull {
			s = "0"
		} else {
			s = "s" + tree.AsStringWithFlags(d, tree.FmtParsable)
		}
	}
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, ':')
	return append(b, s...)
}
