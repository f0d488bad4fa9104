package sql

import (
	"bytes"
	"context"
	"sort"
	"strings"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree/treecmp"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/lib/pq/oid"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/sql/rowenc"
	"github.com/vcdb/vcdb/sql/sem"
)

// indexConstraint restricts a scan of one index to key spans. It is made of
// typed expressions (constants, placeholders, uncorrelated subqueries) so
// that a cached plan computes its spans from each execution's arguments.
//
// Equality (or IN-list) constraints cover a prefix of the key columns; the
// next key column may have a range. The scan's filter keeps every
// conjunct that the spans do not make redundant, so spans only need to be
// a superset of the matching rows.
type indexConstraint struct {
	// eq[i] lists the values key column i may take.
	eq [][]tree.TypedExpr
	// lower and upper bound key column len(eq), when set.
	lower, upper         tree.TypedExpr
	lowerIncl, upperIncl bool
	// desc describes the constraint for EXPLAIN.
	desc string
}

// isUniquePoint reports whether the constraint selects at most one row of a
// unique index with numKeyCols key columns.
func (c *indexConstraint) isUniquePoint(numKeyCols int) bool {
	if c == nil || len(c.eq) != numKeyCols || c.lower != nil || c.upper != nil {
		return false
	}
	for _, vals := range c.eq {
		if len(vals) != 1 {
			return false
		}
	}
	return true
}

// maxSpans bounds the cross product of IN lists turned into point spans.
const maxSpans = 10000

// spans computes the key spans for one execution. ok is false when the
// constraint can match no row (an equality with NULL).
func (c *indexConstraint) spans(
	ctx context.Context, r *runParams, ic *indexCodec, colTypes []*types.T,
) (spans []kv.Span, ok bool, err error) {
	prefixes := [][]byte{append([]byte(nil), ic.prefix...)}
	for i, vals := range c.eq {
		var next [][]byte
		dir := ic.keyDirs[i]
		for _, e := range vals {
			d, err := r.eval(ctx, e, nil)
			if err != nil {
				return nil, false, err
			}
			if d == tree.DNull {
				continue
			}
			if d, err = coerceKeyDatum(ctx, r, d, colTypes[ic.keyCols[i]]); err != nil {
				return nil, false, err
			}
			for _, p := range prefixes {
				k, err := rowenc.EncodeKey(append([]byte(nil), p...), d, dir)
				if err != nil {
					return nil, false, err
				}
				next = append(next, k)
			}
		}
		if len(next) > maxSpans {
			// Too many points: scan the common prefix instead and let the
			// filter do the rest.
			break
		}
		prefixes = dedupSorted(next)
		if len(prefixes) == 0 {
			return nil, false, nil
		}
	}
	if c.lower == nil && c.upper == nil {
		spans = make([]kv.Span, len(prefixes))
		for i, p := range prefixes {
			spans[i] = kv.Span{Key: p, EndKey: kv.PrefixEnd(p)}
		}
		return spans, true, nil
	}
	col := len(c.eq)
	typ := colTypes[ic.keyCols[col]]
	desc := ic.keyDirs[col] == rowenc.Descending
	lo, lok, err := c.bound(ctx, r, c.lower, typ)
	if err != nil || !lok {
		return nil, false, err
	}
	hi, hok, err := c.bound(ctx, r, c.upper, typ)
	if err != nil || !hok {
		return nil, false, err
	}
	for _, p := range prefixes {
		// In key order a descending column swaps the bounds.
		start, end := kv.PrefixEnd(nullKey(p, desc)), kv.PrefixEnd(p)
		if desc {
			start = p
		}
		lowKey, lowIncl, highKey, highIncl := lo, c.lowerIncl, hi, c.upperIncl
		if desc {
			lowKey, lowIncl, highKey, highIncl = hi, c.upperIncl, lo, c.lowerIncl
		}
		if lowKey != nil {
			k, err := rowenc.EncodeKey(append([]byte(nil), p...), lowKey, rowenc.Direction(desc))
			if err != nil {
				return nil, false, err
			}
			if !lowIncl {
				k = kv.PrefixEnd(k)
			}
			start = k
		}
		if highKey != nil {
			k, err := rowenc.EncodeKey(append([]byte(nil), p...), highKey, rowenc.Direction(desc))
			if err != nil {
				return nil, false, err
			}
			if highIncl {
				k = kv.PrefixEnd(k)
			}
			end = k
		}
		if desc && highKey == nil {
			// NULLs sort last descending: stop before them.
			end = nullKey(p, true)
		}
		if bytes.Compare(start, end) < 0 {
			spans = append(spans, kv.Span{Key: start, EndKey: end})
		}
	}
	return spans, true, nil
}

// nullKey returns prefix followed by a NULL in direction desc.
func nullKey(prefix []byte, desc bool) []byte {
	k, _ := rowenc.EncodeKey(append([]byte(nil), prefix...), tree.DNull, rowenc.Direction(desc))
	return k
}

func (c *indexConstraint) bound(ctx context.Context, r *runParams, e tree.TypedExpr, typ *types.T) (tree.Datum, bool, error) {
	if e == nil {
		return nil, true, nil
	}
	d, err := r.eval(ctx, e, nil)
	if err != nil {
		return nil, false, err
	}
	if d == tree.DNull {
		return nil, false, nil
	}
	d, err = coerceKeyDatum(ctx, r, d, typ)
	return d, err == nil, err
}

// coerceKeyDatum converts a constraint value to the key column's type when
// their representations differ (for example an INT8 placeholder for an
// INT2 column needs none; a STRING for a column of CHAR does).
func coerceKeyDatum(ctx context.Context, r *runParams, d tree.Datum, t *types.T) (tree.Datum, error) {
	if d.ResolvedType().Family() == t.Family() {
		return d, nil
	}
	return sem.Cast(ctx, r.ec, d, t)
}

func dedupSorted(keys [][]byte) [][]byte {
	sort.Slice(keys, func(i, j int) bool { return bytes.Compare(keys[i], keys[j]) < 0 })
	out := keys[:0]
	for i, k := range keys {
		if i > 0 && bytes.Equal(k, keys[i-1]) {
			continue
		}
		out = append(out, k)
	}
	return out
}

// splitConjuncts flattens a tree of ANDs.
func splitConjuncts(e tree.TypedExpr) []tree.TypedExpr {
	if e == nil {
		return nil
	}
	if and, ok := e.(*tree.AndExpr); ok {
		return append(splitConjuncts(and.TypedLeft()), splitConjuncts(and.TypedRight())...)
	}
	if p, ok := e.(*tree.ParenExpr); ok {
		return splitConjuncts(p.TypedInnerExpr())
	}
	return []tree.TypedExpr{e}
}

// joinConjuncts rebuilds an AND of conjuncts (nil for none).
func joinConjuncts(cs []tree.TypedExpr) tree.TypedExpr {
	var out tree.TypedExpr
	for _, c := range cs {
		if out == nil {
			out = c
			continue
		}
		out = tree.NewTypedAndExpr(out, c)
	}
	return out
}

// isConstant reports whether e references no column (it may hold
// placeholders and uncorrelated subqueries, evaluated once per execution).
func isConstant(e tree.Expr) bool {
	constant := true
	tree.WalkExprConst(constVisitor{&constant}, e)
	return constant
}

type constVisitor struct{ constant *bool }

func (v constVisitor) VisitPre(expr tree.Expr) (bool, tree.Expr) {
	switch t := expr.(type) {
	case *tree.IndexedVar:
		*v.constant = false
		return false, expr
	case *tree.Subquery:
		return false, expr
	case *tree.FuncExpr:
		if name, ok := funcName(t); ok && volatileFuncs[name] {
			*v.constant = false
			return false, expr
		}
	}
	return true, expr
}

func (v constVisitor) VisitPost(expr tree.Expr) tree.Expr { return expr }

// volatileFuncs may return a different value per row, so they never become
// span bounds.
var volatileFuncs = map[string]bool{
	"random": true, "gen_random_uuid": true, "uuid_generate_v4": true,
	"unique_rowid": true, "clock_timestamp": true, "nextval": true,
}

// keyCompatible reports whether values of type vt can be encoded as keys of
// a column of type ct without changing comparison semantics.
func keyCompatible(ct, vt *types.T) bool {
	if vt.Family() == types.UnknownFamily {
		return false
	}
	if ct.Family() != vt.Family() {
		return false
	}
	if ct.Family() == types.StringFamily {
		// CHAR(n) compares blank-padded; keep it out of spans.
		return !isBpChar(ct) && !isBpChar(vt)
	}
	return true
}

func isBpChar(t *types.T) bool {
	return t.Family() == types.StringFamily && t.Oid() == oid.T_bpchar
}

// columnCondition is one conjunct of the form <column> op <constant>.
type columnCondition struct {
	col  int // table column ordinal
	op   treecmp.ComparisonOperatorSymbol
	vals []tree.TypedExpr // one value, several for IN
	// lower/upper for BETWEEN.
	lower, upper tree.TypedExpr
	conjunct     int
}

// columnConditions extracts the conjuncts usable for spans.
func columnConditions(conjuncts []tree.TypedExpr, colTypes []*types.T) []columnCondition {
	var out []columnCondition
	for i, c := range conjuncts {
		switch t := c.(type) {
		case *tree.ComparisonExpr:
			left, right := t.TypedLeft(), t.TypedRight()
			op := t.Operator.Symbol
			iv, ok := left.(*tree.IndexedVar)
			if !ok {
				iv2, ok2 := right.(*tree.IndexedVar)
				if !ok2 {
					continue
				}
				flipped, ok := flipOp(op)
				if !ok {
					continue
				}
				iv, right, op = iv2, left, flipped
			}
			if !isConstant(right) {
				continue
			}
			ct := colTypes[iv.Idx]
			switch op {
			case treecmp.EQ, treecmp.LT, treecmp.LE, treecmp.GT, treecmp.GE:
				if !keyCompatible(ct, right.ResolvedType()) {
					continue
				}
				out = append(out, columnCondition{col: iv.Idx, op: op, vals: []tree.TypedExpr{right}, conjunct: i})
			case treecmp.In:
				var vals []tree.TypedExpr
				switch tup := right.(type) {
				case *tree.DTuple:
					for _, d := range tup.D {
						vals = append(vals, d)
					}
				case *tree.Tuple:
					for _, e := range tup.Exprs {
						vals = append(vals, e.(tree.TypedExpr))
					}
				default:
					continue
				}
				usable := len(vals) > 0
				for _, v := range vals {
					if !keyCompatible(ct, v.ResolvedType()) && v.ResolvedType().Family() != types.UnknownFamily {
						usable = false
					}
				}
				if usable {
					out = append(out, columnCondition{col: iv.Idx, op: op, vals: vals, conjunct: i})
				}
			}
		case *tree.RangeCond:
			if t.Not || t.Symmetric {
				continue
			}
			iv, ok := t.TypedLeftFrom().(*tree.IndexedVar)
			if !ok {
				continue
			}
			from, to := t.TypedFrom(), t.TypedTo()
			ct := colTypes[iv.Idx]
			if !isConstant(from) || !isConstant(to) || !keyCompatible(ct, from.ResolvedType()) || !keyCompatible(ct, to.ResolvedType()) {
				continue
			}
			out = append(out, columnCondition{col: iv.Idx, op: treecmp.ComparisonOperatorSymbol(-1), lower: from, upper: to, conjunct: i})
		}
	}
	return out
}

func flipOp(op treecmp.ComparisonOperatorSymbol) (treecmp.ComparisonOperatorSymbol, bool) {
	switch op {
	case treecmp.EQ:
		return treecmp.EQ, true
	case treecmp.LT:
		return treecmp.GT, true
	case treecmp.LE:
		return treecmp.GE, true
	case treecmp.GT:
		return treecmp.LT, true
	case treecmp.GE:
		return treecmp.LE, true
	}
	return 0, false
}

// constrainIndex builds the constraint that conds put on an index, and
// returns it with the conjuncts it makes redundant. It returns nil when the
// index's first key column is unconstrained.
func constrainIndex(ic *indexCodec, conds []columnCondition, names []string) (*indexConstraint, map[int]bool) {
	c := &indexConstraint{}
	used := map[int]bool{}
	var desc []string
	points := 1
	for _, col := range ic.keyCols {
		var eq *columnCondition
		for i := range conds {
			if conds[i].col == col && (conds[i].op == treecmp.EQ || conds[i].op == treecmp.In) {
				if eq == nil || len(conds[i].vals) < len(eq.vals) {
					eq = &conds[i]
				}
			}
		}
		if eq != nil && points*len(eq.vals) > maxSpans {
			// Too many points to enumerate: stop the constraint here.
			break
		}
		if eq != nil {
			points *= len(eq.vals)
			c.eq = append(c.eq, eq.vals)
			used[eq.conjunct] = true
			desc = append(desc, describeCond(names[col], eq))
			continue
		}
		// A range on this column ends the constraint. The spans hold
		// exactly the rows in range (NULLs excluded), so the range
		// conjuncts leave the filter.
		for i := range conds {
			cond := &conds[i]
			if cond.col != col {
				continue
			}
			switch cond.op {
			case treecmp.GT, treecmp.GE:
				if c.lower == nil {
					c.lower, c.lowerIncl = cond.vals[0], cond.op == treecmp.GE
					desc = append(desc, describeCond(names[col], cond))
					used[cond.conjunct] = true
				}
			case treecmp.LT, treecmp.LE:
				if c.upper == nil {
					c.upper, c.upperIncl = cond.vals[0], cond.op == treecmp.LE
					desc = append(desc, describeCond(names[col], cond))
					used[cond.conjunct] = true
				}
			case treecmp.ComparisonOperatorSymbol(-1):
				if c.lower == nil && c.upper == nil {
					c.lower, c.lowerIncl, c.upper, c.upperIncl = cond.lower, true, cond.upper, true
					desc = append(desc, describeCond(names[col], cond))
					used[cond.conjunct] = true
				}
			}
		}
		break
	}
	if len(c.eq) == 0 && c.lower == nil && c.upper == nil {
		return nil, nil
	}
	c.desc = strings.Join(desc, " AND ")
	return c, used
}

func describeCond(col string, c *columnCondition) string {
	switch c.op {
	case treecmp.In:
		if len(c.vals) == 1 {
			return col + " = " + tree.AsString(c.vals[0])
		}
		parts := make([]string, len(c.vals))
		for i, v := range c.vals {
			parts[i] = tree.AsString(v)
		}
		return col + " IN (" + strings.Join(parts, ", ") + ")"
	case treecmp.ComparisonOperatorSymbol(-1):
		return col + " BETWEEN " + tree.AsString(c.lower) + " AND " + tree.AsString(c.upper)
	}
	return col + " " + c.op.String() + " " + tree.AsString(c.vals[0])
}
