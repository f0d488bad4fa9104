package sql

import (
	"context"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/privilege"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree/treecmp"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
)

// planFrom plans a FROM list: a cross join of its items, left to right.
func (p *planner) planFrom(ctx context.Context, tables tree.TableExprs) (planNode, *scope, error) {
	if len(tables) == 0 {
		return unaryNode{}, &scope{}, nil
	}
	var n planNode
	var sc *scope
	for i, te := range tables {
		tn, tsc, err := p.planTableExpr(ctx, te)
		if err != nil {
			return nil, nil, err
		}
		if i == 0 {
			n, sc = tn, tsc
			continue
		}
		n, sc, err = p.makeJoin(ctx, joinInner, n, sc, tn, tsc, nil)
		if err != nil {
			return nil, nil, err
		}
	}
	return n, sc, nil
}

// planTableExpr plans one FROM item.
func (p *planner) planTableExpr(ctx context.Context, te tree.TableExpr) (planNode, *scope, error) {
	switch t := te.(type) {
	case *tree.TableName:
		return p.planTableName(ctx, t, "", nil)
	case *tree.AliasedTableExpr:
		if t.Ordinality {
			return nil, nil, unimplemented("WITH ORDINALITY")
		}
		if t.Lateral {
			return nil, nil, unimplemented("LATERAL")
		}
		var n planNode
		var sc *scope
		var err error
		if tn, ok := t.Expr.(*tree.TableName); ok {
			n, sc, err = p.planTableName(ctx, tn, string(t.As.Alias), t.IndexFlags)
		} else {
			if t.IndexFlags != nil {
				return nil, nil, pgerror.Newf(pgcode.Syntax, "index flags are only allowed on tables")
			}
			n, sc, err = p.planTableExpr(ctx, t.Expr)
		}
		if err != nil {
			return nil, nil, err
		}
		if t.As.Alias != "" {
			sc = renameScope(sc, string(t.As.Alias))
			if _, ok := t.Expr.(*tree.RowsFromExpr); ok && len(t.As.Cols) == 0 && len(sc.cols) == 1 {
				// A scalar function in FROM names its column after the
				// alias, as in PostgreSQL.
				sc.cols[0].name = string(t.As.Alias)
			}
		}
		if len(t.As.Cols) > 0 {
			visible := 0
			for i := range sc.cols {
				if !sc.cols[i].hidden {
					if visible < len(t.As.Cols) {
						sc.cols[i].name = string(t.As.Cols[visible].Name)
					}
					visible++
				}
			}
			if len(t.As.Cols) > visible {
				return nil, nil, pgerror.Newf(pgcode.InvalidColumnReference,
					"source %q has %d columns available but %d columns specified", t.As.Alias, visible, len(t.As.Cols))
			}
		}
		return n, sc, nil
	case *tree.ParenTableExpr:
		return p.planTableExpr(ctx, t.Expr)
	case *tree.Subquery:
		var sel *tree.Select
		switch s := t.Select.(type) {
		case *tree.ParenSelect:
			sel = s.Select
		default:
			sel = &tree.Select{Select: s}
		}
		n, err := p.planSelect(ctx, sel, nil)
		if err != nil {
			return nil, nil, err
		}
		return n, scopeFromColumns(n.columns(), ""), nil
	case *tree.JoinTableExpr:
		return p.planJoin(ctx, t)
	case *tree.RowsFromExpr:
		return p.planRowsFrom(ctx, t)
	case *tree.StatementSource:
		return p.planStatementSource(t)
	}
	return nil, nil, unimplemented("this kind of FROM item")
}

// renameScope gives every column of sc the table alias.
func renameScope(sc *scope, alias string) *scope {
	out := &scope{cols: make([]scopeColumn, len(sc.cols))}
	for i, c := range sc.cols {
		c.table, c.schema, c.db = alias, "", ""
		out.cols[i] = c
	}
	return out
}

// planTableName plans a scan of a stored or virtual table.
func (p *planner) planTableName(ctx context.Context, tn *tree.TableName, alias string, flags *tree.IndexFlags) (planNode, *scope, error) {
	rt, err := p.resolveTableName(tn)
	if err != nil {
		return nil, nil, err
	}
	if rt.vt != nil {
		n := &vtableNode{vt: rt.vt, db: rt.db}
		sc := scopeFromColumns(rt.vt.cols, rt.vt.name)
		for i := range sc.cols {
			sc.cols[i].schema = rt.schema
			if rt.db != nil {
				sc.cols[i].db = rt.db.Name
			}
		}
		return n, sc, nil
	}
	if err := p.requireTablePrivileges(rt.table, privilege.SELECT); err != nil {
		return nil, nil, err
	}
	n := newScanNode(newTableCodec(p.s.srv.keys, rt.table), alias)
	if flags != nil {
		if flags.Index != "" {
			if rt.table.IndexByName(string(flags.Index)) == nil {
				return nil, nil, pgerror.Newf(pgcode.UndefinedObject, "index %q not found", string(flags.Index))
			}
			n.forceIndex = string(flags.Index)
			n.applyFilter(nil)
		}
	}
	sc := scopeFromColumns(n.cols, rt.table.Name)
	for i := range sc.cols {
		sc.cols[i].schema = rt.schema
		sc.cols[i].db = rt.db.Name
	}
	return n, sc, nil
}

type joinKind int

const (
	joinInner joinKind = iota
	joinLeft
	joinRight
	joinFull
)

func (k joinKind) String() string {
	return [...]string{"inner", "left outer", "right outer", "full outer"}[k]
}

// planJoin plans a JOIN expression.
func (p *planner) planJoin(ctx context.Context, j *tree.JoinTableExpr) (planNode, *scope, error) {
	left, lsc, err := p.planTableExpr(ctx, j.Left)
	if err != nil {
		return nil, nil, err
	}
	right, rsc, err := p.planTableExpr(ctx, j.Right)
	if err != nil {
		return nil, nil, err
	}
	kind := joinInner
	switch j.JoinType {
	case tree.AstLeft:
		kind = joinLeft
	case tree.AstRight:
		kind = joinRight
	case tree.AstFull:
		kind = joinFull
	}
	var usingCols tree.NameList
	switch c := j.Cond.(type) {
	case nil:
		return p.makeJoin(ctx, kind, left, lsc, right, rsc, nil)
	case *tree.OnJoinCond:
		return p.makeJoin(ctx, kind, left, lsc, right, rsc, c.Expr)
	case *tree.UsingJoinCond:
		usingCols = c.Cols
	case tree.NaturalJoinCond:
		for _, lc := range lsc.cols {
			if lc.hidden {
				continue
			}
			for _, rc := range rsc.cols {
				if !rc.hidden && rc.name == lc.name {
					usingCols = append(usingCols, tree.Name(lc.name))
				}
			}
		}
	}
	// USING: equality on each named column; the right side's copies are
	// hidden from * and from unqualified references.
	var cond tree.Expr
	hideRight := map[int]bool{}
	for _, name := range usingCols {
		li, ri := -1, -1
		for i, c := range lsc.cols {
			if c.name == string(name) {
				li = i
			}
		}
		for i, c := range rsc.cols {
			if c.name == string(name) {
				ri = i
			}
		}
		if li < 0 || ri < 0 {
			return nil, nil, pgerror.Newf(pgcode.UndefinedColumn,
				"column %q specified in USING clause does not exist in %s table", name, map[bool]string{true: "left", false: "right"}[li < 0])
		}
		eq := tree.NewTypedComparisonExpr(treecmp.MakeComparisonOperator(treecmp.EQ),
			tree.NewTypedOrdinalReference(li, lsc.cols[li].typ),
			tree.NewTypedOrdinalReference(len(lsc.cols)+ri, rsc.cols[ri].typ))
		if cond == nil {
			cond = eq
		} else {
			cond = tree.NewTypedAndExpr(cond.(tree.TypedExpr), eq)
		}
		hideRight[ri] = true
	}
	n, sc, err := p.makeJoinTyped(ctx, kind, left, lsc, right, rsc, cond)
	if err != nil {
		return nil, nil, err
	}
	for ri := range hideRight {
		c := &sc.cols[len(lsc.cols)+ri]
		c.hidden = true
		c.usingHidden = true
	}
	return n, sc, nil
}

// makeJoin joins two planned sources on an untyped condition.
func (p *planner) makeJoin(
	ctx context.Context, kind joinKind, left planNode, lsc *scope, right planNode, rsc *scope, on tree.Expr,
) (planNode, *scope, error) {
	sc := &scope{cols: append(append([]scopeColumn(nil), lsc.cols...), rsc.cols...)}
	var typed tree.TypedExpr
	if on != nil {
		var err error
		if typed, err = p.typeCheckFilter(ctx, on, sc, "ON"); err != nil {
			return nil, nil, err
		}
	}
	return p.makeJoinTyped(ctx, kind, left, lsc, right, rsc, typed)
}

func (p *planner) makeJoinTyped(
	ctx context.Context, kind joinKind, left planNode, lsc *scope, right planNode, rsc *scope, on tree.Expr,
) (planNode, *scope, error) {
	sc := &scope{cols: append(append([]scopeColumn(nil), lsc.cols...), rsc.cols...)}
	n := &joinNode{kind: kind, left: left, right: right, numLeft: len(lsc.cols), cols: sc.resultColumns()}
	if on != nil {
		var cond tree.TypedExpr
		if t, ok := on.(tree.TypedExpr); ok {
			cond = t
		}
		n.addCondition(cond)
	}
	return n, sc, nil
}

// joinNode is a hash join when it has equality columns, else a nested
// loop join; the right side is held in memory.
type joinNode struct {
	kind        joinKind
	left, right planNode
	numLeft     int
	cols        []resultColumn
	// leftEq[i] = rightEq[i] are the equality conditions (right indexes
	// relative to the right side).
	leftEq, rightEq []int
	// on is the rest of the condition, over the concatenated row.
	on tree.TypedExpr
}

func (n *joinNode) columns() []resultColumn { return n.cols }

// addCondition splits cond into hash-join equalities and a residual.
func (n *joinNode) addCondition(cond tree.TypedExpr) {
	var rest []tree.TypedExpr
	if n.on != nil {
		rest = splitConjuncts(n.on)
	}
	for _, c := range splitConjuncts(cond) {
		if l, r, ok := n.equality(c); ok {
			n.leftEq = append(n.leftEq, l)
			n.rightEq = append(n.rightEq, r-n.numLeft)
			continue
		}
		rest = append(rest, c)
	}
	n.on = joinConjuncts(rest)
}

func (n *joinNode) equality(c tree.TypedExpr) (int, int, bool) {
	cmp, ok := c.(*tree.ComparisonExpr)
	if !ok || cmp.Operator.Symbol != treecmp.EQ {
		return 0, 0, false
	}
	l, lok := cmp.TypedLeft().(*tree.IndexedVar)
	r, rok := cmp.TypedRight().(*tree.IndexedVar)
	if !lok || !rok {
		return 0, 0, false
	}
	if l.Idx >= n.numLeft {
		l, r = r, l
	}
	if l.Idx >= n.numLeft || r.Idx < n.numLeft {
		return 0, 0, false
	}
	lt, rt := n.cols[l.Idx].typ, n.cols[r.Idx].typ
	if !lt.Equivalent(rt) || lt.Family() == types.JsonFamily {
		return 0, 0, false
	}
	return l.Idx, r.Idx, true
}

// pushFilter applies a WHERE filter to the join: conjuncts over one side
// go into that side when the join kind allows, conjuncts over both sides
// of an inner join become join conditions, the rest stay above.
func (n *joinNode) pushFilter(p *planner, filter tree.TypedExpr) planNode {
	var above, both []tree.TypedExpr
	var leftF, rightF []tree.TypedExpr
	for _, c := range splitConjuncts(filter) {
		lo, hi := columnRange(c)
		switch {
		case hi < 0: // constant
			above = append(above, c)
		case hi < n.numLeft && (n.kind == joinInner || n.kind == joinLeft):
			leftF = append(leftF, c)
		case lo >= n.numLeft && (n.kind == joinInner || n.kind == joinRight):
			rightF = append(rightF, shiftIndexedVars(c, -n.numLeft))
		case n.kind == joinInner:
			both = append(both, c)
		default:
			above = append(above, c)
		}
	}
	out := *n
	if len(leftF) > 0 {
		out.left = p.addFilter(n.left, joinConjuncts(leftF))
	}
	if len(rightF) > 0 {
		out.right = p.addFilter(n.right, joinConjuncts(rightF))
	}
	if len(both) > 0 {
		out.addCondition(joinConjuncts(both))
	}
	if len(above) > 0 {
		return &filterNode{src: &out, filter: joinConjuncts(above)}
	}
	return &out
}

// columnRange returns the smallest and largest column index e references
// (-1, -1 for none).
func columnRange(e tree.Expr) (int, int) {
	lo, hi := -1, -1
	tree.WalkExprConst(ivarVisitor{fn: func(iv *tree.IndexedVar) {
		if lo < 0 || iv.Idx < lo {
			lo = iv.Idx
		}
		if iv.Idx > hi {
			hi = iv.Idx
		}
	}}, e)
	return lo, hi
}

type ivarVisitor struct{ fn func(*tree.IndexedVar) }

func (v ivarVisitor) VisitPre(expr tree.Expr) (bool, tree.Expr) {
	if iv, ok := expr.(*tree.IndexedVar); ok {
		v.fn(iv)
		return false, expr
	}
	if _, ok := expr.(*tree.Subquery); ok {
		return false, expr
	}
	return true, expr
}

func (v ivarVisitor) VisitPost(expr tree.Expr) tree.Expr { return expr }

// shiftIndexedVars returns e with every column reference moved by delta.
func shiftIndexedVars(e tree.TypedExpr, delta int) tree.TypedExpr {
	return remapIndexedVars(e, func(i int) int { return i + delta })
}

// remapIndexedVars returns e with column reference i replaced by m(i).
func remapIndexedVars(e tree.TypedExpr, m func(int) int) tree.TypedExpr {
	out, _ := tree.WalkExpr(remapVisitor{m: m}, e)
	return out.(tree.TypedExpr)
}

type remapVisitor struct{ m func(int) int }

func (v remapVisitor) VisitPre(expr tree.Expr) (bool, tree.Expr) {
	if iv, ok := expr.(*tree.IndexedVar); ok {
		return false, tree.NewTypedOrdinalReference(v.m(iv.Idx), iv.ResolvedType())
	}
	if _, ok := expr.(*tree.Subquery); ok {
		return false, expr
	}
	return true, expr
}

func (v remapVisitor) VisitPost(expr tree.Expr) tree.Expr { return expr }
