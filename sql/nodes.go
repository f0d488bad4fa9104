package sql

import (
	"context"
	"strings"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
)

// unaryNode produces one row with no columns (SELECT without FROM).
type unaryNode struct{}

func (unaryNode) columns() []resultColumn { return nil }
func (unaryNode) explain(e *explainer)    { e.line("values: 1 row") }
func (unaryNode) start(context.Context, *runParams) (rowIter, error) {
	return &sliceIter{rows: []tree.Datums{{}}}, nil
}

// sliceIter returns rows held in memory.
type sliceIter struct {
	rows []tree.Datums
	pos  int
}

func (it *sliceIter) next(context.Context) (tree.Datums, error) {
	if it.pos >= len(it.rows) {
		return nil, nil
	}
	it.pos++
	return it.rows[it.pos-1], nil
}

func (it *sliceIter) close() {}

// filterNode keeps the rows for which filter is TRUE.
type filterNode struct {
	src    planNode
	filter tree.TypedExpr
}

func (n *filterNode) columns() []resultColumn { return n.src.columns() }
func (n *filterNode) explain(e *explainer) {
	e.line("filter: " + formatExpr(n.filter, n.src.columns()))
	e.child(func() { n.src.explain(e) })
}
func (n *filterNode) start(ctx context.Context, r *runParams) (rowIter, error) {
	src, err := n.src.start(ctx, r)
	if err != nil {
		return nil, err
	}
	return &filterIter{src: src, filter: n.filter, r: r}, nil
}

type filterIter struct {
	src    rowIter
	filter tree.TypedExpr
	r      *runParams
}

func (it *filterIter) next(ctx context.Context) (tree.Datums, error) {
	for n := 1; ; n++ {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		row, err := it.src.next(ctx)
		if err != nil || row == nil {
			return nil, err
		}
		ok, err := it.r.evalFilter(ctx, it.filter, row)
		if err != nil {
			return nil, err
		}
		if ok {
			return row, nil
		}
	}
}

func (it *filterIter) close() { it.src.close() }

// addFilter places filter above src, pushing it into a scan (index
// selection) or down a join where it can.
func (p *planner) addFilter(src planNode, filter tree.TypedExpr) planNode {
	if filter == nil {
		return src
	}
	switch t := src.(type) {
	case *scanNode:
		t.applyFilter(filter)
		return t
	case *joinNode:
		return t.pushFilter(p, filter)
	case *filterNode:
		return &filterNode{src: t.src, filter: tree.NewTypedAndExpr(t.filter, filter)}
	}
	return &filterNode{src: src, filter: filter}
}

// renderNode computes expressions over its input's rows.
type renderNode struct {
	src   planNode
	exprs []tree.TypedExpr
	cols  []resultColumn
	// passthrough[i] is the input column exprs[i] copies, or -1.
	passthrough []int
}

func newRenderNode(src planNode, exprs []tree.TypedExpr, cols []resultColumn) *renderNode {
	n := &renderNode{src: src, exprs: exprs, cols: cols, passthrough: make([]int, len(exprs))}
	for i, e := range exprs {
		n.passthrough[i] = -1
		if iv, ok := e.(*tree.IndexedVar); ok {
			n.passthrough[i] = iv.Idx
		}
	}
	return n
}

func (n *renderNode) columns() []resultColumn { return n.cols }
func (n *renderNode) explain(e *explainer) {
	in := n.src.columns()
	parts := make([]string, len(n.exprs))
	for i, x := range n.exprs {
		parts[i] = formatExpr(x, in)
	}
	e.line("render " + strings.Join(parts, ", "))
	e.child(func() { n.src.explain(e) })
}
func (n *renderNode) start(ctx context.Context, r *runParams) (rowIter, error) {
	src, err := n.src.start(ctx, r)
	if err != nil {
		return nil, err
	}
	return &renderIter{n: n, src: src, r: r, row: make(tree.Datums, len(n.exprs))}, nil
}

type renderIter struct {
	n   *renderNode
	src rowIter
	r   *runParams
	row tree.Datums
}

func (it *renderIter) next(ctx context.Context) (tree.Datums, error) {
	in, err := it.src.next(ctx)
	if err != nil || in == nil {
		return nil, err
	}
	for i, e := range it.n.exprs {
		if p := it.n.passthrough[i]; p >= 0 {
			it.row[i] = in[p]
			continue
		}
		if it.row[i], err = it.r.eval(ctx, e, in); err != nil {
			return nil, err
		}
	}
	return it.row, nil
}

func (it *renderIter) close() { it.src.close() }

// projectPrefix keeps the first n columns of src's rows.
func projectPrefix(src planNode, n int) planNode {
	cols := src.columns()[:n]
	exprs := make([]tree.TypedExpr, n)
	for i := range exprs {
		exprs[i] = tree.NewTypedOrdinalReference(i, cols[i].typ)
	}
	return &projectNode{renderNode: *newRenderNode(src, exprs, cols)}
}

// projectNode drops columns; EXPLAIN does not show it as an operator of
// its own.
type projectNode struct{ renderNode }

func (n *projectNode) explain(e *explainer) { n.src.explain(e) }
