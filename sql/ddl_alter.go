package sql

import (
	"context"
	"fmt"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/parser"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/privilege"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/vcdb/vcdb/sql/catalog"
)

// execAlterTable runs ALTER TABLE's commands in order, each on the result
// of the previous one.
func (d *ddl) execAlterTable(ctx context.Context, at *tree.AlterTable) error {
	tn := at.Table.ToTableName()
	t, _, err := d.p.resolveStoredTable(&tn)
	if err != nil {
		if at.IfExists && pgerror.GetPGCode(err) == pgcode.UndefinedTable {
			return nil
		}
		return err
	}
	if err := d.p.requireTablePrivileges(t, privilege.CREATE); err != nil {
		return err
	}
	for _, cmd := range at.Cmds {
		t = t.Clone()
		if err := d.alterTableCmd(ctx, t, cmd); err != nil {
			return err
		}
		if err := t.Finish(); err != nil {
			return err
		}
		if err := d.descs.WriteDescriptor(ctx, &catalog.Descriptor{Table: t}); err != nil {
			return err
		}
		snap, err := d.descs.Snapshot(ctx)
		if err != nil {
			return err
		}
		d.snap, d.p.cat = snap, snap
		t = snap.TableByID(t.ID)
	}
	return nil
}

func (d *ddl) alterTableCmd(ctx context.Context, t *catalog.Table, cmd tree.AlterTableCmd) error {
	switch c := cmd.(type) {
	case *tree.AlterTableAddColumn:
		return d.addColumn(ctx, t, c)
	case *tree.AlterTableDropColumn:
		return d.dropColumn(ctx, t, c)
	case *tree.AlterTableRenameColumn:
		return d.renameColumn(t, string(c.Column), string(c.NewName))
	case *tree.AlterTableSetDefault:
		col := t.ColumnByName(string(c.Column))
		if col == nil {
			return errColumnMissing(string(c.Column))
		}
		col.Default = ""
		if c.Default != nil {
			text, err := d.defaultText(ctx, c.Default, col.Type, col.Name)
			if err != nil {
				return err
			}
			col.Default = text
		}
		return nil
	case *tree.AlterTableDropNotNull:
		col := t.ColumnByName(string(c.Column))
		if col == nil {
			return errColumnMissing(string(c.Column))
		}
		if t.IsPrimaryKeyColumn(col.ID) {
			return pgerror.Newf(pgcode.InvalidTableDefinition, "column %q is in a primary index", col.Name)
		}
		col.Nullable = true
		return nil
	case *tree.AlterTableSetNotNull:
		col := t.ColumnByName(string(c.Column))
		if col == nil {
			return errColumnMissing(string(c.Column))
		}
		o := t.ColumnOrdinal(col.ID)
		err := d.forEachRow(ctx, newTableCodec(d.s.srv.keys, t), func(row tree.Datums) error {
			if row[o] == tree.DNull {
				return pgerror.Newf(pgcode.CheckViolation, "validation of NOT NULL constraint failed: validation of column %q NOT NULL failed on row: %s", col.Name, formatRow(row))
			}
			return nil
		})
		if err != nil {
			return err
		}
		col.Nullable = false
		return nil
	case *tree.AlterTableAddConstraint:
		return d.addConstraint(ctx, t, c)
	case *tree.AlterTableDropConstraint:
		return d.dropConstraint(ctx, t, c)
	}
	return unimplemented(fmt.Sprintf("ALTER TABLE %s", cmd.TelemetryName()))
}

func formatRow(row tree.Datums) string {
	return tree.AsStringWithFlags(&row, tree.FmtSimple)
}

// addColumn runs ADD COLUMN; existing rows get the column's default,
// computed per row.
func (d *ddl) addColumn(ctx context.Context, t *catalog.Table, c *tree.AlterTableAddColumn) error {
	def := c.ColumnDef
	if t.ColumnByName(string(def.Name)) != nil {
		if c.IfNotExists {
			return nil
		}
		return pgerror.Newf(pgcode.DuplicateColumn, "column %q of relation %q already exists", string(def.Name), t.Name)
	}
	if def.PrimaryKey.IsPrimaryKey {
		return unimplemented("adding a primary key column")
	}
	col, err := d.newColumn(ctx, t, def)
	if err != nil {
		return err
	}
	t.Columns = append(t.Columns, col)
	if err := t.Finish(); err != nil {
		return err
	}
	o := len(t.Columns) - 1
	if def.Unique.IsUnique {
		idx, err := newIndex(t, string(def.Unique.ConstraintName), true, tree.IndexElemList{{Column: def.Name}}, nil)
		if err != nil {
			return err
		}
		idx.Constraint = true
		finishSecondaryIndex(t, &idx)
		t.Indexes = append(t.Indexes, idx)
	}
	for _, ce := range def.CheckExprs {
		if err := d.addCheck(ctx, t, string(ce.ConstraintName), ce.Expr); err != nil {
			return err
		}
	}
	if err := t.Finish(); err != nil {
		return err
	}
	// Backfill: write the default into every row, then check constraints
	// and build the new unique index, if any.
	var defExpr tree.TypedExpr
	if col.HasDefault() {
		e, err := parser.ParseExpr(col.Default)
		if err != nil {
			return err
		}
		if defExpr, err = d.p.typeCheck(ctx, e, nil, "DEFAULT", col.Type); err != nil {
			return err
		}
	}
	codec := newTableCodec(d.s.srv.keys, t)
	w, err := d.p.newTableWriter(ctx, codec)
	if err != nil {
		return err
	}
	err = d.forEachRow(ctx, codec, func(row tree.Datums) error {
		if defExpr != nil {
			v, err := d.rp.eval(ctx, defExpr, nil)
			if err != nil {
				return err
			}
			if row[o], err = w.assignCast(ctx, d.rp, v, o); err != nil {
				return err
			}
		}
		if err := w.validate(ctx, d.rp, row); err != nil {
			return err
		}
		if defExpr == nil {
			return nil
		}
		pk, err := codec.primaryKey(nil, row)
		if err != nil {
			return err
		}
		val, err := codec.primaryValue(nil, row)
		if err != nil {
			return err
		}
		return d.rp.txn.Put(pk, val)
	})
	if err != nil {
		return err
	}
	if def.Unique.IsUnique {
		return d.backfillIndex(ctx, t, &t.Indexes[len(t.Indexes)-1])
	}
	return nil
}

// dropColumn runs DROP COLUMN. The column's values stay in the rows and
// are skipped by readers (its id is never reused); indexes and CHECK
// constraints using it go with it.
func (d *ddl) dropColumn(ctx context.Context, t *catalog.Table, c *tree.AlterTableDropColumn) error {
	col := t.ColumnByName(string(c.Column))
	if col == nil {
		if c.IfExists {
			return nil
		}
		return errColumnMissing(string(c.Column))
	}
	if d.s.data.safeUpdates {
		return pgerror.Newf(pgcode.Warning, "rejected (sql_safe_updates = true): ALTER TABLE DROP COLUMN will remove all data in that column")
	}
	if t.IsPrimaryKeyColumn(col.ID) {
		return pgerror.Newf(pgcode.InvalidColumnReference, "column %q is referenced by the primary key", col.Name)
	}
	id := col.ID
	var keep []catalog.Index
	for _, idx := range t.Indexes {
		uses := false
		for _, k := range append(append([]catalog.ColumnID(nil), idx.KeyColumnIDs...), idx.StoreColumnIDs...) {
			if k == id {
				uses = true
			}
		}
		if !uses {
			keep = append(keep, idx)
			continue
		}
		if err := d.descs.Txn().DeleteRange(indexSpan(d.s.srv.keys, t.ID, idx.ID)); err != nil {
			return err
		}
	}
	t.Indexes = keep
	var checks []catalog.Check
	for _, ch := range t.Checks {
		uses := false
		for _, k := range ch.ColumnIDs {
			if k == id {
				uses = true
			}
		}
		if !uses {
			checks = append(checks, ch)
		}
	}
	t.Checks = checks
	o := t.ColumnOrdinal(id)
	t.Columns = append(t.Columns[:o], t.Columns[o+1:]...)
	return nil
}

// renameColumn renames a column and rewrites the CHECK expressions that
// name it.
func (d *ddl) renameColumn(t *catalog.Table, from, to string) error {
	col := t.ColumnByName(from)
	if col == nil {
		return errColumnMissing(from)
	}
	if from == to {
		return nil
	}
	if t.ColumnByName(to) != nil {
		return pgerror.Newf(pgcode.DuplicateColumn, "column %q of relation %q already exists", to, t.Name)
	}
	col.Name = to
	for i := range t.Checks {
		text, err := renameColumnInExpr(t.Checks[i].Expr, from, to)
		if err != nil {
			return err
		}
		t.Checks[i].Expr = text
	}
	return nil
}

// addConstraint runs ADD CONSTRAINT for UNIQUE and CHECK.
func (d *ddl) addConstraint(ctx context.Context, t *catalog.Table, c *tree.AlterTableAddConstraint) error {
	switch def := c.ConstraintDef.(type) {
	case *tree.UniqueConstraintTableDef:
		if def.PrimaryKey {
			return unimplemented("changing the primary key")
		}
		if def.WithoutIndex {
			return unimplemented("UNIQUE WITHOUT INDEX")
		}
		if def.IfNotExists && def.Name != "" && t.IndexByName(string(def.Name)) != nil {
			return nil
		}
		idx, err := newIndex(t, string(def.Name), true, def.Columns, def.Storing)
		if err != nil {
			return err
		}
		idx.Constraint = true
		finishSecondaryIndex(t, &idx)
		t.Indexes = append(t.Indexes, idx)
		if err := t.Finish(); err != nil {
			return err
		}
		return d.backfillIndex(ctx, t, &t.Indexes[len(t.Indexes)-1])
	case *tree.CheckConstraintTableDef:
		if def.IfNotExists && def.Name != "" && indexNameTaken(t, string(def.Name)) {
			return nil
		}
		if err := d.addCheck(ctx, t, string(def.Name), def.Expr); err != nil {
			return err
		}
		codec := newTableCodec(d.s.srv.keys, t)
		w, err := d.p.newTableWriter(ctx, codec)
		if err != nil {
			return err
		}
		check := w.checks[len(w.checks)-1]
		return d.forEachRow(ctx, codec, func(row tree.Datums) error {
			v, err := d.rp.eval(ctx, check.expr, row)
			if err != nil {
				return err
			}
			if v == tree.DBoolFalse {
				return pgerror.Newf(pgcode.CheckViolation,
					"validation of CHECK %q failed on row: %s", check.text, formatRow(row))
			}
			return nil
		})
	case *tree.ForeignKeyConstraintTableDef:
		return unimplemented("foreign keys")
	}
	return unimplemented("this constraint")
}

// dropConstraint runs DROP CONSTRAINT.
func (d *ddl) dropConstraint(ctx context.Context, t *catalog.Table, c *tree.AlterTableDropConstraint) error {
	name := string(c.Constraint)
	for i, ch := range t.Checks {
		if ch.Name == name {
			t.Checks = append(t.Checks[:i], t.Checks[i+1:]...)
			return nil
		}
	}
	if t.PrimaryIndex.Name == name {
		return unimplemented("dropping the primary key")
	}
	for i, idx := range t.Indexes {
		if idx.Name == name && idx.Unique {
			if err := d.descs.Txn().DeleteRange(indexSpan(d.s.srv.keys, t.ID, idx.ID)); err != nil {
				return err
			}
			t.Indexes = append(t.Indexes[:i], t.Indexes[i+1:]...)
			return nil
		}
	}
	if c.IfExists {
		return nil
	}
	return pgerror.Newf(pgcode.UndefinedObject, "constraint %q of relation %q does not exist", name, t.Name)
}

// execRenameColumn runs ALTER TABLE ... RENAME COLUMN in its own statement
// form.
func (d *ddl) execRenameColumn(ctx context.Context, rc *tree.RenameColumn) error {
	t, _, err := d.p.resolveStoredTable(&rc.Table)
	if err != nil {
		if rc.IfExists && pgerror.GetPGCode(err) == pgcode.UndefinedTable {
			return nil
		}
		return err
	}
	if err := d.p.requireTablePrivileges(t, privilege.CREATE); err != nil {
		return err
	}
	t = t.Clone()
	if err := d.renameColumn(t, string(rc.Name), string(rc.NewName)); err != nil {
		return err
	}
	return d.descs.WriteDescriptor(ctx, &catalog.Descriptor{Table: t})
}
