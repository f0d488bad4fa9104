package sql

import (
	"context"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/parser"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/privilege"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/sql/catalog"
)

// execCreateDatabase runs CREATE DATABASE.
func (d *ddl) execCreateDatabase(ctx context.Context, cd *tree.CreateDatabase) error {
	name := string(cd.Name)
	if name == "" {
		return pgerror.Newf(pgcode.InvalidName, "empty database name")
	}
	if pr := d.p.principal(); !pr.Admin && !pr.CreateDB {
		return pgerror.Newf(pgcode.InsufficientPrivilege, "permission denied to create database")
	}
	if d.snap.DatabaseByName(name) != nil {
		if cd.IfNotExists {
			return nil
		}
		return pgerror.Newf(pgcode.DuplicateDatabase, "database %q already exists", name)
	}
	dbID, err := d.descs.AllocateID(ctx)
	if err != nil {
		return err
	}
	scID, err := d.descs.AllocateID(ctx)
	if err != nil {
		return err
	}
	if err := d.descs.WriteDescriptor(ctx, &catalog.Descriptor{Database: &catalog.Database{
		ID: dbID, Name: name, Owner: d.s.data.user, Privileges: catalog.DefaultDatabasePrivileges(d.s.data.user),
	}}); err != nil {
		return err
	}
	return d.descs.WriteDescriptor(ctx, &catalog.Descriptor{Schema: &catalog.Schema{
		ID: scID, ParentID: dbID, Name: "public", Owner: catalog.AdminRole,
	}})
}

// execDropDatabase runs DROP DATABASE (CASCADE by default, as in
// CockroachDB).
func (d *ddl) execDropDatabase(ctx context.Context, dd *tree.DropDatabase) error {
	name := string(dd.Name)
	db := d.snap.DatabaseByName(name)
	if db == nil {
		if dd.IfExists {
			return nil
		}
		return pgerror.Newf(pgcode.InvalidCatalogName, "database %q does not exist", name)
	}
	if err := d.p.requireDatabasePrivilege(db, privilege.DROP); err != nil {
		return err
	}
	tables := d.snap.Tables(db.ID, 0)
	if dd.DropBehavior == tree.DropRestrict && len(tables) > 0 {
		return pgerror.Newf(pgcode.DependentObjectsStillExist,
			"database %q is not empty and RESTRICT was specified", name)
	}
	if d.s.data.safeUpdates {
		if name == d.s.data.database {
			return pgerror.Newf(pgcode.Warning, "rejected (sql_safe_updates = true): DROP DATABASE on current database")
		}
		if len(tables) > 0 && dd.DropBehavior != tree.DropCascade {
			return pgerror.Newf(pgcode.Warning, "rejected (sql_safe_updates = true): DROP DATABASE on non-empty database without explicit CASCADE")
		}
	}
	for _, t := range tables {
		if err := d.dropTable(ctx, t); err != nil {
			return err
		}
	}
	for _, sc := range d.snap.Schemas(db.ID) {
		if err := d.descs.DeleteDescriptor(ctx, sc.ID); err != nil {
			return err
		}
	}
	return d.descs.DeleteDescriptor(ctx, db.ID)
}

// dropTable deletes a table's rows and descriptor.
func (d *ddl) dropTable(ctx context.Context, t *catalog.Table) error {
	if err := d.clearTable(t); err != nil {
		return err
	}
	return d.descs.DeleteDescriptor(ctx, t.ID)
}

// clearTable deletes every row of every index of t.
func (d *ddl) clearTable(t *catalog.Table) error {
	p := d.s.srv.keys.TablePrefix(t.ID)
	return d.descs.Txn().DeleteRange(kv.Span{Key: p, EndKey: kv.PrefixEnd(p)})
}

// execDropTable runs DROP TABLE.
func (d *ddl) execDropTable(ctx context.Context, dt *tree.DropTable) error {
	for i := range dt.Names {
		tn := &dt.Names[i]
		t, _, err := d.p.resolveStoredTable(tn)
		if err != nil {
			if dt.IfExists && pgerror.GetPGCode(err) == pgcode.UndefinedTable {
				continue
			}
			return err
		}
		if err := d.p.requireTablePrivileges(t, privilege.DROP); err != nil {
			return err
		}
		if err := d.dropTable(ctx, t); err != nil {
			return err
		}
	}
	return nil
}

// execTruncate runs TRUNCATE.
func (d *ddl) execTruncate(ctx context.Context, tr *tree.Truncate) error {
	for i := range tr.Tables {
		t, _, err := d.p.resolveStoredTable(&tr.Tables[i])
		if err != nil {
			return err
		}
		if err := d.p.requireTablePrivileges(t, privilege.DROP); err != nil {
			return err
		}
		if err := d.clearTable(t); err != nil {
			return err
		}
	}
	return nil
}

// backfillIndex writes the entries of index idx (already in t) for every
// existing row, failing on duplicates of a unique index.
func (d *ddl) backfillIndex(ctx context.Context, t *catalog.Table, idx *catalog.Index) error {
	codec := newTableCodec(d.s.srv.keys, t)
	var ic *indexCodec
	for i := range codec.secondary {
		if codec.secondary[i].index.ID == idx.ID {
			ic = &codec.secondary[i]
		}
	}
	w := &tableWriter{codec: codec}
	return d.forEachRow(ctx, codec, func(row tree.Datums) error {
		if ic.index.Unique {
			uk, err := codec.uniqueKey(ic, row)
			if err != nil {
				return err
			}
			if uk != nil {
				if _, found, err := d.rp.txn.Get(ctx, uk); err != nil {
					return err
				} else if found {
					return w.errDuplicate(ic, row)
				}
			}
		}
		key, val, err := codec.secondaryEntry(ic, row)
		if err != nil {
			return err
		}
		return d.rp.txn.Put(key, val)
	})
}

// forEachRow calls fn with every row of the table (read through the
// transaction, all rows first, so fn may write).
func (d *ddl) forEachRow(ctx context.Context, codec *tableCodec, fn func(tree.Datums) error) error {
	rows, err := drain(ctx, d.rp, newScanNode(codec, ""))
	if err != nil {
		return err
	}
	for _, row := range rows {
		if err := fn(row); err != nil {
			return err
		}
	}
	return nil
}

// execCreateIndex runs CREATE INDEX.
func (d *ddl) execCreateIndex(ctx context.Context, ci *tree.CreateIndex) error {
	if ci.Type != 0 {
		return unimplemented("inverted and vector indexes")
	}
	if ci.Predicate != nil {
		return unimplemented("partial indexes")
	}
	if ci.Sharded != nil {
		return unimplemented("hash-sharded indexes")
	}
	t, _, err := d.p.resolveStoredTable(&ci.Table)
	if err != nil {
		return err
	}
	if err := d.p.requireTablePrivileges(t, privilege.CREATE); err != nil {
		return err
	}
	if ci.Name != "" && t.IndexByName(string(ci.Name)) != nil && ci.IfNotExists {
		return nil
	}
	t = t.Clone()
	idx, err := newIndex(t, string(ci.Name), ci.Unique, ci.Columns, ci.Storing)
	if err != nil {
		return err
	}
	finishSecondaryIndex(t, &idx)
	t.Indexes = append(t.Indexes, idx)
	if err := t.Finish(); err != nil {
		return err
	}
	if err := d.backfillIndex(ctx, t, &t.Indexes[len(t.Indexes)-1]); err != nil {
		return err
	}
	return d.descs.WriteDescriptor(ctx, &catalog.Descriptor{Table: t})
}

// findIndex resolves table@index or a bare index name (searched in the
// current database's tables).
func (d *ddl) findIndex(tin *tree.TableIndexName) (*catalog.Table, *catalog.Index, error) {
	name := string(tin.Index)
	if tin.Table.ObjectName != "" {
		t, _, err := d.p.resolveStoredTable(&tin.Table)
		if err != nil {
			return nil, nil, err
		}
		if idx := t.IndexByName(name); idx != nil {
			return t, idx, nil
		}
		return nil, nil, pgerror.Newf(pgcode.UndefinedObject, "index %q does not exist", name)
	}
	db, err := d.p.currentDatabase()
	if err != nil {
		return nil, nil, err
	}
	var found *catalog.Table
	var fidx *catalog.Index
	for _, t := range d.snap.Tables(db.ID, 0) {
		if idx := t.IndexByName(name); idx != nil {
			if found != nil {
				return nil, nil, pgerror.Newf(pgcode.AmbiguousParameter, "index name %q is ambiguous (found in %s and %s)", name, found.Name, t.Name)
			}
			found, fidx = t, idx
		}
	}
	if found == nil {
		return nil, nil, pgerror.Newf(pgcode.UndefinedObject, "index %q does not exist", name)
	}
	return found, fidx, nil
}

// execDropIndex runs DROP INDEX.
func (d *ddl) execDropIndex(ctx context.Context, di *tree.DropIndex) error {
	for _, tin := range di.IndexList {
		t, idx, err := d.findIndex(tin)
		if err != nil {
			if di.IfExists && pgerror.GetPGCode(err) == pgcode.UndefinedObject {
				continue
			}
			return err
		}
		if err := d.p.requireTablePrivileges(t, privilege.CREATE); err != nil {
			return err
		}
		if idx.ID == catalog.PrimaryIndexID {
			return pgerror.Newf(pgcode.FeatureNotSupported, "cannot drop the primary index of a table using DROP INDEX")
		}
		if err := d.dropIndex(ctx, t, idx.ID); err != nil {
			return err
		}
	}
	return nil
}

// dropIndex deletes a secondary index's entries and descriptor.
func (d *ddl) dropIndex(ctx context.Context, t *catalog.Table, id catalog.IndexID) error {
	p := d.s.srv.keys.IndexPrefix(t.ID, id)
	if err := d.descs.Txn().DeleteRange(kv.Span{Key: p, EndKey: kv.PrefixEnd(p)}); err != nil {
		return err
	}
	t = t.Clone()
	for i := range t.Indexes {
		if t.Indexes[i].ID == id {
			t.Indexes = append(t.Indexes[:i], t.Indexes[i+1:]...)
			break
		}
	}
	return d.descs.WriteDescriptor(ctx, &catalog.Descriptor{Table: t})
}

// execRenameDatabase runs ALTER DATABASE ... RENAME TO.
func (d *ddl) execRenameDatabase(ctx context.Context, rd *tree.RenameDatabase) error {
	db := d.snap.DatabaseByName(string(rd.Name))
	if db == nil {
		return pgerror.Newf(pgcode.InvalidCatalogName, "database %q does not exist", string(rd.Name))
	}
	if err := requireOwner(d.p.principal(), db.Owner, "database", db.Name); err != nil {
		return err
	}
	if d.snap.DatabaseByName(string(rd.NewName)) != nil {
		return pgerror.Newf(pgcode.DuplicateDatabase, "database %q already exists", string(rd.NewName))
	}
	if string(rd.Name) == d.s.data.database {
		return pgerror.Newf(pgcode.FeatureNotSupported, "cannot rename the current database")
	}
	nd := *db
	nd.Name = string(rd.NewName)
	return d.descs.WriteDescriptor(ctx, &catalog.Descriptor{Database: &nd})
}

// execRenameTable runs ALTER TABLE ... RENAME TO.
func (d *ddl) execRenameTable(ctx context.Context, rt *tree.RenameTable) error {
	if rt.IsView || rt.IsSequence {
		return unimplemented("views and sequences")
	}
	tn := rt.Name.ToTableName()
	t, db, err := d.p.resolveStoredTable(&tn)
	if err != nil {
		if rt.IfExists && pgerror.GetPGCode(err) == pgcode.UndefinedTable {
			return nil
		}
		return err
	}
	if err := d.p.requireTablePrivileges(t, privilege.DROP); err != nil {
		return err
	}
	newTN := rt.NewName.ToTableName()
	ndb, nsc, err := d.p.targetSchema(&newTN)
	if err != nil {
		return err
	}
	if !newTN.ExplicitSchema {
		ndb, nsc = db, d.snap.SchemaByID(t.SchemaID)
	}
	if ndb.ID != db.ID {
		return unimplemented("moving a table to another database")
	}
	newName := string(newTN.ObjectName)
	if d.snap.TableByName(ndb.ID, nsc.ID, newName) != nil {
		return pgerror.Newf(pgcode.DuplicateRelation, "relation %q already exists", newName)
	}
	t = t.Clone()
	t.Name, t.SchemaID = newName, nsc.ID
	return d.descs.WriteDescriptor(ctx, &catalog.Descriptor{Table: t})
}

// execRenameIndex runs ALTER INDEX ... RENAME TO.
func (d *ddl) execRenameIndex(ctx context.Context, ri *tree.RenameIndex) error {
	t, idx, err := d.findIndex(ri.Index)
	if err != nil {
		if ri.IfExists && pgerror.GetPGCode(err) == pgcode.UndefinedObject {
			return nil
		}
		return err
	}
	if err := d.p.requireTablePrivileges(t, privilege.CREATE); err != nil {
		return err
	}
	if indexNameTaken(t, string(ri.NewName)) {
		return pgerror.Newf(pgcode.DuplicateRelation, "index name %q already exists", string(ri.NewName))
	}
	t = t.Clone()
	for _, i := range t.AllIndexes() {
		if i.ID == idx.ID {
			i.Name = string(ri.NewName)
		}
	}
	return d.descs.WriteDescriptor(ctx, &catalog.Descriptor{Table: t})
}

// renameColumnInExpr rewrites references to column from in a stored
// expression.
func renameColumnInExpr(text, from, to string) (string, error) {
	e, err := parser.ParseExpr(text)
	if err != nil {
		return "", err
	}
	out, err := tree.SimpleVisit(e, func(expr tree.Expr) (bool, tree.Expr, error) {
		if un, ok := expr.(*tree.UnresolvedName); ok && un.NumParts == 1 && un.Parts[0] == from {
			cp := *un
			cp.Parts[0] = to
			return false, &cp, nil
		}
		return true, expr, nil
	})
	if err != nil {
		return "", err
	}
	return tree.AsStringWithFlags(out, tree.FmtParsable), nil
}

func errColumnMissing(name string) error {
	return pgerror.Newf(pgcode.UndefinedColumn, "column %q does not exist", name)
}

// indexSpan is the key span of one index of a table.
func indexSpan(keys catalog.Keys, table catalog.ID, idx catalog.IndexID) kv.Span {
	p := keys.IndexPrefix(table, idx)
	return kv.Span{Key: p, EndKey: kv.PrefixEnd(p)}
}
