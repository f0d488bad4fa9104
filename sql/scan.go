package sql

import (
	"context"
	"fmt"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/sql/catalog"
	"github.com/vcdb/vcdb/sql/rowenc"
)

// scanNode reads a table through one of its indexes. Its rows hold every
// column of the table in descriptor order.
//
// Index selection happens when the planner gives the scan its WHERE filter
// (applyFilter): for each index it derives a constraint from the filter's
// conjuncts and picks, in order of preference, a point lookup on a unique
// index (the primary first), then the index constraining the most key
// columns (ties go to the primary index, which needs no index join), then
// a full scan of the primary index. A point lookup on the primary index is
// a single KV Get.
type scanNode struct {
	codec *tableCodec
	alias string
	cols  []resultColumn

	// index is the chosen index: &codec.primary or one of codec.secondary.
	index      *indexCodec
	constraint *indexConstraint
	// point is set when the constraint selects at most one row of a
	// unique index.
	point   bool
	filter  tree.TypedExpr
	reverse bool
	// limitHint sizes the first KV batch when a LIMIT applies directly.
	limitHint int
	// forceIndex is the index named by table@index, if any.
	forceIndex string
	// needed marks the columns the plan above uses (nil: all); indexOnly
	// is set when the chosen secondary index holds them all, so that no
	// row is fetched from the primary index.
	needed    []bool
	indexOnly bool
	// lookup places the value columns the scan decodes: the needed ones.
	lookup rowenc.ColumnLookup
}

// setNeeded records which columns the operators above the scan reference
// (exprs are over the scan's columns) and decides whether a secondary
// index can answer alone.
func (n *scanNode) setNeeded(exprs []tree.TypedExpr) {
	needed := make([]bool, len(n.cols))
	for _, e := range append(exprs, n.filter) {
		if e == nil {
			continue
		}
		tree.WalkExprConst(ivarVisitor{fn: func(iv *tree.IndexedVar) { needed[iv.Idx] = true }}, e)
	}
	n.needed = needed
	n.indexOnly = n.index != &n.codec.primary && n.codec.covers(n.index, needed)
	t := n.codec.table
	n.lookup = func(id uint32) int {
		if o := t.ColumnOrdinal(catalog.ColumnID(id)); o >= 0 && needed[o] {
			return o
		}
		return -1
	}
}

// decodeRow decodes a primary index entry into the scan's row.
func (n *scanNode) decodeRow(a *tree.DatumAlloc, key, value []byte, row tree.Datums) error {
	if n.lookup == nil {
		return n.codec.decodePrimary(a, key, value, row)
	}
	return n.codec.decodePrimaryCols(a, key, value, row, n.lookup)
}

func newScanNode(codec *tableCodec, alias string) *scanNode {
	t := codec.table
	n := &scanNode{codec: codec, alias: alias, index: &codec.primary}
	n.cols = make([]resultColumn, len(t.Columns))
	for i := range t.Columns {
		c := &t.Columns[i]
		n.cols[i] = resultColumn{name: c.Name, typ: c.Type, hidden: c.Hidden, tableID: t.ID, colID: c.ID}
	}
	return n
}

func (n *scanNode) columns() []resultColumn { return n.cols }

func (n *scanNode) setLimitHint(l int) {
	if n.filter == nil {
		n.limitHint = l
	}
}

// applyFilter chooses the index for filter and keeps the conjuncts the
// index constraint does not make redundant.
func (n *scanNode) applyFilter(filter tree.TypedExpr) {
	conjuncts := splitConjuncts(joinConjuncts(append(splitConjuncts(n.filter), splitConjuncts(filter)...)))
	conds := columnConditions(conjuncts, n.codec.colTypes)
	names := make([]string, len(n.cols))
	for i := range n.cols {
		names[i] = n.cols[i].name
	}
	type candidate struct {
		ic    *indexCodec
		c     *indexConstraint
		used  map[int]bool
		point bool
	}
	var best *candidate
	better := func(a, b *candidate) bool {
		if b == nil {
			return true
		}
		if a.point != b.point {
			return a.point
		}
		ae, be := len(a.c.eq), len(b.c.eq)
		if ae != be {
			return ae > be
		}
		ar := a.c.lower != nil || a.c.upper != nil
		br := b.c.lower != nil || b.c.upper != nil
		if ar != br {
			return ar
		}
		return false
	}
	indexes := []*indexCodec{&n.codec.primary}
	for i := range n.codec.secondary {
		indexes = append(indexes, &n.codec.secondary[i])
	}
	for _, ic := range indexes {
		if n.forceIndex != "" && ic.index.Name != n.forceIndex {
			continue
		}
		c, used := constrainIndex(ic, conds, names)
		if c == nil {
			continue
		}
		cand := &candidate{ic: ic, c: c, used: used, point: ic.index.Unique && c.isUniquePoint(len(ic.keyCols))}
		if better(cand, best) {
			best = cand
		}
	}
	var residual []tree.TypedExpr
	if best != nil {
		n.index, n.constraint, n.point = best.ic, best.c, best.point
		for i, c := range conjuncts {
			if !best.used[i] {
				residual = append(residual, c)
			}
		}
	} else {
		residual = conjuncts
		if n.forceIndex != "" {
			for _, ic := range indexes {
				if ic.index.Name == n.forceIndex {
					n.index = ic
				}
			}
		}
	}
	n.filter = joinConjuncts(residual)
	if n.filter != nil {
		n.limitHint = 0
	}
}

func (n *scanNode) explain(e *explainer) {
	name := n.codec.table.Name
	if n.alias != "" && n.alias != name {
		name += " AS " + n.alias
	}
	what := "full scan"
	switch {
	case n.point && n.index == &n.codec.primary:
		what = "point lookup " + n.constraint.desc
	case n.point:
		what = "unique lookup " + n.constraint.desc
	case n.constraint != nil:
		what = "constrained scan " + n.constraint.desc
	}
	line := fmt.Sprintf("scan %s@%s: %s", name, n.index.index.Name, what)
	if n.reverse {
		line += " (reverse)"
	}
	if n.filter != nil {
		line += " filter: " + formatExpr(n.filter, n.cols)
	}
	if n.limitHint > 0 {
		line += fmt.Sprintf(" limit hint: %d", n.limitHint)
	}
	e.line(line)
	if n.index != &n.codec.primary && !n.indexOnly {
		e.child(func() { e.line(fmt.Sprintf("index join %s@%s", n.codec.table.Name, n.codec.primary.index.Name)) })
	}
}

func (n *scanNode) start(ctx context.Context, r *runParams) (rowIter, error) {
	if n.point && n.index == &n.codec.primary {
		return &pointIter{n: n, r: r}, nil
	}
	it := &scanIter{n: n, r: r, row: make(tree.Datums, len(n.cols))}
	if n.constraint == nil {
		p := n.index.prefix
		it.spans = []kv.Span{{Key: p, EndKey: kv.PrefixEnd(p)}}
	} else {
		spans, ok, err := n.constraint.spans(ctx, r, n.index, n.codec.colTypes)
		if err != nil {
			return nil, err
		}
		if !ok {
			it.done = true
		}
		it.spans = spans
	}
	if n.reverse {
		for i, j := 0, len(it.spans)-1; i < j; i, j = i+1, j-1 {
			it.spans[i], it.spans[j] = it.spans[j], it.spans[i]
		}
	}
	it.batch = 128
	if n.limitHint > 0 {
		it.batch = n.limitHint
	}
	return it, nil
}

// pointIter is a primary key point lookup: one KV Get.
type pointIter struct {
	n    *scanNode
	r    *runParams
	done bool
	row  tree.Datums
	key  []byte
}

func (it *pointIter) next(ctx context.Context) (tree.Datums, error) {
	if it.done {
		return nil, nil
	}
	it.done = true
	n, r := it.n, it.r
	key := append(it.key[:0], n.index.prefix...)
	for i, vals := range n.constraint.eq {
		d, err := r.eval(ctx, vals[0], nil)
		if err != nil {
			return nil, err
		}
		if d == tree.DNull {
			return nil, nil
		}
		if d, err = coerceKeyDatum(ctx, r, d, n.codec.colTypes[n.index.keyCols[i]]); err != nil {
			return nil, err
		}
		if key, err = rowenc.EncodeKey(key, d, n.index.keyDirs[i]); err != nil {
			return nil, err
		}
	}
	it.key = key
	value, found, err := r.txn.Get(ctx, key)
	if err != nil || !found {
		return nil, err
	}
	if it.row == nil {
		it.row = make(tree.Datums, len(n.cols))
	}
	if err := n.decodeRow(&r.s.alloc, key, value, it.row); err != nil {
		return nil, err
	}
	if ok, err := r.evalFilter(ctx, n.filter, it.row); err != nil || !ok {
		return nil, err
	}
	return it.row, nil
}

func (it *pointIter) close() {}

// scanIter scans key spans in batches; for a secondary index it fetches
// each row from the primary index (index join).
type scanIter struct {
	n     *scanNode
	r     *runParams
	spans []kv.Span
	done  bool
	batch int
	kvs   []kv.KeyValue
	pos   int
	row   tree.Datums
}

func (it *scanIter) next(ctx context.Context) (tree.Datums, error) {
	n, r := it.n, it.r
	for {
		if it.pos >= len(it.kvs) {
			if it.done || len(it.spans) == 0 {
				it.done = true
				return nil, nil
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			span := it.spans[0]
			res, err := r.txn.Scan(ctx, span, kv.ScanOptions{MaxRows: it.batch, Reverse: n.reverse})
			if err != nil {
				return nil, err
			}
			if it.batch < 8192 {
				it.batch *= 2
			}
			it.kvs, it.pos = res.KVs, 0
			if res.ResumeSpan != nil {
				it.spans[0] = *res.ResumeSpan
			} else {
				it.spans = it.spans[1:]
			}
			continue
		}
		kvp := it.kvs[it.pos]
		it.pos++
		key, value := kvp.Key, kvp.Value
		if n.indexOnly {
			if err := n.codec.decodeSecondary(&r.s.alloc, n.index, key, value, it.row); err != nil {
				return nil, err
			}
			ok, err := r.evalFilter(ctx, n.filter, it.row)
			if err != nil {
				return nil, err
			}
			if ok {
				return it.row, nil
			}
			continue
		}
		if n.index != &n.codec.primary {
			pk, err := n.codec.primaryKeyFromSecondary(&r.s.alloc, n.index, key, value)
			if err != nil {
				return nil, err
			}
			v, found, err := r.txn.Get(ctx, pk)
			if err != nil {
				return nil, err
			}
			if !found {
				// The index entry and the row are written in one
				// transaction, so this cannot happen.
				return nil, fmt.Errorf("index %s of table %s points to a missing row", n.index.index.Name, n.codec.table.Name)
			}
			key, value = pk, v
		}
		if err := n.decodeRow(&r.s.alloc, key, value, it.row); err != nil {
			return nil, err
		}
		ok, err := r.evalFilter(ctx, n.filter, it.row)
		if err != nil {
			return nil, err
		}
		if ok {
			return it.row, nil
		}
	}
}

func (it *scanIter) close() { it.done = true }
