package sql

import (
	"context"
	"fmt"
	"strings"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/privilege"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/vcdb/vcdb/sql/catalog"
	"github.com/vcdb/vcdb/sql/rowenc"
)

// ddl is the context of one schema change statement: its transaction's
// catalog view and a planner for the expressions it type-checks.
type ddl struct {
	s     *Session
	descs *catalog.Collection
	snap  *catalog.Snapshot
	p     *planner
	rp    *runParams
}

// columnType resolves a column's declared type.
func columnType(def *tree.ColumnTableDef) (*types.T, error) {
	typ, ok := tree.GetStaticallyKnownType(def.Type)
	if !ok {
		return nil, pgerror.Newf(pgcode.UndefinedObject, "type %q does not exist", def.Type.SQLString())
	}
	if def.IsSerial {
		// serial_normalization = rowid: every SERIAL is an INT8 filled by
		// unique_rowid().
		return types.Int, nil
	}
	if !rowenc.IsStorableType(typ) {
		return nil, pgerror.Newf(pgcode.FeatureNotSupported, "column %s: type %s is not supported", def.Name, typ.String())
	}
	return typ, nil
}

// newColumn builds a column descriptor from its definition (constraints
// other than NULL/NOT NULL/DEFAULT are handled by the caller).
func (d *ddl) newColumn(ctx context.Context, t *catalog.Table, def *tree.ColumnTableDef) (catalog.Column, error) {
	if def.Computed.Computed {
		return catalog.Column{}, unimplemented("computed columns")
	}
	if def.GeneratedIdentity.IsGeneratedAsIdentity {
		return catalog.Column{}, unimplemented("identity columns")
	}
	if def.References.Table != nil {
		return catalog.Column{}, unimplemented("foreign keys")
	}
	typ, err := columnType(def)
	if err != nil {
		return catalog.Column{}, err
	}
	if def.IsSerial {
		if def.Type != nil {
			if st, ok := tree.GetStaticallyKnownType(def.Type); ok && st.Width() != 64 {
				d.s.addNotice(pgerror.WithSeverity(pgerror.Newf(pgcode.Warning,
					"upgrading the column %s to INT8 to utilize the session serial_normalization setting", def.Name), "NOTICE"))
			}
		}
	}
	col := catalog.Column{
		ID:       t.NextColumnID,
		Name:     string(def.Name),
		TypeSQL:  typ.SQLString(),
		Nullable: def.Nullable.Nullability != tree.NotNull && !def.PrimaryKey.IsPrimaryKey && !def.IsSerial,
		Hidden:   def.Hidden,
		Type:     typ,
	}
	t.NextColumnID++
	if def.IsSerial {
		col.Default = "unique_rowid()"
	}
	if def.DefaultExpr.Expr != nil {
		if def.IsSerial {
			return catalog.Column{}, pgerror.Newf(pgcode.Syntax, "SERIAL column %s cannot have a DEFAULT", def.Name)
		}
		text, err := d.defaultText(ctx, def.DefaultExpr.Expr, typ, col.Name)
		if err != nil {
			return catalog.Column{}, err
		}
		col.Default = text
	}
	return col, nil
}

// defaultText type-checks a DEFAULT expression and returns the text to
// store.
func (d *ddl) defaultText(ctx context.Context, e tree.Expr, typ *types.T, colName string) (string, error) {
	if _, ok := e.(tree.DefaultVal); ok {
		return "", nil
	}
	typed, err := d.p.typeCheck(ctx, e, nil, "DEFAULT", typ)
	if err != nil {
		return "", err
	}
	if typed == tree.DNull {
		return "", nil
	}
	if err := checkAssignable(typed.ResolvedType(), &catalog.Column{Name: colName, Type: typ}); err != nil {
		return "", pgerror.Newf(pgcode.DatatypeMismatch,
			"expected DEFAULT expression to have type %s, but '%s' has type %s",
			typ.String(), tree.AsString(e), typed.ResolvedType().String())
	}
	return tree.AsStringWithFlags(typed, tree.FmtParsable), nil
}

// checkText type-checks a CHECK expression against the table's columns and
// returns its stored text and the columns it references.
func (d *ddl) checkText(ctx context.Context, t *catalog.Table, e tree.Expr) (string, []catalog.ColumnID, error) {
	sc := tableScope(t, t.Name)
	typed, err := d.p.typeCheckFilter(ctx, e, sc, "CHECK")
	if err != nil {
		return "", nil, err
	}
	var ids []catalog.ColumnID
	seen := map[int]bool{}
	tree.WalkExprConst(ivarVisitor{fn: func(iv *tree.IndexedVar) {
		if !seen[iv.Idx] {
			seen[iv.Idx] = true
			ids = append(ids, t.Columns[iv.Idx].ID)
		}
	}}, typed)
	text := tree.AsStringWithFlags(typed, tree.FmtParsable, tree.FmtIndexedVarFormat(func(ctx *tree.FmtCtx, idx int) {
		ctx.FormatNameP(&t.Columns[idx].Name)
	}))
	return text, ids, nil
}

// uniqueName returns base, or base with the smallest numeric suffix that
// taken does not hold.
func uniqueName(base string, taken func(string) bool) string {
	if !taken(base) {
		return base
	}
	for i := 1; ; i++ {
		if n := fmt.Sprintf("%s%d", base, i); !taken(n) {
			return n
		}
	}
}

// indexNameTaken reports whether an index or constraint of t uses name.
func indexNameTaken(t *catalog.Table, name string) bool {
	if t.IndexByName(name) != nil {
		return true
	}
	for _, c := range t.Checks {
		if c.Name == name {
			return true
		}
	}
	return false
}

// newIndex builds an index descriptor on t from index elements.
func newIndex(t *catalog.Table, name string, unique bool, elems tree.IndexElemList, storing tree.NameList) (catalog.Index, error) {
	idx := catalog.Index{ID: t.NextIndexID, Unique: unique}
	var colNames []string
	seen := map[catalog.ColumnID]bool{}
	for _, e := range elems {
		if e.Expr != nil {
			return catalog.Index{}, unimplemented("expression indexes")
		}
		col := t.ColumnByName(string(e.Column))
		if col == nil {
			return catalog.Index{}, pgerror.Newf(pgcode.UndefinedColumn, "column %q does not exist", string(e.Column))
		}
		if seen[col.ID] {
			return catalog.Index{}, pgerror.Newf(pgcode.DuplicateColumn,
				"index %q contains duplicate column %q", name, col.Name)
		}
		seen[col.ID] = true
		if !rowenc.IsKeyType(col.Type) {
			return catalog.Index{}, pgerror.Newf(pgcode.FeatureNotSupported,
				"column %s is of type %s and thus is not indexable", col.Name, col.Type.String())
		}
		idx.KeyColumnIDs = append(idx.KeyColumnIDs, col.ID)
		idx.KeyDescending = append(idx.KeyDescending, e.Direction == tree.Descending)
		colNames = append(colNames, col.Name)
	}
	if name == "" {
		suffix := "_idx"
		if unique {
			suffix = "_key"
		}
		name = uniqueName(t.Name+"_"+strings.Join(colNames, "_")+suffix, func(n string) bool { return indexNameTaken(t, n) })
	} else if indexNameTaken(t, name) {
		return catalog.Index{}, pgerror.Newf(pgcode.DuplicateRelation, "index with name %q already exists", name)
	}
	idx.Name = name
	for _, s := range storing {
		col := t.ColumnByName(string(s))
		if col == nil {
			return catalog.Index{}, pgerror.Newf(pgcode.UndefinedColumn, "column %q does not exist", string(s))
		}
		// Key and primary key columns are in every entry already;
		// CockroachDB refuses to store them again too.
		if seen[col.ID] || t.IsPrimaryKeyColumn(col.ID) {
			return catalog.Index{}, pgerror.Newf(pgcode.DuplicateColumn,
				"index %q already contains column %q", name, col.Name)
		}
		seen[col.ID] = true
		idx.StoreColumnIDs = append(idx.StoreColumnIDs, col.ID)
		idx.StoredValues = true
	}
	t.NextIndexID++
	return idx, nil
}

// finishSecondaryIndex fills the key suffix of a secondary index: the
// primary key columns its key lacks.
func finishSecondaryIndex(t *catalog.Table, idx *catalog.Index) {
	idx.KeySuffixColumnIDs = nil
	for _, id := range t.PrimaryIndex.KeyColumnIDs {
		found := false
		for _, k := range idx.KeyColumnIDs {
			if k == id {
				found = true
			}
		}
		if !found {
			idx.KeySuffixColumnIDs = append(idx.KeySuffixColumnIDs, id)
		}
	}
}

// execCreateTable runs CREATE TABLE.
func (d *ddl) execCreateTable(ctx context.Context, ct *tree.CreateTable) error {
	if ct.As() {
		return d.execCreateTableAs(ctx, ct)
	}
	if ct.Persistence.IsTemporary() {
		return unimplemented("temporary tables")
	}
	db, sc, err := d.p.targetSchema(&ct.Table)
	if err != nil {
		return err
	}
	if err := d.p.requireDatabasePrivilege(db, privilege.CREATE); err != nil {
		return err
	}
	name := string(ct.Table.ObjectName)
	if d.snap.TableByName(db.ID, sc.ID, name) != nil {
		if ct.IfNotExists {
			return nil
		}
		return pgerror.Newf(pgcode.DuplicateRelation, "relation %q already exists", name)
	}
	id, err := d.descs.AllocateID(ctx)
	if err != nil {
		return err
	}
	t := &catalog.Table{ID: id, ParentID: db.ID, SchemaID: sc.ID, Name: name, Owner: d.s.data.user,
		NextColumnID: 1, NextIndexID: 2, Privileges: catalog.DefaultTablePrivileges(d.s.data.user)}
	if err := t.Finish(); err != nil {
		return err
	}
	// Columns first, so that constraints can name any of them.
	var pkElems tree.IndexElemList
	pkName := ""
	var uniques []*tree.UniqueConstraintTableDef
	var indexes []*tree.IndexTableDef
	var checks []*tree.CheckConstraintTableDef
	for _, def := range ct.Defs {
		switch def := def.(type) {
		case *tree.ColumnTableDef:
			if t.ColumnByName(string(def.Name)) != nil {
				return pgerror.Newf(pgcode.DuplicateColumn, "column %q specified more than once", string(def.Name))
			}
			col, err := d.newColumn(ctx, t, def)
			if err != nil {
				return err
			}
			t.Columns = append(t.Columns, col)
			if err := t.Finish(); err != nil {
				return err
			}
			if def.PrimaryKey.IsPrimaryKey {
				if pkElems != nil {
					return pgerror.Newf(pgcode.InvalidTableDefinition, "multiple primary keys for table %q are not allowed", name)
				}
				pkElems = tree.IndexElemList{{Column: def.Name}}
			}
			if def.Unique.IsUnique {
				uniques = append(uniques, &tree.UniqueConstraintTableDef{
					IndexTableDef: tree.IndexTableDef{Name: def.Unique.ConstraintName, Columns: tree.IndexElemList{{Column: def.Name}}},
				})
			}
			for _, c := range def.CheckExprs {
				checks = append(checks, &tree.CheckConstraintTableDef{Name: c.ConstraintName, Expr: c.Expr})
			}
		case *tree.UniqueConstraintTableDef:
			if def.WithoutIndex {
				return unimplemented("UNIQUE WITHOUT INDEX")
			}
			if def.PrimaryKey {
				if pkElems != nil {
					return pgerror.Newf(pgcode.InvalidTableDefinition, "multiple primary keys for table %q are not allowed", name)
				}
				pkElems, pkName = def.Columns, string(def.Name)
				continue
			}
			uniques = append(uniques, def)
		case *tree.IndexTableDef:
			indexes = append(indexes, def)
		case *tree.CheckConstraintTableDef:
			checks = append(checks, def)
		case *tree.FamilyTableDef:
			// Column families are a storage detail vcdb does not have.
		case *tree.ForeignKeyConstraintTableDef:
			return unimplemented("foreign keys")
		default:
			return unimplemented(fmt.Sprintf("table definition %T", def))
		}
	}
	if pkElems == nil {
		// No primary key: a hidden rowid filled by unique_rowid() is one,
		// as in CockroachDB.
		rowid := catalog.Column{ID: t.NextColumnID, Name: uniqueName("rowid", func(n string) bool { return t.ColumnByName(n) != nil }),
			TypeSQL: types.Int.SQLString(), Type: types.Int, Hidden: true, Default: "unique_rowid()"}
		t.NextColumnID++
		t.Columns = append(t.Columns, rowid)
		if err := t.Finish(); err != nil {
			return err
		}
		pkElems = tree.IndexElemList{{Column: tree.Name(rowid.Name)}}
	}
	if pkName == "" {
		pkName = name + "_pkey"
	}
	pk, err := newIndex(t, pkName, true, pkElems, nil)
	if err != nil {
		return err
	}
	pk.ID = catalog.PrimaryIndexID
	t.NextIndexID = 2
	t.PrimaryIndex = pk
	for _, id := range pk.KeyColumnIDs {
		t.ColumnByID(id).Nullable = false
	}
	for _, u := range uniques {
		idx, err := newIndex(t, string(u.Name), true, u.Columns, u.Storing)
		if err != nil {
			return err
		}
		idx.Constraint = true
		finishSecondaryIndex(t, &idx)
		t.Indexes = append(t.Indexes, idx)
	}
	for _, def := range indexes {
		if def.Type != 0 {
			return unimplemented("inverted and vector indexes")
		}
		if def.Predicate != nil {
			return unimplemented("partial indexes")
		}
		idx, err := newIndex(t, string(def.Name), false, def.Columns, def.Storing)
		if err != nil {
			return err
		}
		finishSecondaryIndex(t, &idx)
		t.Indexes = append(t.Indexes, idx)
	}
	for _, c := range checks {
		if err := d.addCheck(ctx, t, string(c.Name), c.Expr); err != nil {
			return err
		}
	}
	return d.descs.WriteDescriptor(ctx, &catalog.Descriptor{Table: t})
}

// addCheck adds a CHECK constraint to t (not validated against rows).
func (d *ddl) addCheck(ctx context.Context, t *catalog.Table, name string, e tree.Expr) error {
	text, ids, err := d.checkText(ctx, t, e)
	if err != nil {
		return err
	}
	if name == "" {
		var cols []string
		for _, id := range ids {
			cols = append(cols, t.ColumnByID(id).Name)
		}
		base := "check"
		if len(cols) > 0 {
			base += "_" + strings.Join(cols, "_")
		}
		name = uniqueName(base, func(n string) bool { return indexNameTaken(t, n) })
	} else if indexNameTaken(t, name) {
		return pgerror.Newf(pgcode.DuplicateObject, "duplicate constraint name: %q", name)
	}
	t.Checks = append(t.Checks, catalog.Check{Name: name, Expr: text, ColumnIDs: ids})
	return nil
}

// execCreateTableAs runs CREATE TABLE ... AS SELECT: the columns take the
// query's names and types, a hidden rowid is the primary key, and the rows
// are inserted in the same transaction.
func (d *ddl) execCreateTableAs(ctx context.Context, ct *tree.CreateTable) error {
	src, err := d.p.planSelect(ctx, ct.AsSource, nil)
	if err != nil {
		return err
	}
	var defs tree.TableDefs
	cols := src.columns()
	for i, c := range cols {
		name := c.name
		if i < len(ct.Defs) {
			if cd, ok := ct.Defs[i].(*tree.ColumnTableDef); ok {
				name = string(cd.Name)
			}
		}
		typ := c.typ
		if typ.Family() == types.UnknownFamily {
			typ = types.String
		}
		def := &tree.ColumnTableDef{Name: tree.Name(name), Type: typ}
		def.Nullable.Nullability = tree.SilentNull
		defs = append(defs, def)
	}
	create := &tree.CreateTable{IfNotExists: ct.IfNotExists, Table: ct.Table, Defs: defs}
	db, sc, err := d.p.targetSchema(&ct.Table)
	if err != nil {
		return err
	}
	if d.snap.TableByName(db.ID, sc.ID, string(ct.Table.ObjectName)) != nil && ct.IfNotExists {
		return nil
	}
	if err := d.execCreateTable(ctx, create); err != nil {
		return err
	}
	snap, err := d.descs.Snapshot(ctx)
	if err != nil {
		return err
	}
	t := snap.TableByName(db.ID, sc.ID, string(ct.Table.ObjectName))
	rows, err := drain(ctx, d.rp, src)
	if err != nil {
		return err
	}
	return d.insertRows(ctx, t, rows)
}

// insertRows inserts rows holding the table's visible columns in order.
func (d *ddl) insertRows(ctx context.Context, t *catalog.Table, rows []tree.Datums) error {
	codec := newTableCodec(d.s.srv.keys, t)
	w, err := d.p.newTableWriter(ctx, codec)
	if err != nil {
		return err
	}
	defaults, err := d.p.defaultExprs(ctx, t)
	if err != nil {
		return err
	}
	for _, src := range rows {
		row := make(tree.Datums, len(t.Columns))
		j := 0
		for i := range t.Columns {
			if t.Columns[i].Hidden {
				v, err := d.rp.eval(ctx, defaults[i], nil)
				if err != nil {
					return err
				}
				row[i] = v
				continue
			}
			v, err := w.assignCast(ctx, d.rp, src[j], i)
			if err != nil {
				return err
			}
			row[i] = v
			j++
		}
		if err := w.insert(ctx, d.rp, row); err != nil {
			return err
		}
	}
	return nil
}
