package sem

import (
	"context"
	"strings"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/catconstants"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/volatility"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/uuid"
)

// FollowerReadDelay is how far behind now() follower_read_timestamp()
// reads: CockroachDB's default (3s target duration, 0.2s side-transport
// interval, 1.6s lag allowance, rounded as CockroachDB rounds it).
const FollowerReadDelay = 4800 * time.Millisecond

func missingHook(fn string) error {
	return pgerror.Newf(pgcode.FeatureNotSupported, "%s() is not available in this context", fn)
}

func stringOrNull(s string) tree.Datum {
	if s == "" {
		return tree.DNull
	}
	return str(s)
}

func sessionFn(ret *types.T, f builtinFn) tree.Overload {
	return stable(overload(params(), ret, f))
}

// currentSchemas is the session's search path as PostgreSQL reports it:
// "$user" is dropped (vcdb has no per-user schemas), and pg_catalog comes
// first when implicit schemas are requested and not listed.
func currentSchemas(path []string, includeImplicit bool) []string {
	var out []string
	if includeImplicit {
		listed := false
		for _, s := range path {
			listed = listed || s == catconstants.PgCatalogName
		}
		if !listed {
			out = append(out, catconstants.PgCatalogName)
		}
	}
	for _, s := range path {
		if s == "$user" {
			continue
		}
		out = append(out, s)
	}
	return out
}

func uuidV4(context.Context, *evaluator, tree.Datums) (tree.Datum, error) {
	return tree.NewDUuid(tree.DUuid{UUID: uuid.NewV4()}), nil
}

func pgTypeName(t *types.T) string {
	if t.Family() == types.UnknownFamily {
		return "unknown"
	}
	return t.SQLStandardName()
}

// followerReadTimestamp is follower_read_timestamp(): the transaction time
// minus FollowerReadDelay.
var followerReadTimestamp = sessionFn(types.TimestampTZ,
	func(_ context.Context, ev *evaluator, _ tree.Datums) (tree.Datum, error) {
		return tsTZ(ev.ec.txnTime().Add(-FollowerReadDelay))
	})

var systemBuiltins = map[string]builtinDef{
	"version": def("system info", sessionFn(types.String, func(_ context.Context, ev *evaluator, _ tree.Datums) (tree.Datum, error) {
		return str(ev.ec.Version), nil
	})),
	"crdb_internal.node_executable_version": def("system info", sessionFn(types.String, func(_ context.Context, ev *evaluator, _ tree.Datums) (tree.Datum, error) {
		return str(ev.ec.ExecutableVersion), nil
	})),
	"current_database": def("system info", sessionFn(types.String, func(_ context.Context, ev *evaluator, _ tree.Datums) (tree.Datum, error) {
		return stringOrNull(ev.ec.Database), nil
	})),
	"current_schema": def("system info", sessionFn(types.String, func(_ context.Context, ev *evaluator, _ tree.Datums) (tree.Datum, error) {
		for _, s := range currentSchemas(ev.ec.SearchPath, false) {
			if s != catconstants.PgCatalogName {
				return str(s), nil
			}
		}
		return tree.DNull, nil
	})),
	"current_schemas": def("system info", stable(overload(params(types.Bool), types.StringArray,
		func(_ context.Context, ev *evaluator, a tree.Datums) (tree.Datum, error) {
			arr := tree.NewDArray(types.String)
			for _, s := range currentSchemas(ev.ec.SearchPath, bool(*a[0].(*tree.DBool))) {
				if err := arr.Append(str(s)); err != nil {
					return nil, err
				}
			}
			return arr, nil
		}))),
	"current_user": def("system info", sessionFn(types.String, func(_ context.Context, ev *evaluator, _ tree.Datums) (tree.Datum, error) {
		return stringOrNull(ev.ec.User), nil
	})),
	"session_user": def("system info", sessionFn(types.String, func(_ context.Context, ev *evaluator, _ tree.Datums) (tree.Datum, error) {
		return stringOrNull(ev.ec.SessionUser), nil
	})),
	"current_setting": def("system info",
		stable(overload(params(types.String), types.String, func(_ context.Context, ev *evaluator, a tree.Datums) (tree.Datum, error) {
			return currentSetting(ev, stringOf(a[0]), false)
		})),
		stable(overload(params(types.String, types.Bool), types.String, func(_ context.Context, ev *evaluator, a tree.Datums) (tree.Datum, error) {
			return currentSetting(ev, stringOf(a[0]), bool(*a[1].(*tree.DBool)))
		}))),
	"pg_backend_pid": def("system info", sessionFn(types.Int, func(_ context.Context, ev *evaluator, _ tree.Datums) (tree.Datum, error) {
		return newInt(int64(ev.ec.BackendPID)), nil
	})),
	"pg_typeof": def("system info", calledOnNull(overload(params(types.AnyElement), types.String,
		func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			return str(pgTypeName(a[0].ResolvedType())), nil
		}))),
	"unique_rowid": def("id generation", volatile(overload(params(), types.Int, func(_ context.Context, ev *evaluator, _ tree.Datums) (tree.Datum, error) {
		if ev.ec.UniqueRowID == nil {
			return nil, missingHook("unique_rowid")
		}
		return newInt(ev.ec.UniqueRowID()), nil
	}))),
	"gen_random_uuid":  def("id generation", volatile(overload(params(), types.Uuid, uuidV4))),
	"uuid_generate_v4": def("id generation", volatile(overload(params(), types.Uuid, uuidV4))),
	"cluster_logical_timestamp": def("system info", volatile(overload(params(), types.Decimal,
		func(_ context.Context, ev *evaluator, _ tree.Datums) (tree.Datum, error) {
			if ev.ec.ClusterLogicalTimestamp == nil {
				return nil, missingHook("cluster_logical_timestamp")
			}
			return ev.ec.ClusterLogicalTimestamp(), nil
		}))),
	"follower_read_timestamp":              def("system info", followerReadTimestamp),
	"experimental_follower_read_timestamp": def("system info", followerReadTimestamp),
	"num_nulls": def("comparison", calledOnNull(overload(tree.VariadicType{VarType: types.AnyElement}, types.Int,
		func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			n := 0
			for _, d := range a {
				if d == tree.DNull {
					n++
				}
			}
			return newInt(int64(n)), nil
		}))),
	"num_nonnulls": def("comparison", calledOnNull(overload(tree.VariadicType{VarType: types.AnyElement}, types.Int,
		func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			n := 0
			for _, d := range a {
				if d != tree.DNull {
					n++
				}
			}
			return newInt(int64(n)), nil
		}))),
	"array_length": def("array", overload(params(types.AnyArray, types.Int), types.Int,
		func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			arr := a[0].(*tree.DArray)
			if intOf(a[1]) != 1 || len(arr.Array) == 0 {
				return tree.DNull, nil
			}
			return newInt(int64(len(arr.Array))), nil
		})),
	"cardinality": def("array", overload(params(types.AnyArray), types.Int,
		func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			return newInt(int64(len(a[0].(*tree.DArray).Array))), nil
		})),
	"array_to_string": def("array",
		withVolatility(overload(params(types.AnyArray, types.String), types.String,
			func(ctx context.Context, ev *evaluator, a tree.Datums) (tree.Datum, error) {
				return arrayToString(ctx, ev, a[0].(*tree.DArray), stringOf(a[1]), nil)
			}), volatility.Stable),
		calledOnNull(withVolatility(overload(params(types.AnyArray, types.String, types.String), types.String,
			func(ctx context.Context, ev *evaluator, a tree.Datums) (tree.Datum, error) {
				if a[0] == tree.DNull || a[1] == tree.DNull {
					return tree.DNull, nil
				}
				var nullStr *string
				if a[2] != tree.DNull {
					s := stringOf(a[2])
					nullStr = &s
				}
				return arrayToString(ctx, ev, a[0].(*tree.DArray), stringOf(a[1]), nullStr)
			}), volatility.Stable))),
	"array_position": def("array", overload(params(types.AnyArray, types.AnyElement), types.Int,
		func(ctx context.Context, ev *evaluator, a tree.Datums) (tree.Datum, error) {
			for i, e := range a[0].(*tree.DArray).Array {
				if e == tree.DNull {
					continue
				}
				c, err := e.Compare(ctx, ev, a[1])
				if err != nil {
					return nil, err
				}
				if c == 0 {
					return newInt(int64(i + 1)), nil
				}
			}
			return tree.DNull, nil
		})),
}

func arrayToString(ctx context.Context, ev *evaluator, arr *tree.DArray, delim string, nullStr *string) (tree.Datum, error) {
	var b strings.Builder
	first := true
	for _, e := range arr.Array {
		var s string
		if e == tree.DNull {
			if nullStr == nil {
				continue
			}
			s = *nullStr
		} else {
			var err error
			if s, err = ev.toText(ctx, e); err != nil {
				return nil, err
			}
		}
		if !first {
			b.WriteString(delim)
		}
		first = false
		b.WriteString(s)
	}
	return str(b.String()), nil
}

func currentSetting(ev *evaluator, name string, missingOK bool) (tree.Datum, error) {
	if ev.ec.SessionSetting != nil {
		if v, ok := ev.ec.SessionSetting(strings.ToLower(name)); ok {
			return str(v), nil
		}
	}
	if missingOK {
		return tree.DNull, nil
	}
	return nil, pgerror.Newf(pgcode.UndefinedObject, "unrecognized configuration parameter %q", name)
}
