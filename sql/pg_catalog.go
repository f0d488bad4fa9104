package sql

import (
	"context"
	"sort"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/lib/pq/oid"
	"github.com/vcdb/vcdb/sql/catalog"
)

// pg_catalog keeps to the tables and columns clients actually query (pgx's
// type loading, lib/pq, JDBC metadata, psql's \l, \d and \dt): pg_type,
// pg_namespace, pg_class, pg_attribute, pg_database, pg_roles, pg_am,
// pg_index.
// Owners are role oids (roleOID), which pg_get_userbyid() turns back into
// names. Every row it shows is true of the
// VC; nothing is a placeholder.

func oidCol(name string) resultColumn  { return resultColumn{name: name, typ: types.Oid} }
func int2Col(name string) resultColumn { return resultColumn{name: name, typ: types.Int2} }
func int4Col(name string) resultColumn { return resultColumn{name: name, typ: types.Int4} }

// namespaceOID is the pg_namespace oid of a schema.
func namespaceOID(name string, sc *catalog.Schema) uint32 {
	switch name {
	case "pg_catalog":
		return pgCatalogOID
	case "information_schema":
		return informationSchemaOID
	}
	if sc != nil {
		return uint32(sc.ID)
	}
	return 0
}

func registerPGCatalog() {
	registerVirtual(&virtualTable{
		schema: "pg_catalog", name: "pg_namespace",
		cols: []resultColumn{oidCol("oid"), strCol("nspname"), oidCol("nspowner"), {name: "nspacl", typ: types.StringArray}},
		populate: func(ctx context.Context, r *runParams, db *catalog.Database) ([]tree.Datums, error) {
			rows := []tree.Datums{
				{oidDatum(pgCatalogOID), dstr("pg_catalog"), oidDatum(roleOID(catalog.RootUser)), tree.DNull},
				{oidDatum(informationSchemaOID), dstr("information_schema"), oidDatum(roleOID(catalog.RootUser)), tree.DNull},
			}
			if db == nil {
				return rows, nil
			}
			snap, err := r.snapshot(ctx)
			if err != nil {
				return nil, err
			}
			for _, sc := range snap.Schemas(db.ID) {
				rows = append(rows, tree.Datums{oidDatum(uint32(sc.ID)), dstr(sc.Name), oidDatum(roleOID(sc.Owner)), tree.DNull})
			}
			return rows, nil
		},
	})
	registerVirtual(&virtualTable{
		schema: "pg_catalog", name: "pg_type",
		cols: []resultColumn{oidCol("oid"), strCol("typname"), oidCol("typnamespace"), oidCol("typowner"),
			int2Col("typlen"), boolCol("typbyval"), strCol("typtype"), strCol("typcategory"), boolCol("typispreferred"),
			boolCol("typisdefined"), strCol("typdelim"), oidCol("typrelid"), oidCol("typelem"), oidCol("typarray"),
			boolCol("typnotnull"), oidCol("typbasetype"), int4Col("typtypmod"), int4Col("typndims"),
			oidCol("typcollation"), strCol("typdefault")},
		populate: func(ctx context.Context, r *runParams, db *catalog.Database) ([]tree.Datums, error) {
			var oids []int
			arrayOf := map[oid.Oid]oid.Oid{}
			for o, t := range types.OidToType {
				oids = append(oids, int(o))
				if t.Family() == types.ArrayFamily {
					arrayOf[t.ArrayContents().Oid()] = o
				}
			}
			sort.Ints(oids)
			var rows []tree.Datums
			for _, o := range oids {
				t := types.OidToType[oid.Oid(o)]
				var elem, array uint32
				ttype := "b"
				if t.Family() == types.ArrayFamily {
					elem = uint32(t.ArrayContents().Oid())
				} else {
					array = uint32(arrayOf[t.Oid()])
				}
				if t.Family() == types.TupleFamily {
					ttype = "p"
				}
				if t.Family() == types.AnyFamily || t.Oid() == oid.T_anyelement {
					ttype = "p"
				}
				length := typeLen(t)
				rows = append(rows, tree.Datums{
					oidDatum(uint32(o)), dstr(t.PGName()), oidDatum(pgCatalogOID), oidDatum(0),
					tree.NewDInt(tree.DInt(length)), dbool(length > 0 && length <= 8), dstr(ttype), dstr(typeCategory(t)),
					dbool(false), dbool(true), dstr(","), oidDatum(0), oidDatum(elem), oidDatum(array),
					dbool(false), oidDatum(0), tree.NewDInt(-1), tree.NewDInt(0), oidDatum(0), tree.DNull,
				})
			}
			return rows, nil
		},
	})
	registerVirtual(&virtualTable{
		schema: "pg_catalog", name: "pg_database",
		cols: []resultColumn{oidCol("oid"), strCol("datname"), oidCol("datdba"), int4Col("encoding"),
			strCol("datcollate"), strCol("datctype"), boolCol("datistemplate"), boolCol("datallowconn"),
			int4Col("datconnlimit"), oidCol("dattablespace"), {name: "datacl", typ: types.StringArray}},
		populate: func(ctx context.Context, r *runParams, _ *catalog.Database) ([]tree.Datums, error) {
			snap, err := r.snapshot(ctx)
			if err != nil {
				return nil, err
			}
			var rows []tree.Datums
			for _, d := range snap.Databases() {
				rows = append(rows, tree.Datums{oidDatum(uint32(d.ID)), dstr(d.Name), oidDatum(roleOID(d.Owner)), tree.NewDInt(6),
					dstr("C.UTF-8"), dstr("C.UTF-8"), dbool(false), dbool(true), tree.NewDInt(-1), oidDatum(0), tree.DNull})
			}
			return rows, nil
		},
	})
	registerVirtual(&virtualTable{
		schema: "pg_catalog", name: "pg_class",
		cols: []resultColumn{oidCol("oid"), strCol("relname"), oidCol("relnamespace"), oidCol("reltype"),
			oidCol("relowner"), oidCol("relam"), int4Col("relpages"), {name: "reltuples", typ: types.Float4},
			boolCol("relhasindex"), boolCol("relisshared"), strCol("relpersistence"), strCol("relkind"),
			int2Col("relnatts"), int2Col("relchecks"), boolCol("relispartition")},
		populate: func(ctx context.Context, r *runParams, db *catalog.Database) ([]tree.Datums, error) {
			if db == nil {
				return nil, nil
			}
			snap, err := r.snapshot(ctx)
			if err != nil {
				return nil, err
			}
			var rows []tree.Datums
			for _, t := range snap.Tables(db.ID, 0) {
				ns := oidDatum(uint32(t.SchemaID))
				owner := oidDatum(roleOID(t.Owner))
				rows = append(rows, tree.Datums{oidDatum(uint32(t.ID)), dstr(t.Name), ns, oidDatum(0), owner,
					oidDatum(0), tree.NewDInt(0), tree.NewDFloat(0), dbool(true), dbool(false), dstr("p"), dstr("r"),
					tree.NewDInt(tree.DInt(len(t.Columns))), tree.NewDInt(tree.DInt(len(t.Checks))), dbool(false)})
				for _, idx := range t.AllIndexes() {
					rows = append(rows, tree.Datums{oidDatum(indexOID(t.ID, idx.ID)), dstr(idx.Name), ns, oidDatum(0), owner,
						oidDatum(btreeAMOID), tree.NewDInt(0), tree.NewDFloat(0), dbool(false), dbool(false), dstr("p"), dstr("i"),
						tree.NewDInt(tree.DInt(len(idx.KeyColumnIDs))), tree.NewDInt(0), dbool(false)})
				}
			}
			return rows, nil
		},
	})
	registerVirtual(&virtualTable{
		schema: "pg_catalog", name: "pg_attribute",
		cols: []resultColumn{oidCol("attrelid"), strCol("attname"), oidCol("atttypid"), int2Col("attlen"),
			int2Col("attnum"), int4Col("atttypmod"), boolCol("attnotnull"), boolCol("atthasdef"),
			boolCol("attisdropped"), boolCol("attislocal"), int4Col("attndims"), oidCol("attcollation"),
			strCol("attidentity"), strCol("attgenerated")},
		populate: func(ctx context.Context, r *runParams, db *catalog.Database) ([]tree.Datums, error) {
			if db == nil {
				return nil, nil
			}
			snap, err := r.snapshot(ctx)
			if err != nil {
				return nil, err
			}
			var rows []tree.Datums
			for _, t := range snap.Tables(db.ID, 0) {
				for i := range t.Columns {
					c := &t.Columns[i]
					rows = append(rows, tree.Datums{oidDatum(uint32(t.ID)), dstr(c.Name), oidDatum(uint32(c.Type.Oid())),
						tree.NewDInt(tree.DInt(typeLen(c.Type))), tree.NewDInt(tree.DInt(c.ID)), tree.NewDInt(tree.DInt(c.Type.TypeModifier())),
						dbool(!c.Nullable), dbool(c.HasDefault()), dbool(false), dbool(true), tree.NewDInt(0), oidDatum(0),
						dstr(""), dstr("")})
				}
			}
			return rows, nil
		},
	})
	registerVirtual(&virtualTable{
		schema: "pg_catalog", name: "pg_index",
		cols: []resultColumn{oidCol("indexrelid"), oidCol("indrelid"), int2Col("indnatts"), int2Col("indnkeyatts"),
			boolCol("indisunique"), boolCol("indisprimary"), boolCol("indisvalid"), boolCol("indisready"),
			boolCol("indislive")},
		populate: func(ctx context.Context, r *runParams, db *catalog.Database) ([]tree.Datums, error) {
			if db == nil {
				return nil, nil
			}
			snap, err := r.snapshot(ctx)
			if err != nil {
				return nil, err
			}
			var rows []tree.Datums
			for _, t := range snap.Tables(db.ID, 0) {
				for _, idx := range t.AllIndexes() {
					// Stored columns are non-key attributes, as INCLUDE
					// columns are in PostgreSQL. An index is valid, ready
					// and live once it is visible: CREATE INDEX writes it
					// and its entries in one transaction.
					keys := len(idx.KeyColumnIDs)
					rows = append(rows, tree.Datums{oidDatum(indexOID(t.ID, idx.ID)), oidDatum(uint32(t.ID)),
						tree.NewDInt(tree.DInt(keys + len(idx.StoreColumnIDs))), tree.NewDInt(tree.DInt(keys)),
						dbool(idx.Unique), dbool(idx.ID == t.PrimaryIndex.ID), dbool(true), dbool(true), dbool(true)})
				}
			}
			return rows, nil
		},
	})
	registerVirtual(&virtualTable{
		schema: "pg_catalog", name: "pg_am",
		cols: []resultColumn{oidCol("oid"), strCol("amname"), oidCol("amhandler"), strCol("amtype")},
		populate: func(context.Context, *runParams, *catalog.Database) ([]tree.Datums, error) {
			return []tree.Datums{{oidDatum(btreeAMOID), dstr("btree"), oidDatum(0), dstr("i")}}, nil
		},
	})
	registerVirtual(&virtualTable{
		schema: "pg_catalog", name: "pg_roles",
		cols: []resultColumn{oidCol("oid"), strCol("rolname"), boolCol("rolsuper"), boolCol("rolinherit"),
			boolCol("rolcreaterole"), boolCol("rolcreatedb"), boolCol("rolcanlogin"), int4Col("rolconnlimit")},
		populate: func(ctx context.Context, r *runParams, _ *catalog.Database) ([]tree.Datums, error) {
			snap, err := r.snapshot(ctx)
			if err != nil {
				return nil, err
			}
			var rows []tree.Datums
			for _, u := range snap.Users() {
				admin := snap.Principal(u.Name).Admin
				rows = append(rows, tree.Datums{oidDatum(roleOID(u.Name)), dstr(u.Name), dbool(admin), dbool(true),
					dbool(admin || u.CreateRole), dbool(admin || u.CreateDB), dbool(u.CanLogin), tree.NewDInt(-1)})
			}
			return rows, nil
		},
	})
}
