package sem

import (
	"context"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
)

// The parser module's overload tables also cover types vcdb does not store
// (INET, PG_LSN, VECTOR, BOX2D, full-text search). Their operators type
// check, so they must be evaluable; they report "not supported" instead of
// guessing at semantics nobody tests.

func unsupportedOp(l tree.Datum) (tree.Datum, error) {
	return nil, pgerror.Newf(pgcode.FeatureNotSupported,
		"operators on type %s are not supported", l.ResolvedType())
}

// EvalBitAndINetOp implements tree.OpEvaluator.
func (ev *evaluator) EvalBitAndINetOp(_ context.Context, _ *tree.BitAndINetOp, l, _ tree.Datum) (tree.Datum, error) {
	return unsupportedOp(l)
}

// EvalBitOrINetOp implements tree.OpEvaluator.
func (ev *evaluator) EvalBitOrINetOp(_ context.Context, _ *tree.BitOrINetOp, l, _ tree.Datum) (tree.Datum, error) {
	return unsupportedOp(l)
}

// EvalComplementINetOp implements tree.OpEvaluator.
func (ev *evaluator) EvalComplementINetOp(_ context.Context, _ *tree.ComplementINetOp, d tree.Datum) (tree.Datum, error) {
	return unsupportedOp(d)
}

// EvalLShiftINetOp implements tree.OpEvaluator.
func (ev *evaluator) EvalLShiftINetOp(_ context.Context, _ *tree.LShiftINetOp, l, _ tree.Datum) (tree.Datum, error) {
	return unsupportedOp(l)
}

// EvalRShiftINetOp implements tree.OpEvaluator.
func (ev *evaluator) EvalRShiftINetOp(_ context.Context, _ *tree.RShiftINetOp, l, _ tree.Datum) (tree.Datum, error) {
	return unsupportedOp(l)
}

// EvalMinusINetOp implements tree.OpEvaluator.
func (ev *evaluator) EvalMinusINetOp(_ context.Context, _ *tree.MinusINetOp, l, _ tree.Datum) (tree.Datum, error) {
	return unsupportedOp(l)
}

// EvalMinusINetIntOp implements tree.OpEvaluator.
func (ev *evaluator) EvalMinusINetIntOp(_ context.Context, _ *tree.MinusINetIntOp, l, _ tree.Datum) (tree.Datum, error) {
	return unsupportedOp(l)
}

// EvalPlusINetIntOp implements tree.OpEvaluator.
func (ev *evaluator) EvalPlusINetIntOp(_ context.Context, _ *tree.PlusINetIntOp, l, _ tree.Datum) (tree.Datum, error) {
	return unsupportedOp(l)
}

// EvalPlusIntINetOp implements tree.OpEvaluator.
func (ev *evaluator) EvalPlusIntINetOp(_ context.Context, _ *tree.PlusIntINetOp, _, r tree.Datum) (tree.Datum, error) {
	return unsupportedOp(r)
}

// EvalOverlapsINetOp implements tree.OpEvaluator.
func (ev *evaluator) EvalOverlapsINetOp(_ context.Context, _ *tree.OverlapsINetOp, l, _ tree.Datum) (tree.Datum, error) {
	return unsupportedOp(l)
}

// EvalPlusDecimalPGLSNOp implements tree.OpEvaluator.
func (ev *evaluator) EvalPlusDecimalPGLSNOp(_ context.Context, _ *tree.PlusDecimalPGLSNOp, _, r tree.Datum) (tree.Datum, error) {
	return unsupportedOp(r)
}

// EvalPlusPGLSNDecimalOp implements tree.OpEvaluator.
func (ev *evaluator) EvalPlusPGLSNDecimalOp(_ context.Context, _ *tree.PlusPGLSNDecimalOp, l, _ tree.Datum) (tree.Datum, error) {
	return unsupportedOp(l)
}

// EvalMinusPGLSNDecimalOp implements tree.OpEvaluator.
func (ev *evaluator) EvalMinusPGLSNDecimalOp(_ context.Context, _ *tree.MinusPGLSNDecimalOp, l, _ tree.Datum) (tree.Datum, error) {
	return unsupportedOp(l)
}

// EvalMinusPGLSNOp implements tree.OpEvaluator.
func (ev *evaluator) EvalMinusPGLSNOp(_ context.Context, _ *tree.MinusPGLSNOp, l, _ tree.Datum) (tree.Datum, error) {
	return unsupportedOp(l)
}

// EvalPlusPGVectorOp implements tree.OpEvaluator.
func (ev *evaluator) EvalPlusPGVectorOp(_ context.Context, _ *tree.PlusPGVectorOp, l, _ tree.Datum) (tree.Datum, error) {
	return unsupportedOp(l)
}

// EvalMinusPGVectorOp implements tree.OpEvaluator.
func (ev *evaluator) EvalMinusPGVectorOp(_ context.Context, _ *tree.MinusPGVectorOp, l, _ tree.Datum) (tree.Datum, error) {
	return unsupportedOp(l)
}

// EvalMultPGVectorOp implements tree.OpEvaluator.
func (ev *evaluator) EvalMultPGVectorOp(_ context.Context, _ *tree.MultPGVectorOp, l, _ tree.Datum) (tree.Datum, error) {
	return unsupportedOp(l)
}

// EvalDistanceVectorOp implements tree.OpEvaluator.
func (ev *evaluator) EvalDistanceVectorOp(_ context.Context, _ *tree.DistanceVectorOp, l, _ tree.Datum) (tree.Datum, error) {
	return unsupportedOp(l)
}

// EvalCosDistanceVectorOp implements tree.OpEvaluator.
func (ev *evaluator) EvalCosDistanceVectorOp(_ context.Context, _ *tree.CosDistanceVectorOp, l, _ tree.Datum) (tree.Datum, error) {
	return unsupportedOp(l)
}

// EvalNegInnerProductVectorOp implements tree.OpEvaluator.
func (ev *evaluator) EvalNegInnerProductVectorOp(_ context.Context, _ *tree.NegInnerProductVectorOp, l, _ tree.Datum) (tree.Datum, error) {
	return unsupportedOp(l)
}

// EvalCompareBox2DOp implements tree.OpEvaluator.
func (ev *evaluator) EvalCompareBox2DOp(_ context.Context, _ *tree.CompareBox2DOp, l, _ tree.Datum) (tree.Datum, error) {
	return unsupportedOp(l)
}

// EvalTSMatchesQueryVectorOp implements tree.OpEvaluator.
func (ev *evaluator) EvalTSMatchesQueryVectorOp(_ context.Context, _ *tree.TSMatchesQueryVectorOp, l, _ tree.Datum) (tree.Datum, error) {
	return unsupportedOp(l)
}

// EvalTSMatchesVectorQueryOp implements tree.OpEvaluator.
func (ev *evaluator) EvalTSMatchesVectorQueryOp(_ context.Context, _ *tree.TSMatchesVectorQueryOp, l, _ tree.Datum) (tree.Datum, error) {
	return unsupportedOp(l)
}

// EvalModStringOp implements tree.OpEvaluator: text % text is pg_trgm's
// similarity operator, which vcdb does not implement.
func (ev *evaluator) EvalModStringOp(_ context.Context, _ *tree.ModStringOp, l, _ tree.Datum) (tree.Datum, error) {
	return nil, pgerror.New(pgcode.FeatureNotSupported, "text % text (trigram similarity) is not supported")
}
