package sem

import (
	"context"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/json"
)

func jsonOf(d tree.Datum) json.JSON { return d.(*tree.DJSON).JSON }

// jsonOrNull turns a missing JSON value (nil) into SQL NULL.
func jsonOrNull(j json.JSON, err error) (tree.Datum, error) {
	if err != nil {
		return nil, err
	}
	if j == nil {
		return tree.DNull, nil
	}
	return tree.NewDJSON(j), nil
}

// jsonTextOrNull is the ->> form: the value as text, JSON null as SQL NULL.
func jsonTextOrNull(j json.JSON, err error) (tree.Datum, error) {
	if err != nil {
		return nil, err
	}
	if j == nil {
		return tree.DNull, nil
	}
	s, err := j.AsText()
	if err != nil {
		return nil, err
	}
	if s == nil {
		return tree.DNull, nil
	}
	return tree.NewDString(*s), nil
}

// jsonSubscript is j['key'] or j[index].
func jsonSubscript(j *tree.DJSON, idx tree.Datum) (tree.Datum, error) {
	switch v := idx.(type) {
	case *tree.DInt:
		return jsonOrNull(j.JSON.FetchValIdx(int(*v)))
	case *tree.DString:
		return jsonOrNull(j.JSON.FetchValKey(string(*v)))
	}
	return nil, pgerror.Newf(pgcode.DatatypeMismatch, "unexpected JSON subscript type: %s", idx.ResolvedType())
}

// EvalJSONFetchValStringOp implements tree.OpEvaluator: jsonb -> text.
func (ev *evaluator) EvalJSONFetchValStringOp(_ context.Context, _ *tree.JSONFetchValStringOp, l, r tree.Datum) (tree.Datum, error) {
	return jsonOrNull(jsonOf(l).FetchValKeyOrIdx(stringOf(r)))
}

// EvalJSONFetchValIntOp implements tree.OpEvaluator: jsonb -> int.
func (ev *evaluator) EvalJSONFetchValIntOp(_ context.Context, _ *tree.JSONFetchValIntOp, l, r tree.Datum) (tree.Datum, error) {
	return jsonOrNull(jsonOf(l).FetchValIdx(int(intOf(r))))
}

// EvalJSONFetchTextStringOp implements tree.OpEvaluator: jsonb ->> text.
func (ev *evaluator) EvalJSONFetchTextStringOp(_ context.Context, _ *tree.JSONFetchTextStringOp, l, r tree.Datum) (tree.Datum, error) {
	return jsonTextOrNull(jsonOf(l).FetchValKeyOrIdx(stringOf(r)))
}

// EvalJSONFetchTextIntOp implements tree.OpEvaluator: jsonb ->> int.
func (ev *evaluator) EvalJSONFetchTextIntOp(_ context.Context, _ *tree.JSONFetchTextIntOp, l, r tree.Datum) (tree.Datum, error) {
	return jsonTextOrNull(jsonOf(l).FetchValIdx(int(intOf(r))))
}

// EvalJSONFetchValPathOp implements tree.OpEvaluator: jsonb #> text[].
func (ev *evaluator) EvalJSONFetchValPathOp(_ context.Context, _ *tree.JSONFetchValPathOp, l, r tree.Datum) (tree.Datum, error) {
	return jsonOrNull(tree.GetJSONPath(jsonOf(l), *r.(*tree.DArray)))
}

// EvalJSONFetchTextPathOp implements tree.OpEvaluator: jsonb #>> text[].
func (ev *evaluator) EvalJSONFetchTextPathOp(_ context.Context, _ *tree.JSONFetchTextPathOp, l, r tree.Datum) (tree.Datum, error) {
	return jsonTextOrNull(tree.GetJSONPath(jsonOf(l), *r.(*tree.DArray)))
}

// EvalConcatJsonbOp implements tree.OpEvaluator: jsonb || jsonb.
func (ev *evaluator) EvalConcatJsonbOp(_ context.Context, _ *tree.ConcatJsonbOp, l, r tree.Datum) (tree.Datum, error) {
	return jsonOrNull(jsonOf(l).Concat(jsonOf(r)))
}

// EvalMinusJsonbStringOp implements tree.OpEvaluator: jsonb - text removes
// a key (or matching string elements of an array).
func (ev *evaluator) EvalMinusJsonbStringOp(_ context.Context, _ *tree.MinusJsonbStringOp, l, r tree.Datum) (tree.Datum, error) {
	j, _, err := jsonOf(l).RemoveString(stringOf(r))
	return jsonOrNull(j, err)
}

// EvalMinusJsonbIntOp implements tree.OpEvaluator: jsonb - int removes an
// array element.
func (ev *evaluator) EvalMinusJsonbIntOp(_ context.Context, _ *tree.MinusJsonbIntOp, l, r tree.Datum) (tree.Datum, error) {
	j, _, err := jsonOf(l).RemoveIndex(int(intOf(r)))
	return jsonOrNull(j, err)
}

// EvalMinusJsonbStringArrayOp implements tree.OpEvaluator: jsonb - text[].
func (ev *evaluator) EvalMinusJsonbStringArrayOp(_ context.Context, _ *tree.MinusJsonbStringArrayOp, l, r tree.Datum) (tree.Datum, error) {
	j := jsonOf(l)
	for _, k := range r.(*tree.DArray).Array {
		if k == tree.DNull {
			continue
		}
		var err error
		if j, _, err = j.RemoveString(stringOf(k)); err != nil {
			return nil, err
		}
	}
	return tree.NewDJSON(j), nil
}
