package sql

import (
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/vcdb/vcdb/sql/catalog"
)

// resolvedTable is what a table name refers to: a stored table or a
// virtual one (information_schema, pg_catalog).
type resolvedTable struct {
	table  *catalog.Table
	vt     *virtualTable
	db     *catalog.Database
	schema string
}

// currentDatabase returns the session's database descriptor, or an error
// when there is none.
func (p *planner) currentDatabase() (*catalog.Database, error) {
	name := p.s.data.database
	if name == "" {
		return nil, pgerror.Newf(pgcode.InvalidDatabaseDefinition, "no database or schema specified")
	}
	db := p.cat.DatabaseByName(name)
	if db == nil {
		return nil, pgerror.Newf(pgcode.InvalidCatalogName, "database %q does not exist", name)
	}
	return db, nil
}

// searchPath returns the schemas searched for unqualified names:
// pg_catalog first (implicitly, as in PostgreSQL), then the session's
// search_path with $user expanded.
func (p *planner) searchPath() []string { return sessionSearchPath(p.s) }

// sessionSearchPath is planner.searchPath for session s.
func sessionSearchPath(s *Session) []string {
	path := []string{"pg_catalog"}
	for _, sc := range s.data.searchPath {
		if sc == "$user" {
			sc = s.data.user
		}
		if sc != "pg_catalog" {
			path = append(path, sc)
		}
	}
	return path
}

// resolveTableName resolves a table name the way CockroachDB does: t
// through the search path, s.t as schema s of the current database or else
// database s's public schema, and db.s.t.
func (p *planner) resolveTableName(tn *tree.TableName) (resolvedTable, error) {
	name := string(tn.ObjectName)
	notFound := func() error {
		return pgerror.Newf(pgcode.UndefinedTable, "relation %q does not exist", tree.ErrString(tn))
	}
	lookup := func(db *catalog.Database, schema string) (resolvedTable, bool) {
		if vs, ok := virtualSchemas[schema]; ok {
			if vt, ok := vs[name]; ok {
				return resolvedTable{vt: vt, db: db, schema: schema}, true
			}
			return resolvedTable{}, false
		}
		if db == nil {
			return resolvedTable{}, false
		}
		sc := p.cat.SchemaByName(db.ID, schema)
		if sc == nil {
			return resolvedTable{}, false
		}
		if t := p.cat.TableByName(db.ID, sc.ID, name); t != nil {
			return resolvedTable{table: t, db: db, schema: schema}, true
		}
		return resolvedTable{}, false
	}
	switch {
	case tn.ExplicitCatalog:
		db := p.cat.DatabaseByName(string(tn.CatalogName))
		if db == nil {
			return resolvedTable{}, pgerror.Newf(pgcode.InvalidCatalogName,
				"database %q does not exist", string(tn.CatalogName))
		}
		if rt, ok := lookup(db, string(tn.SchemaName)); ok {
			return rt, nil
		}
		return resolvedTable{}, notFound()
	case tn.ExplicitSchema:
		schema := string(tn.SchemaName)
		cur, _ := p.currentDatabase()
		if _, virtual := virtualSchemas[schema]; virtual || (cur != nil && p.cat.SchemaByName(cur.ID, schema) != nil) {
			if rt, ok := lookup(cur, schema); ok {
				return rt, nil
			}
			return resolvedTable{}, notFound()
		}
		if db := p.cat.DatabaseByName(schema); db != nil {
			if rt, ok := lookup(db, "public"); ok {
				return rt, nil
			}
		}
		return resolvedTable{}, notFound()
	default:
		cur, err := p.currentDatabase()
		for _, schema := range p.searchPath() {
			if rt, ok := lookup(cur, schema); ok {
				return rt, nil
			}
		}
		if err != nil {
			return resolvedTable{}, err
		}
		return resolvedTable{}, notFound()
	}
}

// resolveStoredTable resolves a name that must be a stored table (DML and
// DDL targets).
func (p *planner) resolveStoredTable(tn *tree.TableName) (*catalog.Table, *catalog.Database, error) {
	rt, err := p.resolveTableName(tn)
	if err != nil {
		return nil, nil, err
	}
	if rt.table == nil {
		return nil, nil, pgerror.Newf(pgcode.InsufficientPrivilege,
			"%s is a virtual object and cannot be modified", tree.ErrString(tn))
	}
	return rt.table, rt.db, nil
}

// targetSchema resolves where a new object named tn goes: its database and
// schema descriptors.
func (p *planner) targetSchema(tn *tree.TableName) (*catalog.Database, *catalog.Schema, error) {
	var db *catalog.Database
	schemaName := "public"
	switch {
	case tn.ExplicitCatalog:
		db = p.cat.DatabaseByName(string(tn.CatalogName))
		if db == nil {
			return nil, nil, pgerror.Newf(pgcode.InvalidCatalogName, "database %q does not exist", string(tn.CatalogName))
		}
		schemaName = string(tn.SchemaName)
	case tn.ExplicitSchema:
		cur, _ := p.currentDatabase()
		s := string(tn.SchemaName)
		if cur != nil && p.cat.SchemaByName(cur.ID, s) != nil {
			db, schemaName = cur, s
		} else if _, virtual := virtualSchemas[s]; virtual {
			return nil, nil, pgerror.Newf(pgcode.InsufficientPrivilege,
				"schema cannot be modified: %q", s)
		} else if d := p.cat.DatabaseByName(s); d != nil {
			db = d
		} else {
			return nil, nil, pgerror.Newf(pgcode.InvalidSchemaName, "cannot create %q because the target database or schema does not exist", tree.ErrString(tn))
		}
	default:
		var err error
		if db, err = p.currentDatabase(); err != nil {
			return nil, nil, err
		}
	}
	if _, virtual := virtualSchemas[schemaName]; virtual {
		return nil, nil, pgerror.Newf(pgcode.InsufficientPrivilege, "schema cannot be modified: %q", schemaName)
	}
	sc := p.cat.SchemaByName(db.ID, schemaName)
	if sc == nil {
		return nil, nil, pgerror.Newf(pgcode.InvalidSchemaName, "cannot create %q because the target database or schema does not exist", tree.ErrString(tn))
	}
	return db, sc, nil
}
