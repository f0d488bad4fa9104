package sql

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/parser"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/privilege"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/vcdb/vcdb/sql/catalog"
	"github.com/vcdb/vcdb/sql/sem"
)

// tableWriter writes rows of one table: the primary index entry and every
// secondary index entry, after checking NOT NULL, CHECK and uniqueness.
// Uniqueness is checked with a transactional Get of the key, which also
// puts the key in the transaction's read set, so two concurrent inserts of
// the same key cannot both commit.
type tableWriter struct {
	codec  *tableCodec
	checks []checkExpr
	// notNull are the ordinals of NOT NULL columns.
	notNull []int
}

type checkExpr struct {
	name string
	expr tree.TypedExpr
	text string
}

func (p *planner) newTableWriter(ctx context.Context, codec *tableCodec) (*tableWriter, error) {
	t := codec.table
	w := &tableWriter{codec: codec}
	for i := range t.Columns {
		if !t.Columns[i].Nullable {
			w.notNull = append(w.notNull, i)
		}
	}
	sc := tableScope(t, t.Name)
	for _, c := range t.Checks {
		e, err := parser.ParseExpr(c.Expr)
		if err != nil {
			return nil, err
		}
		typed, err := p.typeCheckFilter(ctx, e, sc, "CHECK")
		if err != nil {
			return nil, err
		}
		w.checks = append(w.checks, checkExpr{name: c.Name, expr: typed, text: c.Expr})
	}
	return w, nil
}

// tableScope makes the scope of a table's columns, named name.
func tableScope(t *catalog.Table, name string) *scope {
	sc := &scope{cols: make([]scopeColumn, len(t.Columns))}
	for i := range t.Columns {
		c := &t.Columns[i]
		sc.cols[i] = scopeColumn{
			resultColumn: resultColumn{name: c.Name, typ: c.Type, hidden: c.Hidden, tableID: t.ID, colID: c.ID},
			table:        name,
		}
	}
	return sc
}

// validate checks NOT NULL and CHECK constraints of a row to be written.
func (w *tableWriter) validate(ctx context.Context, r *runParams, row tree.Datums) error {
	for _, o := range w.notNull {
		if row[o] == tree.DNull {
			return pgerror.Newf(pgcode.NotNullViolation,
				"null value in column %q violates not-null constraint", w.codec.table.Columns[o].Name)
		}
	}
	for _, c := range w.checks {
		d, err := r.eval(ctx, c.expr, row)
		if err != nil {
			return err
		}
		if d == tree.DBoolFalse {
			return pgerror.WithConstraintName(pgerror.Newf(pgcode.CheckViolation,
				"failed to satisfy CHECK constraint (%s)", c.text), c.name)
		}
	}
	return nil
}

// errDuplicate is the 23505 error for index ic and row.
func (w *tableWriter) errDuplicate(ic *indexCodec, row tree.Datums) error {
	t := w.codec.table
	names := make([]string, len(ic.keyCols))
	vals := make([]string, len(ic.keyCols))
	for i, o := range ic.keyCols {
		names[i] = t.Columns[o].Name
		vals[i] = tree.AsStringWithFlags(row[o], tree.FmtBareStrings)
	}
	err := pgerror.Newf(pgcode.UniqueViolation,
		"duplicate key value violates unique constraint %q", ic.index.Name)
	err = errorWithDetail(err, fmt.Sprintf("Key (%s)=(%s) already exists.", strings.Join(names, ", "), strings.Join(vals, ", ")))
	return pgerror.WithConstraintName(err, ic.index.Name)
}

// conflict returns the first unique index (the primary first) on which row
// collides with an existing row, and that row's primary key.
func (w *tableWriter) conflict(ctx context.Context, r *runParams, row tree.Datums, pk []byte) (*indexCodec, []byte, error) {
	_, found, err := r.txn.Get(ctx, pk)
	if err != nil {
		return nil, nil, err
	}
	if found {
		return &w.codec.primary, pk, nil
	}
	for i := range w.codec.secondary {
		ic := &w.codec.secondary[i]
		if !ic.index.Unique {
			continue
		}
		uk, err := w.codec.uniqueKey(ic, row)
		if err != nil {
			return nil, nil, err
		}
		if uk == nil {
			continue
		}
		v, found, err := r.txn.Get(ctx, uk)
		if err != nil {
			return nil, nil, err
		}
		if found {
			otherPK, err := w.codec.primaryKeyFromSecondary(&r.s.alloc, ic, uk, v)
			if err != nil {
				return nil, nil, err
			}
			return ic, otherPK, nil
		}
	}
	return nil, nil, nil
}

// insert writes a new row; it fails with 23505 on a conflict.
func (w *tableWriter) insert(ctx context.Context, r *runParams, row tree.Datums) error {
	if err := w.validate(ctx, r, row); err != nil {
		return err
	}
	pk, err := w.codec.primaryKey(nil, row)
	if err != nil {
		return err
	}
	ic, _, err := w.conflict(ctx, r, row, pk)
	if err != nil {
		return err
	}
	if ic != nil {
		return w.errDuplicate(ic, row)
	}
	return w.put(ctx, r, pk, row)
}

// put writes row's entries without checking for conflicts.
func (w *tableWriter) put(ctx context.Context, r *runParams, pk []byte, row tree.Datums) error {
	value, err := w.codec.primaryValue(nil, row)
	if err != nil {
		return err
	}
	if err := r.txn.Put(pk, value); err != nil {
		return err
	}
	for i := range w.codec.secondary {
		key, val, err := w.codec.secondaryEntry(&w.codec.secondary[i], row)
		if err != nil {
			return err
		}
		if err := r.txn.Put(key, val); err != nil {
			return err
		}
	}
	return nil
}

// delete removes row's entries.
func (w *tableWriter) delete(ctx context.Context, r *runParams, row tree.Datums) error {
	pk, err := w.codec.primaryKey(nil, row)
	if err != nil {
		return err
	}
	if err := r.txn.Delete(pk); err != nil {
		return err
	}
	for i := range w.codec.secondary {
		key, _, err := w.codec.secondaryEntry(&w.codec.secondary[i], row)
		if err != nil {
			return err
		}
		if err := r.txn.Delete(key); err != nil {
			return err
		}
	}
	return nil
}

// update replaces oldRow by newRow, checking the unique indexes whose key
// changes.
func (w *tableWriter) update(ctx context.Context, r *runParams, oldRow, newRow tree.Datums) error {
	if err := w.validate(ctx, r, newRow); err != nil {
		return err
	}
	oldPK, err := w.codec.primaryKey(nil, oldRow)
	if err != nil {
		return err
	}
	newPK, err := w.codec.primaryKey(nil, newRow)
	if err != nil {
		return err
	}
	if !bytes.Equal(oldPK, newPK) {
		if _, found, err := r.txn.Get(ctx, newPK); err != nil {
			return err
		} else if found {
			return w.errDuplicate(&w.codec.primary, newRow)
		}
		if err := r.txn.Delete(oldPK); err != nil {
			return err
		}
	}
	value, err := w.codec.primaryValue(nil, newRow)
	if err != nil {
		return err
	}
	if err := r.txn.Put(newPK, value); err != nil {
		return err
	}
	for i := range w.codec.secondary {
		ic := &w.codec.secondary[i]
		oldKey, oldVal, err := w.codec.secondaryEntry(ic, oldRow)
		if err != nil {
			return err
		}
		newKey, newVal, err := w.codec.secondaryEntry(ic, newRow)
		if err != nil {
			return err
		}
		if bytes.Equal(oldKey, newKey) {
			if !bytes.Equal(oldVal, newVal) {
				if err := r.txn.Put(newKey, newVal); err != nil {
					return err
				}
			}
			continue
		}
		if ic.index.Unique {
			if uk, err := w.codec.uniqueKey(ic, newRow); err != nil {
				return err
			} else if uk != nil {
				if _, found, err := r.txn.Get(ctx, uk); err != nil {
					return err
				} else if found {
					return w.errDuplicate(ic, newRow)
				}
			}
		}
		if err := r.txn.Delete(oldKey); err != nil {
			return err
		}
		if err := r.txn.Put(newKey, newVal); err != nil {
			return err
		}
	}
	return nil
}

// fetchRow reads the row with primary key pk.
func (w *tableWriter) fetchRow(ctx context.Context, r *runParams, pk []byte) (tree.Datums, error) {
	v, found, err := r.txn.Get(ctx, pk)
	if err != nil || !found {
		return nil, err
	}
	row := make(tree.Datums, len(w.codec.table.Columns))
	if err := w.codec.decodePrimary(&r.s.alloc, pk, v, row); err != nil {
		return nil, err
	}
	return row, nil
}

// assignCast converts a value for storage in column o.
func (w *tableWriter) assignCast(ctx context.Context, r *runParams, d tree.Datum, o int) (tree.Datum, error) {
	col := &w.codec.table.Columns[o]
	if d == tree.DNull {
		return d, nil
	}
	if d.ResolvedType().Identical(col.Type) {
		return d, nil
	}
	return sem.AssignCast(ctx, r.ec, d, col.Type, col.Name)
}

// checkAssignable rejects, at planning time, values whose type can never
// be stored in a column (CockroachDB's 42804).
func checkAssignable(typ *types.T, col *catalog.Column) error {
	if typ.Family() == types.UnknownFamily || typ.Family() == col.Type.Family() {
		return nil
	}
	numeric := func(f types.Family) bool {
		return f == types.IntFamily || f == types.FloatFamily || f == types.DecimalFamily
	}
	if numeric(typ.Family()) && numeric(col.Type.Family()) {
		return nil
	}
	if typ.Family() == types.TimestampFamily && col.Type.Family() == types.TimestampTZFamily ||
		typ.Family() == types.TimestampTZFamily && col.Type.Family() == types.TimestampFamily ||
		typ.Family() == types.DateFamily && (col.Type.Family() == types.TimestampFamily || col.Type.Family() == types.TimestampTZFamily) {
		return nil
	}
	return pgerror.Newf(pgcode.DatatypeMismatch, "value type %s doesn't match type %s of column %q",
		typ.String(), col.Type.String(), col.Name)
}

// defaultExprs type-checks the DEFAULT expressions of a table, indexed by
// column ordinal (nil: NULL).
func (p *planner) defaultExprs(ctx context.Context, t *catalog.Table) ([]tree.TypedExpr, error) {
	out := make([]tree.TypedExpr, len(t.Columns))
	for i := range t.Columns {
		c := &t.Columns[i]
		if !c.HasDefault() {
			continue
		}
		e, err := parser.ParseExpr(c.Default)
		if err != nil {
			return nil, err
		}
		typed, err := p.typeCheck(ctx, e, nil, "DEFAULT", c.Type)
		if err != nil {
			return nil, err
		}
		out[i] = typed
	}
	return out, nil
}

// returningSpec is a RETURNING list over the table's row.
type returningSpec struct {
	exprs []tree.TypedExpr
	cols  []resultColumn
}

func (p *planner) planReturning(ctx context.Context, ret tree.ReturningClause, t *catalog.Table, alias string) (*returningSpec, error) {
	exprs, ok := ret.(*tree.ReturningExprs)
	if !ok {
		return nil, nil
	}
	sc := tableScope(t, alias)
	r := &renderBuilder{p: p, sc: sc}
	for _, se := range *exprs {
		if err := r.addSelectExpr(ctx, se, nil); err != nil {
			return nil, err
		}
	}
	spec := &returningSpec{exprs: r.exprs}
	for _, c := range r.cols {
		spec.cols = append(spec.cols, c.resultColumn)
	}
	return spec, nil
}

// project computes a RETURNING row.
func (rs *returningSpec) project(ctx context.Context, r *runParams, row tree.Datums) (tree.Datums, error) {
	out := make(tree.Datums, len(rs.exprs))
	for i, e := range rs.exprs {
		d, err := r.eval(ctx, e, row)
		if err != nil {
			return nil, err
		}
		out[i] = d
	}
	return out, nil
}

// targetTable resolves a mutation's target, with its alias.
// It checks that the user holds kinds on the table.
func (p *planner) targetTable(te tree.TableExpr, kinds ...privilege.Kind) (*catalog.Table, string, error) {
	alias := ""
	if at, ok := te.(*tree.AliasedTableExpr); ok {
		alias = string(at.As.Alias)
		te = at.Expr
	}
	tn, ok := te.(*tree.TableName)
	if !ok {
		return nil, "", unimplemented("this kind of mutation target")
	}
	t, _, err := p.resolveStoredTable(tn)
	if err != nil {
		return nil, "", err
	}
	if err := p.requireTablePrivileges(t, kinds...); err != nil {
		return nil, "", err
	}
	if alias == "" {
		alias = t.Name
	}
	return t, alias, nil
}

// mutationIter returns a mutation's RETURNING rows, computed by run at
// the first call.
type mutationIter struct {
	run  func(ctx context.Context) ([]tree.Datums, error)
	rows []tree.Datums
	pos  int
	done bool
}

func (it *mutationIter) next(ctx context.Context) (tree.Datums, error) {
	if !it.done {
		it.done = true
		rows, err := it.run(ctx)
		if err != nil {
			return nil, err
		}
		it.rows = rows
	}
	if it.pos >= len(it.rows) {
		return nil, nil
	}
	it.pos++
	return it.rows[it.pos-1], nil
}

func (it *mutationIter) close() {}
