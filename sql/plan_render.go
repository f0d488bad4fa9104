package sql

import (
	"context"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
)

// renderBuilder accumulates the select list (and hidden ORDER BY
// expressions) of one SELECT clause.
type renderBuilder struct {
	p     *planner
	sc    *scope
	agg   *aggregation
	exprs []tree.TypedExpr
	cols  []scopeColumn
	keys  []string
}

func (r *renderBuilder) typeCheck(ctx context.Context, e tree.Expr, clause string, desired *types.T) (tree.TypedExpr, error) {
	if desired == nil {
		desired = types.AnyElement
	}
	if r.agg != nil {
		return r.agg.typeCheckPostAgg(ctx, e, clause, desired)
	}
	return r.p.typeCheck(ctx, e, r.sc, clause, desired)
}

// inputColumns are the columns the render expressions reference.
func (r *renderBuilder) inputColumns() []scopeColumn {
	if r.agg != nil {
		return r.agg.postScope.cols
	}
	return r.sc.cols
}

func (r *renderBuilder) add(typed tree.TypedExpr, name string) {
	col := scopeColumn{resultColumn: resultColumn{name: name, typ: typed.ResolvedType()}}
	if iv, ok := typed.(*tree.IndexedVar); ok {
		in := r.inputColumns()[iv.Idx]
		col.tableID, col.colID = in.tableID, in.colID
		col.table, col.schema, col.db = in.table, in.schema, in.db
	}
	r.exprs = append(r.exprs, typed)
	r.cols = append(r.cols, col)
	r.keys = append(r.keys, exprKey(typed))
}

// addSelectExpr adds one item of the select list, expanding stars.
func (r *renderBuilder) addSelectExpr(ctx context.Context, se tree.SelectExpr, desired *types.T) error {
	var star *tree.UnresolvedName
	isStar := false
	switch t := se.Expr.(type) {
	case tree.UnqualifiedStar:
		isStar = true
	case *tree.UnresolvedName:
		if t.Star {
			isStar, star = true, t
		}
	case *tree.AllColumnsSelector:
		return unimplemented("column selector")
	}
	if isStar {
		if r.sc == nil || len(r.sc.cols) == 0 && star == nil {
			return errNoStarTables()
		}
		idxs, err := r.sc.starColumns(star)
		if err != nil {
			return err
		}
		for _, i := range idxs {
			c := r.sc.cols[i]
			if r.agg != nil {
				name := &tree.UnresolvedName{NumParts: 1, Parts: tree.NameParts{c.name}}
				if c.table != "" {
					name = &tree.UnresolvedName{NumParts: 2, Parts: tree.NameParts{c.name, c.table}}
				}
				typed, err := r.agg.typeCheckPostAgg(ctx, name, "SELECT", types.AnyElement)
				if err != nil {
					return err
				}
				r.add(typed, c.name)
				continue
			}
			r.add(tree.NewTypedOrdinalReference(i, c.typ), c.name)
		}
		return nil
	}
	name, err := tree.GetRenderColName(ctx, tree.EmptySearchPath, se, nil)
	if err != nil {
		name = "?column?"
	}
	typed, err := r.typeCheck(ctx, se.Expr, "SELECT", desired)
	if err != nil {
		return err
	}
	r.add(typed, name)
	return nil
}

// addHiddenExpr adds an expression needed by ORDER BY or DISTINCT ON and
// returns its column; an identical select-list expression is reused.
func (r *renderBuilder) addHiddenExpr(ctx context.Context, e tree.Expr, clause string) (int, error) {
	typed, err := r.typeCheck(ctx, e, clause, types.AnyElement)
	if err != nil {
		return 0, err
	}
	key := exprKey(typed)
	for i, k := range r.keys {
		if k == key {
			return i, nil
		}
	}
	r.add(typed, "?column?")
	r.cols[len(r.cols)-1].hidden = true
	return len(r.exprs) - 1, nil
}

func errNoStarTables() error {
	return pgerror.Newf(pgcode.InvalidName, "cannot use \"*\" without a FROM clause")
}

func (r *renderBuilder) scopeCols() []scopeColumn { return r.cols }

// node returns the render operator over src, or src itself when the render
// is the identity.
func (r *renderBuilder) node(src planNode) planNode {
	in := src.columns()
	identity := len(r.exprs) == len(in)
	for i, e := range r.exprs {
		if !identity {
			break
		}
		iv, ok := e.(*tree.IndexedVar)
		if !ok || iv.Idx != i || in[i].name != r.cols[i].name || in[i].hidden {
			identity = false
		}
	}
	cols := make([]resultColumn, len(r.cols))
	for i := range r.cols {
		cols[i] = r.cols[i].resultColumn
	}
	if identity {
		return &projectNode{renderNode: *newRenderNode(src, r.exprs, cols)}
	}
	return newRenderNode(src, r.exprs, cols)
}

// exprKey identifies an expression structurally (column references print
// as @n).
func exprKey(e tree.Expr) string {
	return tree.AsStringWithFlags(e, tree.FmtCheckEquivalence)
}
