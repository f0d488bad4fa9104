package sem

import (
	"context"
	"fmt"
	"runtime/debug"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/cockroachdb/errors"
)

// Eval evaluates a typed expression (the result of TypeCheck). row supplies
// the values of the expression's IndexedVars (row[iv.Idx]). Eval may be
// called re-entrantly (from a Subquery hook, for instance) on the same
// Context.
func Eval(ctx context.Context, ec *Context, expr tree.TypedExpr, row tree.Datums) (_ tree.Datum, retErr error) {
	defer recoverInternal(&retErr)
	if ec == nil {
		ec = &Context{}
	}
	ev := &ec.ev
	savedRow := ev.row
	ev.ec, ev.row = ec, row
	d, err := expr.Eval(ctx, ev)
	ev.row = savedRow
	return d, err
}

// EvalFilter evaluates a boolean filter: it is true only when the result is
// TRUE; NULL and FALSE both reject the row.
func EvalFilter(ctx context.Context, ec *Context, expr tree.TypedExpr, row tree.Datums) (bool, error) {
	d, err := Eval(ctx, ec, expr, row)
	if err != nil {
		return false, err
	}
	b, ok := d.(*tree.DBool)
	return ok && bool(*b), nil
}

// Compare compares two non-NULL datums of comparable types, returning -1, 0
// or +1. Timestamps are compared with timestamptz in the session's time
// zone, numbers of different types by value.
func Compare(ctx context.Context, ec *Context, a, b tree.Datum) (_ int, retErr error) {
	defer recoverInternal(&retErr)
	if ec == nil {
		ec = &Context{}
	}
	ec.ev.ec = ec
	return a.Compare(ctx, &ec.ev, b)
}

// errPanic marks the errors recoverInternal makes from panics, so that
// tests (the fuzz test in particular) can tell a crash from an ordinary
// internal error.
var errPanic = errors.New("panic during type checking or evaluation")

// recoverInternal turns a panic (a bug in this package or the parser
// module) into an internal error, so that one expression cannot crash the
// server.
func recoverInternal(errp *error) {
	if r := recover(); r != nil {
		err, ok := r.(error)
		if !ok {
			err = fmt.Errorf("%v", r)
		}
		*errp = errors.Mark(errors.WithDetail(
			pgerror.Wrapf(err, pgcode.Internal, "internal error"), string(debug.Stack())), errPanic)
	}
}

// evalExpr evaluates a sub-expression, which type checking guarantees to
// be a TypedExpr.
func (ev *evaluator) evalExpr(ctx context.Context, e tree.Expr) (tree.Datum, error) {
	return e.(tree.TypedExpr).Eval(ctx, ev)
}

func unsupportedExpr(what string) error {
	return pgerror.Newf(pgcode.FeatureNotSupported, "%s is not supported in this context", what)
}

// EvalAllColumnsSelector implements tree.ExprEvaluator.
func (ev *evaluator) EvalAllColumnsSelector(context.Context, *tree.AllColumnsSelector) (tree.Datum, error) {
	return nil, unsupportedExpr("a star expression")
}

// EvalAndExpr implements tree.ExprEvaluator with SQL three-valued logic:
// FALSE wins over NULL, so the right side is skipped when the left is FALSE.
func (ev *evaluator) EvalAndExpr(ctx context.Context, expr *tree.AndExpr) (tree.Datum, error) {
	left, err := ev.evalExpr(ctx, expr.Left)
	if err != nil {
		return nil, err
	}
	if left != tree.DNull {
		if !bool(*left.(*tree.DBool)) {
			return tree.DBoolFalse, nil
		}
	}
	right, err := ev.evalExpr(ctx, expr.Right)
	if err != nil {
		return nil, err
	}
	if right == tree.DNull {
		return tree.DNull, nil
	}
	if !bool(*right.(*tree.DBool)) {
		return tree.DBoolFalse, nil
	}
	if left == tree.DNull {
		return tree.DNull, nil
	}
	return tree.DBoolTrue, nil
}

// EvalOrExpr implements tree.ExprEvaluator: TRUE wins over NULL.
func (ev *evaluator) EvalOrExpr(ctx context.Context, expr *tree.OrExpr) (tree.Datum, error) {
	left, err := ev.evalExpr(ctx, expr.Left)
	if err != nil {
		return nil, err
	}
	if left != tree.DNull {
		if bool(*left.(*tree.DBool)) {
			return tree.DBoolTrue, nil
		}
	}
	right, err := ev.evalExpr(ctx, expr.Right)
	if err != nil {
		return nil, err
	}
	if right == tree.DNull {
		return tree.DNull, nil
	}
	if bool(*right.(*tree.DBool)) {
		return tree.DBoolTrue, nil
	}
	if left == tree.DNull {
		return tree.DNull, nil
	}
	return tree.DBoolFalse, nil
}

// EvalNotExpr implements tree.ExprEvaluator.
func (ev *evaluator) EvalNotExpr(ctx context.Context, expr *tree.NotExpr) (tree.Datum, error) {
	d, err := ev.evalExpr(ctx, expr.Expr)
	if err != nil || d == tree.DNull {
		return d, err
	}
	return tree.MakeDBool(!*d.(*tree.DBool)), nil
}

// EvalArray implements tree.ExprEvaluator: ARRAY[...] constructors.
func (ev *evaluator) EvalArray(ctx context.Context, expr *tree.Array) (tree.Datum, error) {
	arr := tree.NewDArray(expr.ResolvedType().ArrayContents())
	arr.Array = make(tree.Datums, 0, len(expr.Exprs))
	for _, e := range expr.Exprs {
		d, err := ev.evalExpr(ctx, e)
		if err != nil {
			return nil, err
		}
		if err := arr.Append(d); err != nil {
			return nil, err
		}
	}
	return arr, nil
}

// EvalArrayFlatten implements tree.ExprEvaluator: ARRAY(subquery), through
// the Subquery hook, which returns the rows as a tuple.
func (ev *evaluator) EvalArrayFlatten(ctx context.Context, expr *tree.ArrayFlatten) (tree.Datum, error) {
	sub, ok := expr.Subquery.(*tree.Subquery)
	if !ok || ev.ec.Subquery == nil {
		return nil, unsupportedExpr("ARRAY(subquery)")
	}
	d, err := ev.ec.Subquery(ctx, sub)
	if err != nil {
		return nil, err
	}
	arr := tree.NewDArray(expr.ResolvedType().ArrayContents())
	if tup, ok := d.(*tree.DTuple); ok {
		for _, e := range tup.D {
			if err := arr.Append(e); err != nil {
				return nil, err
			}
		}
	}
	return arr, nil
}

// EvalBinaryExpr implements tree.ExprEvaluator.
func (ev *evaluator) EvalBinaryExpr(ctx context.Context, expr *tree.BinaryExpr) (tree.Datum, error) {
	left, err := ev.evalExpr(ctx, expr.Left)
	if err != nil {
		return nil, err
	}
	op := expr.Op
	if left == tree.DNull && !op.CalledOnNullInput {
		return tree.DNull, nil
	}
	right, err := ev.evalExpr(ctx, expr.Right)
	if err != nil {
		return nil, err
	}
	if right == tree.DNull && !op.CalledOnNullInput {
		return tree.DNull, nil
	}
	res, err := op.EvalOp.Eval(ctx, ev, left, right)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// EvalUnaryExpr implements tree.ExprEvaluator.
func (ev *evaluator) EvalUnaryExpr(ctx context.Context, expr *tree.UnaryExpr) (tree.Datum, error) {
	d, err := ev.evalExpr(ctx, expr.Expr)
	if err != nil || d == tree.DNull {
		return d, err
	}
	op := expr.GetOp()
	if op == nil {
		return nil, errors.AssertionFailedf("unary expression %s was not type checked", expr)
	}
	return op.EvalOp.Eval(ctx, ev, d)
}

// EvalCaseExpr implements tree.ExprEvaluator. With an operand, a WHEN
// matches when operand = value is TRUE; without one, when the condition is
// TRUE. NULL never matches.
func (ev *evaluator) EvalCaseExpr(ctx context.Context, expr *tree.CaseExpr) (tree.Datum, error) {
	if expr.Expr != nil {
		val, err := ev.evalExpr(ctx, expr.Expr)
		if err != nil {
			return nil, err
		}
		for _, when := range expr.Whens {
			arg, err := ev.evalExpr(ctx, when.Cond)
			if err != nil {
				return nil, err
			}
			eq, err := ev.equal3(ctx, val, arg)
			if err != nil {
				return nil, err
			}
			if eq == tree.DBoolTrue {
				return ev.evalExpr(ctx, when.Val)
			}
		}
	} else {
		for _, when := range expr.Whens {
			cond, err := ev.evalExpr(ctx, when.Cond)
			if err != nil {
				return nil, err
			}
			if b, ok := cond.(*tree.DBool); ok && bool(*b) {
				return ev.evalExpr(ctx, when.Val)
			}
		}
	}
	if expr.Else == nil {
		return tree.DNull, nil
	}
	return ev.evalExpr(ctx, expr.Else)
}

// EvalCastExpr implements tree.ExprEvaluator.
func (ev *evaluator) EvalCastExpr(ctx context.Context, expr *tree.CastExpr) (tree.Datum, error) {
	d, err := ev.evalExpr(ctx, expr.Expr)
	if err != nil || d == tree.DNull {
		return d, err
	}
	typ := expr.ResolvedType()
	if f, ok := d.(*tree.DFloat); ok && typ.Family() == types.StringFamily &&
		expr.Expr.(tree.TypedExpr).ResolvedType().Width() == 32 {
		// A FLOAT4 prints with the digits of a 32-bit float ('1.1', not
		// '1.100000023841858'); only the static type knows it is one.
		return ev.castToString(ctx, tree.NewDString(formatFloat(float64(*f), ev.ec.ExtraFloatDigits, 32)), typ, true)
	}
	return ev.performCast(ctx, d, typ, true /* truncate */)
}

// EvalCoalesceExpr implements tree.ExprEvaluator: the first non-NULL value;
// later arguments are not evaluated.
func (ev *evaluator) EvalCoalesceExpr(ctx context.Context, expr *tree.CoalesceExpr) (tree.Datum, error) {
	for _, e := range expr.Exprs {
		d, err := ev.evalExpr(ctx, e)
		if err != nil {
			return nil, err
		}
		if d != tree.DNull {
			return d, nil
		}
	}
	return tree.DNull, nil
}

// EvalCollateExpr implements tree.ExprEvaluator.
func (ev *evaluator) EvalCollateExpr(ctx context.Context, expr *tree.CollateExpr) (tree.Datum, error) {
	d, err := ev.evalExpr(ctx, expr.Expr)
	if err != nil || d == tree.DNull {
		return d, err
	}
	switch v := d.(type) {
	case *tree.DString:
		return tree.NewDCollatedString(string(*v), expr.Locale, &ev.collationEnv)
	case *tree.DCollatedString:
		return tree.NewDCollatedString(v.Contents, expr.Locale, &ev.collationEnv)
	}
	return nil, pgerror.Newf(pgcode.DatatypeMismatch, "incompatible type for COLLATE: %s", d.ResolvedType())
}

// EvalColumnAccessExpr implements tree.ExprEvaluator: (tuple).field.
func (ev *evaluator) EvalColumnAccessExpr(ctx context.Context, expr *tree.ColumnAccessExpr) (tree.Datum, error) {
	d, err := ev.evalExpr(ctx, expr.Expr)
	if err != nil || d == tree.DNull {
		return d, err
	}
	tup, ok := d.(*tree.DTuple)
	if !ok || expr.ColIndex < 0 || expr.ColIndex >= len(tup.D) {
		return nil, pgerror.Newf(pgcode.DatatypeMismatch, "cannot access column of non-tuple %s", d.ResolvedType())
	}
	return tup.D[expr.ColIndex], nil
}

// EvalColumnItem implements tree.ExprEvaluator. Column references must be
// replaced by IndexedVars before type checking.
func (ev *evaluator) EvalColumnItem(_ context.Context, expr *tree.ColumnItem) (tree.Datum, error) {
	return nil, pgerror.Newf(pgcode.UndefinedColumn, "column %q does not exist", tree.ErrString(expr))
}

// EvalDefaultVal implements tree.ExprEvaluator.
func (ev *evaluator) EvalDefaultVal(context.Context, *tree.DefaultVal) (tree.Datum, error) {
	return nil, pgerror.New(pgcode.Syntax,
		"DEFAULT can only appear in a VALUES list within INSERT or on the right side of a SET")
}

// EvalIfErrExpr implements tree.ExprEvaluator: IFERROR/ISERROR catch the
// errors that carry a SQLSTATE (optionally only the given one); internal
// errors always propagate.
func (ev *evaluator) EvalIfErrExpr(ctx context.Context, expr *tree.IfErrExpr) (tree.Datum, error) {
	cond, evalErr := ev.evalExpr(ctx, expr.Cond)
	if evalErr == nil {
		if expr.Else == nil {
			return tree.DBoolFalse, nil
		}
		return cond, nil
	}
	code := pgerror.GetPGCode(evalErr)
	if code == pgcode.Internal || code == pgcode.Uncategorized {
		return nil, evalErr
	}
	if expr.ErrCode != nil {
		want, err := ev.evalExpr(ctx, expr.ErrCode)
		if err != nil {
			return nil, err
		}
		if want == tree.DNull || string(*want.(*tree.DString)) != code.String() {
			return nil, evalErr
		}
	}
	if expr.Else == nil {
		return tree.DBoolTrue, nil
	}
	return ev.evalExpr(ctx, expr.Else)
}

// EvalIfExpr implements tree.ExprEvaluator: IF(cond, a, b).
func (ev *evaluator) EvalIfExpr(ctx context.Context, expr *tree.IfExpr) (tree.Datum, error) {
	cond, err := ev.evalExpr(ctx, expr.Cond)
	if err != nil {
		return nil, err
	}
	if b, ok := cond.(*tree.DBool); ok && bool(*b) {
		return ev.evalExpr(ctx, expr.True)
	}
	return ev.evalExpr(ctx, expr.Else)
}

// EvalIndexedVar implements tree.ExprEvaluator: the column value of the
// current row.
func (ev *evaluator) EvalIndexedVar(_ context.Context, iv *tree.IndexedVar) (tree.Datum, error) {
	if iv.Idx < 0 || iv.Idx >= len(ev.row) {
		return nil, errors.AssertionFailedf("column @%d is not in the row (%d columns)", iv.Idx+1, len(ev.row))
	}
	return ev.row[iv.Idx], nil
}

// EvalIndirectionExpr implements tree.ExprEvaluator: array subscripts
// (1-based; out of range gives NULL) and JSONB subscripts.
func (ev *evaluator) EvalIndirectionExpr(ctx context.Context, expr *tree.IndirectionExpr) (tree.Datum, error) {
	d, err := ev.evalExpr(ctx, expr.Expr)
	if err != nil || d == tree.DNull {
		return d, err
	}
	for _, sub := range expr.Indirection {
		if sub.Slice {
			return nil, unsupportedExpr("array slicing")
		}
		idx, err := ev.evalExpr(ctx, sub.Begin)
		if err != nil {
			return nil, err
		}
		if idx == tree.DNull || d == tree.DNull {
			return tree.DNull, nil
		}
		switch v := d.(type) {
		case *tree.DArray:
			i := int(*idx.(*tree.DInt))
			if i < 1 || i > len(v.Array) {
				return tree.DNull, nil
			}
			d = v.Array[i-1]
		case *tree.DJSON:
			d, err = jsonSubscript(v, idx)
			if err != nil {
				return nil, err
			}
		default:
			return nil, pgerror.Newf(pgcode.DatatypeMismatch,
				"cannot subscript type %s because it is not an array or json object", d.ResolvedType())
		}
	}
	return d, nil
}

// EvalIsNotNullExpr implements tree.ExprEvaluator. For a tuple, IS NOT NULL
// is true only when every element is non-NULL (SQL standard row
// semantics).
func (ev *evaluator) EvalIsNotNullExpr(ctx context.Context, expr *tree.IsNotNullExpr) (tree.Datum, error) {
	d, err := ev.evalExpr(ctx, expr.Expr)
	if err != nil {
		return nil, err
	}
	if d == tree.DNull {
		return tree.DBoolFalse, nil
	}
	if t, ok := d.(*tree.DTuple); ok {
		for _, e := range t.D {
			if e == tree.DNull {
				return tree.DBoolFalse, nil
			}
		}
	}
	return tree.DBoolTrue, nil
}

// EvalIsNullExpr implements tree.ExprEvaluator. For a tuple, IS NULL is
// true only when every element is NULL.
func (ev *evaluator) EvalIsNullExpr(ctx context.Context, expr *tree.IsNullExpr) (tree.Datum, error) {
	d, err := ev.evalExpr(ctx, expr.Expr)
	if err != nil {
		return nil, err
	}
	if d == tree.DNull {
		return tree.DBoolTrue, nil
	}
	if t, ok := d.(*tree.DTuple); ok {
		for _, e := range t.D {
			if e != tree.DNull {
				return tree.DBoolFalse, nil
			}
		}
		return tree.DBoolTrue, nil
	}
	return tree.DBoolFalse, nil
}

// EvalIsOfTypeExpr implements tree.ExprEvaluator: x IS OF (T, ...) looks at
// the expression's static type.
func (ev *evaluator) EvalIsOfTypeExpr(_ context.Context, expr *tree.IsOfTypeExpr) (tree.Datum, error) {
	typ := expr.Expr.(tree.TypedExpr).ResolvedType()
	for _, t := range expr.ResolvedTypes() {
		if typ.Equivalent(t) {
			return tree.MakeDBool(tree.DBool(!expr.Not)), nil
		}
	}
	return tree.MakeDBool(tree.DBool(expr.Not)), nil
}

// EvalNullIfExpr implements tree.ExprEvaluator: NULL when both sides are
// equal, else the first.
func (ev *evaluator) EvalNullIfExpr(ctx context.Context, expr *tree.NullIfExpr) (tree.Datum, error) {
	a, err := ev.evalExpr(ctx, expr.Expr1)
	if err != nil {
		return nil, err
	}
	b, err := ev.evalExpr(ctx, expr.Expr2)
	if err != nil {
		return nil, err
	}
	eq, err := ev.equal3(ctx, a, b)
	if err != nil {
		return nil, err
	}
	if eq == tree.DBoolTrue {
		return tree.DNull, nil
	}
	return a, nil
}

// EvalParenExpr implements tree.ExprEvaluator.
func (ev *evaluator) EvalParenExpr(ctx context.Context, expr *tree.ParenExpr) (tree.Datum, error) {
	return ev.evalExpr(ctx, expr.Expr)
}

// EvalPlaceholder implements tree.ExprEvaluator: the bound value of $n,
// converted to the type the placeholder was given at type checking when
// the executor bound a value of another type.
func (ev *evaluator) EvalPlaceholder(ctx context.Context, p *tree.Placeholder) (tree.Datum, error) {
	idx := int(p.Idx)
	if idx < 0 || idx >= len(ev.ec.Placeholders) || ev.ec.Placeholders[idx] == nil {
		return nil, pgerror.Newf(pgcode.UndefinedParameter, "no value provided for placeholder: %s", p)
	}
	d := ev.ec.Placeholders[idx]
	if d == tree.DNull {
		return d, nil
	}
	typ := p.ResolvedType()
	if typ.Family() == types.AnyFamily || typ.Family() == types.UnknownFamily ||
		d.ResolvedType().Family() == typ.Family() {
		return d, nil
	}
	return ev.performCast(ctx, d, typ, true /* truncate */)
}

// EvalRangeCond implements tree.ExprEvaluator: [NOT] BETWEEN [SYMMETRIC].
func (ev *evaluator) EvalRangeCond(ctx context.Context, expr *tree.RangeCond) (tree.Datum, error) {
	left, err := ev.evalExpr(ctx, expr.TypedLeftFrom())
	if err != nil {
		return nil, err
	}
	leftTo := left
	if lt := expr.TypedLeftTo(); lt != nil && lt != expr.TypedLeftFrom() {
		if leftTo, err = lt.Eval(ctx, ev); err != nil {
			return nil, err
		}
	}
	from, err := ev.evalExpr(ctx, expr.TypedFrom())
	if err != nil {
		return nil, err
	}
	to, err := ev.evalExpr(ctx, expr.TypedTo())
	if err != nil {
		return nil, err
	}
	// between(a, b) = left >= a AND left <= b, in three-valued logic.
	between := func(lo, hi tree.Datum) (tree.Datum, error) {
		c1, null1, err := ev.order3(ctx, left, lo)
		if err != nil {
			return nil, err
		}
		c2, null2, err := ev.order3(ctx, leftTo, hi)
		if err != nil {
			return nil, err
		}
		ge, le := bool3(c1 >= 0, null1), bool3(c2 <= 0, null2)
		return and3(ge, le), nil
	}
	res, err := between(from, to)
	if err != nil {
		return nil, err
	}
	if expr.Symmetric {
		res2, err := between(to, from)
		if err != nil {
			return nil, err
		}
		res = or3(res, res2)
	}
	if expr.Not {
		return not3(res), nil
	}
	return res, nil
}

// EvalRoutineExpr implements tree.ExprEvaluator.
func (ev *evaluator) EvalRoutineExpr(context.Context, *tree.RoutineExpr) (tree.Datum, error) {
	return nil, unsupportedExpr("user-defined functions")
}

// EvalSubquery implements tree.ExprEvaluator through the Context's hook.
func (ev *evaluator) EvalSubquery(ctx context.Context, s *tree.Subquery) (tree.Datum, error) {
	if ev.ec.Subquery == nil {
		return nil, unsupportedExpr("a subquery")
	}
	return ev.ec.Subquery(ctx, s)
}

// maxConstTuples bounds the evaluator's cache of constant tuples, for
// Contexts that live across many statements.
const maxConstTuples = 64

// EvalTuple implements tree.ExprEvaluator. A tuple of constants is built
// once per Context and shared (datums are immutable).
func (ev *evaluator) EvalTuple(ctx context.Context, expr *tree.Tuple) (tree.Datum, error) {
	if d, ok := ev.constTuples[expr]; ok {
		return d, nil
	}
	constant := true
	for _, e := range expr.Exprs {
		if _, ok := e.(tree.Datum); !ok {
			constant = false
			break
		}
	}
	tup := tree.NewDTupleWithLen(expr.ResolvedType(), len(expr.Exprs))
	for i, e := range expr.Exprs {
		d, err := ev.evalExpr(ctx, e)
		if err != nil {
			return nil, err
		}
		tup.D[i] = d
	}
	if constant {
		if ev.constTuples == nil || len(ev.constTuples) >= maxConstTuples {
			ev.constTuples = make(map[*tree.Tuple]*tree.DTuple)
		}
		ev.constTuples[expr] = tup
	}
	return tup, nil
}

// EvalTupleStar implements tree.ExprEvaluator.
func (ev *evaluator) EvalTupleStar(context.Context, *tree.TupleStar) (tree.Datum, error) {
	return nil, unsupportedExpr("(tuple).*")
}

// EvalTxnControlExpr implements tree.ExprEvaluator.
func (ev *evaluator) EvalTxnControlExpr(context.Context, *tree.TxnControlExpr) (tree.Datum, error) {
	return nil, unsupportedExpr("transaction control in an expression")
}

// EvalTypedDummy implements tree.ExprEvaluator.
func (ev *evaluator) EvalTypedDummy(context.Context, *tree.TypedDummy) (tree.Datum, error) {
	return nil, errors.AssertionFailedf("dummy expressions cannot be evaluated")
}

// EvalUnqualifiedStar implements tree.ExprEvaluator.
func (ev *evaluator) EvalUnqualifiedStar(context.Context, tree.UnqualifiedStar) (tree.Datum, error) {
	return nil, unsupportedExpr("a star expression")
}

// EvalUnresolvedName implements tree.ExprEvaluator.
func (ev *evaluator) EvalUnresolvedName(_ context.Context, n *tree.UnresolvedName) (tree.Datum, error) {
	return nil, pgerror.Newf(pgcode.UndefinedColumn, "column %q does not exist", tree.ErrString(n))
}

// EvalFuncExpr implements tree.ExprEvaluator: it evaluates the arguments
// and calls the builtin's implementation, short-circuiting to NULL for
// functions that are not called on NULL input.
func (ev *evaluator) EvalFuncExpr(ctx context.Context, expr *tree.FuncExpr) (tree.Datum, error) {
	ol := expr.ResolvedOverload()
	if ol == nil {
		return nil, errors.AssertionFailedf("function %s was not type checked", expr.Func.String())
	}
	fn, ok := ol.Fn.(builtinFn)
	if !ok {
		if ol.Class == tree.AggregateClass {
			return nil, pgerror.Newf(pgcode.Grouping,
				"aggregate function %s() cannot be evaluated as a scalar expression", expr.Func.String())
		}
		return nil, unsupportedExpr(fmt.Sprintf("function %s()", expr.Func.String()))
	}
	// Arguments go on the evaluator's argument stack rather than in a new
	// slice per call: nested calls push above, and every call pops its own
	// arguments before returning. Builtins must not keep args.
	base := len(ev.argStack)
	defer func() {
		clear(ev.argStack[base:])
		ev.argStack = ev.argStack[:base]
	}()
	for _, e := range expr.Exprs {
		d, err := ev.evalExpr(ctx, e)
		if err != nil {
			return nil, err
		}
		if d == tree.DNull && !ol.CalledOnNullInput {
			return tree.DNull, nil
		}
		ev.argStack = append(ev.argStack, d)
	}
	args := ev.argStack[base:len(ev.argStack):len(ev.argStack)]
	res, err := fn(ctx, ev, args)
	if err != nil {
		return nil, expr.MaybeWrapError(err)
	}
	return res, nil
}

// EvalComparisonExpr implements tree.ExprEvaluator.
func (ev *evaluator) EvalComparisonExpr(ctx context.Context, expr *tree.ComparisonExpr) (tree.Datum, error) {
	left, err := ev.evalExpr(ctx, expr.Left)
	if err != nil {
		return nil, err
	}
	right, err := ev.evalExpr(ctx, expr.Right)
	if err != nil {
		return nil, err
	}
	if expr.Op == nil {
		// The type checker leaves Op unset when one side is a NULL
		// constant and the result is always NULL.
		return tree.DNull, nil
	}
	if expr.Operator.Symbol.HasSubOperator() {
		return ev.evalSubOperatorComparison(ctx, expr, left, right)
	}
	return ev.applyCmpOp(ctx, expr.Op, expr.Operator, left, right)
}
