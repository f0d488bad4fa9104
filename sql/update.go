package sql

import (
	"context"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/privilege"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
)

// updateNode is UPDATE: it reads the target rows first (so that its own
// writes never feed back into its scan), then rewrites each.
type updateNode struct {
	w       *tableWriter
	source  planNode // rows of the table (all columns)
	setCols []int
	set     []tree.TypedExpr
	ret     *returningSpec
}

func (n *updateNode) columns() []resultColumn {
	if n.ret == nil {
		return nil
	}
	return n.ret.cols
}

func (n *updateNode) explain(e *explainer) {
	e.line("update " + n.w.codec.table.Name)
	e.child(func() { n.source.explain(e) })
}

// planMutationSource plans the rows an UPDATE or DELETE touches: a scan
// with the WHERE filter (choosing an index), then ORDER BY and LIMIT.
func (p *planner) planMutationSource(
	ctx context.Context, codec *tableCodec, alias string, where *tree.Where, orderBy tree.OrderBy, limit *tree.Limit, verb string,
) (planNode, *scope, error) {
	if where == nil && p.s.data.safeUpdates {
		return nil, nil, pgerror.Newf(pgcode.Warning, "rejected (sql_safe_updates = true): %s without WHERE clause", verb)
	}
	scan := newScanNode(codec, alias)
	sc := tableScope(codec.table, alias)
	var n planNode = scan
	if where != nil {
		filter, err := p.typeCheckFilter(ctx, where.Expr, sc, "WHERE")
		if err != nil {
			return nil, nil, err
		}
		n = p.addFilter(n, filter)
	}
	if len(orderBy) > 0 {
		var ordering []sortColumn
		for _, o := range orderBy {
			typed, err := p.typeCheck(ctx, o.Expr, sc, "ORDER BY", nil)
			if err != nil {
				return nil, nil, err
			}
			iv, ok := typed.(*tree.IndexedVar)
			if !ok {
				return nil, nil, unimplemented("ORDER BY an expression in " + verb)
			}
			ordering = append(ordering, makeSortColumn(iv.Idx, o))
		}
		n = p.addSort(n, ordering)
	}
	n, err := p.planLimit(ctx, n, limit)
	if err != nil {
		return nil, nil, err
	}
	return n, sc, nil
}

func (p *planner) planUpdate(ctx context.Context, up *tree.Update) (planNode, error) {
	if up.With != nil {
		return nil, unimplemented("WITH")
	}
	if len(up.From) > 0 {
		return nil, unimplemented("UPDATE ... FROM")
	}
	p.writes = true
	t, alias, err := p.targetTable(up.Table, privilege.UPDATE, privilege.SELECT)
	if err != nil {
		return nil, err
	}
	codec := newTableCodec(p.s.srv.keys, t)
	w, err := p.newTableWriter(ctx, codec)
	if err != nil {
		return nil, err
	}
	src, sc, err := p.planMutationSource(ctx, codec, alias, up.Where, up.OrderBy, up.Limit, "UPDATE")
	if err != nil {
		return nil, err
	}
	n := &updateNode{w: w, source: src}
	defaults, err := p.defaultExprs(ctx, t)
	if err != nil {
		return nil, err
	}
	seen := map[int]bool{}
	for _, ue := range up.Exprs {
		var exprs []tree.Expr
		if ue.Tuple {
			switch tup := ue.Expr.(type) {
			case *tree.Tuple:
				exprs = tup.Exprs
			default:
				return nil, unimplemented("assigning a subquery to a column tuple")
			}
			if len(exprs) != len(ue.Names) {
				return nil, pgerror.Newf(pgcode.Syntax, "number of columns (%d) does not match number of values (%d)", len(ue.Names), len(exprs))
			}
		} else {
			exprs = []tree.Expr{ue.Expr}
		}
		for i, name := range ue.Names {
			col := t.ColumnByName(string(name))
			if col == nil {
				return nil, pgerror.Newf(pgcode.UndefinedColumn, "column %q does not exist", string(name))
			}
			o := t.ColumnOrdinal(col.ID)
			if seen[o] {
				return nil, pgerror.Newf(pgcode.Syntax, "multiple assignments to the same column %q", string(name))
			}
			seen[o] = true
			var typed tree.TypedExpr
			if _, ok := exprs[i].(tree.DefaultVal); ok {
				typed = defaults[o]
				if typed == nil {
					typed = tree.DNull
				}
			} else {
				if typed, err = p.typeCheck(ctx, exprs[i], sc, "UPDATE", col.Type); err != nil {
					return nil, err
				}
				if err := checkAssignable(typed.ResolvedType(), col); err != nil {
					return nil, err
				}
			}
			n.setCols = append(n.setCols, o)
			n.set = append(n.set, typed)
		}
	}
	if n.ret, err = p.planReturning(ctx, up.Returning, t, alias); err != nil {
		return nil, err
	}
	return n, nil
}

func (n *updateNode) start(ctx context.Context, r *runParams) (rowIter, error) {
	return &mutationIter{run: func(ctx context.Context) ([]tree.Datums, error) {
		rows, err := drain(ctx, r, n.source)
		if err != nil {
			return nil, err
		}
		var out []tree.Datums
		for _, old := range rows {
			updated := append(tree.Datums(nil), old...)
			for i, o := range n.setCols {
				d, err := r.eval(ctx, n.set[i], old)
				if err != nil {
					return nil, err
				}
				if updated[o], err = n.w.assignCast(ctx, r, d, o); err != nil {
					return nil, err
				}
			}
			if err := n.w.update(ctx, r, old, updated); err != nil {
				return nil, err
			}
			r.rowsAffected++
			if n.ret != nil {
				ret, err := n.ret.project(ctx, r, updated)
				if err != nil {
					return nil, err
				}
				out = append(out, ret)
			}
		}
		return out, nil
	}}, nil
}

// deleteNode is DELETE.
type deleteNode struct {
	w      *tableWriter
	source planNode
	ret    *returningSpec
}

func (n *deleteNode) columns() []resultColumn {
	if n.ret == nil {
		return nil
	}
	return n.ret.cols
}

func (n *deleteNode) explain(e *explainer) {
	e.line("delete " + n.w.codec.table.Name)
	e.child(func() { n.source.explain(e) })
}

func (p *planner) planDelete(ctx context.Context, del *tree.Delete) (planNode, error) {
	if del.With != nil {
		return nil, unimplemented("WITH")
	}
	if len(del.Using) > 0 {
		return nil, unimplemented("DELETE ... USING")
	}
	if del.Batch != nil {
		return nil, unimplemented("DELETE BATCH")
	}
	p.writes = true
	t, alias, err := p.targetTable(del.Table, privilege.DELETE, privilege.SELECT)
	if err != nil {
		return nil, err
	}
	codec := newTableCodec(p.s.srv.keys, t)
	src, _, err := p.planMutationSource(ctx, codec, alias, del.Where, del.OrderBy, del.Limit, "DELETE")
	if err != nil {
		return nil, err
	}
	n := &deleteNode{w: &tableWriter{codec: codec}, source: src}
	if n.ret, err = p.planReturning(ctx, del.Returning, t, alias); err != nil {
		return nil, err
	}
	return n, nil
}

func (n *deleteNode) start(ctx context.Context, r *runParams) (rowIter, error) {
	return &mutationIter{run: func(ctx context.Context) ([]tree.Datums, error) {
		rows, err := drain(ctx, r, n.source)
		if err != nil {
			return nil, err
		}
		var out []tree.Datums
		for _, row := range rows {
			if err := n.w.delete(ctx, r, row); err != nil {
				return nil, err
			}
			r.rowsAffected++
			if n.ret != nil {
				ret, err := n.ret.project(ctx, r, row)
				if err != nil {
					return nil, err
				}
				out = append(out, ret)
			}
		}
		return out, nil
	}}, nil
}
