package sem

import (
	"context"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cockroachdb/apd/v3"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/lex"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/cast"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/duration"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/json"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/timeofday"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/timetz"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/timeutil/pgdate"
	"github.com/lib/pq/oid"
)

// Cast converts d to t with explicit-cast semantics (CAST(d AS t), d::t):
// strings are parsed (22P02 on bad input), numbers are range checked
// (22003), strings longer than a VARCHAR(n)/CHAR(n) are truncated, and a
// pair of types the cast map does not allow gives 42846. NULL casts to
// NULL.
func Cast(ctx context.Context, ec *Context, d tree.Datum, t *types.T) (_ tree.Datum, retErr error) {
	defer recoverInternal(&retErr)
	if ec == nil {
		ec = &Context{}
	}
	ec.ev.ec = ec
	if d == tree.DNull {
		return d, nil
	}
	if !cast.ValidCast(d.ResolvedType(), t, cast.ContextExplicit) {
		return nil, invalidCast(d.ResolvedType(), t)
	}
	return ec.ev.performCast(ctx, d, t, true /* truncate */)
}

// AssignCast converts d for storage in a column of type t (INSERT, UPDATE,
// UPSERT). Values are never truncated: a string too long for VARCHAR(n) or
// CHAR(n) is 22001, an INT out of range for INT2/INT4 is 22003, a DECIMAL
// is rounded to the column's scale and is 22003 when its integer part does
// not fit. The conversion itself must be one PostgreSQL allows on
// assignment (int to float or decimal, float to int, timestamptz to date,
// anything to string, ...); a value of a string type converts to any type
// by parsing, because the executor may hand over literals and parameters
// still in text form. Otherwise the error is 42804, naming colName.
func AssignCast(
	ctx context.Context, ec *Context, d tree.Datum, t *types.T, colName string,
) (_ tree.Datum, retErr error) {
	defer recoverInternal(&retErr)
	if ec == nil {
		ec = &Context{}
	}
	ec.ev.ec = ec
	if d == tree.DNull {
		return d, nil
	}
	ev := &ec.ev
	src := d.ResolvedType()
	if src.Family() != t.Family() || (t.Family() == types.ArrayFamily || t.Family() == types.TupleFamily) && !src.Equivalent(t) {
		allowed := cast.ValidCast(src, t, cast.ContextAssignment) ||
			(src.Family() == types.StringFamily && cast.ValidCast(src, t, cast.ContextExplicit))
		if !allowed {
			return nil, pgerror.Newf(pgcode.DatatypeMismatch,
				"value type %s doesn't match type %s of column %q", src, t, colName)
		}
		var err error
		if d, err = ev.performCast(ctx, d, t, false /* truncate */); err != nil {
			return nil, err
		}
	} else if t.Family() == types.StringFamily && t.Oid() == oid.T_name {
		d = tree.NewDName(stringOf(d))
	}
	return tree.AdjustValueToType(t, d)
}

func invalidCast(from, to *types.T) error {
	return pgerror.Newf(pgcode.CannotCoerce, "invalid cast: %s -> %s", from, to)
}

// performCast converts a non-NULL datum to t. truncate selects explicit
// cast behaviour for strings (cut to the type's width) over assignment
// behaviour (the caller checks the width and errors).
func (ev *evaluator) performCast(ctx context.Context, d tree.Datum, t *types.T, truncate bool) (tree.Datum, error) {
	if d == tree.DNull {
		return d, nil
	}
	d = tree.UnwrapDOidWrapper(d)
	res, err := ev.castValue(ctx, d, t, truncate)
	if err != nil {
		return nil, err
	}
	return tree.AdjustValueToType(t, res)
}

func (ev *evaluator) castValue(ctx context.Context, d tree.Datum, t *types.T, truncate bool) (tree.Datum, error) {
	switch t.Family() {
	case types.AnyFamily:
		return d, nil
	case types.BoolFamily:
		return ev.castToBool(d, t)
	case types.IntFamily:
		return ev.castToInt(d, t)
	case types.FloatFamily:
		return ev.castToFloat(d, t)
	case types.DecimalFamily:
		return ev.castToDecimal(d, t)
	case types.StringFamily, types.CollatedStringFamily:
		return ev.castToString(ctx, d, t, truncate)
	case types.BytesFamily:
		switch v := d.(type) {
		case *tree.DBytes:
			return v, nil
		case *tree.DString:
			return tree.ParseDByte(string(*v))
		case *tree.DCollatedString:
			return tree.ParseDByte(v.Contents)
		case *tree.DUuid:
			return tree.NewDBytes(tree.DBytes(v.GetBytes())), nil
		}
	case types.UuidFamily:
		switch v := d.(type) {
		case *tree.DUuid:
			return v, nil
		case *tree.DString, *tree.DCollatedString:
			return tree.ParseDUuidFromString(stringOf(v))
		case *tree.DBytes:
			return tree.ParseDUuidFromBytes([]byte(*v))
		}
	case types.DateFamily:
		return ev.castToDate(d, t)
	case types.TimestampFamily:
		return ev.castToTimestamp(d, t)
	case types.TimestampTZFamily:
		return ev.castToTimestampTZ(d, t)
	case types.IntervalFamily:
		return ev.castToInterval(d, t)
	case types.TimeFamily:
		return ev.castToTime(d, t)
	case types.TimeTZFamily:
		return ev.castToTimeTZ(d, t)
	case types.JsonFamily:
		switch v := d.(type) {
		case *tree.DJSON:
			return v, nil
		case *tree.DString, *tree.DCollatedString:
			return tree.ParseDJSON(stringOf(v))
		}
	case types.OidFamily:
		switch v := d.(type) {
		case *tree.DInt:
			o, err := tree.IntToOid(*v)
			if err != nil {
				return nil, err
			}
			return tree.NewDOidWithType(o, t), nil
		case *tree.DOid:
			return tree.NewDOidWithType(v.Oid, t), nil
		case *tree.DString:
			o, err := tree.ParseDOidAsInt(strings.TrimSpace(string(*v)))
			if err != nil {
				return nil, pgerror.Newf(pgcode.FeatureNotSupported,
					"casting names to %s is not supported", t)
			}
			return tree.NewDOidWithType(o.Oid, t), nil
		}
	case types.BitFamily:
		switch v := d.(type) {
		case *tree.DBitArray:
			return v, nil
		case *tree.DString:
			return tree.ParseDBitArray(string(*v))
		case *tree.DInt:
			return tree.NewDBitArrayFromInt(int64(*v), uint(t.Width()))
		}
	case types.ArrayFamily:
		switch v := d.(type) {
		case *tree.DString:
			res, _, err := tree.ParseDArrayFromString(ev, string(*v), t.ArrayContents())
			return res, err
		case *tree.DArray:
			res := tree.NewDArray(t.ArrayContents())
			for _, e := range v.Array {
				c, err := ev.performCast(ctx, e, t.ArrayContents(), truncate)
				if err != nil {
					return nil, err
				}
				if err := res.Append(c); err != nil {
					return nil, err
				}
			}
			return res, nil
		}
	case types.TupleFamily:
		switch v := d.(type) {
		case *tree.DString:
			res, _, err := tree.ParseDTupleFromString(ev, string(*v), t)
			return res, err
		case *tree.DTuple:
			if t.Identical(types.AnyTuple) {
				return v, nil
			}
			contents := t.TupleContents()
			if len(contents) != len(v.D) {
				return nil, invalidCast(d.ResolvedType(), t)
			}
			res := tree.NewDTupleWithLen(t, len(v.D))
			for i, e := range v.D {
				c, err := ev.performCast(ctx, e, contents[i], truncate)
				if err != nil {
					return nil, err
				}
				res.D[i] = c
			}
			return res, nil
		}
	case types.UnknownFamily:
		// Only NULL has the unknown type, and NULL never gets here.
	}
	return nil, invalidCast(d.ResolvedType(), t)
}

func (ev *evaluator) castToBool(d tree.Datum, t *types.T) (tree.Datum, error) {
	switch v := d.(type) {
	case *tree.DBool:
		return v, nil
	case *tree.DInt:
		return tree.MakeDBool(*v != 0), nil
	case *tree.DFloat:
		return tree.MakeDBool(*v != 0), nil
	case *tree.DDecimal:
		return tree.MakeDBool(tree.DBool(!v.IsZero())), nil
	case *tree.DString, *tree.DCollatedString:
		return tree.ParseDBool(strings.TrimSpace(stringOf(v)))
	case *tree.DJSON:
		if b, ok := v.JSON.AsBool(); ok {
			return tree.MakeDBool(tree.DBool(b)), nil
		}
		return nil, jsonCastError(v, t)
	}
	return nil, invalidCast(d.ResolvedType(), t)
}

func jsonCastError(j *tree.DJSON, t *types.T) error {
	return pgerror.Newf(pgcode.InvalidParameterValue,
		"cannot cast jsonb %s to type %s", j.JSON.Type(), t)
}

// floatToInt rounds half to even, as PostgreSQL's float8-to-integer cast
// does.
func floatToInt(f float64) (int64, error) {
	if math.IsNaN(f) || f <= float64(math.MinInt64)-1 || f >= float64(math.MaxInt64) {
		return 0, tree.ErrIntOutOfRange
	}
	r := math.RoundToEven(f)
	if r < float64(math.MinInt64) || r >= float64(math.MaxInt64) {
		return 0, tree.ErrIntOutOfRange
	}
	return int64(r), nil
}

// decimalToInt rounds half away from zero, as PostgreSQL's
// numeric-to-integer cast does.
func decimalToInt(x *apd.Decimal) (int64, error) {
	if x.Form != apd.Finite {
		return 0, tree.ErrIntOutOfRange
	}
	var r apd.Decimal
	if _, err := tree.ExactCtx.RoundToIntegralValue(&r, x); err != nil {
		return 0, tree.ErrIntOutOfRange
	}
	i, err := r.Int64()
	if err != nil {
		return 0, tree.ErrIntOutOfRange
	}
	return i, nil
}

func (ev *evaluator) castToInt(d tree.Datum, t *types.T) (tree.Datum, error) {
	var i int64
	switch v := d.(type) {
	case *tree.DInt:
		return v, nil
	case *tree.DBool:
		if *v {
			i = 1
		}
	case *tree.DFloat:
		var err error
		if i, err = floatToInt(float64(*v)); err != nil {
			return nil, err
		}
	case *tree.DDecimal:
		var err error
		if i, err = decimalToInt(&v.Decimal); err != nil {
			return nil, err
		}
	case *tree.DString, *tree.DCollatedString:
		parsed, err := tree.ParseDInt(strings.TrimSpace(stringOf(v)))
		if err != nil {
			return nil, err
		}
		return parsed, nil
	case *tree.DOid:
		i = int64(v.Oid)
	case *tree.DInterval:
		secs, ok := v.Duration.AsInt64()
		if !ok {
			return nil, tree.ErrIntOutOfRange
		}
		i = secs
	case *tree.DDate:
		if !v.IsFinite() {
			return nil, tree.ErrIntOutOfRange
		}
		i = v.UnixEpochDays()
	case *tree.DTimestamp:
		i = v.Unix()
	case *tree.DTimestampTZ:
		i = v.Unix()
	case *tree.DJSON:
		dec, ok := v.JSON.AsDecimal()
		if !ok {
			return nil, jsonCastError(v, t)
		}
		var err error
		if i, err = decimalToInt(dec); err != nil {
			return nil, err
		}
	case *tree.DBitArray:
		i = v.AsInt64(64)
	default:
		return nil, invalidCast(d.ResolvedType(), t)
	}
	return newInt(i), nil
}

func (ev *evaluator) castToFloat(d tree.Datum, t *types.T) (tree.Datum, error) {
	var f float64
	switch v := d.(type) {
	case *tree.DFloat:
		f = float64(*v)
	case *tree.DBool:
		if *v {
			f = 1
		}
	case *tree.DInt:
		f = float64(*v)
	case *tree.DDecimal:
		var err error
		if f, err = decimalToFloat(&v.Decimal); err != nil {
			return nil, err
		}
	case *tree.DString, *tree.DCollatedString:
		parsed, err := tree.ParseDFloat(strings.TrimSpace(stringOf(v)))
		if err != nil {
			return nil, err
		}
		f = float64(*parsed)
	case *tree.DInterval:
		f = v.Duration.AsFloat64()
	case *tree.DDate:
		if !v.IsFinite() {
			return nil, tree.ErrFloatOutOfRange
		}
		f = float64(v.UnixEpochDays())
	case *tree.DTimestamp:
		f = float64(v.UnixMicro()) / 1e6
	case *tree.DTimestampTZ:
		f = float64(v.UnixMicro()) / 1e6
	case *tree.DJSON:
		dec, ok := v.JSON.AsDecimal()
		if !ok {
			return nil, jsonCastError(v, t)
		}
		var err error
		if f, err = decimalToFloat(dec); err != nil {
			return nil, err
		}
	default:
		return nil, invalidCast(d.ResolvedType(), t)
	}
	if t.Width() == 32 {
		f = float64(float32(f))
	}
	return newFloat(f), nil
}

func decimalToFloat(x *apd.Decimal) (float64, error) {
	f, err := x.Float64()
	if err != nil {
		return 0, tree.ErrFloatOutOfRange
	}
	return f, nil
}

func (ev *evaluator) castToDecimal(d tree.Datum, t *types.T) (tree.Datum, error) {
	dd := &tree.DDecimal{}
	switch v := d.(type) {
	case *tree.DDecimal:
		dd.Set(&v.Decimal)
	case *tree.DBool:
		if *v {
			dd.SetInt64(1)
		}
	case *tree.DInt:
		dd.SetInt64(int64(*v))
	case *tree.DFloat:
		if _, err := dd.SetFloat64(float64(*v)); err != nil {
			return nil, tree.ErrDecOutOfRange
		}
	case *tree.DString, *tree.DCollatedString:
		parsed, err := tree.ParseDDecimal(strings.TrimSpace(stringOf(v)))
		if err != nil {
			return nil, err
		}
		dd = parsed
	case *tree.DInterval:
		nanos, months, days := v.Duration.EncodeBigInt()
		_ = months
		_ = days
		dd.Coeff.SetMathBigInt(nanos)
		dd.Exponent = -9
		dd.Reduce(&dd.Decimal)
	case *tree.DDate:
		if !v.IsFinite() {
			return nil, tree.ErrDecOutOfRange
		}
		dd.SetInt64(v.UnixEpochDays())
	case *tree.DTimestamp:
		dd.SetFinite(v.UnixMicro(), -6)
		dd.Reduce(&dd.Decimal)
	case *tree.DTimestampTZ:
		dd.SetFinite(v.UnixMicro(), -6)
		dd.Reduce(&dd.Decimal)
	case *tree.DJSON:
		dec, ok := v.JSON.AsDecimal()
		if !ok {
			return nil, jsonCastError(v, t)
		}
		dd.Set(dec)
	default:
		return nil, invalidCast(d.ResolvedType(), t)
	}
	return dd, nil
}

// formatFloat renders a float the way PostgreSQL's float8out does under
// the session's extra_float_digits: the shortest exact form when it is at
// least 1, else 15 (6 for FLOAT4) plus extra_float_digits significant
// digits.
func formatFloat(f float64, extraDigits int32, bits int) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	prec := -1
	if extraDigits < 1 {
		base := 15
		if bits == 32 {
			base = 6
		}
		prec = max(base+int(extraDigits), 1)
	}
	return strconv.FormatFloat(f, 'g', prec, bits)
}

// toText is the text form of a datum: what a cast to STRING produces.
func (ev *evaluator) toText(_ context.Context, d tree.Datum) (string, error) {
	switch v := tree.UnwrapDOidWrapper(d).(type) {
	case *tree.DString:
		return string(*v), nil
	case *tree.DCollatedString:
		return v.Contents, nil
	case *tree.DBool:
		return strconv.FormatBool(bool(*v)), nil
	case *tree.DInt:
		return strconv.FormatInt(int64(*v), 10), nil
	case *tree.DFloat:
		return formatFloat(float64(*v), ev.ec.ExtraFloatDigits, 64), nil
	case *tree.DDecimal:
		return tree.AsStringWithFlags(v, tree.FmtBareStrings), nil
	case *tree.DBytes:
		return lex.EncodeByteArrayToRawBytes(string(*v), ev.ec.ByteaOutput, false), nil
	case *tree.DJSON:
		return v.JSON.String(), nil
	case *tree.DUuid:
		return v.UUID.String(), nil
	}
	fmtCtx := tree.NewFmtCtx(tree.FmtPgwireText,
		tree.FmtLocation(ev.ec.location()), tree.FmtDataConversionConfig(ev.ec.dataConversion()))
	d.Format(fmtCtx)
	return fmtCtx.CloseAndGetString(), nil
}

func (ev *evaluator) castToString(ctx context.Context, d tree.Datum, t *types.T, truncate bool) (tree.Datum, error) {
	s, err := ev.toText(ctx, d)
	if err != nil {
		return nil, err
	}
	if truncate {
		switch {
		case t.Oid() == oid.T_char:
			// The "char" type holds a single byte.
			if len(s) > 1 {
				s = s[:1]
			}
		case t.Width() > 0 && utf8.RuneCountInString(s) > int(t.Width()):
			s = truncateRunes(s, int(t.Width()))
		}
	}
	if t.Oid() == oid.T_name {
		return tree.NewDName(s), nil
	}
	if t.Family() == types.CollatedStringFamily {
		return tree.NewDCollatedString(s, t.Locale(), &ev.collationEnv)
	}
	return tree.NewDString(s), nil
}

func truncateRunes(s string, n int) string {
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}

func (ev *evaluator) castToDate(d tree.Datum, t *types.T) (tree.Datum, error) {
	switch v := d.(type) {
	case *tree.DDate:
		return v, nil
	case *tree.DString, *tree.DCollatedString:
		res, _, err := tree.ParseDDate(ev, stringOf(v))
		return res, err
	case *tree.DTimestamp:
		return dateFromTime(v.Time)
	case *tree.DTimestampTZ:
		return dateFromTime(v.Time.In(ev.ec.location()))
	case *tree.DInt:
		dt, err := pgdate.MakeDateFromUnixEpoch(int64(*v))
		if err != nil {
			return nil, err
		}
		return tree.NewDDate(dt), nil
	}
	return nil, invalidCast(d.ResolvedType(), t)
}

func dateFromTime(t time.Time) (tree.Datum, error) {
	switch t {
	case pgdate.TimeInfinity:
		return tree.NewDDate(pgdate.PosInfDate), nil
	case pgdate.TimeNegativeInfinity:
		return tree.NewDDate(pgdate.NegInfDate), nil
	}
	dt, err := pgdate.MakeDateFromTime(t)
	if err != nil {
		return nil, err
	}
	return tree.NewDDate(dt), nil
}

func (ev *evaluator) castToTimestamp(d tree.Datum, t *types.T) (tree.Datum, error) {
	precision := tree.TimeFamilyPrecisionToRoundDuration(t.Precision())
	switch v := d.(type) {
	case *tree.DTimestamp:
		return v.Round(precision)
	case *tree.DString, *tree.DCollatedString:
		res, _, err := tree.ParseDTimestamp(ev, stringOf(v), precision)
		return res, err
	case *tree.DDate:
		tm, err := dateToTime(v.Date)
		if err != nil {
			return nil, err
		}
		return tree.MakeDTimestamp(tm, precision)
	case *tree.DTimestampTZ:
		return v.EvalAtAndRemoveTimeZone(ev.ec.location(), precision)
	case *tree.DInt:
		return tree.MakeDTimestamp(time.Unix(int64(*v), 0).UTC(), precision)
	}
	return nil, invalidCast(d.ResolvedType(), t)
}

func (ev *evaluator) castToTimestampTZ(d tree.Datum, t *types.T) (tree.Datum, error) {
	precision := tree.TimeFamilyPrecisionToRoundDuration(t.Precision())
	switch v := d.(type) {
	case *tree.DTimestampTZ:
		return v.Round(precision)
	case *tree.DString, *tree.DCollatedString:
		res, _, err := tree.ParseDTimestampTZ(ev, stringOf(v), precision)
		return res, err
	case *tree.DDate:
		if !v.IsFinite() {
			tm, _ := dateToTime(v.Date)
			return tree.MakeDTimestampTZ(tm, precision)
		}
		return tree.MakeDTimestampTZFromDate(ev.ec.location(), v)
	case *tree.DTimestamp:
		return v.AddTimeZone(ev.ec.location(), precision)
	case *tree.DInt:
		return tree.MakeDTimestampTZ(time.Unix(int64(*v), 0).UTC(), precision)
	}
	return nil, invalidCast(d.ResolvedType(), t)
}

func (ev *evaluator) castToInterval(d tree.Datum, t *types.T) (tree.Datum, error) {
	itm, err := t.IntervalTypeMetadata()
	if err != nil {
		return nil, err
	}
	switch v := d.(type) {
	case *tree.DInterval:
		return tree.NewDInterval(v.Duration, itm), nil
	case *tree.DString, *tree.DCollatedString:
		return tree.ParseDIntervalWithTypeMetadata(ev.ec.IntervalStyle, stringOf(v), itm)
	case *tree.DInt:
		return tree.NewDInterval(duration.FromInt64(int64(*v)), itm), nil
	case *tree.DFloat:
		return tree.NewDInterval(duration.FromFloat64(float64(*v)), itm), nil
	case *tree.DDecimal:
		f, err := decimalToFloat(&v.Decimal)
		if err != nil {
			return nil, err
		}
		return tree.NewDInterval(duration.FromFloat64(f), itm), nil
	case *tree.DTime:
		return tree.NewDInterval(duration.MakeDuration(int64(*v)*int64(time.Microsecond), 0, 0), itm), nil
	}
	return nil, invalidCast(d.ResolvedType(), t)
}

func (ev *evaluator) castToTime(d tree.Datum, t *types.T) (tree.Datum, error) {
	precision := tree.TimeFamilyPrecisionToRoundDuration(t.Precision())
	switch v := d.(type) {
	case *tree.DTime:
		return tree.MakeDTime(timeofday.TimeOfDay(*v).Round(precision)), nil
	case *tree.DString, *tree.DCollatedString:
		res, _, err := tree.ParseDTime(ev, stringOf(v), precision)
		return res, err
	case *tree.DTimestamp:
		return tree.MakeDTime(timeofday.FromTime(v.Time).Round(precision)), nil
	case *tree.DTimestampTZ:
		return tree.MakeDTime(timeofday.FromTime(v.Time.In(ev.ec.location())).Round(precision)), nil
	case *tree.DTimeTZ:
		return tree.MakeDTime(v.TimeOfDay.Round(precision)), nil
	case *tree.DInterval:
		return tree.MakeDTime(timeofday.Min.Add(v.Duration).Round(precision)), nil
	}
	return nil, invalidCast(d.ResolvedType(), t)
}

func (ev *evaluator) castToTimeTZ(d tree.Datum, t *types.T) (tree.Datum, error) {
	precision := tree.TimeFamilyPrecisionToRoundDuration(t.Precision())
	switch v := d.(type) {
	case *tree.DTimeTZ:
		return v.Round(precision), nil
	case *tree.DString, *tree.DCollatedString:
		res, _, err := tree.ParseDTimeTZ(ev, stringOf(v), precision)
		return res, err
	case *tree.DTime:
		tz := timetz.MakeTimeTZFromLocation(timeofday.TimeOfDay(*v), ev.ec.location())
		return tree.NewDTimeTZ(tz.Round(precision)), nil
	case *tree.DTimestampTZ:
		tz := timetz.MakeTimeTZFromTime(v.Time.In(ev.ec.location()))
		return tree.NewDTimeTZ(tz.Round(precision)), nil
	}
	return nil, invalidCast(d.ResolvedType(), t)
}

// toJSON is the JSON value of a datum, for to_jsonb and
// jsonb_build_object (the parser module's conversion, in the session's time
// zone and styles).
func (ev *evaluator) toJSON(d tree.Datum) (json.JSON, error) {
	return tree.AsJSON(d, ev.ec.dataConversion(), ev.ec.location())
}
