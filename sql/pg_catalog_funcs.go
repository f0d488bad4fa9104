package sql

import (
	"context"
	"hash/fnv"

	"github.com/vcdb/vcdb/sql/catalog"
	"github.com/vcdb/vcdb/sql/sem"
)

// The catalog side of the pg_catalog functions psql's \l, \d and \dt call
// (pg_get_userbyid, pg_table_is_visible): runParams answers them from the
// statement's own catalog snapshot.

var _ sem.CatalogLookup = (*runParams)(nil)

// roleOID is a role's pg_roles oid (also pg_class.relowner,
// pg_database.datdba, pg_namespace.nspowner): a hash of its name, so that
// it is the same in every session and does not move when other roles come
// and go (CockroachDB derives role oids from names too). The high bit
// keeps it apart from the oids of tables (descriptor ids), indexes
// (indexOID), types and builtins.
func roleOID(name string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	return h.Sum32() | 0x80000000
}

// btreeAMOID is the pg_am oid of vcdb's index access method, PostgreSQL's
// number for btree: vcdb's indexes are ordered, unique or not, like
// btree indexes, which is what clients look for.
const btreeAMOID = 403

// RoleName implements sem.CatalogLookup.
func (r *runParams) RoleName(ctx context.Context, o uint32) (string, bool, error) {
	snap, err := r.snapshot(ctx)
	if err != nil {
		return "", false, err
	}
	for _, u := range snap.Users() {
		if roleOID(u.Name) == o {
			return u.Name, true, nil
		}
	}
	return "", false, nil
}

// RelationVisible implements sem.CatalogLookup for the relations pg_class
// lists: the tables of the current database and their indexes.
func (r *runParams) RelationVisible(ctx context.Context, o uint32) (visible, found bool, err error) {
	snap, err := r.snapshot(ctx)
	if err != nil {
		return false, false, err
	}
	db := snap.DatabaseByName(r.s.data.database)
	if db == nil {
		return false, false, nil
	}
	tableID, isIndex := catalog.ID(o), false
	var indexID catalog.IndexID
	if o >= indexOID(0, 0) {
		tableID, indexID, isIndex = catalog.ID((o-indexOID(0, 0))/64), catalog.IndexID((o-indexOID(0, 0))%64), true
	}
	t := snap.TableByID(tableID)
	if t == nil || t.ParentID != db.ID {
		return false, false, nil
	}
	name := t.Name
	if isIndex {
		idx := indexByID(t, indexID)
		if idx == nil {
			return false, false, nil
		}
		name = idx.Name
	}
	// The relation is visible when its schema is the first one on the
	// search path that holds a relation of that name.
	for _, schema := range sessionSearchPath(r.s) {
		if sc := snap.SchemaByID(t.SchemaID); sc != nil && sc.Name == schema {
			return true, true, nil
		}
		sc := snap.SchemaByName(db.ID, schema)
		if sc != nil && schemaHasRelation(snap, db.ID, sc.ID, name) {
			return false, true, nil
		}
	}
	return false, true, nil
}

func indexByID(t *catalog.Table, id catalog.IndexID) *catalog.Index {
	for _, idx := range t.AllIndexes() {
		if idx.ID == id {
			return idx
		}
	}
	return nil
}

// schemaHasRelation reports whether schema sc of database db holds a table
// or an index named name (they share PostgreSQL's relation namespace).
func schemaHasRelation(snap *catalog.Snapshot, db, sc catalog.ID, name string) bool {
	for _, t := range snap.Tables(db, sc) {
		if t.Name == name {
			return true
		}
		for _, idx := range t.AllIndexes() {
			if idx.Name == name {
				return true
			}
		}
	}
	return false
}
