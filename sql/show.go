package sql

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/privilege"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/vcdb/vcdb/sql/catalog"
)

func dstr(s string) tree.Datum { return tree.NewDString(s) }

func dstrOrNull(s string) tree.Datum {
	if s == "" {
		return tree.DNull
	}
	return tree.NewDString(s)
}

func dstrArray(ss []string) tree.Datum {
	a := tree.NewDArray(types.String)
	for _, s := range ss {
		_ = a.Append(tree.NewDString(s))
	}
	return a
}

// execShow computes the rows of a SHOW statement.
func (d *ddl) execShow(ctx context.Context, stmt tree.Statement) ([]tree.Datums, error) {
	switch t := stmt.(type) {
	case *tree.ShowDatabases:
		var rows []tree.Datums
		for _, db := range d.snap.Databases() {
			rows = append(rows, tree.Datums{dstr(db.Name), dstr(db.Owner), tree.DNull, tree.DNull, dstrArray(nil), tree.DNull})
		}
		return rows, nil
	case *tree.ShowSchemas:
		db, err := d.showDatabase(string(t.Database))
		if err != nil {
			return nil, err
		}
		var rows []tree.Datums
		for _, name := range []string{"crdb_internal", "information_schema", "pg_catalog", "pg_extension"} {
			if _, ok := virtualSchemas[name]; ok {
				rows = append(rows, tree.Datums{dstr(name), tree.DNull})
			}
		}
		for _, sc := range d.snap.Schemas(db.ID) {
			rows = append(rows, tree.Datums{dstr(sc.Name), dstr(sc.Owner)})
		}
		sort.Slice(rows, func(i, j int) bool { return string(*rows[i][0].(*tree.DString)) < string(*rows[j][0].(*tree.DString)) })
		return rows, nil
	case *tree.ShowTables:
		return d.showTables(t)
	case *tree.ShowColumns:
		tbl, err := d.showTable(t.Table)
		if err != nil {
			return nil, err
		}
		return showColumns(tbl), nil
	case *tree.ShowIndexes:
		tbl, err := d.showTable(t.Table)
		if err != nil {
			return nil, err
		}
		return showIndexes(tbl), nil
	case *tree.ShowCreate:
		if t.Mode != tree.ShowCreateModeTable && t.Mode != tree.ShowCreateModeTable-0 {
			return nil, unimplemented("SHOW CREATE for this object kind")
		}
		tbl, err := d.showTable(t.Name)
		if err != nil {
			return nil, err
		}
		schema := d.snap.SchemaByID(tbl.SchemaID)
		name := tbl.Name
		if schema != nil {
			name = schema.Name + "." + tbl.Name
		}
		return []tree.Datums{{dstr(tbl.Name), dstr(showCreateTable(name, tbl))}}, nil
	case *tree.ShowUsers, *tree.ShowRoles:
		return d.showUsers(), nil
	case *tree.ShowClusterSetting:
		return d.showClusterSetting(ctx, t.Name)
	case *tree.ShowClusterSettingList:
		return d.showClusterSettings(ctx)
	case *tree.ShowTenantClusterSetting:
		return d.execShowTenantClusterSetting(ctx, t)
	case *tree.ShowTenant:
		return d.execShowTenant(ctx, t)
	case *tree.ShowFingerprints:
		return d.execShowFingerprints(ctx, t)
	case *tree.ShowJobs:
		return d.execShowJobs(ctx, t)
	case *tree.ShowGrants:
		return d.execShowGrants(ctx, t)
	case *tree.ShowRoleGrants:
		return d.execShowRoleGrants(t)
	case *tree.ShowExternalConnections:
		return d.execShowExternalConnections(ctx, t)
	case *tree.ShowSessions:
		// Users see their own sessions; admins and holders of
		// VIEWACTIVITY see every session.
		pr := d.s.principal(d.snap)
		all := pr.HasSystemPrivilege(privilege.VIEWACTIVITY)
		var rows []tree.Datums
		for _, sess := range d.s.srv.sessions() {
			if !all && sess.startup.User != pr.Name {
				continue
			}
			q, app := sess.activity()
			status := "IDLE"
			if q != "" {
				status = "ACTIVE"
			}
			start, err := tree.MakeDTimestampTZ(sess.start, time.Microsecond)
			if err != nil {
				return nil, err
			}
			rows = append(rows, tree.Datums{dint(1), dstr(fmt.Sprintf("%016x", sess.id)), dstr(status),
				dstr(sess.startup.User), dstr(sess.startup.RemoteAddr), dstr(app), dstr(q), start})
		}
		return rows, nil
	}
	return nil, unimplemented(stmt.StatementTag())
}

// showDatabase resolves the database a SHOW names ("" = current).
func (d *ddl) showDatabase(name string) (*catalog.Database, error) {
	if name == "" {
		return d.p.currentDatabase()
	}
	db := d.snap.DatabaseByName(name)
	if db == nil {
		return nil, pgerror.Newf(pgcode.InvalidCatalogName, "database %q does not exist", name)
	}
	return db, nil
}

// showTable resolves a SHOW's table name.
func (d *ddl) showTable(name *tree.UnresolvedObjectName) (*catalog.Table, error) {
	tn := name.ToTableName()
	t, _, err := d.p.resolveStoredTable(&tn)
	return t, err
}

func (d *ddl) showTables(t *tree.ShowTables) ([]tree.Datums, error) {
	var db *catalog.Database
	var schema *catalog.Schema
	var err error
	switch {
	case t.ExplicitCatalog:
		if db, err = d.showDatabase(string(t.CatalogName)); err != nil {
			return nil, err
		}
		if schema = d.snap.SchemaByName(db.ID, string(t.SchemaName)); schema == nil {
			return nil, pgerror.Newf(pgcode.InvalidSchemaName, "schema %q does not exist", string(t.SchemaName))
		}
	case t.ExplicitSchema:
		// FROM x: a schema of the current database, else a database.
		cur, _ := d.p.currentDatabase()
		if cur != nil {
			schema = d.snap.SchemaByName(cur.ID, string(t.SchemaName))
		}
		if schema != nil {
			db = cur
		} else if db = d.snap.DatabaseByName(string(t.SchemaName)); db == nil {
			return nil, pgerror.Newf(pgcode.InvalidCatalogName, "database %q does not exist", string(t.SchemaName))
		}
	default:
		if db, err = d.p.currentDatabase(); err != nil {
			return nil, err
		}
	}
	var schemaID catalog.ID
	if schema != nil {
		schemaID = schema.ID
	}
	var rows []tree.Datums
	for _, tbl := range d.snap.Tables(db.ID, schemaID) {
		sc := d.snap.SchemaByID(tbl.SchemaID)
		rows = append(rows, tree.Datums{dstr(sc.Name), dstr(tbl.Name), dstr("table"), dstr(tbl.Owner), tree.DNull, tree.DNull})
	}
	return rows, nil
}

// columnIndexes lists the indexes a column is a key or stored column of.
func columnIndexes(t *catalog.Table, id catalog.ColumnID) []string {
	var out []string
	for _, idx := range t.AllIndexes() {
		cols := append(append([]catalog.ColumnID(nil), idx.KeyColumnIDs...), idx.StoreColumnIDs...)
		if idx.ID != catalog.PrimaryIndexID {
			cols = append(cols, idx.KeySuffixColumnIDs...)
		} else {
			// The primary index stores every column.
			cols = nil
			for _, c := range t.Columns {
				cols = append(cols, c.ID)
			}
		}
		for _, c := range cols {
			if c == id {
				out = append(out, idx.Name)
				break
			}
		}
	}
	return out
}

func showColumns(t *catalog.Table) []tree.Datums {
	var rows []tree.Datums
	for i := range t.Columns {
		c := &t.Columns[i]
		rows = append(rows, tree.Datums{
			dstr(c.Name), dstr(c.Type.SQLString()), tree.MakeDBool(tree.DBool(c.Nullable)),
			dstrOrNull(c.Default), dstr(""), dstrArray(columnIndexes(t, c.ID)), tree.MakeDBool(tree.DBool(c.Hidden)),
		})
	}
	return rows
}

func showIndexes(t *catalog.Table) []tree.Datums {
	var rows []tree.Datums
	for _, idx := range t.AllIndexes() {
		seq := 1
		add := func(id catalog.ColumnID, dir string, storing, implicit bool) {
			rows = append(rows, tree.Datums{
				dstr(t.Name), dstr(idx.Name), tree.MakeDBool(tree.DBool(!idx.Unique)), tree.NewDInt(tree.DInt(seq)),
				dstr(t.ColumnByID(id).Name), dstr(t.ColumnByID(id).Name), dstr(dir),
				tree.MakeDBool(tree.DBool(storing)), tree.MakeDBool(tree.DBool(implicit)), tree.DBoolTrue,
			})
			seq++
		}
		for i, id := range idx.KeyColumnIDs {
			dir := "ASC"
			if idx.KeyDescending[i] {
				dir = "DESC"
			}
			add(id, dir, false, false)
		}
		if idx.ID == catalog.PrimaryIndexID {
			for _, c := range t.Columns {
				if !t.IsPrimaryKeyColumn(c.ID) {
					add(c.ID, "N/A", true, false)
				}
			}
			continue
		}
		for _, id := range idx.StoreColumnIDs {
			add(id, "N/A", true, false)
		}
		for _, id := range idx.KeySuffixColumnIDs {
			add(id, "ASC", false, true)
		}
		if idx.Unique {
			for _, id := range t.PrimaryIndex.KeyColumnIDs {
				inKey := false
				for _, k := range idx.KeyColumnIDs {
					if k == id {
						inKey = true
					}
				}
				if !inKey {
					add(id, "ASC", false, true)
				}
			}
		}
	}
	return rows
}

// indexColumnsSQL prints "(a ASC, b DESC)".
func indexColumnsSQL(t *catalog.Table, idx *catalog.Index) string {
	parts := make([]string, len(idx.KeyColumnIDs))
	for i, id := range idx.KeyColumnIDs {
		dir := "ASC"
		if idx.KeyDescending[i] {
			dir = "DESC"
		}
		parts[i] = tree.NameString(t.ColumnByID(id).Name) + " " + dir
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// showCreateTable prints a table the way CockroachDB's SHOW CREATE TABLE
// does.
func showCreateTable(name string, t *catalog.Table) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE %s (\n", name)
	var lines []string
	for i := range t.Columns {
		c := &t.Columns[i]
		line := "\t" + tree.NameString(c.Name) + " " + c.Type.SQLString()
		if c.Hidden {
			line += " NOT VISIBLE"
		}
		if c.Nullable {
			line += " NULL"
		} else {
			line += " NOT NULL"
		}
		if c.HasDefault() {
			line += " DEFAULT " + c.Default
		}
		lines = append(lines, line)
	}
	lines = append(lines, fmt.Sprintf("\tCONSTRAINT %s PRIMARY KEY %s", tree.NameString(t.PrimaryIndex.Name), indexColumnsSQL(t, &t.PrimaryIndex)))
	for i := range t.Indexes {
		idx := &t.Indexes[i]
		kind := "INDEX"
		if idx.Unique {
			kind = "UNIQUE INDEX"
		}
		line := fmt.Sprintf("\t%s %s %s", kind, tree.NameString(idx.Name), indexColumnsSQL(t, idx))
		if len(idx.StoreColumnIDs) > 0 {
			var names []string
			for _, id := range idx.StoreColumnIDs {
				names = append(names, tree.NameString(t.ColumnByID(id).Name))
			}
			line += " STORING (" + strings.Join(names, ", ") + ")"
		}
		lines = append(lines, line)
	}
	for _, c := range t.Checks {
		lines = append(lines, fmt.Sprintf("\tCONSTRAINT %s CHECK (%s)", tree.NameString(c.Name), c.Expr))
	}
	b.WriteString(strings.Join(lines, ",\n"))
	b.WriteString("\n)")
	return b.String()
}
