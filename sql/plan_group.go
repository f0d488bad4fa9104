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

// aggregation plans GROUP BY and aggregate functions. Expressions after
// grouping (select list, HAVING, ORDER BY) resolve against postScope: the
// group-by expressions followed by the aggregate results. A subexpression
// that equals a GROUP BY expression becomes a reference to it; any other
// column reference is an error (42803), as in PostgreSQL.
type aggregation struct {
	p  *planner
	in *scope

	groupExprs []tree.TypedExpr
	groupKeys  []string
	aggs       []aggSpec
	aggKeys    []string
	postScope  *scope
}

// aggSpec is one aggregate call.
type aggSpec struct {
	name string
	// star is count(*): no arguments, counts rows.
	star     bool
	args     []tree.TypedExpr
	argTypes []*types.T
	distinct bool
	filter   tree.TypedExpr
	typ      *types.T
	desc     string
}

func newAggregation(p *planner, in *scope) *aggregation {
	return &aggregation{p: p, in: in, postScope: &scope{}}
}

// addGroupBy plans the GROUP BY list. Positions and select-list aliases
// refer to select-list expressions, as in PostgreSQL.
func (a *aggregation) addGroupBy(ctx context.Context, groupBy tree.GroupBy, selectExprs tree.SelectExprs) error {
	for _, g := range groupBy {
		e := g
		switch t := g.(type) {
		case *tree.NumVal:
			pos, err := t.AsInt64()
			if err == nil {
				if pos < 1 || int(pos) > len(selectExprs) {
					return pgerror.Newf(pgcode.InvalidColumnReference, "GROUP BY position %d is not in select list", pos)
				}
				e = selectExprs[pos-1].Expr
			}
		case *tree.UnresolvedName:
			if t.NumParts == 1 && !t.Star {
				if _, err := a.in.resolveColumn(t); err != nil {
					for _, se := range selectExprs {
						if string(se.As) == t.Parts[0] {
							e = se.Expr
							break
						}
					}
				}
			}
		}
		resolved, err := a.p.resolve(ctx, e, a.in, "GROUP BY")
		if err != nil {
			return err
		}
		// The key is taken before type checking, which rewrites parts of
		// the expression in place.
		key := exprKey(resolved)
		typed, err := a.p.typeCheckResolved(ctx, resolved, a.in, types.AnyElement)
		if err != nil {
			return err
		}
		dup := false
		for _, k := range a.groupKeys {
			if k == key {
				dup = true
			}
		}
		if dup {
			continue
		}
		a.groupExprs = append(a.groupExprs, typed)
		a.groupKeys = append(a.groupKeys, key)
		col := scopeColumn{resultColumn: resultColumn{name: "?column?", typ: typed.ResolvedType()}}
		if iv, ok := typed.(*tree.IndexedVar); ok {
			col = a.in.cols[iv.Idx]
		}
		a.postScope.cols = append(a.postScope.cols, col)
	}
	return nil
}

// typeCheckPostAgg resolves and type-checks an expression evaluated after
// grouping.
func (a *aggregation) typeCheckPostAgg(ctx context.Context, e tree.Expr, clause string, desired *types.T) (tree.TypedExpr, error) {
	v := &postAggVisitor{ctx: ctx, a: a, clause: clause}
	out, _ := tree.WalkExpr(v, e)
	if v.err != nil {
		return nil, v.err
	}
	return a.p.typeCheckResolved(ctx, out, a.postScope, desired)
}

type postAggVisitor struct {
	ctx    context.Context
	a      *aggregation
	clause string
	err    error
}

func (v *postAggVisitor) VisitPre(expr tree.Expr) (bool, tree.Expr) {
	if v.err != nil {
		return false, expr
	}
	a := v.a
	switch t := expr.(type) {
	case *tree.Subquery:
		if err := a.p.withOuter(a.in, func() error { return a.p.planSubquery(v.ctx, t) }); err != nil {
			v.err = err
		}
		return false, expr
	case *tree.ComparisonExpr:
		if sub, ok := t.Right.(*tree.Subquery); ok && takesRows(t.Operator.Symbol) {
			if err := a.p.withOuter(a.in, func() error { return a.p.planSubqueryMode(v.ctx, sub, subqueryRows) }); err != nil {
				v.err = err
				return false, expr
			}
		}
	case *tree.FuncExpr:
		if name, ok := funcName(t); ok && t.WindowDef == nil && sem.IsAggregate(name) {
			iv, err := a.addAggregate(v.ctx, t, name)
			if err != nil {
				v.err = err
				return false, expr
			}
			return false, iv
		}
	case tree.Datum, *tree.NumVal, *tree.StrVal, *tree.Placeholder:
		return false, expr
	}
	// Does the whole subexpression match a GROUP BY expression?
	if !containsAggregate(expr) {
		resolved, err := a.p.resolve(v.ctx, expr, a.in, v.clause)
		if err != nil {
			v.err = err
			return false, expr
		}
		key := exprKey(resolved)
		for i, k := range a.groupKeys {
			if k == key {
				return false, tree.NewTypedOrdinalReference(i, a.postScope.cols[i].typ)
			}
		}
		if un, ok := expr.(*tree.UnresolvedName); ok {
			idx, _ := a.in.resolveColumn(un)
			c := a.in.cols[idx]
			name := c.name
			if c.table != "" {
				name = c.table + "." + c.name
			}
			v.err = pgerror.Newf(pgcode.Grouping,
				"column %q must appear in the GROUP BY clause or be used in an aggregate function", name)
			return false, expr
		}
	}
	return true, expr
}

func (v *postAggVisitor) VisitPost(expr tree.Expr) tree.Expr { return expr }

func containsAggregate(e tree.Expr) bool {
	found := false
	tree.WalkExprConst(aggFinder{found: &found}, e)
	return found
}

// addAggregate plans an aggregate call and returns the reference to its
// result in postScope.
func (a *aggregation) addAggregate(ctx context.Context, f *tree.FuncExpr, name string) (*tree.IndexedVar, error) {
	if len(f.OrderBy) > 0 {
		return nil, unimplemented("ORDER BY inside an aggregate")
	}
	spec := aggSpec{name: name, distinct: f.Type == tree.DistinctFuncType}
	var typ *types.T
	if len(f.Exprs) == 1 {
		if _, ok := f.Exprs[0].(tree.UnqualifiedStar); ok {
			if name != "count" {
				return nil, pgerror.Newf(pgcode.Syntax, "%s(*) is not valid", name)
			}
			spec.star = true
			typ = types.Int
		}
	}
	if !spec.star {
		cp := *f
		cp.Exprs = make(tree.Exprs, len(f.Exprs))
		cp.Filter = nil
		for i, arg := range f.Exprs {
			if containsAggregate(arg) {
				return nil, pgerror.Newf(pgcode.Grouping, "aggregate function calls cannot be nested")
			}
			resolved, err := a.p.resolve(ctx, arg, a.in, "aggregate arguments")
			if err != nil {
				return nil, err
			}
			cp.Exprs[i] = resolved
		}
		typed, err := a.p.typeCheckResolved(ctx, &cp, a.in, types.AnyElement)
		if err != nil {
			return nil, err
		}
		tf, ok := typed.(*tree.FuncExpr)
		if !ok {
			return nil, pgerror.Newf(pgcode.Internal, "aggregate %s did not type-check to a function call", name)
		}
		typ = tf.ResolvedType()
		for _, e := range tf.Exprs {
			te := e.(tree.TypedExpr)
			spec.args = append(spec.args, te)
			spec.argTypes = append(spec.argTypes, te.ResolvedType())
		}
	}
	if f.Filter != nil {
		filter, err := a.p.typeCheckFilter(ctx, f.Filter, a.in, "FILTER")
		if err != nil {
			return nil, err
		}
		spec.filter = filter
	}
	spec.typ = typ
	parts := make([]string, len(spec.args))
	for i, e := range spec.args {
		parts[i] = formatExpr(e, a.in.resultColumns())
	}
	if spec.star {
		parts = []string{"*"}
	}
	prefix := ""
	if spec.distinct {
		prefix = "DISTINCT "
	}
	spec.desc = name + "(" + prefix + strings.Join(parts, ", ") + ")"
	key := spec.desc
	if spec.filter != nil {
		key += " FILTER " + exprKey(spec.filter)
	}
	for i, k := range a.aggKeys {
		if k == key {
			return tree.NewTypedOrdinalReference(len(a.groupExprs)+i, typ), nil
		}
	}
	// The first aggregate freezes the group columns: later GROUP BY items
	// are impossible, so appending results after them is safe.
	a.aggs = append(a.aggs, spec)
	a.aggKeys = append(a.aggKeys, key)
	a.postScope.cols = append(a.postScope.cols, scopeColumn{resultColumn: resultColumn{name: name, typ: typ}})
	return tree.NewTypedOrdinalReference(len(a.groupExprs)+len(a.aggs)-1, typ), nil
}

// node returns the grouping operator over src.
func (a *aggregation) node(src planNode) planNode {
	return &groupNode{src: src, groupExprs: a.groupExprs, aggs: a.aggs, cols: a.postScope.resultColumns()}
}

// groupNode computes aggregates per group (hash aggregation). Its rows are
// the group-by values followed by the aggregate results; groups come out
// in the order they were first seen.
type groupNode struct {
	src        planNode
	groupExprs []tree.TypedExpr
	aggs       []aggSpec
	cols       []resultColumn
}

func (n *groupNode) columns() []resultColumn { return n.cols }

func (n *groupNode) explain(e *explainer) {
	in := n.src.columns()
	var parts []string
	for _, g := range n.groupExprs {
		parts = append(parts, formatExpr(g, in))
	}
	line := "group"
	if len(parts) > 0 {
		line += " by " + strings.Join(parts, ", ")
	}
	var aggs []string
	for _, a := range n.aggs {
		aggs = append(aggs, a.desc)
	}
	if len(aggs) > 0 {
		line += " aggregates: " + strings.Join(aggs, ", ")
	}
	e.line(line)
	e.child(func() { n.src.explain(e) })
}

type groupState struct {
	key      tree.Datums
	aggs     []sem.Aggregate
	counts   []int64
	distinct []map[string]struct{}
}

func (n *groupNode) newGroup(key tree.Datums) (*groupState, error) {
	g := &groupState{key: key, aggs: make([]sem.Aggregate, len(n.aggs)), counts: make([]int64, len(n.aggs)),
		distinct: make([]map[string]struct{}, len(n.aggs))}
	for i := range n.aggs {
		spec := &n.aggs[i]
		if spec.distinct {
			g.distinct[i] = map[string]struct{}{}
		}
		if spec.star {
			continue
		}
		agg, err := sem.NewAggregate(spec.name, spec.argTypes)
		if err != nil {
			return nil, err
		}
		g.aggs[i] = agg
	}
	return g, nil
}

func (n *groupNode) start(ctx context.Context, r *runParams) (rowIter, error) {
	src, err := n.src.start(ctx, r)
	if err != nil {
		return nil, err
	}
	defer src.close()
	groups := map[string]*groupState{}
	var order []*groupState
	var buf []byte
	args := make(tree.Datums, 0, 4)
	for count := 0; ; count++ {
		if count%1024 == 1023 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		row, err := src.next(ctx)
		if err != nil {
			return nil, err
		}
		if row == nil {
			break
		}
		buf = buf[:0]
		key := make(tree.Datums, len(n.groupExprs))
		for i, g := range n.groupExprs {
			if key[i], err = r.eval(ctx, g, row); err != nil {
				return nil, err
			}
			if buf, err = hashKey(buf, key[i]); err != nil {
				return nil, err
			}
		}
		g, ok := groups[string(buf)]
		if !ok {
			if g, err = n.newGroup(key); err != nil {
				return nil, err
			}
			groups[string(buf)] = g
			order = append(order, g)
		}
		for i := range n.aggs {
			spec := &n.aggs[i]
			if ok, err := r.evalFilter(ctx, spec.filter, row); err != nil || !ok {
				if err != nil {
					return nil, err
				}
				continue
			}
			if spec.star {
				g.counts[i]++
				continue
			}
			args = args[:0]
			var dk []byte
			for _, e := range spec.args {
				d, err := r.eval(ctx, e, row)
				if err != nil {
					return nil, err
				}
				args = append(args, d)
				if spec.distinct {
					if dk, err = hashKey(dk, d); err != nil {
						return nil, err
					}
				}
			}
			if spec.distinct {
				if _, seen := g.distinct[i][string(dk)]; seen {
					continue
				}
				g.distinct[i][string(dk)] = struct{}{}
			}
			if err := g.aggs[i].Add(ctx, args); err != nil {
				return nil, err
			}
		}
	}
	if len(order) == 0 && len(n.groupExprs) == 0 {
		// Aggregates without GROUP BY produce one row even for no input.
		g, err := n.newGroup(nil)
		if err != nil {
			return nil, err
		}
		order = append(order, g)
	}
	rows := make([]tree.Datums, len(order))
	for i, g := range order {
		row := make(tree.Datums, 0, len(g.key)+len(g.aggs))
		row = append(row, g.key...)
		for j := range n.aggs {
			if n.aggs[j].star {
				row = append(row, tree.NewDInt(tree.DInt(g.counts[j])))
				continue
			}
			d, err := g.aggs[j].Result(ctx)
			if err != nil {
				return nil, err
			}
			row = append(row, d)
		}
		rows[i] = row
	}
	return &sliceIter{rows: rows}, nil
}
