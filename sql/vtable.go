package sql

import (
	"context"
	"sort"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/lib/pq/oid"
	"github.com/vcdb/vcdb/sql/catalog"
)

// virtualTable is a read-only table computed from the catalog of the
// executing transaction (information_schema, pg_catalog).
type virtualTable struct {
	schema, name string
	cols         []resultColumn
	populate     func(ctx context.Context, r *runParams, db *catalog.Database) ([]tree.Datums, error)
}

// virtualSchemas maps schema name, then table name, to virtual tables.
var virtualSchemas = map[string]map[string]*virtualTable{
	"information_schema": {},
	"pg_catalog":         {},
}

func registerVirtual(vt *virtualTable) {
	virtualSchemas[vt.schema][vt.name] = vt
}

// Well-known namespace OIDs, as PostgreSQL numbers them.
const (
	pgCatalogOID         = 11
	informationSchemaOID = 13183
)

func oidDatum(o uint32) tree.Datum { return tree.NewDOid(oid.Oid(o)) }

func dint(i int64) tree.Datum { return tree.NewDInt(tree.DInt(i)) }

func dbool(b bool) tree.Datum { return tree.MakeDBool(tree.DBool(b)) }

func yesNo(b bool) tree.Datum {
	if b {
		return dstr("YES")
	}
	return dstr("NO")
}

// indexOID gives indexes OIDs distinct from descriptor ids.
func indexOID(t catalog.ID, idx catalog.IndexID) uint32 {
	return 0x40000000 + uint32(t)*64 + uint32(idx)
}

// snapshotFor returns the catalog of the executing transaction.
func (r *runParams) snapshot(ctx context.Context) (*catalog.Snapshot, error) {
	return r.descs.Snapshot(ctx)
}

// typeLen is pg_type.typlen.
func typeLen(t *types.T) int64 {
	switch t.Oid() {
	case oid.T_bool, oid.T_char:
		return 1
	case oid.T_int2:
		return 2
	case oid.T_int4, oid.T_float4, oid.T_date, oid.T_oid, oid.T_regclass, oid.T_regtype, oid.T_regproc, oid.T_regnamespace:
		return 4
	case oid.T_int8, oid.T_float8, oid.T_timestamp, oid.T_timestamptz, oid.T_time:
		return 8
	case oid.T_interval, oid.T_uuid:
		return 16
	case oid.T_name:
		return 64
	}
	return -1
}

// typeCategory is pg_type.typcategory.
func typeCategory(t *types.T) string {
	switch t.Family() {
	case types.BoolFamily:
		return "B"
	case types.IntFamily, types.FloatFamily, types.DecimalFamily, types.OidFamily:
		return "N"
	case types.StringFamily, types.CollatedStringFamily:
		return "S"
	case types.DateFamily, types.TimestampFamily, types.TimestampTZFamily, types.TimeFamily, types.TimeTZFamily:
		return "D"
	case types.IntervalFamily:
		return "T"
	case types.ArrayFamily:
		return "A"
	case types.TupleFamily:
		return "P"
	case types.BitFamily:
		return "V"
	case types.INetFamily:
		return "I"
	case types.UnknownFamily:
		return "X"
	}
	return "U"
}

func init() {
	registerVirtual(&virtualTable{
		schema: "information_schema", name: "schemata",
		cols: []resultColumn{strCol("catalog_name"), strCol("schema_name"), strCol("default_character_set_name"),
			strCol("sql_path"), strCol("crdb_is_user_defined")},
		populate: func(ctx context.Context, r *runParams, db *catalog.Database) ([]tree.Datums, error) {
			snap, err := r.snapshot(ctx)
			if err != nil {
				return nil, err
			}
			var rows []tree.Datums
			for _, d := range snap.Databases() {
				if db != nil && d.ID != db.ID {
					continue
				}
				for _, name := range sortedVirtualSchemas() {
					rows = append(rows, tree.Datums{dstr(d.Name), dstr(name), tree.DNull, tree.DNull, dstr("NO")})
				}
				for _, sc := range snap.Schemas(d.ID) {
					rows = append(rows, tree.Datums{dstr(d.Name), dstr(sc.Name), tree.DNull, tree.DNull, dstr("YES")})
				}
			}
			return rows, nil
		},
	})
	registerVirtual(&virtualTable{
		schema: "information_schema", name: "tables",
		cols: []resultColumn{strCol("table_catalog"), strCol("table_schema"), strCol("table_name"),
			strCol("table_type"), strCol("is_insertable_into"), intCol("version")},
		populate: func(ctx context.Context, r *runParams, db *catalog.Database) ([]tree.Datums, error) {
			snap, err := r.snapshot(ctx)
			if err != nil {
				return nil, err
			}
			var rows []tree.Datums
			for _, d := range snap.Databases() {
				if db != nil && d.ID != db.ID {
					continue
				}
				for _, schema := range sortedVirtualSchemas() {
					for _, name := range sortedVirtualTables(schema) {
						rows = append(rows, tree.Datums{dstr(d.Name), dstr(schema), dstr(name), dstr("SYSTEM VIEW"), dstr("NO"), dint(1)})
					}
				}
				for _, t := range snap.Tables(d.ID, 0) {
					sc := snap.SchemaByID(t.SchemaID)
					rows = append(rows, tree.Datums{dstr(d.Name), dstr(sc.Name), dstr(t.Name), dstr("BASE TABLE"), dstr("YES"), dint(1)})
				}
			}
			return rows, nil
		},
	})
	registerVirtual(&virtualTable{
		schema: "information_schema", name: "columns",
		cols: []resultColumn{strCol("table_catalog"), strCol("table_schema"), strCol("table_name"), strCol("column_name"),
			intCol("ordinal_position"), strCol("column_default"), strCol("is_nullable"), strCol("data_type"),
			intCol("character_maximum_length"), intCol("numeric_precision"), intCol("numeric_scale"),
			intCol("datetime_precision"), strCol("udt_catalog"), strCol("udt_schema"), strCol("udt_name"),
			strCol("is_hidden"), strCol("crdb_sql_type")},
		populate: func(ctx context.Context, r *runParams, db *catalog.Database) ([]tree.Datums, error) {
			snap, err := r.snapshot(ctx)
			if err != nil {
				return nil, err
			}
			var rows []tree.Datums
			for _, d := range snap.Databases() {
				if db != nil && d.ID != db.ID {
					continue
				}
				for _, t := range snap.Tables(d.ID, 0) {
					sc := snap.SchemaByID(t.SchemaID)
					for i := range t.Columns {
						c := &t.Columns[i]
						rows = append(rows, tree.Datums{
							dstr(d.Name), dstr(sc.Name), dstr(t.Name), dstr(c.Name), dint(int64(i + 1)),
							dstrOrNull(c.Default), yesNo(c.Nullable), dstr(c.Type.SQLStandardName()),
							charMaxLength(c.Type), numericPrecision(c.Type), numericScale(c.Type), datetimePrecision(c.Type),
							dstr(d.Name), dstr("pg_catalog"), dstr(c.Type.PGName()), yesNo(c.Hidden), dstr(c.Type.SQLString()),
						})
					}
				}
			}
			return rows, nil
		},
	})
	registerPGCatalog()
}

func charMaxLength(t *types.T) tree.Datum {
	if t.Family() == types.StringFamily && t.Width() > 0 {
		return dint(int64(t.Width()))
	}
	return tree.DNull
}

func numericPrecision(t *types.T) tree.Datum {
	switch t.Family() {
	case types.IntFamily:
		return dint(int64(t.Width()))
	case types.FloatFamily:
		if t.Width() == 32 {
			return dint(24)
		}
		return dint(53)
	case types.DecimalFamily:
		if t.Precision() > 0 {
			return dint(int64(t.Precision()))
		}
	}
	return tree.DNull
}

func numericScale(t *types.T) tree.Datum {
	switch t.Family() {
	case types.IntFamily:
		return dint(0)
	case types.DecimalFamily:
		if t.Precision() > 0 {
			return dint(int64(t.Scale()))
		}
	}
	return tree.DNull
}

func datetimePrecision(t *types.T) tree.Datum {
	switch t.Family() {
	case types.DateFamily:
		return dint(0)
	case types.TimestampFamily, types.TimestampTZFamily, types.TimeFamily, types.IntervalFamily:
		return dint(6)
	}
	return tree.DNull
}

func sortedVirtualSchemas() []string {
	var out []string
	for name := range virtualSchemas {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

func sortedVirtualTables(schema string) []string {
	var out []string
	for name := range virtualSchemas[schema] {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}
