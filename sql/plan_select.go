package sql

import (
	"context"
	"strings"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/vcdb/vcdb/sql/sem"
)

// planSelect plans a full SELECT statement: its body, then ORDER BY and
// LIMIT over the body's output. desired, when set, gives the wanted types
// of the output columns (INSERT ... VALUES uses it for literals).
func (p *planner) planSelect(ctx context.Context, sel *tree.Select, desired []*types.T) (planNode, error) {
	if sel.With != nil {
		return nil, unimplemented("WITH (common table expressions)")
	}
	switch body := sel.Select.(type) {
	case *tree.SelectClause:
		return p.planSelectClause(ctx, body, sel.OrderBy, sel.Limit, desired)
	case *tree.ParenSelect:
		inner, err := p.planSelect(ctx, body.Select, desired)
		if err != nil {
			return nil, err
		}
		return p.orderAndLimitOutput(ctx, inner, sel.OrderBy, sel.Limit)
	case *tree.UnionClause:
		n, err := p.planSetOp(ctx, body, desired)
		if err != nil {
			return nil, err
		}
		return p.orderAndLimitOutput(ctx, n, sel.OrderBy, sel.Limit)
	case *tree.ValuesClause:
		n, err := p.planValues(ctx, body, desired)
		if err != nil {
			return nil, err
		}
		return p.orderAndLimitOutput(ctx, n, sel.OrderBy, sel.Limit)
	default:
		return nil, unimplemented(strings.ToLower(sel.Select.StatementTag()))
	}
}

// orderAndLimitOutput applies ORDER BY and LIMIT to a node's output columns
// (UNION, VALUES, parenthesized selects).
func (p *planner) orderAndLimitOutput(
	ctx context.Context, n planNode, orderBy tree.OrderBy, limit *tree.Limit,
) (planNode, error) {
	if len(orderBy) > 0 {
		sc := scopeFromColumns(n.columns(), "")
		var ordering []sortColumn
		for _, o := range orderBy {
			idx, err := p.outputColumnForOrder(ctx, o, sc.cols, len(sc.cols))
			if err != nil {
				return nil, err
			}
			if idx < 0 {
				typed, err := p.typeCheck(ctx, o.Expr, sc, "ORDER BY", types.AnyElement)
				if err != nil {
					return nil, err
				}
				iv, ok := typed.(*tree.IndexedVar)
				if !ok {
					return nil, unimplemented("ORDER BY an expression over a set operation")
				}
				idx = iv.Idx
			}
			ordering = append(ordering, makeSortColumn(idx, o))
		}
		n = &sortNode{src: n, ordering: ordering}
	}
	return p.planLimit(ctx, n, limit)
}

// planSelectClause plans SELECT ... FROM ... WHERE ... GROUP BY ... HAVING
// with its ORDER BY and LIMIT.
func (p *planner) planSelectClause(
	ctx context.Context, clause *tree.SelectClause, orderBy tree.OrderBy, limit *tree.Limit, desired []*types.T,
) (planNode, error) {
	if len(clause.Window) > 0 {
		return nil, unimplemented("window functions")
	}
	if clause.From.AsOf.Expr != nil && &clause.From.AsOf != p.asOf {
		return nil, pgerror.Newf(pgcode.Syntax, "AS OF SYSTEM TIME must be provided on a top-level statement")
	}
	src, sc, err := p.planFrom(ctx, clause.From.Tables)
	if err != nil {
		return nil, err
	}
	if clause.Where != nil {
		filter, err := p.typeCheckFilter(ctx, clause.Where.Expr, sc, "WHERE")
		if err != nil {
			return nil, err
		}
		src = p.addFilter(src, filter)
	}

	// Grouping: an aggregate anywhere in the select list, HAVING or ORDER
	// BY, or a GROUP BY clause, makes every later expression resolve
	// against the groups.
	var agg *aggregation
	if len(clause.GroupBy) > 0 || clause.Having != nil || p.hasAggregates(clause.Exprs, orderBy) {
		agg = newAggregation(p, sc)
		if err := agg.addGroupBy(ctx, clause.GroupBy, clause.Exprs); err != nil {
			return nil, err
		}
	}

	// The select list.
	r := &renderBuilder{p: p, sc: sc, agg: agg}
	for i, se := range clause.Exprs {
		var want *types.T
		if i < len(desired) {
			want = desired[i]
		}
		if err := r.addSelectExpr(ctx, se, want); err != nil {
			return nil, err
		}
	}
	numVisible := len(r.exprs)

	var having tree.TypedExpr
	if clause.Having != nil {
		having, err = agg.typeCheckPostAgg(ctx, clause.Having.Expr, "HAVING", types.Bool)
		if err != nil {
			return nil, err
		}
	}

	// ORDER BY: output columns by position or name, else expressions over
	// the input, computed as extra hidden render columns.
	var ordering []sortColumn
	for _, o := range orderBy {
		if o.OrderType != tree.OrderByColumn {
			return nil, unimplemented("ORDER BY INDEX")
		}
		idx, err := p.outputColumnForOrder(ctx, o, r.scopeCols(), numVisible)
		if err != nil {
			return nil, err
		}
		if idx < 0 {
			idx, err = r.addHiddenExpr(ctx, o.Expr, "ORDER BY")
			if err != nil {
				return nil, err
			}
			if clause.Distinct && idx >= numVisible && clause.DistinctOn == nil {
				return nil, pgerror.Newf(pgcode.InvalidColumnReference,
					"for SELECT DISTINCT, ORDER BY expressions must appear in select list")
			}
		}
		ordering = append(ordering, makeSortColumn(idx, o))
	}

	// DISTINCT ON keys are expressions too.
	var distinctOn []int
	for _, e := range clause.DistinctOn {
		idx, err := p.outputColumnForOrder(ctx, &tree.Order{Expr: e}, r.scopeCols(), numVisible)
		if err != nil {
			return nil, err
		}
		if idx < 0 {
			if idx, err = r.addHiddenExpr(ctx, e, "DISTINCT ON"); err != nil {
				return nil, err
			}
		}
		distinctOn = append(distinctOn, idx)
	}

	if scan, ok := src.(*scanNode); ok {
		// The columns the rest of the plan reads from the scan.
		var used []tree.TypedExpr
		if agg != nil {
			used = append(used, agg.groupExprs...)
			for _, a := range agg.aggs {
				used = append(used, a.args...)
				if a.filter != nil {
					used = append(used, a.filter)
				}
			}
		} else {
			used = r.exprs
		}
		scan.setNeeded(used)
	}
	var n planNode = src
	if agg != nil {
		n = agg.node(src)
		if having != nil {
			n = &filterNode{src: n, filter: having}
		}
	}
	n = r.node(n)
	if len(ordering) > 0 {
		n = p.addSort(n, ordering)
	}
	if clause.Distinct {
		keys := distinctOn
		if keys == nil {
			for i := 0; i < numVisible; i++ {
				keys = append(keys, i)
			}
		}
		n = &distinctNode{src: n, keys: keys}
	}
	n, err = p.planLimit(ctx, n, limit)
	if err != nil {
		return nil, err
	}
	if len(r.exprs) > numVisible {
		n = projectPrefix(n, numVisible)
	}
	return n, nil
}

// hasAggregates reports whether the select list or ORDER BY calls an
// aggregate (outside subqueries).
func (p *planner) hasAggregates(exprs tree.SelectExprs, orderBy tree.OrderBy) bool {
	found := false
	visit := func(e tree.Expr) {
		tree.WalkExprConst(aggFinder{found: &found}, e)
	}
	for _, se := range exprs {
		visit(se.Expr)
	}
	for _, o := range orderBy {
		if o.Expr != nil {
			visit(o.Expr)
		}
	}
	return found
}

type aggFinder struct{ found *bool }

func (f aggFinder) VisitPre(expr tree.Expr) (bool, tree.Expr) {
	switch t := expr.(type) {
	case *tree.Subquery:
		return false, expr
	case *tree.FuncExpr:
		if name, ok := funcName(t); ok && t.WindowDef == nil && sem.IsAggregate(name) {
			*f.found = true
			return false, expr
		}
	}
	return true, expr
}

func (f aggFinder) VisitPost(expr tree.Expr) tree.Expr { return expr }

// outputColumnForOrder finds the output column an ORDER BY item names: a
// 1-based position or the name of a select-list column. It returns -1 when
// the item is an expression to compute.
func (p *planner) outputColumnForOrder(
	ctx context.Context, o *tree.Order, cols []scopeColumn, numVisible int,
) (int, error) {
	switch t := o.Expr.(type) {
	case *tree.NumVal:
		pos, err := t.AsInt64()
		if err != nil {
			return 0, pgerror.Newf(pgcode.Syntax, "non-integer constant in ORDER BY: %s", t)
		}
		if pos < 1 || int(pos) > numVisible {
			return 0, pgerror.Newf(pgcode.InvalidColumnReference,
				"ORDER BY position %d is not in select list", pos)
		}
		return int(pos) - 1, nil
	case *tree.UnresolvedName:
		if t.NumParts != 1 || t.Star {
			return -1, nil
		}
		found := -1
		for i := 0; i < numVisible; i++ {
			if cols[i].name == t.Parts[0] {
				if found >= 0 {
					return 0, pgerror.Newf(pgcode.AmbiguousColumn, "ORDER BY %q is ambiguous", t.Parts[0])
				}
				found = i
			}
		}
		return found, nil
	}
	return -1, nil
}

func makeSortColumn(idx int, o *tree.Order) sortColumn {
	sc := sortColumn{idx: idx, desc: o.Direction == tree.Descending}
	// CockroachDB sorts NULLs first ascending and last descending.
	sc.nullsFirst = !sc.desc
	switch o.NullsOrder {
	case tree.NullsFirst:
		sc.nullsFirst = true
	case tree.NullsLast:
		sc.nullsFirst = false
	}
	return sc
}

// planLimit adds LIMIT/OFFSET.
func (p *planner) planLimit(ctx context.Context, n planNode, limit *tree.Limit) (planNode, error) {
	if limit == nil || (limit.Count == nil && limit.Offset == nil) {
		return n, nil
	}
	ln := &limitNode{src: n}
	var err error
	if limit.Count != nil && !limit.LimitAll {
		if ln.count, err = p.typeCheck(ctx, limit.Count, nil, "LIMIT", types.Int); err != nil {
			return nil, err
		}
		if err := requireInt(ln.count, "LIMIT"); err != nil {
			return nil, err
		}
	}
	if limit.Offset != nil {
		if ln.offset, err = p.typeCheck(ctx, limit.Offset, nil, "OFFSET", types.Int); err != nil {
			return nil, err
		}
		if err := requireInt(ln.offset, "OFFSET"); err != nil {
			return nil, err
		}
	}
	if c, ok := ln.count.(*tree.DInt); ok && ln.offset == nil {
		setLimitHint(n, int(*c))
	}
	return ln, nil
}

func requireInt(e tree.TypedExpr, clause string) error {
	if f := e.ResolvedType().Family(); f != types.IntFamily && f != types.UnknownFamily {
		return pgerror.Newf(pgcode.DatatypeMismatch,
			"argument of %s must be type int, not type %s", clause, e.ResolvedType().String())
	}
	return nil
}

// setLimitHint tells a scan under renders that only the first l rows are
// needed, so that it reads one small batch.
func setLimitHint(n planNode, l int) {
	for {
		switch t := n.(type) {
		case *renderNode:
			n = t.src
		case *projectNode:
			n = t.src
		case *scanNode:
			t.setLimitHint(l)
			return
		default:
			return
		}
	}
}
