package sql

import (
	"context"
	"strings"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree/treecmp"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/vcdb/vcdb/sql/sem"
)

// scopeColumn is a column visible to name resolution: an operator's output
// column plus the names that qualify it.
type scopeColumn struct {
	resultColumn
	// table is the source's name (alias or table name; "" for a derived
	// column without a source); schema and db are set for real tables
	// referenced without an alias, so that s.t.c and db.s.t.c resolve.
	table, schema, db string
	// usingHidden marks the right-hand copy of a JOIN ... USING column:
	// only a qualified name reaches it.
	usingHidden bool
}

// scope is the set of columns an expression can reference; IndexedVar i is
// cols[i]. It implements tree.IndexedVarContainer for the type checker.
type scope struct {
	cols []scopeColumn
}

var _ tree.IndexedVarContainer = (*scope)(nil)

// IndexedVarResolvedType implements tree.IndexedVarContainer.
func (sc *scope) IndexedVarResolvedType(idx int) *types.T { return sc.cols[idx].typ }

// resultColumns returns the scope's columns as operator columns.
func (sc *scope) resultColumns() []resultColumn {
	out := make([]resultColumn, len(sc.cols))
	for i := range sc.cols {
		out[i] = sc.cols[i].resultColumn
	}
	return out
}

// scopeFromColumns makes an anonymous scope (or one named table) for cols.
func scopeFromColumns(cols []resultColumn, table string) *scope {
	sc := &scope{cols: make([]scopeColumn, len(cols))}
	for i := range cols {
		sc.cols[i] = scopeColumn{resultColumn: cols[i], table: table}
	}
	return sc
}

// resolveColumn finds the column a (possibly qualified) name refers to.
func (sc *scope) resolveColumn(n *tree.UnresolvedName) (int, error) {
	col := n.Parts[0]
	var tbl, schema, db string
	if n.NumParts > 1 {
		tbl = n.Parts[1]
	}
	if n.NumParts > 2 {
		schema = n.Parts[2]
	}
	if n.NumParts > 3 {
		db = n.Parts[3]
	}
	found := -1
	prefixSeen := tbl == ""
	for i := range sc.cols {
		c := &sc.cols[i]
		if !sc.matchesPrefix(c, tbl, schema, db) || (tbl == "" && c.usingHidden) {
			continue
		}
		prefixSeen = true
		if c.name != col {
			continue
		}
		if found >= 0 {
			return 0, pgerror.Newf(pgcode.AmbiguousColumn, "column reference %q is ambiguous", col)
		}
		found = i
	}
	if found >= 0 {
		return found, nil
	}
	if !prefixSeen {
		return 0, pgerror.Newf(pgcode.UndefinedTable,
			"no data source matches prefix: %s in this context", tableNameFromParts(tbl, schema, db))
	}
	return 0, pgerror.Newf(pgcode.UndefinedColumn, "column %q does not exist", tree.ErrString(n))
}

func (sc *scope) matchesPrefix(c *scopeColumn, tbl, schema, db string) bool {
	if tbl == "" {
		return true
	}
	if c.table != tbl {
		return false
	}
	if schema != "" && c.schema != schema {
		return false
	}
	return db == "" || c.db == db
}

func tableNameFromParts(tbl, schema, db string) string {
	var parts []string
	for _, p := range []string{db, schema, tbl} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ".")
}

// starColumns returns the columns * (or t.*) expands to.
func (sc *scope) starColumns(n *tree.UnresolvedName) ([]int, error) {
	var tbl, schema, db string
	if n != nil {
		if n.NumParts > 1 {
			tbl = n.Parts[1]
		}
		if n.NumParts > 2 {
			schema = n.Parts[2]
		}
		if n.NumParts > 3 {
			db = n.Parts[3]
		}
	}
	var out []int
	seen := tbl == ""
	for i := range sc.cols {
		c := &sc.cols[i]
		if !sc.matchesPrefix(c, tbl, schema, db) {
			continue
		}
		seen = true
		if !c.hidden {
			out = append(out, i)
		}
	}
	if !seen {
		return nil, pgerror.Newf(pgcode.UndefinedTable,
			"no data source matches pattern: %s.*", tableNameFromParts(tbl, schema, db))
	}
	return out, nil
}

// resolver replaces column references by IndexedVars of a scope and plans
// the uncorrelated subqueries it meets. aggs, when set, receives aggregate
// calls (see aggregation); otherwise an aggregate is an error naming where
// it appeared (clause).
type resolver struct {
	ctx    context.Context
	p      *planner
	sc     *scope
	clause string
	aggs   *aggregation
	err    error
}

var _ tree.Visitor = (*resolver)(nil)

// VisitPre implements tree.Visitor.
func (r *resolver) VisitPre(expr tree.Expr) (bool, tree.Expr) {
	if r.err != nil {
		return false, expr
	}
	switch t := expr.(type) {
	case *tree.UnresolvedName:
		if t.Star {
			r.err = pgerror.Newf(pgcode.Syntax, "%q is not allowed in this context", tree.ErrString(t))
			return false, expr
		}
		idx, err := r.sc.resolveColumn(t)
		if err != nil {
			r.err = r.p.outerReference(t, err)
			return false, expr
		}
		return false, tree.NewTypedOrdinalReference(idx, r.sc.cols[idx].typ)
	case tree.UnqualifiedStar:
		r.err = pgerror.Newf(pgcode.Syntax, "\"*\" is not allowed in this context")
		return false, expr
	case *tree.Subquery:
		if err := r.p.withOuter(r.sc, func() error { return r.p.planSubquery(r.ctx, t) }); err != nil {
			r.err = err
		}
		return false, expr
	case *tree.ComparisonExpr:
		// The right side of IN, NOT IN and = ANY / ALL is a set of rows.
		if sub, ok := t.Right.(*tree.Subquery); ok && takesRows(t.Operator.Symbol) {
			if err := r.p.withOuter(r.sc, func() error { return r.p.planSubqueryMode(r.ctx, sub, subqueryRows) }); err != nil {
				r.err = err
				return false, expr
			}
		}
	case *tree.FuncExpr:
		if t.WindowDef != nil {
			r.err = unimplemented("window functions")
			return false, expr
		}
		if name, ok := funcName(t); ok && sem.IsAggregate(name) {
			if r.aggs == nil {
				r.err = pgerror.Newf(pgcode.Grouping, "aggregate functions are not allowed in %s", r.clause)
				return false, expr
			}
			iv, err := r.aggs.addAggregate(r.ctx, t, name)
			if err != nil {
				r.err = err
				return false, expr
			}
			return false, iv
		}
	}
	return true, expr
}

// withOuter plans a subquery with sc as its enclosing scope.
func (p *planner) withOuter(sc *scope, fn func() error) error {
	p.outer = append(p.outer, sc)
	defer func() { p.outer = p.outer[:len(p.outer)-1] }()
	return fn()
}

// outerReference turns a failed column resolution into the error for a
// correlated subquery when an enclosing query has the column. Correlated
// subqueries would resolve here, against the scope chain, and be planned
// as apply joins.
func (p *planner) outerReference(n *tree.UnresolvedName, err error) error {
	for i := len(p.outer) - 1; i >= 0; i-- {
		if p.outer[i] == nil {
			continue
		}
		if _, outerErr := p.outer[i].resolveColumn(n); outerErr == nil {
			return unimplemented("correlated subqueries (column " + tree.ErrString(n) + " of an enclosing query)")
		}
	}
	return err
}

// takesRows reports whether a comparison's right operand is a row set.
func takesRows(op treecmp.ComparisonOperatorSymbol) bool {
	switch op {
	case treecmp.In, treecmp.NotIn, treecmp.Any, treecmp.Some, treecmp.All:
		return true
	}
	return false
}

// VisitPost implements tree.Visitor.
func (r *resolver) VisitPost(expr tree.Expr) tree.Expr { return expr }

// funcName returns the unqualified, lower-case name of a function call.
func funcName(f *tree.FuncExpr) (string, bool) {
	un, ok := f.Func.FunctionReference.(*tree.UnresolvedName)
	if !ok {
		if def, ok := f.Func.FunctionReference.(*tree.ResolvedFunctionDefinition); ok {
			return def.Name, true
		}
		return "", false
	}
	if un.NumParts == 2 && un.Parts[1] != "pg_catalog" {
		return "", false
	}
	if un.NumParts > 2 {
		return "", false
	}
	return strings.ToLower(un.Parts[0]), true
}

// resolve replaces the column references of expr by IndexedVars of sc.
func (p *planner) resolve(ctx context.Context, expr tree.Expr, sc *scope, clause string) (tree.Expr, error) {
	r := resolver{ctx: ctx, p: p, sc: sc, clause: clause}
	out, _ := tree.WalkExpr(&r, expr)
	return out, r.err
}

// typeCheck resolves and type-checks expr against sc, wanting type desired
// (types.AnyElement for any).
func (p *planner) typeCheck(
	ctx context.Context, expr tree.Expr, sc *scope, clause string, desired *types.T,
) (tree.TypedExpr, error) {
	resolved, err := p.resolve(ctx, expr, sc, clause)
	if err != nil {
		return nil, err
	}
	return p.typeCheckResolved(ctx, resolved, sc, desired)
}

// typeCheckResolved type-checks an expression whose columns are resolved.
func (p *planner) typeCheckResolved(
	ctx context.Context, expr tree.Expr, sc *scope, desired *types.T,
) (tree.TypedExpr, error) {
	if sc == nil {
		sc = &scope{}
	}
	p.semaCtx.IVarContainer = sc
	typed, err := sem.TypeCheck(ctx, expr, p.semaCtx, desired)
	p.semaCtx.IVarContainer = nil
	return typed, err
}

// typeCheckFilter type-checks a boolean condition (WHERE, ON, HAVING).
func (p *planner) typeCheckFilter(
	ctx context.Context, expr tree.Expr, sc *scope, clause string,
) (tree.TypedExpr, error) {
	typed, err := p.typeCheck(ctx, expr, sc, clause, types.Bool)
	if err != nil {
		return nil, err
	}
	if t := typed.ResolvedType(); t.Family() != types.BoolFamily && t.Family() != types.UnknownFamily {
		return nil, pgerror.Newf(pgcode.DatatypeMismatch,
			"argument of %s must be type bool, not type %s", clause, t.String())
	}
	return typed, nil
}
