package sem

import (
	"context"
	"math"

	"github.com/cockroachdb/apd/v3"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/arith"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/bitarray"
)

// This file implements the arithmetic, bitwise and string operators of
// tree.BinOps and tree.UnaryOps. Overflow and division by zero follow
// CockroachDB: INT arithmetic errors with 22003 instead of wrapping, INT /
// INT is DECIMAL, // truncates, FLOAT follows IEEE 754 except that dividing
// by zero is an error.

func intOf(d tree.Datum) int64        { return int64(tree.MustBeDInt(d)) }
func floatOf(d tree.Datum) float64    { return float64(tree.MustBeDFloat(d)) }
func decOf(d tree.Datum) *apd.Decimal { return &d.(*tree.DDecimal).Decimal }

func newInt(i int64) tree.Datum     { return tree.NewDInt(tree.DInt(i)) }
func newFloat(f float64) tree.Datum { return tree.NewDFloat(tree.DFloat(f)) }

// decResult wraps the outcome of an apd operation: division by zero and
// overflow become the SQL errors.
func decResult(dd *tree.DDecimal, cond apd.Condition, err error) (tree.Datum, error) {
	if cond.DivisionByZero() {
		return nil, tree.ErrDivByZero
	}
	if err != nil {
		if cond.Overflow() || cond.Underflow() {
			return nil, tree.ErrDecOutOfRange
		}
		return nil, pgerror.Wrap(err, pgcode.NumericValueOutOfRange, "decimal out of range")
	}
	return dd, nil
}

func intToDec(i int64) *apd.Decimal { return apd.New(i, 0) }

func mulInt(a, b int64) (int64, error) {
	if a == 0 || b == 0 {
		return 0, nil
	}
	c := a * b
	if c/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
		return 0, tree.ErrIntOutOfRange
	}
	return c, nil
}

// EvalPlusIntOp implements tree.OpEvaluator.
func (ev *evaluator) EvalPlusIntOp(_ context.Context, _ *tree.PlusIntOp, l, r tree.Datum) (tree.Datum, error) {
	s, ok := arith.AddWithOverflow(intOf(l), intOf(r))
	if !ok {
		return nil, tree.ErrIntOutOfRange
	}
	return newInt(s), nil
}

// EvalMinusIntOp implements tree.OpEvaluator.
func (ev *evaluator) EvalMinusIntOp(_ context.Context, _ *tree.MinusIntOp, l, r tree.Datum) (tree.Datum, error) {
	s, ok := arith.SubWithOverflow(intOf(l), intOf(r))
	if !ok {
		return nil, tree.ErrIntOutOfRange
	}
	return newInt(s), nil
}

// EvalMultIntOp implements tree.OpEvaluator.
func (ev *evaluator) EvalMultIntOp(_ context.Context, _ *tree.MultIntOp, l, r tree.Datum) (tree.Datum, error) {
	p, err := mulInt(intOf(l), intOf(r))
	if err != nil {
		return nil, err
	}
	return newInt(p), nil
}

// EvalDivIntOp implements tree.OpEvaluator: INT / INT is DECIMAL.
func (ev *evaluator) EvalDivIntOp(_ context.Context, _ *tree.DivIntOp, l, r tree.Datum) (tree.Datum, error) {
	rv := intOf(r)
	if rv == 0 {
		return nil, tree.ErrDivByZero
	}
	dd := &tree.DDecimal{}
	cond, err := tree.DecimalCtx.Quo(&dd.Decimal, intToDec(intOf(l)), intToDec(rv))
	return decResult(dd, cond, err)
}

// EvalFloorDivIntOp implements tree.OpEvaluator: INT // INT truncates.
func (ev *evaluator) EvalFloorDivIntOp(_ context.Context, _ *tree.FloorDivIntOp, l, r tree.Datum) (tree.Datum, error) {
	a, b := intOf(l), intOf(r)
	if b == 0 {
		return nil, tree.ErrDivByZero
	}
	if a == math.MinInt64 && b == -1 {
		return nil, tree.ErrIntOutOfRange
	}
	return newInt(a / b), nil
}

// EvalModIntOp implements tree.OpEvaluator.
func (ev *evaluator) EvalModIntOp(_ context.Context, _ *tree.ModIntOp, l, r tree.Datum) (tree.Datum, error) {
	a, b := intOf(l), intOf(r)
	if b == 0 {
		return nil, tree.ErrDivByZero
	}
	if b == -1 {
		return newInt(0), nil
	}
	return newInt(a % b), nil
}

// EvalPowIntOp implements tree.OpEvaluator: INT ^ INT is INT, so a result
// that is not an integer (a negative exponent) or does not fit is out of
// range.
func (ev *evaluator) EvalPowIntOp(_ context.Context, _ *tree.PowIntOp, l, r tree.Datum) (tree.Datum, error) {
	a, b := intOf(l), intOf(r)
	if a == 0 && b < 0 {
		return nil, pgerror.New(pgcode.InvalidArgumentForPowerFunction,
			"zero raised to a negative power is undefined")
	}
	var res apd.Decimal
	if _, err := tree.DecimalCtx.Pow(&res, intToDec(a), intToDec(b)); err != nil {
		return nil, tree.ErrIntOutOfRange
	}
	i, err := res.Int64()
	if err != nil {
		return nil, tree.ErrIntOutOfRange
	}
	return newInt(i), nil
}

// EvalBitAndIntOp implements tree.OpEvaluator.
func (ev *evaluator) EvalBitAndIntOp(_ context.Context, _ *tree.BitAndIntOp, l, r tree.Datum) (tree.Datum, error) {
	return newInt(intOf(l) & intOf(r)), nil
}

// EvalBitOrIntOp implements tree.OpEvaluator.
func (ev *evaluator) EvalBitOrIntOp(_ context.Context, _ *tree.BitOrIntOp, l, r tree.Datum) (tree.Datum, error) {
	return newInt(intOf(l) | intOf(r)), nil
}

// EvalBitXorIntOp implements tree.OpEvaluator.
func (ev *evaluator) EvalBitXorIntOp(_ context.Context, _ *tree.BitXorIntOp, l, r tree.Datum) (tree.Datum, error) {
	return newInt(intOf(l) ^ intOf(r)), nil
}

// EvalLShiftIntOp implements tree.OpEvaluator.
func (ev *evaluator) EvalLShiftIntOp(_ context.Context, _ *tree.LShiftIntOp, l, r tree.Datum) (tree.Datum, error) {
	s := intOf(r)
	if s < 0 || s >= 64 {
		return nil, tree.ErrShiftArgOutOfRange
	}
	return newInt(intOf(l) << uint(s)), nil
}

// EvalRShiftIntOp implements tree.OpEvaluator.
func (ev *evaluator) EvalRShiftIntOp(_ context.Context, _ *tree.RShiftIntOp, l, r tree.Datum) (tree.Datum, error) {
	s := intOf(r)
	if s < 0 || s >= 64 {
		return nil, tree.ErrShiftArgOutOfRange
	}
	return newInt(intOf(l) >> uint(s)), nil
}

// EvalPlusFloatOp implements tree.OpEvaluator.
func (ev *evaluator) EvalPlusFloatOp(_ context.Context, _ *tree.PlusFloatOp, l, r tree.Datum) (tree.Datum, error) {
	return newFloat(floatOf(l) + floatOf(r)), nil
}

// EvalMinusFloatOp implements tree.OpEvaluator.
func (ev *evaluator) EvalMinusFloatOp(_ context.Context, _ *tree.MinusFloatOp, l, r tree.Datum) (tree.Datum, error) {
	return newFloat(floatOf(l) - floatOf(r)), nil
}

// EvalMultFloatOp implements tree.OpEvaluator.
func (ev *evaluator) EvalMultFloatOp(_ context.Context, _ *tree.MultFloatOp, l, r tree.Datum) (tree.Datum, error) {
	return newFloat(floatOf(l) * floatOf(r)), nil
}

// EvalDivFloatOp implements tree.OpEvaluator.
func (ev *evaluator) EvalDivFloatOp(_ context.Context, _ *tree.DivFloatOp, l, r tree.Datum) (tree.Datum, error) {
	b := floatOf(r)
	if b == 0 {
		return nil, tree.ErrDivByZero
	}
	return newFloat(floatOf(l) / b), nil
}

// EvalFloorDivFloatOp implements tree.OpEvaluator.
func (ev *evaluator) EvalFloorDivFloatOp(_ context.Context, _ *tree.FloorDivFloatOp, l, r tree.Datum) (tree.Datum, error) {
	b := floatOf(r)
	if b == 0 {
		return nil, tree.ErrDivByZero
	}
	return newFloat(math.Trunc(floatOf(l) / b)), nil
}

// EvalModFloatOp implements tree.OpEvaluator.
func (ev *evaluator) EvalModFloatOp(_ context.Context, _ *tree.ModFloatOp, l, r tree.Datum) (tree.Datum, error) {
	b := floatOf(r)
	if b == 0 {
		return nil, tree.ErrDivByZero
	}
	return newFloat(math.Mod(floatOf(l), b)), nil
}

// EvalPowFloatOp implements tree.OpEvaluator.
func (ev *evaluator) EvalPowFloatOp(_ context.Context, _ *tree.PowFloatOp, l, r tree.Datum) (tree.Datum, error) {
	return floatPow(floatOf(l), floatOf(r))
}

// floatPow is PostgreSQL's float8 power, including its two errors.
func floatPow(a, b float64) (tree.Datum, error) {
	if a == 0 && b < 0 {
		return nil, pgerror.New(pgcode.InvalidArgumentForPowerFunction,
			"zero raised to a negative power is undefined")
	}
	if a < 0 && b != math.Trunc(b) && !math.IsInf(b, 0) {
		return nil, pgerror.New(pgcode.InvalidArgumentForPowerFunction,
			"a negative number raised to a non-integer power yields a complex result")
	}
	return newFloat(math.Pow(a, b)), nil
}

// decimal arithmetic on two apd values; ints are converted first.
func decPlus(a, b *apd.Decimal) (tree.Datum, error) {
	dd := &tree.DDecimal{}
	cond, err := tree.ExactCtx.Add(&dd.Decimal, a, b)
	return decResult(dd, cond, err)
}

func decMinus(a, b *apd.Decimal) (tree.Datum, error) {
	dd := &tree.DDecimal{}
	cond, err := tree.ExactCtx.Sub(&dd.Decimal, a, b)
	return decResult(dd, cond, err)
}

func decMult(a, b *apd.Decimal) (tree.Datum, error) {
	dd := &tree.DDecimal{}
	cond, err := tree.ExactCtx.Mul(&dd.Decimal, a, b)
	return decResult(dd, cond, err)
}

func decDiv(a, b *apd.Decimal) (tree.Datum, error) {
	if b.IsZero() {
		return nil, tree.ErrDivByZero
	}
	dd := &tree.DDecimal{}
	cond, err := tree.DecimalCtx.Quo(&dd.Decimal, a, b)
	return decResult(dd, cond, err)
}

func decFloorDiv(a, b *apd.Decimal) (tree.Datum, error) {
	if b.IsZero() {
		return nil, tree.ErrDivByZero
	}
	dd := &tree.DDecimal{}
	cond, err := tree.HighPrecisionCtx.QuoInteger(&dd.Decimal, a, b)
	return decResult(dd, cond, err)
}

func decMod(a, b *apd.Decimal) (tree.Datum, error) {
	if b.IsZero() {
		return nil, tree.ErrDivByZero
	}
	dd := &tree.DDecimal{}
	cond, err := tree.HighPrecisionCtx.Rem(&dd.Decimal, a, b)
	return decResult(dd, cond, err)
}

func decPow(a, b *apd.Decimal) (tree.Datum, error) {
	if a.IsZero() && b.Sign() < 0 {
		return nil, pgerror.New(pgcode.InvalidArgumentForPowerFunction,
			"zero raised to a negative power is undefined")
	}
	dd := &tree.DDecimal{}
	cond, err := tree.DecimalCtx.Pow(&dd.Decimal, a, b)
	if dd.Form == apd.NaN && a.Sign() < 0 {
		return nil, pgerror.New(pgcode.InvalidArgumentForPowerFunction,
			"a negative number raised to a non-integer power yields a complex result")
	}
	return decResult(dd, cond, err)
}

// EvalPlusDecimalOp implements tree.OpEvaluator.
func (ev *evaluator) EvalPlusDecimalOp(_ context.Context, _ *tree.PlusDecimalOp, l, r tree.Datum) (tree.Datum, error) {
	return decPlus(decOf(l), decOf(r))
}

// EvalPlusDecimalIntOp implements tree.OpEvaluator.
func (ev *evaluator) EvalPlusDecimalIntOp(_ context.Context, _ *tree.PlusDecimalIntOp, l, r tree.Datum) (tree.Datum, error) {
	return decPlus(decOf(l), intToDec(intOf(r)))
}

// EvalPlusIntDecimalOp implements tree.OpEvaluator.
func (ev *evaluator) EvalPlusIntDecimalOp(_ context.Context, _ *tree.PlusIntDecimalOp, l, r tree.Datum) (tree.Datum, error) {
	return decPlus(intToDec(intOf(l)), decOf(r))
}

// EvalMinusDecimalOp implements tree.OpEvaluator.
func (ev *evaluator) EvalMinusDecimalOp(_ context.Context, _ *tree.MinusDecimalOp, l, r tree.Datum) (tree.Datum, error) {
	return decMinus(decOf(l), decOf(r))
}

// EvalMinusDecimalIntOp implements tree.OpEvaluator.
func (ev *evaluator) EvalMinusDecimalIntOp(_ context.Context, _ *tree.MinusDecimalIntOp, l, r tree.Datum) (tree.Datum, error) {
	return decMinus(decOf(l), intToDec(intOf(r)))
}

// EvalMinusIntDecimalOp implements tree.OpEvaluator.
func (ev *evaluator) EvalMinusIntDecimalOp(_ context.Context, _ *tree.MinusIntDecimalOp, l, r tree.Datum) (tree.Datum, error) {
	return decMinus(intToDec(intOf(l)), decOf(r))
}

// EvalMultDecimalOp implements tree.OpEvaluator.
func (ev *evaluator) EvalMultDecimalOp(_ context.Context, _ *tree.MultDecimalOp, l, r tree.Datum) (tree.Datum, error) {
	return decMult(decOf(l), decOf(r))
}

// EvalMultDecimalIntOp implements tree.OpEvaluator.
func (ev *evaluator) EvalMultDecimalIntOp(_ context.Context, _ *tree.MultDecimalIntOp, l, r tree.Datum) (tree.Datum, error) {
	return decMult(decOf(l), intToDec(intOf(r)))
}

// EvalMultIntDecimalOp implements tree.OpEvaluator.
func (ev *evaluator) EvalMultIntDecimalOp(_ context.Context, _ *tree.MultIntDecimalOp, l, r tree.Datum) (tree.Datum, error) {
	return decMult(intToDec(intOf(l)), decOf(r))
}

// EvalDivDecimalOp implements tree.OpEvaluator.
func (ev *evaluator) EvalDivDecimalOp(_ context.Context, _ *tree.DivDecimalOp, l, r tree.Datum) (tree.Datum, error) {
	return decDiv(decOf(l), decOf(r))
}

// EvalDivDecimalIntOp implements tree.OpEvaluator.
func (ev *evaluator) EvalDivDecimalIntOp(_ context.Context, _ *tree.DivDecimalIntOp, l, r tree.Datum) (tree.Datum, error) {
	return decDiv(decOf(l), intToDec(intOf(r)))
}

// EvalDivIntDecimalOp implements tree.OpEvaluator.
func (ev *evaluator) EvalDivIntDecimalOp(_ context.Context, _ *tree.DivIntDecimalOp, l, r tree.Datum) (tree.Datum, error) {
	return decDiv(intToDec(intOf(l)), decOf(r))
}

// EvalFloorDivDecimalOp implements tree.OpEvaluator.
func (ev *evaluator) EvalFloorDivDecimalOp(_ context.Context, _ *tree.FloorDivDecimalOp, l, r tree.Datum) (tree.Datum, error) {
	return decFloorDiv(decOf(l), decOf(r))
}

// EvalFloorDivDecimalIntOp implements tree.OpEvaluator.
func (ev *evaluator) EvalFloorDivDecimalIntOp(_ context.Context, _ *tree.FloorDivDecimalIntOp, l, r tree.Datum) (tree.Datum, error) {
	return decFloorDiv(decOf(l), intToDec(intOf(r)))
}

// EvalFloorDivIntDecimalOp implements tree.OpEvaluator.
func (ev *evaluator) EvalFloorDivIntDecimalOp(_ context.Context, _ *tree.FloorDivIntDecimalOp, l, r tree.Datum) (tree.Datum, error) {
	return decFloorDiv(intToDec(intOf(l)), decOf(r))
}

// EvalModDecimalOp implements tree.OpEvaluator.
func (ev *evaluator) EvalModDecimalOp(_ context.Context, _ *tree.ModDecimalOp, l, r tree.Datum) (tree.Datum, error) {
	return decMod(decOf(l), decOf(r))
}

// EvalModDecimalIntOp implements tree.OpEvaluator.
func (ev *evaluator) EvalModDecimalIntOp(_ context.Context, _ *tree.ModDecimalIntOp, l, r tree.Datum) (tree.Datum, error) {
	return decMod(decOf(l), intToDec(intOf(r)))
}

// EvalModIntDecimalOp implements tree.OpEvaluator.
func (ev *evaluator) EvalModIntDecimalOp(_ context.Context, _ *tree.ModIntDecimalOp, l, r tree.Datum) (tree.Datum, error) {
	return decMod(intToDec(intOf(l)), decOf(r))
}

// EvalPowDecimalOp implements tree.OpEvaluator.
func (ev *evaluator) EvalPowDecimalOp(_ context.Context, _ *tree.PowDecimalOp, l, r tree.Datum) (tree.Datum, error) {
	return decPow(decOf(l), decOf(r))
}

// EvalPowDecimalIntOp implements tree.OpEvaluator.
func (ev *evaluator) EvalPowDecimalIntOp(_ context.Context, _ *tree.PowDecimalIntOp, l, r tree.Datum) (tree.Datum, error) {
	return decPow(decOf(l), intToDec(intOf(r)))
}

// EvalPowIntDecimalOp implements tree.OpEvaluator.
func (ev *evaluator) EvalPowIntDecimalOp(_ context.Context, _ *tree.PowIntDecimalOp, l, r tree.Datum) (tree.Datum, error) {
	return decPow(intToDec(intOf(l)), decOf(r))
}

// EvalUnaryMinusIntOp implements tree.OpEvaluator.
func (ev *evaluator) EvalUnaryMinusIntOp(_ context.Context, _ *tree.UnaryMinusIntOp, d tree.Datum) (tree.Datum, error) {
	i := intOf(d)
	if i == math.MinInt64 {
		return nil, tree.ErrIntOutOfRange
	}
	return newInt(-i), nil
}

// EvalUnaryMinusFloatOp implements tree.OpEvaluator.
func (ev *evaluator) EvalUnaryMinusFloatOp(_ context.Context, _ *tree.UnaryMinusFloatOp, d tree.Datum) (tree.Datum, error) {
	return newFloat(-floatOf(d)), nil
}

// EvalUnaryMinusDecimalOp implements tree.OpEvaluator.
func (ev *evaluator) EvalUnaryMinusDecimalOp(_ context.Context, _ *tree.UnaryMinusDecimalOp, d tree.Datum) (tree.Datum, error) {
	dd := &tree.DDecimal{}
	dd.Neg(decOf(d))
	return dd, nil
}

// EvalUnaryMinusIntervalOp implements tree.OpEvaluator.
func (ev *evaluator) EvalUnaryMinusIntervalOp(_ context.Context, _ *tree.UnaryMinusIntervalOp, d tree.Datum) (tree.Datum, error) {
	iv := d.(*tree.DInterval)
	return &tree.DInterval{Duration: iv.Duration.Mul(-1)}, nil
}

// EvalComplementIntOp implements tree.OpEvaluator.
func (ev *evaluator) EvalComplementIntOp(_ context.Context, _ *tree.ComplementIntOp, d tree.Datum) (tree.Datum, error) {
	return newInt(^intOf(d)), nil
}

// EvalSqrtFloatOp implements tree.OpEvaluator: |/ x.
func (ev *evaluator) EvalSqrtFloatOp(_ context.Context, _ *tree.SqrtFloatOp, d tree.Datum) (tree.Datum, error) {
	return floatSqrt(floatOf(d))
}

func floatSqrt(f float64) (tree.Datum, error) {
	if f < 0 {
		return nil, tree.ErrSqrtOfNegNumber
	}
	return newFloat(math.Sqrt(f)), nil
}

// EvalSqrtDecimalOp implements tree.OpEvaluator.
func (ev *evaluator) EvalSqrtDecimalOp(_ context.Context, _ *tree.SqrtDecimalOp, d tree.Datum) (tree.Datum, error) {
	return decSqrt(decOf(d))
}

func decSqrt(x *apd.Decimal) (tree.Datum, error) {
	if x.Sign() < 0 {
		return nil, tree.ErrSqrtOfNegNumber
	}
	dd := &tree.DDecimal{}
	cond, err := tree.DecimalCtx.Sqrt(&dd.Decimal, x)
	return decResult(dd, cond, err)
}

// EvalCbrtFloatOp implements tree.OpEvaluator: ||/ x.
func (ev *evaluator) EvalCbrtFloatOp(_ context.Context, _ *tree.CbrtFloatOp, d tree.Datum) (tree.Datum, error) {
	return newFloat(math.Cbrt(floatOf(d))), nil
}

// EvalCbrtDecimalOp implements tree.OpEvaluator.
func (ev *evaluator) EvalCbrtDecimalOp(_ context.Context, _ *tree.CbrtDecimalOp, d tree.Datum) (tree.Datum, error) {
	dd := &tree.DDecimal{}
	cond, err := tree.DecimalCtx.Cbrt(&dd.Decimal, decOf(d))
	return decResult(dd, cond, err)
}

// EvalConcatStringOp implements tree.OpEvaluator: text || text.
func (ev *evaluator) EvalConcatStringOp(_ context.Context, _ *tree.ConcatStringOp, l, r tree.Datum) (tree.Datum, error) {
	return tree.NewDString(stringOf(l) + stringOf(r)), nil
}

// EvalConcatBytesOp implements tree.OpEvaluator: bytea || bytea.
func (ev *evaluator) EvalConcatBytesOp(_ context.Context, _ *tree.ConcatBytesOp, l, r tree.Datum) (tree.Datum, error) {
	return tree.NewDBytes(*l.(*tree.DBytes) + *r.(*tree.DBytes)), nil
}

// EvalConcatOp implements tree.OpEvaluator: text || non-text (and the
// reverse) converts the other side to text first.
func (ev *evaluator) EvalConcatOp(ctx context.Context, op *tree.ConcatOp, l, r tree.Datum) (tree.Datum, error) {
	ls, err := ev.toText(ctx, l)
	if err != nil {
		return nil, err
	}
	rs, err := ev.toText(ctx, r)
	if err != nil {
		return nil, err
	}
	return tree.NewDString(ls + rs), nil
}

// EvalConcatArraysOp implements tree.OpEvaluator.
func (ev *evaluator) EvalConcatArraysOp(_ context.Context, op *tree.ConcatArraysOp, l, r tree.Datum) (tree.Datum, error) {
	return tree.ConcatArrays(op.Typ, l, r)
}

// EvalAppendToMaybeNullArrayOp implements tree.OpEvaluator.
func (ev *evaluator) EvalAppendToMaybeNullArrayOp(_ context.Context, op *tree.AppendToMaybeNullArrayOp, l, r tree.Datum) (tree.Datum, error) {
	return tree.AppendToMaybeNullArray(op.Typ, l, r)
}

// EvalPrependToMaybeNullArrayOp implements tree.OpEvaluator.
func (ev *evaluator) EvalPrependToMaybeNullArrayOp(_ context.Context, op *tree.PrependToMaybeNullArrayOp, l, r tree.Datum) (tree.Datum, error) {
	return tree.PrependToMaybeNullArray(op.Typ, l, r)
}

// Bit strings (BIT/VARBIT) are cheap to support through the parser
// module's bitarray package.

func bitsOf(d tree.Datum) bitarray.BitArray { return d.(*tree.DBitArray).BitArray }

func newBits(b bitarray.BitArray) tree.Datum { return &tree.DBitArray{BitArray: b} }

// EvalBitAndVarBitOp implements tree.OpEvaluator.
func (ev *evaluator) EvalBitAndVarBitOp(_ context.Context, _ *tree.BitAndVarBitOp, l, r tree.Datum) (tree.Datum, error) {
	a, b := bitsOf(l), bitsOf(r)
	if a.BitLen() != b.BitLen() {
		return nil, tree.NewCannotMixBitArraySizesError("AND")
	}
	return newBits(bitarray.And(a, b)), nil
}

// EvalBitOrVarBitOp implements tree.OpEvaluator.
func (ev *evaluator) EvalBitOrVarBitOp(_ context.Context, _ *tree.BitOrVarBitOp, l, r tree.Datum) (tree.Datum, error) {
	a, b := bitsOf(l), bitsOf(r)
	if a.BitLen() != b.BitLen() {
		return nil, tree.NewCannotMixBitArraySizesError("OR")
	}
	return newBits(bitarray.Or(a, b)), nil
}

// EvalBitXorVarBitOp implements tree.OpEvaluator.
func (ev *evaluator) EvalBitXorVarBitOp(_ context.Context, _ *tree.BitXorVarBitOp, l, r tree.Datum) (tree.Datum, error) {
	a, b := bitsOf(l), bitsOf(r)
	if a.BitLen() != b.BitLen() {
		return nil, tree.NewCannotMixBitArraySizesError("XOR")
	}
	return newBits(bitarray.Xor(a, b)), nil
}

// EvalComplementVarBitOp implements tree.OpEvaluator.
func (ev *evaluator) EvalComplementVarBitOp(_ context.Context, _ *tree.ComplementVarBitOp, d tree.Datum) (tree.Datum, error) {
	return newBits(bitarray.Not(bitsOf(d))), nil
}

// EvalConcatVarBitOp implements tree.OpEvaluator.
func (ev *evaluator) EvalConcatVarBitOp(_ context.Context, _ *tree.ConcatVarBitOp, l, r tree.Datum) (tree.Datum, error) {
	return newBits(bitarray.Concat(bitsOf(l), bitsOf(r))), nil
}

// EvalLShiftVarBitIntOp implements tree.OpEvaluator.
func (ev *evaluator) EvalLShiftVarBitIntOp(_ context.Context, _ *tree.LShiftVarBitIntOp, l, r tree.Datum) (tree.Datum, error) {
	return newBits(bitsOf(l).LeftShiftAny(intOf(r))), nil
}

// EvalRShiftVarBitIntOp implements tree.OpEvaluator.
func (ev *evaluator) EvalRShiftVarBitIntOp(_ context.Context, _ *tree.RShiftVarBitIntOp, l, r tree.Datum) (tree.Datum, error) {
	return newBits(bitsOf(l).LeftShiftAny(-intOf(r))), nil
}
