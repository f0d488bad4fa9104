package sql

import (
	"context"
	"fmt"
	"strings"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/vcdb/vcdb/sql/catalog"
)

// valuesNode produces rows of typed expressions (VALUES), or fixed rows
// computed at planning time (EXPLAIN, SHOW).
type valuesNode struct {
	cols  []resultColumn
	rows  [][]tree.TypedExpr
	fixed []tree.Datums
}

func (n *valuesNode) columns() []resultColumn { return n.cols }
func (n *valuesNode) explain(e *explainer) {
	e.line(fmt.Sprintf("values: %d row%s", len(n.rows)+len(n.fixed), plural(len(n.rows)+len(n.fixed))))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func (n *valuesNode) start(ctx context.Context, r *runParams) (rowIter, error) {
	if n.fixed != nil || n.rows == nil {
		return &sliceIter{rows: n.fixed}, nil
	}
	rows := make([]tree.Datums, len(n.rows))
	for i, exprs := range n.rows {
		row := make(tree.Datums, len(exprs))
		for j, e := range exprs {
			d, err := r.eval(ctx, e, nil)
			if err != nil {
				return nil, err
			}
			row[j] = d
		}
		rows[i] = row
	}
	return &sliceIter{rows: rows}, nil
}

// planValues plans a VALUES clause; each column gets the common type of its
// expressions.
func (p *planner) planValues(ctx context.Context, v *tree.ValuesClause, desired []*types.T) (*valuesNode, error) {
	if len(v.Rows) == 0 {
		return &valuesNode{}, nil
	}
	width := len(v.Rows[0])
	for _, row := range v.Rows {
		if len(row) != width {
			return nil, pgerror.Newf(pgcode.Syntax, "VALUES lists must all be the same length")
		}
	}
	n := &valuesNode{rows: make([][]tree.TypedExpr, len(v.Rows))}
	for i := range n.rows {
		n.rows[i] = make([]tree.TypedExpr, width)
	}
	for j := 0; j < width; j++ {
		want := types.AnyElement
		if j < len(desired) && desired[j] != nil {
			want = desired[j]
		}
		col := make([]tree.Expr, len(v.Rows))
		for i, row := range v.Rows {
			if _, ok := row[j].(tree.DefaultVal); ok {
				return nil, pgerror.Newf(pgcode.Syntax, "DEFAULT can only appear in a VALUES list within INSERT or on the right side of a SET")
			}
			resolved, err := p.resolve(ctx, row[j], &scope{}, "VALUES")
			if err != nil {
				return nil, err
			}
			col[i] = resolved
		}
		typed, typ, err := p.typeCheckSame(ctx, col, want, "VALUES")
		if err != nil {
			return nil, err
		}
		for i := range typed {
			n.rows[i][j] = typed[i]
		}
		n.cols = append(n.cols, resultColumn{name: fmt.Sprintf("column%d", j+1), typ: typ})
	}
	return n, nil
}

// typeCheckSame type-checks resolved expressions to one common type.
func (p *planner) typeCheckSame(ctx context.Context, exprs []tree.Expr, desired *types.T, what string) ([]tree.TypedExpr, *types.T, error) {
	if len(exprs) == 1 {
		typed, err := p.typeCheckResolved(ctx, exprs[0], nil, desired)
		if err != nil {
			return nil, nil, err
		}
		return []tree.TypedExpr{typed}, typed.ResolvedType(), nil
	}
	// COALESCE's type checking finds the common type of its arguments the
	// way PostgreSQL resolves VALUES and UNION columns.
	co := &tree.CoalesceExpr{Name: what, Exprs: exprs}
	typed, err := p.typeCheckResolved(ctx, co, nil, desired)
	if err != nil {
		return nil, nil, err
	}
	tc := typed.(*tree.CoalesceExpr)
	out := make([]tree.TypedExpr, len(tc.Exprs))
	for i, e := range tc.Exprs {
		out[i] = e.(tree.TypedExpr)
	}
	return out, typed.ResolvedType(), nil
}

// setOpNode is UNION, INTERSECT or EXCEPT, with or without ALL.
type setOpNode struct {
	typ         tree.UnionType
	all         bool
	left, right planNode
	cols        []resultColumn
}

func (p *planner) planSetOp(ctx context.Context, u *tree.UnionClause, desired []*types.T) (planNode, error) {
	left, err := p.planSelect(ctx, u.Left, desired)
	if err != nil {
		return nil, err
	}
	right, err := p.planSelect(ctx, u.Right, desired)
	if err != nil {
		return nil, err
	}
	lc, rc := left.columns(), right.columns()
	if len(lc) != len(rc) {
		return nil, pgerror.Newf(pgcode.Syntax, "each %s query must have the same number of columns: %d vs %d",
			u.Type, len(lc), len(rc))
	}
	cols := make([]resultColumn, len(lc))
	for i := range lc {
		lt, rt := lc[i].typ, rc[i].typ
		typ := lt
		switch {
		case lt.Family() == types.UnknownFamily:
			typ = rt
		case rt.Family() == types.UnknownFamily:
		case !lt.Equivalent(rt):
			return nil, pgerror.Newf(pgcode.DatatypeMismatch, "%s types %s and %s cannot be matched",
				u.Type, lt.String(), rt.String())
		}
		cols[i] = resultColumn{name: lc[i].name, typ: typ}
	}
	return &setOpNode{typ: u.Type, all: u.All, left: left, right: right, cols: cols}, nil
}

func (n *setOpNode) columns() []resultColumn { return n.cols }
func (n *setOpNode) explain(e *explainer) {
	line := strings.ToLower(n.typ.String())
	if n.all {
		line += " all"
	}
	e.line(line)
	e.child(func() {
		n.left.explain(e)
		n.right.explain(e)
	})
}

func (n *setOpNode) start(ctx context.Context, r *runParams) (rowIter, error) {
	left, err := drain(ctx, r, n.left)
	if err != nil {
		return nil, err
	}
	right, err := drain(ctx, r, n.right)
	if err != nil {
		return nil, err
	}
	key := func(row tree.Datums) (string, error) {
		var b []byte
		var err error
		for _, d := range row {
			if b, err = hashKey(b, d); err != nil {
				return "", err
			}
		}
		return string(b), nil
	}
	var out []tree.Datums
	switch n.typ {
	case tree.UnionOp:
		if n.all {
			return &sliceIter{rows: append(left, right...)}, nil
		}
		seen := map[string]bool{}
		for _, row := range append(left, right...) {
			k, err := key(row)
			if err != nil {
				return nil, err
			}
			if !seen[k] {
				seen[k] = true
				out = append(out, row)
			}
		}
	case tree.IntersectOp, tree.ExceptOp:
		counts := map[string]int{}
		for _, row := range right {
			k, err := key(row)
			if err != nil {
				return nil, err
			}
			counts[k]++
		}
		emitted := map[string]bool{}
		for _, row := range left {
			k, err := key(row)
			if err != nil {
				return nil, err
			}
			inRight := counts[k] > 0
			if n.all {
				if inRight {
					counts[k]--
				}
				if inRight == (n.typ == tree.IntersectOp) {
					out = append(out, row)
				}
				continue
			}
			if emitted[k] || inRight != (n.typ == tree.IntersectOp) {
				continue
			}
			emitted[k] = true
			out = append(out, row)
		}
	}
	return &sliceIter{rows: out}, nil
}

// vtableNode reads a virtual table.
type vtableNode struct {
	vt *virtualTable
	db *catalog.Database
}

func (n *vtableNode) columns() []resultColumn { return n.vt.cols }
func (n *vtableNode) explain(e *explainer) {
	e.line("virtual table " + n.vt.schema + "." + n.vt.name)
}
func (n *vtableNode) start(ctx context.Context, r *runParams) (rowIter, error) {
	rows, err := n.vt.populate(ctx, r, n.db)
	if err != nil {
		return nil, err
	}
	return &sliceIter{rows: rows}, nil
}

// planRowsFrom plans a set-returning function in FROM; only
// generate_series over integers is supported.
func (p *planner) planRowsFrom(ctx context.Context, rf *tree.RowsFromExpr) (planNode, *scope, error) {
	if len(rf.Items) != 1 {
		return nil, nil, unimplemented("ROWS FROM with several functions")
	}
	f, ok := rf.Items[0].(*tree.FuncExpr)
	if !ok {
		return nil, nil, unimplemented("this FROM expression")
	}
	name, _ := funcName(f)
	if name != "generate_series" || len(f.Exprs) < 2 || len(f.Exprs) > 3 {
		return nil, nil, unimplemented(fmt.Sprintf("set-returning function %s in FROM", tree.AsString(&f.Func)))
	}
	n := &seriesNode{cols: []resultColumn{{name: "generate_series", typ: types.Int}}}
	for _, e := range f.Exprs {
		typed, err := p.typeCheck(ctx, e, nil, "generate_series", types.Int)
		if err != nil {
			return nil, nil, err
		}
		if err := requireInt(typed, "generate_series"); err != nil {
			return nil, nil, err
		}
		n.args = append(n.args, typed)
	}
	return n, scopeFromColumns(n.cols, "generate_series"), nil
}

// seriesNode is generate_series(start, stop[, step]) over INT8.
type seriesNode struct {
	args []tree.TypedExpr
	cols []resultColumn
}

func (n *seriesNode) columns() []resultColumn { return n.cols }
func (n *seriesNode) explain(e *explainer)    { e.line("generate_series") }
func (n *seriesNode) start(ctx context.Context, r *runParams) (rowIter, error) {
	vals := []int64{0, 0, 1}
	for i, a := range n.args {
		d, err := r.eval(ctx, a, nil)
		if err != nil {
			return nil, err
		}
		if d == tree.DNull {
			return &sliceIter{}, nil
		}
		vals[i] = int64(tree.MustBeDInt(d))
	}
	if vals[2] == 0 {
		return nil, pgerror.Newf(pgcode.InvalidParameterValue, "step cannot be 0")
	}
	return &seriesIter{cur: vals[0], stop: vals[1], step: vals[2]}, nil
}

type seriesIter struct {
	cur, stop, step int64
	done            bool
}

func (it *seriesIter) next(ctx context.Context) (tree.Datums, error) {
	if it.cur%1024 == 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	if it.done || (it.step > 0 && it.cur > it.stop) || (it.step < 0 && it.cur < it.stop) {
		return nil, nil
	}
	d := tree.NewDInt(tree.DInt(it.cur))
	next := it.cur + it.step
	if (it.step > 0 && next < it.cur) || (it.step < 0 && next > it.cur) {
		it.done = true // overflow
	}
	it.cur = next
	return tree.Datums{d}, nil
}

func (it *seriesIter) close() {}
