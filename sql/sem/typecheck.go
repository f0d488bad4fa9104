package sem

import (
	"context"
	"strings"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/cockroachdb/errors"
)

// NewSemaContext returns a SemaContext whose function resolution uses
// vcdb's builtins (registered in the parser module's tables at init). The
// caller sets IVarContainer (column types) and Placeholders
// (Placeholders.Init with the client's type hints), and may set
// Properties.Require to reject aggregates, subqueries, ... in a clause.
// String constants are parsed while type checking, so the caller also
// copies the session's DateStyle and IntervalStyle into it (SemaContextFor
// does all of this from a Context).
func NewSemaContext() *tree.SemaContext {
	s := tree.MakeSemaContext(nil)
	return &s
}

// SemaContextFor is NewSemaContext with the session's date and interval
// styles taken from ec.
func SemaContextFor(ec *Context) *tree.SemaContext {
	s := NewSemaContext()
	if ec != nil {
		s.DateStyle, s.IntervalStyle = ec.DateStyle, ec.IntervalStyle
	}
	return s
}

// TypeCheck type-checks expr. Column references must already be replaced
// by *tree.IndexedVar whose types come from sema.IVarContainer, and
// subqueries must carry their type (tree.Subquery.SetType). desired is a
// hint for untyped constants and placeholders (nil means no preference):
// the result may have another type, so use TypeCheckAndRequire when it
// must have this one.
//
// Before handing expr to the parser module's type checker, TypeCheck
// rewrites count(*) into count_rows(), the zero-argument aggregate that
// counts rows (the grammar has no other representation for *).
func TypeCheck(
	ctx context.Context, expr tree.Expr, sema *tree.SemaContext, desired *types.T,
) (_ tree.TypedExpr, retErr error) {
	defer recoverInternal(&retErr)
	if desired == nil {
		desired = types.AnyElement
	}
	expr, err := prepareForTypeCheck(expr)
	if err != nil {
		return nil, err
	}
	typed, err := tree.TypeCheck(ctx, expr, sema, desired)
	if code := pgerror.GetPGCode(err); err != nil && desired.Family() != types.AnyFamily &&
		(code == pgcode.InvalidParameterValue || code == pgcode.UndefinedFunction) {
		// desired is only a hint. When it cannot be met (WHERE 1 + 1), the
		// parser module reports an overload failure ("unsupported binary
		// operator: <int> + <int> (returning <bool>)"); type the expression
		// on its own instead, so that the caller reports the mismatch the
		// way PostgreSQL does ("argument of WHERE must be type bool").
		if retyped, retryErr := tree.TypeCheck(ctx, expr, sema, types.AnyElement); retryErr == nil {
			return retyped, nil
		}
	}
	return typed, err
}

// TypeCheckAndRequire is TypeCheck that also requires the result to be of
// type required (or NULL); op names the clause in the 42804 error, as in
// "argument of WHERE must be type bool, not type int".
func TypeCheckAndRequire(
	ctx context.Context, expr tree.Expr, sema *tree.SemaContext, required *types.T, op string,
) (tree.TypedExpr, error) {
	typed, err := TypeCheck(ctx, expr, sema, required)
	if err != nil {
		return nil, err
	}
	if typ := typed.ResolvedType(); !(typ.Equivalent(required) || typ.Family() == types.UnknownFamily) {
		return nil, pgerror.Newf(pgcode.DatatypeMismatch,
			"argument of %s must be type %s, not type %s", op, required, typ)
	}
	return typed, nil
}

// prepareForTypeCheck rewrites count(*) and rejects nodes the parser
// module's type checker would panic on.
func prepareForTypeCheck(expr tree.Expr) (tree.Expr, error) {
	return tree.SimpleVisit(expr, func(e tree.Expr) (bool, tree.Expr, error) {
		switch t := e.(type) {
		case *tree.FuncExpr:
			if len(t.Exprs) == 1 && isStar(t.Exprs[0]) && strings.EqualFold(t.Func.String(), "count") {
				c := *t
				c.Func = tree.WrapFunction("count_rows")
				c.Exprs = nil
				if c.Type == tree.DistinctFuncType {
					return false, nil, pgerror.New(pgcode.Syntax, "COUNT(DISTINCT *) is not supported")
				}
				return true, &c, nil
			}
		case *tree.Subquery:
			if t.ResolvedType() == types.AnyElement {
				return false, nil, errors.AssertionFailedf("subquery %s was not planned before type checking", t)
			}
		}
		return true, e, nil
	})
}

func isStar(e tree.Expr) bool {
	switch t := e.(type) {
	case tree.UnqualifiedStar:
		return true
	case *tree.UnresolvedName:
		return t.Star && t.NumParts == 1
	}
	return false
}
