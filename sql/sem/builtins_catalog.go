package sem

import (
	"context"
	"fmt"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
)

// CatalogLookup is what the pg_catalog functions that look objects up by
// OID need from the catalog the statement reads (its transaction's). The
// executor implements it; a Context without one makes those functions
// fail with 0A000.
type CatalogLookup interface {
	// RoleName returns the name of the role whose pg_roles oid is oid;
	// found is false when there is none.
	RoleName(ctx context.Context, oid uint32) (name string, found bool, err error)
	// RelationVisible reports whether the relation (table or index of the
	// current database) whose pg_class oid is oid is visible: its schema is
	// on the search path and no schema before it there holds a relation of
	// the same name. found is false when there is no such relation.
	RelationVisible(ctx context.Context, oid uint32) (visible, found bool, err error)
}

// pgEncodings names the encodings pg_database.encoding can hold
// (PostgreSQL's numbering); vcdb stores UTF-8 only.
var pgEncodings = map[int64]string{0: "SQL_ASCII", 6: "UTF8"}

// catalogBuiltins are the functions psql's \l, \d and \dt use to print
// owners and to keep to the visible relations.
var catalogBuiltins = map[string]builtinDef{
	// pg_get_userbyid(role oid) is the role's name, or PostgreSQL's
	// "unknown (OID=n)" for an oid no role has.
	"pg_get_userbyid": def("system info", stable(overload(params(types.Oid), types.String,
		func(ctx context.Context, ev *evaluator, a tree.Datums) (tree.Datum, error) {
			if ev.ec.Catalog == nil {
				return nil, missingHook("pg_get_userbyid")
			}
			o := uint32(a[0].(*tree.DOid).Oid)
			name, found, err := ev.ec.Catalog.RoleName(ctx, o)
			if err != nil {
				return nil, err
			}
			if !found {
				return str(fmt.Sprintf("unknown (OID=%d)", o)), nil
			}
			return str(name), nil
		}))),
	// pg_table_is_visible(relation oid): NULL for an oid no relation has,
	// as in PostgreSQL.
	"pg_table_is_visible": def("system info", stable(overload(params(types.Oid), types.Bool,
		func(ctx context.Context, ev *evaluator, a tree.Datums) (tree.Datum, error) {
			if ev.ec.Catalog == nil {
				return nil, missingHook("pg_table_is_visible")
			}
			visible, found, err := ev.ec.Catalog.RelationVisible(ctx, uint32(a[0].(*tree.DOid).Oid))
			if err != nil || !found {
				return tree.DNull, err
			}
			return tree.MakeDBool(tree.DBool(visible)), nil
		}))),
	// pg_encoding_to_char(encoding) is the encoding's name, '' for a number
	// that names none (PostgreSQL's answer).
	"pg_encoding_to_char": def("system info", overload(params(types.Int), types.String,
		func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			return str(pgEncodings[intOf(a[0])]), nil
		})),
}
