package sql

import (
	"context"
	"strconv"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/privilege"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/cockroachdb/errors"
	"github.com/vcdb/vcdb/sql/catalog"
)

var errorWithDetail = errors.WithDetail

// insertNode is INSERT, UPSERT and INSERT ... ON CONFLICT.
type insertNode struct {
	w     *tableWriter
	alias string
	// targets[i] is the column ordinal source column i goes to.
	targets []int
	// rows holds the VALUES expressions (nil for INSERT ... SELECT and
	// DEFAULT VALUES); DEFAULT items are nil.
	rows [][]tree.TypedExpr
	// source is the SELECT of INSERT ... SELECT.
	source planNode
	// defaults has the DEFAULT expression of each column (nil: NULL).
	defaults []tree.TypedExpr

	conflict *onConflict
	// blindUpsert: UPSERT that writes every column of a table with no
	// secondary index: the new row replaces any old one without a read.
	blindUpsert bool
	ret         *returningSpec
	upsert      bool
}

// onConflict is the ON CONFLICT clause (or UPSERT).
type onConflict struct {
	// arbiter is the unique index named by the conflict target; nil means
	// any unique index (DO NOTHING only).
	arbiter   *indexCodec
	doNothing bool
	// set[i] assigns column setCols[i]; expressions see the existing row
	// followed by the proposed row ("excluded").
	setCols []int
	set     []tree.TypedExpr
	where   tree.TypedExpr
}

func (n *insertNode) columns() []resultColumn {
	if n.ret == nil {
		return nil
	}
	return n.ret.cols
}

func (n *insertNode) explain(e *explainer) {
	verb := "insert"
	if n.upsert {
		verb = "upsert"
	}
	line := verb + " " + n.w.codec.table.Name
	if n.blindUpsert {
		line += " (blind write)"
	}
	if n.conflict != nil && !n.upsert {
		if n.conflict.doNothing {
			line += " on conflict do nothing"
		} else {
			line += " on conflict do update"
		}
	}
	e.line(line)
	e.child(func() {
		if n.source != nil {
			n.source.explain(e)
		} else {
			e.line("values: " + itoa(len(n.rows)) + " row" + plural(len(n.rows)))
		}
	})
}

func (p *planner) planInsert(ctx context.Context, ins *tree.Insert) (planNode, error) {
	if ins.With != nil {
		return nil, unimplemented("WITH")
	}
	p.writes = true
	kinds := []privilege.Kind{privilege.INSERT}
	if ins.OnConflict != nil {
		kinds = append(kinds, privilege.SELECT, privilege.UPDATE)
	} else if returnsRows(ins.Returning) {
		kinds = append(kinds, privilege.SELECT)
	}
	t, alias, err := p.targetTable(ins.Table, kinds...)
	if err != nil {
		return nil, err
	}
	codec := newTableCodec(p.s.srv.keys, t)
	w, err := p.newTableWriter(ctx, codec)
	if err != nil {
		return nil, err
	}
	n := &insertNode{w: w, alias: alias, upsert: ins.OnConflict.IsUpsertAlias()}
	if n.defaults, err = p.defaultExprs(ctx, t); err != nil {
		return nil, err
	}
	// Target columns: the list given, else every visible column.
	if len(ins.Columns) > 0 {
		seen := map[int]bool{}
		for _, name := range ins.Columns {
			c := t.ColumnByName(string(name))
			if c == nil {
				return nil, pgerror.Newf(pgcode.UndefinedColumn, "column %q does not exist", string(name))
			}
			o := t.ColumnOrdinal(c.ID)
			if seen[o] {
				return nil, pgerror.Newf(pgcode.Syntax, "multiple assignments to the same column %q", string(name))
			}
			seen[o] = true
			n.targets = append(n.targets, o)
		}
	} else {
		for i := range t.Columns {
			if !t.Columns[i].Hidden {
				n.targets = append(n.targets, i)
			}
		}
	}
	if !ins.DefaultValues() {
		if err := p.planInsertSource(ctx, n, ins.Rows, len(ins.Columns) > 0); err != nil {
			return nil, err
		}
	} else {
		n.rows = [][]tree.TypedExpr{make([]tree.TypedExpr, len(n.targets))}
	}
	if ins.OnConflict != nil {
		if err := p.planOnConflict(ctx, n, ins.OnConflict); err != nil {
			return nil, err
		}
	}
	if n.ret, err = p.planReturning(ctx, ins.Returning, t, alias); err != nil {
		return nil, err
	}
	return n, nil
}

// planInsertSource plans VALUES rows directly (typed for their target
// columns) or any other query as a source plan.
func (p *planner) planInsertSource(ctx context.Context, n *insertNode, rows *tree.Select, explicitCols bool) error {
	t := n.w.codec.table
	if v, ok := rows.Select.(*tree.ValuesClause); ok && rows.OrderBy == nil && rows.Limit == nil && rows.With == nil {
		for _, row := range v.Rows {
			if len(row) > len(n.targets) {
				return pgerror.Newf(pgcode.Syntax, "INSERT has more expressions than target columns, %d expressions for %d targets", len(row), len(n.targets))
			}
			if explicitCols && len(row) < len(n.targets) {
				return pgerror.Newf(pgcode.Syntax, "INSERT has more target columns than expressions, %d expressions for %d targets", len(row), len(n.targets))
			}
			typed := make([]tree.TypedExpr, len(n.targets))
			for j, e := range row {
				if _, ok := e.(tree.DefaultVal); ok {
					continue
				}
				col := &t.Columns[n.targets[j]]
				te, err := p.typeCheck(ctx, e, nil, "VALUES", col.Type)
				if err != nil {
					return err
				}
				if err := checkAssignable(te.ResolvedType(), col); err != nil {
					return err
				}
				typed[j] = te
			}
			n.rows = append(n.rows, typed)
		}
		return nil
	}
	desired := make([]*types.T, len(n.targets))
	for i, o := range n.targets {
		desired[i] = t.Columns[o].Type
	}
	src, err := p.planSelect(ctx, rows, desired)
	if err != nil {
		return err
	}
	cols := src.columns()
	if len(cols) > len(n.targets) {
		return pgerror.Newf(pgcode.Syntax, "INSERT has more expressions than target columns, %d expressions for %d targets", len(cols), len(n.targets))
	}
	if explicitCols && len(cols) < len(n.targets) {
		return pgerror.Newf(pgcode.Syntax, "INSERT has more target columns than expressions, %d expressions for %d targets", len(cols), len(n.targets))
	}
	for i, c := range cols {
		if err := checkAssignable(c.typ, &t.Columns[n.targets[i]]); err != nil {
			return err
		}
	}
	n.targets = n.targets[:len(cols)]
	n.source = src
	return nil
}

// planOnConflict plans ON CONFLICT and UPSERT.
func (p *planner) planOnConflict(ctx context.Context, n *insertNode, oc *tree.OnConflict) error {
	t := n.w.codec.table
	c := &onConflict{doNothing: oc.DoNothing}
	if oc.Constraint != "" {
		idx := t.IndexByName(string(oc.Constraint))
		if idx == nil || !idx.Unique {
			return pgerror.Newf(pgcode.UndefinedObject, "constraint %q for table %q does not exist", string(oc.Constraint), t.Name)
		}
		oc = &tree.OnConflict{Columns: nil, Exprs: oc.Exprs, Where: oc.Where, DoNothing: oc.DoNothing}
		for _, id := range idx.KeyColumnIDs {
			oc.Columns = append(oc.Columns, tree.Name(t.ColumnByID(id).Name))
		}
	}
	switch {
	case n.upsert:
		c.arbiter = &n.w.codec.primary
	case len(oc.Columns) > 0:
		arb, err := arbiterIndex(n.w.codec, oc.Columns)
		if err != nil {
			return err
		}
		c.arbiter = arb
	case !oc.DoNothing:
		return pgerror.Newf(pgcode.Syntax, "ON CONFLICT DO UPDATE requires a conflict target (column list or constraint)")
	}
	if n.upsert {
		// UPSERT sets every target column that is not in the primary key
		// to its new value.
		for _, o := range n.targets {
			if t.IsPrimaryKeyColumn(t.Columns[o].ID) {
				continue
			}
			c.setCols = append(c.setCols, o)
			c.set = append(c.set, tree.NewTypedOrdinalReference(len(t.Columns)+o, t.Columns[o].Type))
		}
		// A blind write is correct when nothing of an old row survives or
		// needs cleaning up: all columns written, no secondary index, no
		// RETURNING of old values.
		if len(t.Indexes) == 0 && len(n.targets) == len(t.Columns) {
			n.blindUpsert = true
		}
		n.conflict = c
		return nil
	}
	if !oc.DoNothing {
		sc := tableScope(t, n.alias)
		ex := tableScope(t, "excluded")
		sc.cols = append(sc.cols, ex.cols...)
		for _, ue := range oc.Exprs {
			if ue.Tuple {
				return unimplemented("tuple assignment in ON CONFLICT DO UPDATE")
			}
			col := t.ColumnByName(string(ue.Names[0]))
			if col == nil {
				return pgerror.Newf(pgcode.UndefinedColumn, "column %q does not exist", string(ue.Names[0]))
			}
			o := t.ColumnOrdinal(col.ID)
			var typed tree.TypedExpr
			if _, ok := ue.Expr.(tree.DefaultVal); ok {
				typed = n.defaults[o]
				if typed == nil {
					typed = tree.DNull
				}
			} else {
				var err error
				if typed, err = p.typeCheck(ctx, ue.Expr, sc, "ON CONFLICT DO UPDATE", col.Type); err != nil {
					return err
				}
				if err := checkAssignable(typed.ResolvedType(), col); err != nil {
					return err
				}
			}
			c.setCols = append(c.setCols, o)
			c.set = append(c.set, typed)
		}
		if oc.Where != nil {
			w, err := p.typeCheckFilter(ctx, oc.Where.Expr, sc, "WHERE")
			if err != nil {
				return err
			}
			c.where = w
		}
	}
	n.conflict = c
	return nil
}

// arbiterIndex finds the unique index whose key columns are exactly cols.
func arbiterIndex(codec *tableCodec, cols tree.NameList) (*indexCodec, error) {
	t := codec.table
	want := map[string]bool{}
	for _, c := range cols {
		want[string(c)] = true
	}
	matches := func(idx *catalog.Index) bool {
		if !idx.Unique || len(idx.KeyColumnIDs) != len(want) {
			return false
		}
		for _, id := range idx.KeyColumnIDs {
			if !want[t.ColumnByID(id).Name] {
				return false
			}
		}
		return true
	}
	if matches(&t.PrimaryIndex) {
		return &codec.primary, nil
	}
	for i := range codec.secondary {
		if matches(codec.secondary[i].index) {
			return &codec.secondary[i], nil
		}
	}
	return nil, pgerror.Newf(pgcode.InvalidColumnReference,
		"there is no unique or exclusion constraint matching the ON CONFLICT specification")
}

func (n *insertNode) start(ctx context.Context, r *runParams) (rowIter, error) {
	return &mutationIter{run: func(ctx context.Context) ([]tree.Datums, error) { return n.run(ctx, r) }}, nil
}

// run inserts every row and returns the RETURNING rows.
func (n *insertNode) run(ctx context.Context, r *runParams) ([]tree.Datums, error) {
	t := n.w.codec.table
	var srcRows []tree.Datums
	if n.source != nil {
		var err error
		if srcRows, err = drain(ctx, r, n.source); err != nil {
			return nil, err
		}
	}
	numRows := len(n.rows)
	if n.source != nil {
		numRows = len(srcRows)
	}
	var out []tree.Datums
	// touched records the primary keys an ON CONFLICT DO UPDATE (or UPSERT
	// of several rows) wrote, since no row may be affected twice.
	var touched map[string]bool
	if n.conflict != nil && !n.conflict.doNothing && numRows > 1 {
		touched = map[string]bool{}
	}
	for i := 0; i < numRows; i++ {
		row := make(tree.Datums, len(t.Columns))
		provided := make([]bool, len(t.Columns))
		for j, o := range n.targets {
			var d tree.Datum
			if n.source != nil {
				d = srcRows[i][j]
			} else if e := n.rows[i][j]; e != nil {
				var err error
				if d, err = r.eval(ctx, e, nil); err != nil {
					return nil, err
				}
			} else {
				continue // DEFAULT
			}
			d, err := n.w.assignCast(ctx, r, d, o)
			if err != nil {
				return nil, err
			}
			row[o], provided[o] = d, true
		}
		for o := range row {
			if provided[o] {
				continue
			}
			row[o] = tree.DNull
			if e := n.defaults[o]; e != nil {
				d, err := r.eval(ctx, e, nil)
				if err != nil {
					return nil, err
				}
				if row[o], err = n.w.assignCast(ctx, r, d, o); err != nil {
					return nil, err
				}
			}
		}
		written, err := n.writeRow(ctx, r, row)
		if err != nil {
			return nil, err
		}
		if written == nil {
			continue
		}
		if touched != nil {
			pk, err := n.w.codec.primaryKey(nil, written)
			if err != nil {
				return nil, err
			}
			if touched[string(pk)] {
				return nil, pgerror.Newf(pgcode.CardinalityViolation,
					"UPSERT or INSERT...ON CONFLICT command cannot affect row a second time")
			}
			touched[string(pk)] = true
		}
		r.rowsAffected++
		if n.ret != nil {
			ret, err := n.ret.project(ctx, r, written)
			if err != nil {
				return nil, err
			}
			out = append(out, ret)
		}
	}
	return out, nil
}

// writeRow inserts row, resolving conflicts as the statement says. It
// returns the row as written, or nil when nothing was written.
func (n *insertNode) writeRow(ctx context.Context, r *runParams, row tree.Datums) (tree.Datums, error) {
	w := n.w
	if n.conflict == nil {
		return row, w.insert(ctx, r, row)
	}
	if err := w.validate(ctx, r, row); err != nil {
		return nil, err
	}
	pk, err := w.codec.primaryKey(nil, row)
	if err != nil {
		return nil, err
	}
	if n.blindUpsert {
		return row, w.put(ctx, r, pk, row)
	}
	c := n.conflict
	ic, existingPK, err := w.conflict(ctx, r, row, pk)
	if err != nil {
		return nil, err
	}
	if ic == nil {
		return row, w.put(ctx, r, pk, row)
	}
	if c.arbiter != nil && ic != c.arbiter {
		// A conflict on another index than the arbiter is an error even
		// when the arbiter has none.
		if c.arbiter == &w.codec.primary || !n.arbiterConflicts(ctx, r, row) {
			return nil, w.errDuplicate(ic, row)
		}
		if existingPK, err = n.arbiterRowPK(ctx, r, row); err != nil {
			return nil, err
		}
	}
	if c.doNothing {
		return nil, nil
	}
	existing, err := w.fetchRow(ctx, r, existingPK)
	if err != nil {
		return nil, err
	}
	if existing == nil {
		return nil, errors.AssertionFailedf("conflicting row of %s vanished", w.codec.table.Name)
	}
	both := append(append(tree.Datums(nil), existing...), row...)
	if ok, err := r.evalFilter(ctx, c.where, both); err != nil || !ok {
		return nil, err
	}
	updated := append(tree.Datums(nil), existing...)
	for i, o := range c.setCols {
		d, err := r.eval(ctx, c.set[i], both)
		if err != nil {
			return nil, err
		}
		if updated[o], err = w.assignCast(ctx, r, d, o); err != nil {
			return nil, err
		}
	}
	return updated, w.update(ctx, r, existing, updated)
}

// arbiterConflicts reports whether row collides on the arbiter index.
func (n *insertNode) arbiterConflicts(ctx context.Context, r *runParams, row tree.Datums) bool {
	pk, err := n.arbiterRowPK(ctx, r, row)
	return err == nil && pk != nil
}

// arbiterRowPK returns the primary key of the row colliding with row on
// the arbiter index, or nil.
func (n *insertNode) arbiterRowPK(ctx context.Context, r *runParams, row tree.Datums) ([]byte, error) {
	ic := n.conflict.arbiter
	w := n.w
	uk, err := w.codec.uniqueKey(ic, row)
	if err != nil || uk == nil {
		return nil, err
	}
	v, found, err := r.txn.Get(ctx, uk)
	if err != nil || !found {
		return nil, err
	}
	return w.codec.primaryKeyFromSecondary(&r.s.alloc, ic, uk, v)
}

func itoa(i int) string { return strconv.Itoa(i) }
