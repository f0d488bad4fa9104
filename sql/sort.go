package sql

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/vcdb/vcdb/sql/rowenc"
	"github.com/vcdb/vcdb/sql/sem"
)

// Ordering operators: sort (elided when an index scan already provides the
// order), distinct and limit.

// sortColumn is one ORDER BY key.
type sortColumn struct {
	idx        int
	desc       bool
	nullsFirst bool
}

// sortNode sorts its input.
type sortNode struct {
	src      planNode
	ordering []sortColumn
}

func (p *planner) addSort(n planNode, ordering []sortColumn) planNode {
	if providesOrdering(n, ordering) {
		return n
	}
	return &sortNode{src: n, ordering: ordering}
}

func (n *sortNode) columns() []resultColumn { return n.src.columns() }
func (n *sortNode) explain(e *explainer) {
	cols := n.src.columns()
	parts := make([]string, len(n.ordering))
	for i, o := range n.ordering {
		parts[i] = cols[o.idx].name
		if o.desc {
			parts[i] += " DESC"
		}
		if o.nullsFirst == o.desc {
			if o.nullsFirst {
				parts[i] += " NULLS FIRST"
			} else {
				parts[i] += " NULLS LAST"
			}
		}
	}
	e.line("sort " + strings.Join(parts, ", "))
	e.child(func() { n.src.explain(e) })
}

func (n *sortNode) start(ctx context.Context, r *runParams) (rowIter, error) {
	rows, err := drain(ctx, r, n.src)
	if err != nil {
		return nil, err
	}
	var sortErr error
	sort.SliceStable(rows, func(i, j int) bool {
		c, err := compareRows(ctx, r.ec, rows[i], rows[j], n.ordering)
		if err != nil && sortErr == nil {
			sortErr = err
		}
		return c < 0
	})
	if sortErr != nil {
		return nil, sortErr
	}
	return &sliceIter{rows: rows}, nil
}

func compareRows(ctx context.Context, ec *sem.Context, a, b tree.Datums, ordering []sortColumn) (int, error) {
	for _, o := range ordering {
		da, db := a[o.idx], b[o.idx]
		an, bn := da == tree.DNull, db == tree.DNull
		var c int
		switch {
		case an && bn:
			c = 0
		case an:
			c = -1
			if !o.nullsFirst {
				c = 1
			}
		case bn:
			c = 1
			if !o.nullsFirst {
				c = -1
			}
		default:
			var err error
			if c, err = sem.Compare(ctx, ec, da, db); err != nil {
				return 0, err
			}
			if o.desc {
				c = -c
			}
		}
		if c != 0 {
			return c, nil
		}
	}
	return 0, nil
}

// providesOrdering reports whether n already produces rows in the given
// order: a scan in index order under renders and filters.
func providesOrdering(n planNode, ordering []sortColumn) bool {
	cols := make([]int, len(ordering))
	for i, o := range ordering {
		cols[i] = o.idx
	}
	for {
		switch t := n.(type) {
		case *renderNode:
			for i, c := range cols {
				if t.passthrough[c] < 0 {
					return false
				}
				cols[i] = t.passthrough[c]
			}
			n = t.src
		case *projectNode:
			for i, c := range cols {
				cols[i] = t.passthrough[c]
			}
			n = t.src
		case *filterNode:
			n = t.src
		case *scanNode:
			return t.providesOrdering(cols, ordering)
		default:
			return false
		}
	}
}

// providesOrdering checks the index key order against table columns cols
// (ordering gives directions and NULL placement) and switches the scan to
// reverse when that gives the order.
func (n *scanNode) providesOrdering(cols []int, ordering []sortColumn) bool {
	ic := n.index
	if n.constraint != nil {
		for _, vals := range n.constraint.eq {
			if len(vals) != 1 {
				return false
			}
		}
	}
	// Key columns fixed by equality constraints do not affect the order.
	start := 0
	if n.constraint != nil {
		start = len(n.constraint.eq)
	}
	if len(cols) > len(ic.keyCols)-start {
		return false
	}
	reverse := false
	for i, c := range cols {
		k := start + i
		if ic.keyCols[k] != c {
			return false
		}
		indexDesc := ic.keyDirs[k] == rowenc.Descending
		want := ordering[i]
		rev := indexDesc != want.desc
		if i == 0 {
			reverse = rev
		} else if rev != reverse {
			return false
		}
		// Ascending index order puts NULLs first.
		nullsFirstInScan := !indexDesc != reverse
		if want.nullsFirst != nullsFirstInScan && n.codec.table.Columns[c].Nullable {
			return false
		}
	}
	n.reverse = reverse
	return true
}

// distinctNode removes duplicate rows (on keys), keeping the first of each.
type distinctNode struct {
	src  planNode
	keys []int
}

func (n *distinctNode) columns() []resultColumn { return n.src.columns() }
func (n *distinctNode) explain(e *explainer) {
	cols := n.src.columns()
	parts := make([]string, len(n.keys))
	for i, k := range n.keys {
		parts[i] = cols[k].name
	}
	e.line("distinct on " + strings.Join(parts, ", "))
	e.child(func() { n.src.explain(e) })
}
func (n *distinctNode) start(ctx context.Context, r *runParams) (rowIter, error) {
	src, err := n.src.start(ctx, r)
	if err != nil {
		return nil, err
	}
	return &distinctIter{n: n, src: src, seen: map[string]struct{}{}}, nil
}

type distinctIter struct {
	n    *distinctNode
	src  rowIter
	seen map[string]struct{}
	buf  []byte
}

func (it *distinctIter) next(ctx context.Context) (tree.Datums, error) {
	for {
		row, err := it.src.next(ctx)
		if err != nil || row == nil {
			return nil, err
		}
		it.buf = it.buf[:0]
		for _, k := range it.n.keys {
			if it.buf, err = hashKey(it.buf, row[k]); err != nil {
				return nil, err
			}
		}
		if _, ok := it.seen[string(it.buf)]; ok {
			continue
		}
		it.seen[string(it.buf)] = struct{}{}
		return row, nil
	}
}

func (it *distinctIter) close() { it.src.close() }

// hashKey appends an encoding of d under which equal values (in SQL's
// grouping sense: NULLs equal each other) have equal bytes.
func hashKey(b []byte, d tree.Datum) ([]byte, error) {
	if d != tree.DNull && rowenc.IsKeyType(d.ResolvedType()) {
		return rowenc.EncodeKey(b, d, rowenc.Ascending)
	}
	if d == tree.DNull {
		return rowenc.EncodeKey(b, d, rowenc.Ascending)
	}
	s := d.String()
	b = append(b, 0xff)
	b = append(b, fmt.Sprintf("%d:", len(s))...)
	return append(b, s...), nil
}

// limitNode applies LIMIT and OFFSET.
type limitNode struct {
	src           planNode
	count, offset tree.TypedExpr
}

func (n *limitNode) columns() []resultColumn { return n.src.columns() }
func (n *limitNode) explain(e *explainer) {
	var parts []string
	if n.count != nil {
		parts = append(parts, "limit "+tree.AsString(n.count))
	}
	if n.offset != nil {
		parts = append(parts, "offset "+tree.AsString(n.offset))
	}
	e.line(strings.Join(parts, " "))
	e.child(func() { n.src.explain(e) })
}

func (n *limitNode) start(ctx context.Context, r *runParams) (rowIter, error) {
	it := &limitIter{count: -1}
	for _, x := range []struct {
		e    tree.TypedExpr
		dst  *int64
		name string
	}{{n.count, &it.count, "LIMIT"}, {n.offset, &it.offset, "OFFSET"}} {
		if x.e == nil {
			continue
		}
		d, err := r.eval(ctx, x.e, nil)
		if err != nil {
			return nil, err
		}
		if d == tree.DNull {
			continue
		}
		v := int64(tree.MustBeDInt(d))
		if v < 0 {
			code := pgcode.InvalidRowCountInLimitClause
			if x.name == "OFFSET" {
				code = pgcode.InvalidRowCountInResultOffsetClause
			}
			return nil, pgerror.Newf(code, "negative %s", x.name)
		}
		*x.dst = v
	}
	if it.count == 0 {
		it.src = &sliceIter{}
		return it, nil
	}
	src, err := n.src.start(ctx, r)
	if err != nil {
		return nil, err
	}
	it.src = src
	return it, nil
}

type limitIter struct {
	src           rowIter
	count, offset int64
	seen          int64
}

func (it *limitIter) next(ctx context.Context) (tree.Datums, error) {
	for it.offset > 0 {
		row, err := it.src.next(ctx)
		if err != nil || row == nil {
			return nil, err
		}
		it.offset--
	}
	if it.count >= 0 && it.seen >= it.count {
		return nil, nil
	}
	row, err := it.src.next(ctx)
	if err != nil || row == nil {
		return nil, err
	}
	it.seen++
	return row, nil
}

func (it *limitIter) close() { it.src.close() }
