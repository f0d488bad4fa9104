package sem

import (
	"context"
	"math"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/duration"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/hlc"
	"github.com/cockroachdb/errors"
)

// EvalAsOf evaluates an AS OF SYSTEM TIME clause against now (an HLC wall
// time in nanoseconds) and returns the HLC timestamp to read at. The
// expression may be:
//
//   - a timestamp, timestamptz or date, or a string that parses as one:
//     that absolute time;
//   - a decimal, or a string holding one, in HLC form
//     ('1700000000123456789.0000000001': wall nanoseconds, and the logical
//     counter in the ten fractional digits);
//   - an integer: wall nanoseconds;
//   - an interval, or a string holding one ('-10s', '-1h'): now plus the
//     interval, which must be negative;
//   - follower_read_timestamp(), or any expression of the types above;
//     now() and friends inside it evaluate to now.
//
// Future times are refused (42601 for intervals, 22023 for timestamps);
// EvalSystemTime allows them where the statement does (COMPLETE
// REPLICATION TO SYSTEM TIME, for instance).
func EvalAsOf(
	ctx context.Context, ec *Context, asOf tree.AsOfClause, nowWallNanos int64,
) (wall int64, logical int32, err error) {
	return EvalSystemTime(ctx, ec, asOf.Expr, nowWallNanos, false /* allowFuture */)
}

// EvalSystemTime is EvalAsOf for any SYSTEM TIME expression; allowFuture
// accepts positive intervals and timestamps after now.
func EvalSystemTime(
	ctx context.Context, ec *Context, expr tree.Expr, nowWallNanos int64, allowFuture bool,
) (wall int64, logical int32, retErr error) {
	defer recoverInternal(&retErr)
	if expr == nil {
		return 0, 0, asOfError(pgcode.Syntax, "missing expression")
	}
	// Evaluate with the statement's clock set to now, so that
	// follower_read_timestamp() and now() are relative to it. SQL
	// timestamps hold microseconds and now() rounds to the nearest one, so
	// a clock of ...654022712 ns would make now() ...654023000, after the
	// statement time, and AS OF SYSTEM TIME now() would be refused as a
	// future time about half of the time. The clock the expression sees is
	// therefore now truncated to the microsecond: now() and the functions
	// derived from it never exceed the statement time.
	evalCtx := Context{}
	if ec != nil {
		evalCtx = *ec
		evalCtx.ev = evaluator{}
	}
	now := time.Unix(0, nowWallNanos).UTC().Truncate(time.Microsecond)
	evalCtx.TxnTimestamp, evalCtx.StmtTimestamp = now, now

	sema := NewSemaContext()
	typed, err := TypeCheck(ctx, expr, sema, types.AnyElement)
	if err != nil {
		return 0, 0, errors.Wrap(err, "AS OF SYSTEM TIME")
	}
	d, err := Eval(ctx, &evalCtx, typed, nil)
	if err != nil {
		return 0, 0, errors.Wrap(err, "AS OF SYSTEM TIME")
	}
	ts, relative, err := asOfDatum(&evalCtx.ev, d, nowWallNanos)
	if err != nil {
		return 0, 0, err
	}
	if relative && !allowFuture && ts.WallTime >= nowWallNanos {
		return 0, 0, asOfError(pgcode.Syntax, "interval value %s too large, AS OF interval must be <= -1µs",
			tree.AsStringWithFlags(d, tree.FmtSimple))
	}
	if ts.WallTime <= 0 && ts.Logical == 0 {
		return 0, 0, asOfError(pgcode.InvalidParameterValue, "timestamp before 1970-01-01T00:00:00Z is invalid")
	}
	if !relative && !allowFuture && ts.WallTime > nowWallNanos {
		return 0, 0, asOfError(pgcode.InvalidParameterValue,
			"cannot specify timestamp in the future (%s > %s)", ts.AsOfSystemTime(),
			hlc.Timestamp{WallTime: nowWallNanos}.AsOfSystemTime())
	}
	return ts.WallTime, ts.Logical, nil
}

func asOfError(code pgcode.Code, format string, args ...interface{}) error {
	return pgerror.Newf(code, "AS OF SYSTEM TIME: "+format, args...)
}

// asOfDatum converts the evaluated expression; relative is true when it
// was an interval.
func asOfDatum(ev *evaluator, d tree.Datum, now int64) (ts hlc.Timestamp, relative bool, err error) {
	switch v := d.(type) {
	case *tree.DString:
		s := strings.TrimSpace(string(*v))
		if s == "" {
			return ts, false, asOfError(pgcode.Syntax, "zero timestamp is invalid")
		}
		// A plain number is an HLC decimal; try it first, as CockroachDB does,
		// because '123' would also parse as an interval of seconds.
		if dec, _, err := apd.NewFromString(s); err == nil && dec.Form == apd.Finite {
			ts, err := decimalHLC(dec)
			return ts, false, err
		}
		if iv, err := tree.ParseDInterval(ev.ec.IntervalStyle, s); err == nil {
			ts, err := addInterval(now, iv.Duration)
			return ts, true, err
		}
		t, _, err := tree.ParseDTimestampTZ(ev, s, time.Nanosecond)
		if err != nil {
			return ts, false, asOfError(pgcode.Syntax, "value is neither timestamp, decimal, nor interval")
		}
		return hlc.Timestamp{WallTime: t.UnixNano()}, false, nil
	case *tree.DInt:
		return hlc.Timestamp{WallTime: int64(*v)}, false, nil
	case *tree.DDecimal:
		ts, err := decimalHLC(&v.Decimal)
		return ts, false, err
	case *tree.DInterval:
		ts, err := addInterval(now, v.Duration)
		return ts, true, err
	case *tree.DTimestampTZ:
		return hlc.Timestamp{WallTime: v.UnixNano()}, false, nil
	case *tree.DTimestamp:
		return hlc.Timestamp{WallTime: v.UnixNano()}, false, nil
	case *tree.DDate:
		t, err := dateToTime(v.Date)
		if err != nil {
			return ts, false, err
		}
		return hlc.Timestamp{WallTime: t.UnixNano()}, false, nil
	}
	if d == tree.DNull {
		return ts, false, asOfError(pgcode.Syntax, "zero timestamp is invalid")
	}
	return ts, false, asOfError(pgcode.Syntax,
		"expected timestamp, decimal, or interval, got %s", d.ResolvedType())
}

func decimalHLC(dec *apd.Decimal) (hlc.Timestamp, error) {
	ts, err := hlc.DecimalToHLC(dec)
	if err != nil {
		return ts, pgerror.Wrap(err, pgcode.Syntax, "AS OF SYSTEM TIME")
	}
	return ts, nil
}

func addInterval(now int64, d duration.Duration) (hlc.Timestamp, error) {
	if d.Compare(duration.Duration{}) == 0 {
		return hlc.Timestamp{}, asOfError(pgcode.Syntax,
			"interval value '0s' too small, absolute value must be >= 1µs")
	}
	t := duration.Add(time.Unix(0, now).UTC(), d)
	if t.Year() < 1678 || t.Year() > 2261 { // outside int64 nanoseconds
		return hlc.Timestamp{}, asOfError(pgcode.InvalidParameterValue, "interval value out of range")
	}
	wall := t.UnixNano()
	if wall == math.MinInt64 {
		return hlc.Timestamp{}, asOfError(pgcode.InvalidParameterValue, "interval value out of range")
	}
	return hlc.Timestamp{WallTime: wall}, nil
}
