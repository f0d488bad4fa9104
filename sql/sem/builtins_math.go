package sem

import (
	"context"
	"math"
	"math/rand/v2"

	"github.com/cockroachdb/apd/v3"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/volatility"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
)

// Math builtins follow PostgreSQL: an INT argument to a function defined on
// FLOAT and DECIMAL (sqrt, ceil, ...) is converted to FLOAT, the preferred
// numeric type; DECIMAL stays exact.

func floatFn(f func(float64) (tree.Datum, error)) tree.Overload {
	return overload(params(types.Float), types.Float, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
		return f(floatOf(a[0]))
	})
}

func intAsFloatFn(f func(float64) (tree.Datum, error)) tree.Overload {
	return overload(params(types.Int), types.Float, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
		return f(float64(intOf(a[0])))
	})
}

func decimalFn(f func(*apd.Decimal) (tree.Datum, error)) tree.Overload {
	return overload(params(types.Decimal), types.Decimal, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
		return f(decOf(a[0]))
	})
}

// numericFns builds the FLOAT, DECIMAL and INT (as FLOAT) overloads of a
// one-argument function.
func numericFns(f func(float64) (tree.Datum, error), d func(*apd.Decimal) (tree.Datum, error)) []tree.Overload {
	return []tree.Overload{floatFn(f), decimalFn(d), intAsFloatFn(f)}
}

func plainFloat(f func(float64) float64) func(float64) (tree.Datum, error) {
	return func(x float64) (tree.Datum, error) { return newFloat(f(x)), nil }
}

// decimalWith applies an apd operation with the given context.
func decimalWith(op func(c *apd.Context, d, x *apd.Decimal) (apd.Condition, error), c *apd.Context) func(*apd.Decimal) (tree.Datum, error) {
	return func(x *apd.Decimal) (tree.Datum, error) {
		dd := &tree.DDecimal{}
		cond, err := op(c, &dd.Decimal, x)
		return decResult(dd, cond, err)
	}
}

// roundHalfAwayCtx rounds like PostgreSQL's numeric round(): half away from
// zero.
var roundHalfAwayCtx = func() *apd.Context {
	c := *tree.HighPrecisionCtx
	c.Rounding = apd.RoundHalfUp
	return &c
}()

var truncCtx = func() *apd.Context {
	c := *tree.HighPrecisionCtx
	c.Rounding = apd.RoundDown
	return &c
}()

func decimalRound(c *apd.Context, x *apd.Decimal, places int64) (tree.Datum, error) {
	if x.Form != apd.Finite {
		dd := &tree.DDecimal{}
		dd.Set(x)
		return dd, nil
	}
	if places > 2000 || places < -2000 {
		return nil, pgerror.New(pgcode.NumericValueOutOfRange, "rounding scale out of range")
	}
	dd := &tree.DDecimal{}
	cond, err := c.Quantize(&dd.Decimal, x, int32(-places))
	if err == nil && places < 0 {
		// Show round(1234.5, -2) as 1200, as PostgreSQL does, not 12E+2.
		cond, err = c.Quantize(&dd.Decimal, &dd.Decimal, 0)
	}
	return decResult(dd, cond, err)
}

func floatRound(x float64, places int64, round func(float64) float64) float64 {
	if places == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return round(x)
	}
	if places > 308 || places < -308 {
		return x
	}
	p := math.Pow(10, float64(places))
	r := round(x*p) / p
	if math.IsInf(r, 0) || math.IsNaN(r) {
		return x
	}
	return r
}

func logArg(x float64) error {
	if x == 0 {
		return pgerror.New(pgcode.InvalidArgumentForLogarithm, "cannot take logarithm of zero")
	}
	if x < 0 {
		return pgerror.New(pgcode.InvalidArgumentForLogarithm, "cannot take logarithm of a negative number")
	}
	return nil
}

func decLogArg(x *apd.Decimal) error {
	if x.IsZero() {
		return pgerror.New(pgcode.InvalidArgumentForLogarithm, "cannot take logarithm of zero")
	}
	if x.Sign() < 0 {
		return pgerror.New(pgcode.InvalidArgumentForLogarithm, "cannot take logarithm of a negative number")
	}
	return nil
}

func floatLog(f func(float64) float64) func(float64) (tree.Datum, error) {
	return func(x float64) (tree.Datum, error) {
		if err := logArg(x); err != nil {
			return nil, err
		}
		return newFloat(f(x)), nil
	}
}

func decLog(op func(c *apd.Context, d, x *apd.Decimal) (apd.Condition, error)) func(*apd.Decimal) (tree.Datum, error) {
	return func(x *apd.Decimal) (tree.Datum, error) {
		if err := decLogArg(x); err != nil {
			return nil, err
		}
		return decimalWith(op, tree.DecimalCtx)(x)
	}
}

// logBase is log(b, x) in floating point.
func logBase(b, x float64) (tree.Datum, error) {
	if err := logArg(b); err != nil {
		return nil, err
	}
	if err := logArg(x); err != nil {
		return nil, err
	}
	if b == 1 {
		return nil, tree.ErrDivByZero
	}
	return newFloat(math.Log(x) / math.Log(b)), nil
}

func twoFloats(f func(a, b float64) (tree.Datum, error)) tree.Overload {
	return overload(params(types.Float, types.Float), types.Float, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
		return f(floatOf(a[0]), floatOf(a[1]))
	})
}

func twoDecimals(f func(a, b *apd.Decimal) (tree.Datum, error)) tree.Overload {
	return overload(params(types.Decimal, types.Decimal), types.Decimal, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
		return f(decOf(a[0]), decOf(a[1]))
	})
}

func twoIntsAsFloats(f func(a, b float64) (tree.Datum, error)) tree.Overload {
	return overload(params(types.Int, types.Int), types.Float, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
		return f(float64(intOf(a[0])), float64(intOf(a[1])))
	})
}

func trig(f func(float64) float64) builtinDef {
	return def("math", floatFn(plainFloat(f)), intAsFloatFn(plainFloat(f)))
}

// greatestLeast is greatest()/least(): NULLs are ignored, all NULL gives
// NULL.
func greatestLeast(sign int) builtinDef {
	return def("comparison", tree.Overload{
		Types:             tree.HomogeneousType{},
		ReturnType:        tree.FirstNonNullReturnType(),
		Volatility:        volatility.Immutable,
		CalledOnNullInput: true,
		Class:             tree.NormalClass,
		Fn: builtinFn(func(ctx context.Context, ev *evaluator, a tree.Datums) (tree.Datum, error) {
			var best tree.Datum = tree.DNull
			for _, d := range a {
				if d == tree.DNull {
					continue
				}
				if best == tree.DNull {
					best = d
					continue
				}
				c, err := d.Compare(ctx, ev, best)
				if err != nil {
					return nil, err
				}
				if c*sign > 0 {
					best = d
				}
			}
			return best, nil
		}),
	})
}

func widthBucket(x, lo, hi float64, count int64) (tree.Datum, error) {
	if count <= 0 {
		return nil, pgerror.New(pgcode.InvalidArgumentForWidthBucketFunction, "count must be greater than zero")
	}
	if lo == hi || math.IsNaN(x) || math.IsNaN(lo) || math.IsNaN(hi) {
		return nil, pgerror.New(pgcode.InvalidArgumentForWidthBucketFunction, "lower bound cannot equal upper bound")
	}
	if lo < hi {
		switch {
		case x < lo:
			return newInt(0), nil
		case x >= hi:
			return newInt(count + 1), nil
		}
		return newInt(int64(float64(count)*(x-lo)/(hi-lo)) + 1), nil
	}
	switch {
	case x > lo:
		return newInt(0), nil
	case x <= hi:
		return newInt(count + 1), nil
	}
	return newInt(int64(float64(count)*(lo-x)/(lo-hi)) + 1), nil
}

var mathBuiltins = map[string]builtinDef{
	"abs": def("math",
		floatFn(plainFloat(math.Abs)),
		decimalFn(func(x *apd.Decimal) (tree.Datum, error) {
			dd := &tree.DDecimal{}
			dd.Abs(x)
			return dd, nil
		}),
		overload(params(types.Int), types.Int, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			i := intOf(a[0])
			if i == math.MinInt64 {
				return nil, tree.ErrIntOutOfRange
			}
			if i < 0 {
				i = -i
			}
			return newInt(i), nil
		})),
	"ceil":    def("math", numericFns(plainFloat(math.Ceil), decimalWith((*apd.Context).Ceil, tree.ExactCtx))...),
	"ceiling": def("math", numericFns(plainFloat(math.Ceil), decimalWith((*apd.Context).Ceil, tree.ExactCtx))...),
	"floor":   def("math", numericFns(plainFloat(math.Floor), decimalWith((*apd.Context).Floor, tree.ExactCtx))...),
	"round": def("math", append(numericFns(plainFloat(math.RoundToEven),
		func(x *apd.Decimal) (tree.Datum, error) { return decimalRound(roundHalfAwayCtx, x, 0) }),
		overload(params(types.Decimal, types.Int), types.Decimal, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			return decimalRound(roundHalfAwayCtx, decOf(a[0]), intOf(a[1]))
		}),
		// round(INT, INT) is the exact DECIMAL form, as in PostgreSQL (which
		// has only round(numeric, int)).
		overload(params(types.Int, types.Int), types.Decimal, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			return decimalRound(roundHalfAwayCtx, intToDec(intOf(a[0])), intOf(a[1]))
		}),
		overload(params(types.Float, types.Int), types.Float, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			return newFloat(floatRound(floatOf(a[0]), intOf(a[1]), math.RoundToEven)), nil
		}))...),
	"trunc": def("math", append(numericFns(plainFloat(math.Trunc),
		func(x *apd.Decimal) (tree.Datum, error) { return decimalRound(truncCtx, x, 0) }),
		overload(params(types.Decimal, types.Int), types.Decimal, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			return decimalRound(truncCtx, decOf(a[0]), intOf(a[1]))
		}),
		overload(params(types.Int, types.Int), types.Decimal, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			return decimalRound(truncCtx, intToDec(intOf(a[0])), intOf(a[1]))
		}),
		overload(params(types.Float, types.Int), types.Float, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			return newFloat(floatRound(floatOf(a[0]), intOf(a[1]), math.Trunc)), nil
		}))...),
	"sqrt": def("math", numericFns(floatSqrt, decSqrt)...),
	"cbrt": def("math", numericFns(plainFloat(math.Cbrt), decimalWith((*apd.Context).Cbrt, tree.DecimalCtx))...),
	"exp":  def("math", numericFns(plainFloat(math.Exp), decimalWith((*apd.Context).Exp, tree.DecimalCtx))...),
	"ln":   def("math", numericFns(floatLog(math.Log), decLog((*apd.Context).Ln))...),
	"log": def("math", append(numericFns(floatLog(math.Log10), decLog((*apd.Context).Log10)),
		twoFloats(logBase), twoIntsAsFloats(logBase),
		twoDecimals(func(b, x *apd.Decimal) (tree.Datum, error) {
			if err := decLogArg(b); err != nil {
				return nil, err
			}
			if err := decLogArg(x); err != nil {
				return nil, err
			}
			var lb, lx apd.Decimal
			if _, err := tree.IntermediateCtx.Ln(&lb, b); err != nil {
				return nil, err
			}
			if _, err := tree.IntermediateCtx.Ln(&lx, x); err != nil {
				return nil, err
			}
			return decDiv(&lx, &lb)
		}))...),
	"power": def("math", twoFloats(floatPow), twoDecimals(decPow), twoIntsAsFloats(floatPow)),
	"pow":   def("math", twoFloats(floatPow), twoDecimals(decPow), twoIntsAsFloats(floatPow)),
	"mod": def("math",
		twoFloats(func(a, b float64) (tree.Datum, error) {
			if b == 0 {
				return nil, tree.ErrDivByZero
			}
			return newFloat(math.Mod(a, b)), nil
		}),
		twoDecimals(decMod),
		overload(params(types.Int, types.Int), types.Int, func(ctx context.Context, ev *evaluator, a tree.Datums) (tree.Datum, error) {
			return ev.EvalModIntOp(ctx, nil, a[0], a[1])
		})),
	"div": def("math",
		twoFloats(func(a, b float64) (tree.Datum, error) {
			if b == 0 {
				return nil, tree.ErrDivByZero
			}
			return newFloat(math.Trunc(a / b)), nil
		}),
		twoDecimals(decFloorDiv),
		overload(params(types.Int, types.Int), types.Int, func(ctx context.Context, ev *evaluator, a tree.Datums) (tree.Datum, error) {
			return ev.EvalFloorDivIntOp(ctx, nil, a[0], a[1])
		})),
	"sign": def("math",
		floatFn(func(x float64) (tree.Datum, error) {
			switch {
			case x > 0:
				return newFloat(1), nil
			case x < 0:
				return newFloat(-1), nil
			}
			return newFloat(x), nil // keeps 0 and NaN
		}),
		decimalFn(func(x *apd.Decimal) (tree.Datum, error) {
			dd := &tree.DDecimal{}
			dd.SetInt64(int64(x.Sign()))
			return dd, nil
		}),
		overload(params(types.Int), types.Int, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			i := intOf(a[0])
			switch {
			case i > 0:
				return newInt(1), nil
			case i < 0:
				return newInt(-1), nil
			}
			return newInt(0), nil
		})),
	"pi": def("math", overload(params(), types.Float, func(context.Context, *evaluator, tree.Datums) (tree.Datum, error) {
		return newFloat(math.Pi), nil
	})),
	"random": def("math", withVolatility(overload(params(), types.Float, func(context.Context, *evaluator, tree.Datums) (tree.Datum, error) {
		return newFloat(rand.Float64()), nil
	}), volatility.Volatile)),
	"degrees": trig(func(x float64) float64 { return x * 180 / math.Pi }),
	"radians": trig(func(x float64) float64 { return x * math.Pi / 180 }),
	"sin":     trig(math.Sin),
	"cos":     trig(math.Cos),
	"tan":     trig(math.Tan),
	"asin":    trig(math.Asin),
	"acos":    trig(math.Acos),
	"atan":    trig(math.Atan),
	"atan2": def("math", twoFloats(func(a, b float64) (tree.Datum, error) {
		return newFloat(math.Atan2(a, b)), nil
	})),
	"greatest": greatestLeast(1),
	"least":    greatestLeast(-1),
	"width_bucket": def("math",
		overload(params(types.Float, types.Float, types.Float, types.Int), types.Int, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			return widthBucket(floatOf(a[0]), floatOf(a[1]), floatOf(a[2]), intOf(a[3]))
		}),
		overload(params(types.Decimal, types.Decimal, types.Decimal, types.Int), types.Int, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			var fs [3]float64
			for i := range fs {
				f, err := decimalToFloat(decOf(a[i]))
				if err != nil {
					return nil, err
				}
				fs[i] = f
			}
			return widthBucket(fs[0], fs[1], fs[2], intOf(a[3]))
		})),
}
