package sem

import (
	"context"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/volatility"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/json"
)

func jsonBuildObject(_ context.Context, ev *evaluator, a tree.Datums) (tree.Datum, error) {
	if len(a)%2 != 0 {
		return nil, pgerror.New(pgcode.InvalidParameterValue, "argument list must have even number of elements")
	}
	b := json.NewObjectBuilder(len(a) / 2)
	for i := 0; i < len(a); i += 2 {
		if a[i] == tree.DNull {
			return nil, pgerror.Newf(pgcode.InvalidParameterValue, "argument %d cannot be null", i+1)
		}
		key, err := ev.toText(context.Background(), a[i])
		if err != nil {
			return nil, err
		}
		val, err := ev.toJSON(a[i+1])
		if err != nil {
			return nil, err
		}
		b.Add(key, val)
	}
	return tree.NewDJSON(b.Build()), nil
}

func jsonBuildArray(_ context.Context, ev *evaluator, a tree.Datums) (tree.Datum, error) {
	b := json.NewArrayBuilder(len(a))
	for _, d := range a {
		j, err := ev.toJSON(d)
		if err != nil {
			return nil, err
		}
		b.Add(j)
	}
	return tree.NewDJSON(b.Build()), nil
}

func toJSONFn(_ context.Context, ev *evaluator, a tree.Datums) (tree.Datum, error) {
	j, err := ev.toJSON(a[0])
	if err != nil {
		return nil, err
	}
	return tree.NewDJSON(j), nil
}

func jsonTypeof(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
	switch jsonOf(a[0]).Type() {
	case json.NullJSONType:
		return str("null"), nil
	case json.StringJSONType:
		return str("string"), nil
	case json.NumberJSONType:
		return str("number"), nil
	case json.FalseJSONType, json.TrueJSONType:
		return str("boolean"), nil
	case json.ArrayJSONType:
		return str("array"), nil
	case json.ObjectJSONType:
		return str("object"), nil
	}
	return nil, pgerror.New(pgcode.Internal, "unknown JSON type")
}

func jsonArrayLength(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
	j := jsonOf(a[0])
	switch j.Type() {
	case json.ArrayJSONType:
		arr, _ := j.AsArray()
		return newInt(int64(len(arr))), nil
	case json.ObjectJSONType:
		return nil, pgerror.New(pgcode.InvalidParameterValue, "cannot get array length of a non-array")
	}
	return nil, pgerror.New(pgcode.InvalidParameterValue, "cannot get array length of a scalar")
}

// jsonExtractPath is jsonb_extract_path(j, VARIADIC path).
func jsonExtractPath(asText bool) builtinFn {
	return func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
		path := make([]string, 0, len(a)-1)
		for _, p := range a[1:] {
			if p == tree.DNull {
				return tree.DNull, nil
			}
			path = append(path, stringOf(p))
		}
		j, err := json.FetchPath(jsonOf(a[0]), path)
		if asText {
			return jsonTextOrNull(j, err)
		}
		return jsonOrNull(j, err)
	}
}

func jsonSet(createMissing bool) builtinFn {
	return func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
		arr := a[1].(*tree.DArray)
		path := make([]string, len(arr.Array))
		for i, p := range arr.Array {
			if p == tree.DNull {
				return nil, pgerror.Newf(pgcode.NullValueNotAllowed, "path element at position %d is null", i+1)
			}
			path[i] = stringOf(p)
		}
		if len(a) > 3 {
			createMissing = bool(*a[3].(*tree.DBool))
		}
		j, err := json.DeepSet(jsonOf(a[0]), path, jsonOf(a[2]), createMissing)
		return jsonOrNull(j, err)
	}
}

// jsonOverloads registers a function under its jsonb_ name and its json_
// alias (JSON and JSONB are the same type in CockroachDB and vcdb).
func jsonOverloads(m map[string]builtinDef, jsonbName, jsonName string, d builtinDef) {
	m[jsonbName] = d
	if jsonName != "" {
		m[jsonName] = d
	}
}

var jsonBuiltins = func() map[string]builtinDef {
	m := map[string]builtinDef{}
	variadicAny := tree.VariadicType{VarType: types.AnyElement}
	jsonOverloads(m, "jsonb_build_object", "json_build_object", def("json",
		calledOnNull(withVolatility(overload(variadicAny, types.Jsonb, jsonBuildObject), volatility.Stable))))
	jsonOverloads(m, "jsonb_build_array", "json_build_array", def("json",
		calledOnNull(withVolatility(overload(variadicAny, types.Jsonb, jsonBuildArray), volatility.Stable))))
	jsonOverloads(m, "to_jsonb", "to_json", def("json",
		withVolatility(overload(params(types.AnyElement), types.Jsonb, toJSONFn), volatility.Stable)))
	jsonOverloads(m, "jsonb_typeof", "json_typeof", def("json",
		overload(params(types.Jsonb), types.String, jsonTypeof)))
	jsonOverloads(m, "jsonb_array_length", "json_array_length", def("json",
		overload(params(types.Jsonb), types.Int, jsonArrayLength)))
	jsonOverloads(m, "jsonb_extract_path", "json_extract_path", def("json",
		overload(tree.VariadicType{FixedTypes: []*types.T{types.Jsonb}, VarType: types.String}, types.Jsonb, jsonExtractPath(false))))
	jsonOverloads(m, "jsonb_extract_path_text", "json_extract_path_text", def("json",
		overload(tree.VariadicType{FixedTypes: []*types.T{types.Jsonb}, VarType: types.String}, types.String, jsonExtractPath(true))))
	jsonOverloads(m, "jsonb_pretty", "", def("json",
		overload(params(types.Jsonb), types.String, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			s, err := json.Pretty(jsonOf(a[0]))
			if err != nil {
				return nil, err
			}
			return str(s), nil
		})))
	jsonOverloads(m, "jsonb_strip_nulls", "json_strip_nulls", def("json",
		overload(params(types.Jsonb), types.Jsonb, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			j, _, err := jsonOf(a[0]).StripNulls()
			return jsonOrNull(j, err)
		})))
	jsonOverloads(m, "jsonb_set", "", def("json",
		overload(params(types.Jsonb, types.StringArray, types.Jsonb), types.Jsonb, jsonSet(true)),
		overload(params(types.Jsonb, types.StringArray, types.Jsonb, types.Bool), types.Jsonb, jsonSet(true))))
	jsonOverloads(m, "json_remove_path", "", def("json",
		overload(params(types.Jsonb, types.StringArray), types.Jsonb, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			arr := a[1].(*tree.DArray)
			path := make([]string, 0, len(arr.Array))
			for _, p := range arr.Array {
				if p == tree.DNull {
					return a[0], nil
				}
				path = append(path, stringOf(p))
			}
			j, _, err := jsonOf(a[0]).RemovePath(path)
			return jsonOrNull(j, err)
		})))
	return m
}()
