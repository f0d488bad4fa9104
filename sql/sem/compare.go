package sem

import (
	"context"
	"sort"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree/treecmp"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/json"
	"github.com/cockroachdb/errors"
)

// Three-valued logic helpers. A three-valued boolean is one of
// tree.DBoolTrue, tree.DBoolFalse or tree.DNull.

func bool3(b, null bool) tree.Datum {
	if null {
		return tree.DNull
	}
	return tree.MakeDBool(tree.DBool(b))
}

func and3(a, b tree.Datum) tree.Datum {
	if a == tree.DBoolFalse || b == tree.DBoolFalse {
		return tree.DBoolFalse
	}
	if a == tree.DNull || b == tree.DNull {
		return tree.DNull
	}
	return tree.DBoolTrue
}

func or3(a, b tree.Datum) tree.Datum {
	if a == tree.DBoolTrue || b == tree.DBoolTrue {
		return tree.DBoolTrue
	}
	if a == tree.DNull || b == tree.DNull {
		return tree.DNull
	}
	return tree.DBoolFalse
}

func not3(a tree.Datum) tree.Datum {
	switch a {
	case tree.DBoolTrue:
		return tree.DBoolFalse
	case tree.DBoolFalse:
		return tree.DBoolTrue
	}
	return tree.DNull
}

// equal3 is SQL's a = b: NULL when either side is NULL; for tuples, FALSE
// as soon as one pair of elements is unequal, else NULL when some pair
// involves a NULL.
func (ev *evaluator) equal3(ctx context.Context, a, b tree.Datum) (tree.Datum, error) {
	if a == tree.DNull || b == tree.DNull {
		return tree.DNull, nil
	}
	ta, okA := a.(*tree.DTuple)
	tb, okB := b.(*tree.DTuple)
	if okA && okB {
		if len(ta.D) != len(tb.D) {
			return nil, pgerror.Newf(pgcode.DatatypeMismatch,
				"unequal number of entries in row expressions")
		}
		res := tree.Datum(tree.DBoolTrue)
		for i := range ta.D {
			e, err := ev.equal3(ctx, ta.D[i], tb.D[i])
			if err != nil {
				return nil, err
			}
			if e == tree.DBoolFalse {
				return tree.DBoolFalse, nil
			}
			res = and3(res, e)
		}
		return res, nil
	}
	c, err := a.Compare(ctx, ev, b)
	if err != nil {
		return nil, err
	}
	return tree.MakeDBool(c == 0), nil
}

// order3 compares a and b for <, <=, >, >=. null is true when the result
// is unknown: one side is NULL, or, for tuples, the first pair of elements
// that is not known to be equal involves a NULL.
func (ev *evaluator) order3(ctx context.Context, a, b tree.Datum) (c int, null bool, _ error) {
	if a == tree.DNull || b == tree.DNull {
		return 0, true, nil
	}
	ta, okA := a.(*tree.DTuple)
	tb, okB := b.(*tree.DTuple)
	if okA && okB {
		n := min(len(ta.D), len(tb.D))
		for i := 0; i < n; i++ {
			c, null, err := ev.order3(ctx, ta.D[i], tb.D[i])
			if err != nil || null || c != 0 {
				return c, null, err
			}
		}
		return len(ta.D) - len(tb.D), false, nil
	}
	c, err := a.Compare(ctx, ev, b)
	return c, false, err
}

// notDistinct is a IS NOT DISTINCT FROM b: NULLs compare equal to each
// other.
func (ev *evaluator) notDistinct(ctx context.Context, a, b tree.Datum) (bool, error) {
	if a == tree.DNull || b == tree.DNull {
		return a == b, nil
	}
	ta, okA := a.(*tree.DTuple)
	tb, okB := b.(*tree.DTuple)
	if okA && okB {
		if len(ta.D) != len(tb.D) {
			return false, nil
		}
		for i := range ta.D {
			if eq, err := ev.notDistinct(ctx, ta.D[i], tb.D[i]); err != nil || !eq {
				return false, err
			}
		}
		return true, nil
	}
	c, err := a.Compare(ctx, ev, b)
	return c == 0, err
}

// applyCmpOp evaluates one comparison whose overload the type checker
// resolved: it folds the operator the way the type checker did (a > b is
// b < a, a <> b is NOT a = b, ...), applies NULL semantics and negates.
func (ev *evaluator) applyCmpOp(
	ctx context.Context, op *tree.CmpOp, operator treecmp.ComparisonOperator, left, right tree.Datum,
) (tree.Datum, error) {
	_, l, r, _, not := tree.FoldComparisonExprWithDatums(operator, left, right)
	if !op.CalledOnNullInput && (l == tree.DNull || r == tree.DNull) {
		return tree.DNull, nil
	}
	d, err := op.EvalOp.Eval(ctx, ev, l, r)
	if err != nil || !not {
		return d, err
	}
	return not3(d), nil
}

// evalSubOperatorComparison evaluates x op ANY/SOME/ALL (array or tuple).
func (ev *evaluator) evalSubOperatorComparison(
	ctx context.Context, expr *tree.ComparisonExpr, left, right tree.Datum,
) (tree.Datum, error) {
	if right == tree.DNull {
		return tree.DNull, nil
	}
	var elems tree.Datums
	switch v := right.(type) {
	case *tree.DArray:
		elems = v.Array
	case *tree.DTuple:
		elems = v.D
	default:
		return nil, errors.AssertionFailedf("unexpected right side of %s: %T", expr.Operator, right)
	}
	all := expr.Operator.Symbol == treecmp.All
	if len(elems) == 0 {
		return tree.MakeDBool(tree.DBool(all)), nil
	}
	if left == tree.DNull {
		return tree.DNull, nil
	}
	sawNull := false
	for _, e := range elems {
		d, err := ev.applyCmpOp(ctx, expr.Op, expr.SubOperator, left, e)
		if err != nil {
			return nil, err
		}
		switch {
		case d == tree.DNull:
			sawNull = true
		case all && d == tree.DBoolFalse:
			return tree.DBoolFalse, nil
		case !all && d == tree.DBoolTrue:
			return tree.DBoolTrue, nil
		}
	}
	if sawNull {
		return tree.DNull, nil
	}
	return tree.MakeDBool(tree.DBool(all)), nil
}

// EvalCompareScalarOp implements tree.OpEvaluator for =, <, <= and IS NOT
// DISTINCT FROM between scalars.
func (ev *evaluator) EvalCompareScalarOp(
	ctx context.Context, op *tree.CompareScalarOp, left, right tree.Datum,
) (tree.Datum, error) {
	if op.Symbol == treecmp.IsNotDistinctFrom && (left == tree.DNull || right == tree.DNull) {
		return tree.MakeDBool(left == right), nil
	}
	c, err := left.Compare(ctx, ev, right)
	if err != nil {
		return nil, err
	}
	switch op.Symbol {
	case treecmp.EQ, treecmp.IsNotDistinctFrom:
		return tree.MakeDBool(c == 0), nil
	case treecmp.LT:
		return tree.MakeDBool(c < 0), nil
	case treecmp.LE:
		return tree.MakeDBool(c <= 0), nil
	}
	return nil, errors.AssertionFailedf("unexpected scalar comparison %s", op.Symbol)
}

// EvalCompareTupleOp implements tree.OpEvaluator for row comparisons.
func (ev *evaluator) EvalCompareTupleOp(
	ctx context.Context, op *tree.CompareTupleOp, left, right tree.Datum,
) (tree.Datum, error) {
	switch op.Symbol {
	case treecmp.EQ:
		return ev.equal3(ctx, left, right)
	case treecmp.IsNotDistinctFrom:
		eq, err := ev.notDistinct(ctx, left, right)
		return tree.MakeDBool(tree.DBool(eq)), err
	case treecmp.LT, treecmp.LE:
		c, null, err := ev.order3(ctx, left, right)
		if err != nil {
			return nil, err
		}
		if op.Symbol == treecmp.LT {
			return bool3(c < 0, null), nil
		}
		return bool3(c <= 0, null), nil
	}
	return nil, errors.AssertionFailedf("unexpected tuple comparison %s", op.Symbol)
}

// EvalInTupleOp implements tree.OpEvaluator for x IN (list): TRUE when an
// element equals x, else NULL when x is NULL or some comparison was NULL,
// else FALSE. An empty list gives FALSE even for a NULL x.
func (ev *evaluator) EvalInTupleOp(
	ctx context.Context, _ *tree.InTupleOp, arg, values tree.Datum,
) (tree.Datum, error) {
	if values == tree.DNull {
		return tree.DNull, nil
	}
	vals, ok := values.(*tree.DTuple)
	if !ok {
		return nil, errors.AssertionFailedf("IN expects a tuple, got %T", values)
	}
	if len(vals.D) == 0 {
		return tree.DBoolFalse, nil
	}
	if arg == tree.DNull {
		return tree.DNull, nil
	}
	_, argIsTuple := arg.(*tree.DTuple)
	if !argIsTuple && len(vals.D) >= inSearchMinLen {
		if idx := ev.inIndexFor(ctx, vals); idx != nil {
			return idx.lookup(ctx, ev, arg)
		}
	}
	sawNull := false
	for _, v := range vals.D {
		if t, ok := v.(*tree.DTuple); ok && !argIsTuple && len(t.D) == 1 {
			// A subquery may hand back its rows as one-column tuples.
			v = t.D[0]
		}
		eq, err := ev.equal3(ctx, arg, v)
		if err != nil {
			return nil, err
		}
		if eq == tree.DBoolTrue {
			return tree.DBoolTrue, nil
		}
		if eq == tree.DNull {
			sawNull = true
		}
	}
	if sawNull {
		return tree.DNull, nil
	}
	return tree.DBoolFalse, nil
}

// inSearchMinLen is the list length from which IN uses a sorted index
// instead of a linear scan.
const inSearchMinLen = 8

// inIndex is a sorted copy of the non-NULL scalar elements of an IN list,
// for binary search.
type inIndex struct {
	src     *tree.DTuple
	sorted  tree.Datums
	hasNull bool
}

// inIndexFor returns the sorted index of vals, building it the second time
// the same list is seen: a list that is the same object row after row (a
// constant list, or a subquery result the executor caches) is sorted once,
// while a list rebuilt for every row is never sorted. It returns nil when
// the list cannot be sorted (elements that do not compare).
func (ev *evaluator) inIndexFor(ctx context.Context, vals *tree.DTuple) *inIndex {
	if ev.inIdx != nil && ev.inIdx.src == vals {
		return ev.inIdx
	}
	if ev.inLastSeen != vals {
		ev.inLastSeen = vals
		return nil
	}
	idx := &inIndex{src: vals, sorted: make(tree.Datums, 0, len(vals.D))}
	for _, v := range vals.D {
		if _, isTuple := v.(*tree.DTuple); isTuple {
			return nil
		}
		if v == tree.DNull {
			idx.hasNull = true
			continue
		}
		idx.sorted = append(idx.sorted, v)
	}
	var sortErr error
	sort.Slice(idx.sorted, func(i, j int) bool {
		c, err := idx.sorted[i].Compare(ctx, ev, idx.sorted[j])
		if err != nil && sortErr == nil {
			sortErr = err
		}
		return c < 0
	})
	if sortErr != nil {
		return nil
	}
	ev.inIdx = idx
	return idx
}

func (idx *inIndex) lookup(ctx context.Context, ev *evaluator, arg tree.Datum) (tree.Datum, error) {
	var cmpErr error
	i := sort.Search(len(idx.sorted), func(i int) bool {
		c, err := idx.sorted[i].Compare(ctx, ev, arg)
		if err != nil && cmpErr == nil {
			cmpErr = err
		}
		return c >= 0
	})
	if cmpErr != nil {
		return nil, cmpErr
	}
	if i < len(idx.sorted) {
		c, err := idx.sorted[i].Compare(ctx, ev, arg)
		if err != nil {
			return nil, err
		}
		if c == 0 {
			return tree.DBoolTrue, nil
		}
	}
	if idx.hasNull {
		return tree.DNull, nil
	}
	return tree.DBoolFalse, nil
}

// EvalMatchLikeOp implements tree.OpEvaluator: LIKE / ILIKE with the
// default escape character (backslash).
func (ev *evaluator) EvalMatchLikeOp(
	_ context.Context, op *tree.MatchLikeOp, left, right tree.Datum,
) (tree.Datum, error) {
	m, err := ev.likeMatcher(stringOf(right), '\\', op.CaseInsensitive)
	if err != nil {
		return nil, err
	}
	return tree.MakeDBool(tree.DBool(m.match(stringOf(left)))), nil
}

// EvalSimilarToOp implements tree.OpEvaluator: SIMILAR TO.
func (ev *evaluator) EvalSimilarToOp(
	_ context.Context, op *tree.SimilarToOp, left, right tree.Datum,
) (tree.Datum, error) {
	re, err := similarRegexp(stringOf(right), op.Escape, true)
	if err != nil {
		return nil, err
	}
	return tree.MakeDBool(tree.DBool(re.MatchString(stringOf(left)))), nil
}

// EvalMatchRegexpOp implements tree.OpEvaluator: ~ and ~*.
func (ev *evaluator) EvalMatchRegexpOp(
	_ context.Context, op *tree.MatchRegexpOp, left, right tree.Datum,
) (tree.Datum, error) {
	re, err := compileRegexp(stringOf(right), op.CaseInsensitive)
	if err != nil {
		return nil, err
	}
	return tree.MakeDBool(tree.DBool(re.MatchString(stringOf(left)))), nil
}

// EvalContainsArrayOp implements tree.OpEvaluator: array @> array.
func (ev *evaluator) EvalContainsArrayOp(
	ctx context.Context, _ *tree.ContainsArrayOp, left, right tree.Datum,
) (tree.Datum, error) {
	return tree.ArrayContains(ctx, ev, left.(*tree.DArray), right.(*tree.DArray))
}

// EvalContainedByArrayOp implements tree.OpEvaluator: array <@ array.
func (ev *evaluator) EvalContainedByArrayOp(
	ctx context.Context, _ *tree.ContainedByArrayOp, left, right tree.Datum,
) (tree.Datum, error) {
	return tree.ArrayContains(ctx, ev, right.(*tree.DArray), left.(*tree.DArray))
}

// EvalOverlapsArrayOp implements tree.OpEvaluator: array && array.
func (ev *evaluator) EvalOverlapsArrayOp(
	ctx context.Context, _ *tree.OverlapsArrayOp, left, right tree.Datum,
) (tree.Datum, error) {
	return tree.ArrayOverlaps(ctx, ev, left.(*tree.DArray), right.(*tree.DArray))
}

// EvalContainsJsonbOp implements tree.OpEvaluator: jsonb @> jsonb.
func (ev *evaluator) EvalContainsJsonbOp(
	_ context.Context, _ *tree.ContainsJsonbOp, left, right tree.Datum,
) (tree.Datum, error) {
	c, err := json.Contains(left.(*tree.DJSON).JSON, right.(*tree.DJSON).JSON)
	if err != nil {
		return nil, err
	}
	return tree.MakeDBool(tree.DBool(c)), nil
}

// EvalContainedByJsonbOp implements tree.OpEvaluator: jsonb <@ jsonb.
func (ev *evaluator) EvalContainedByJsonbOp(
	_ context.Context, _ *tree.ContainedByJsonbOp, left, right tree.Datum,
) (tree.Datum, error) {
	c, err := json.Contains(right.(*tree.DJSON).JSON, left.(*tree.DJSON).JSON)
	if err != nil {
		return nil, err
	}
	return tree.MakeDBool(tree.DBool(c)), nil
}

// EvalJSONExistsOp implements tree.OpEvaluator: jsonb ? text.
func (ev *evaluator) EvalJSONExistsOp(
	_ context.Context, _ *tree.JSONExistsOp, left, right tree.Datum,
) (tree.Datum, error) {
	e, err := left.(*tree.DJSON).JSON.Exists(stringOf(right))
	if err != nil {
		return nil, err
	}
	return tree.MakeDBool(tree.DBool(e)), nil
}

// EvalJSONSomeExistsOp implements tree.OpEvaluator: jsonb ?| text[].
func (ev *evaluator) EvalJSONSomeExistsOp(
	_ context.Context, _ *tree.JSONSomeExistsOp, left, right tree.Datum,
) (tree.Datum, error) {
	return tree.JSONExistsAny(*left.(*tree.DJSON), right.(*tree.DArray))
}

// EvalJSONAllExistsOp implements tree.OpEvaluator: jsonb ?& text[].
func (ev *evaluator) EvalJSONAllExistsOp(
	_ context.Context, _ *tree.JSONAllExistsOp, left, right tree.Datum,
) (tree.Datum, error) {
	j := left.(*tree.DJSON).JSON
	for _, k := range right.(*tree.DArray).Array {
		if k == tree.DNull {
			continue
		}
		e, err := j.Exists(stringOf(k))
		if err != nil {
			return nil, err
		}
		if !e {
			return tree.DBoolFalse, nil
		}
	}
	return tree.DBoolTrue, nil
}

// stringOf returns the contents of a string-like datum.
func stringOf(d tree.Datum) string {
	switch v := d.(type) {
	case *tree.DString:
		return string(*v)
	case *tree.DCollatedString:
		return v.Contents
	case *tree.DOidWrapper:
		return stringOf(v.Wrapped)
	}
	return string(tree.MustBeDString(d))
}
