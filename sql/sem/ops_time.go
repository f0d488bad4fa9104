package sem

import (
	"context"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/duration"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/timeofday"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/timetz"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/timeutil/pgdate"
)

// This file implements date, time, timestamp and interval arithmetic.
// TIMESTAMPTZ arithmetic with days and months happens in the session's
// time zone, so that '2021-03-13 12:00 America/New_York' + '1 day' crosses
// the DST change the way PostgreSQL does.

func dateOf(d tree.Datum) pgdate.Date      { return d.(*tree.DDate).Date }
func durOf(d tree.Datum) duration.Duration { return d.(*tree.DInterval).Duration }

func newInterval(d duration.Duration) tree.Datum { return &tree.DInterval{Duration: d} }

func newTimestamp(t time.Time) (tree.Datum, error) { return tree.MakeDTimestamp(t, time.Microsecond) }

func newTimestampTZ(t time.Time) (tree.Datum, error) {
	return tree.MakeDTimestampTZ(t, time.Microsecond)
}

// dateToTime is midnight of d, as a zone-less timestamp value.
func dateToTime(d pgdate.Date) (time.Time, error) {
	if d == pgdate.PosInfDate {
		return pgdate.TimeInfinity, nil
	}
	if d == pgdate.NegInfDate {
		return pgdate.TimeNegativeInfinity, nil
	}
	return d.ToTime()
}

// EvalPlusDateIntOp implements tree.OpEvaluator: date + days.
func (ev *evaluator) EvalPlusDateIntOp(_ context.Context, _ *tree.PlusDateIntOp, l, r tree.Datum) (tree.Datum, error) {
	d, err := dateOf(l).AddDays(intOf(r))
	if err != nil {
		return nil, err
	}
	return tree.NewDDate(d), nil
}

// EvalPlusIntDateOp implements tree.OpEvaluator: days + date.
func (ev *evaluator) EvalPlusIntDateOp(_ context.Context, _ *tree.PlusIntDateOp, l, r tree.Datum) (tree.Datum, error) {
	d, err := dateOf(r).AddDays(intOf(l))
	if err != nil {
		return nil, err
	}
	return tree.NewDDate(d), nil
}

// EvalMinusDateIntOp implements tree.OpEvaluator: date - days.
func (ev *evaluator) EvalMinusDateIntOp(_ context.Context, _ *tree.MinusDateIntOp, l, r tree.Datum) (tree.Datum, error) {
	d, err := dateOf(l).SubDays(intOf(r))
	if err != nil {
		return nil, err
	}
	return tree.NewDDate(d), nil
}

// EvalMinusDateOp implements tree.OpEvaluator: date - date is a number of
// days.
func (ev *evaluator) EvalMinusDateOp(_ context.Context, _ *tree.MinusDateOp, l, r tree.Datum) (tree.Datum, error) {
	a, b := dateOf(l), dateOf(r)
	if !a.IsFinite() || !b.IsFinite() {
		return nil, tree.ErrIntOutOfRange
	}
	return newInt(int64(a.PGEpochDays()) - int64(b.PGEpochDays())), nil
}

// EvalPlusDateIntervalOp implements tree.OpEvaluator: date + interval is a
// timestamp.
func (ev *evaluator) EvalPlusDateIntervalOp(_ context.Context, _ *tree.PlusDateIntervalOp, l, r tree.Datum) (tree.Datum, error) {
	t, err := dateToTime(dateOf(l))
	if err != nil {
		return nil, err
	}
	return newTimestamp(duration.Add(t, durOf(r)))
}

// EvalPlusIntervalDateOp implements tree.OpEvaluator.
func (ev *evaluator) EvalPlusIntervalDateOp(_ context.Context, _ *tree.PlusIntervalDateOp, l, r tree.Datum) (tree.Datum, error) {
	t, err := dateToTime(dateOf(r))
	if err != nil {
		return nil, err
	}
	return newTimestamp(duration.Add(t, durOf(l)))
}

// EvalMinusDateIntervalOp implements tree.OpEvaluator.
func (ev *evaluator) EvalMinusDateIntervalOp(_ context.Context, _ *tree.MinusDateIntervalOp, l, r tree.Datum) (tree.Datum, error) {
	t, err := dateToTime(dateOf(l))
	if err != nil {
		return nil, err
	}
	return newTimestamp(duration.Add(t, durOf(r).Mul(-1)))
}

// EvalPlusDateTimeOp implements tree.OpEvaluator: date + time.
func (ev *evaluator) EvalPlusDateTimeOp(_ context.Context, _ *tree.PlusDateTimeOp, l, r tree.Datum) (tree.Datum, error) {
	return dateAddTime(dateOf(l), timeofday.TimeOfDay(*r.(*tree.DTime)), 1)
}

// EvalPlusTimeDateOp implements tree.OpEvaluator: time + date.
func (ev *evaluator) EvalPlusTimeDateOp(_ context.Context, _ *tree.PlusTimeDateOp, l, r tree.Datum) (tree.Datum, error) {
	return dateAddTime(dateOf(r), timeofday.TimeOfDay(*l.(*tree.DTime)), 1)
}

// EvalMinusDateTimeOp implements tree.OpEvaluator: date - time.
func (ev *evaluator) EvalMinusDateTimeOp(_ context.Context, _ *tree.MinusDateTimeOp, l, r tree.Datum) (tree.Datum, error) {
	return dateAddTime(dateOf(l), timeofday.TimeOfDay(*r.(*tree.DTime)), -1)
}

func dateAddTime(d pgdate.Date, t timeofday.TimeOfDay, sign int64) (tree.Datum, error) {
	base, err := dateToTime(d)
	if err != nil {
		return nil, err
	}
	return newTimestamp(base.Add(time.Duration(sign*int64(t)) * time.Microsecond))
}

// EvalPlusDateTimeTZOp implements tree.OpEvaluator: date + timetz.
func (ev *evaluator) EvalPlusDateTimeTZOp(_ context.Context, _ *tree.PlusDateTimeTZOp, l, r tree.Datum) (tree.Datum, error) {
	return dateAddTimeTZ(dateOf(l), r.(*tree.DTimeTZ).TimeTZ)
}

// EvalPlusTimeTZDateOp implements tree.OpEvaluator: timetz + date.
func (ev *evaluator) EvalPlusTimeTZDateOp(_ context.Context, _ *tree.PlusTimeTZDateOp, l, r tree.Datum) (tree.Datum, error) {
	return dateAddTimeTZ(dateOf(r), l.(*tree.DTimeTZ).TimeTZ)
}

func dateAddTimeTZ(d pgdate.Date, t timetz.TimeTZ) (tree.Datum, error) {
	base, err := dateToTime(d)
	if err != nil {
		return nil, err
	}
	at := base.Add(time.Duration(t.TimeOfDay) * time.Microsecond).Add(time.Duration(t.OffsetSecs) * time.Second)
	return newTimestampTZ(at)
}

// EvalPlusTimeIntervalOp implements tree.OpEvaluator: time + interval wraps
// around midnight.
func (ev *evaluator) EvalPlusTimeIntervalOp(_ context.Context, _ *tree.PlusTimeIntervalOp, l, r tree.Datum) (tree.Datum, error) {
	t := timeofday.TimeOfDay(*l.(*tree.DTime))
	return tree.MakeDTime(t.Add(durOf(r))), nil
}

// EvalPlusIntervalTimeOp implements tree.OpEvaluator.
func (ev *evaluator) EvalPlusIntervalTimeOp(_ context.Context, _ *tree.PlusIntervalTimeOp, l, r tree.Datum) (tree.Datum, error) {
	t := timeofday.TimeOfDay(*r.(*tree.DTime))
	return tree.MakeDTime(t.Add(durOf(l))), nil
}

// EvalMinusTimeIntervalOp implements tree.OpEvaluator.
func (ev *evaluator) EvalMinusTimeIntervalOp(_ context.Context, _ *tree.MinusTimeIntervalOp, l, r tree.Datum) (tree.Datum, error) {
	t := timeofday.TimeOfDay(*l.(*tree.DTime))
	return tree.MakeDTime(t.Add(durOf(r).Mul(-1))), nil
}

// EvalMinusTimeOp implements tree.OpEvaluator: time - time is an interval.
func (ev *evaluator) EvalMinusTimeOp(_ context.Context, _ *tree.MinusTimeOp, l, r tree.Datum) (tree.Datum, error) {
	a, b := timeofday.TimeOfDay(*l.(*tree.DTime)), timeofday.TimeOfDay(*r.(*tree.DTime))
	return newInterval(timeofday.Difference(a, b)), nil
}

// EvalPlusTimeTZIntervalOp implements tree.OpEvaluator.
func (ev *evaluator) EvalPlusTimeTZIntervalOp(_ context.Context, _ *tree.PlusTimeTZIntervalOp, l, r tree.Datum) (tree.Datum, error) {
	t := l.(*tree.DTimeTZ).TimeTZ
	return tree.NewDTimeTZFromOffset(t.TimeOfDay.Add(durOf(r)), t.OffsetSecs), nil
}

// EvalPlusIntervalTimeTZOp implements tree.OpEvaluator.
func (ev *evaluator) EvalPlusIntervalTimeTZOp(_ context.Context, _ *tree.PlusIntervalTimeTZOp, l, r tree.Datum) (tree.Datum, error) {
	t := r.(*tree.DTimeTZ).TimeTZ
	return tree.NewDTimeTZFromOffset(t.TimeOfDay.Add(durOf(l)), t.OffsetSecs), nil
}

// EvalMinusTimeTZIntervalOp implements tree.OpEvaluator.
func (ev *evaluator) EvalMinusTimeTZIntervalOp(_ context.Context, _ *tree.MinusTimeTZIntervalOp, l, r tree.Datum) (tree.Datum, error) {
	t := l.(*tree.DTimeTZ).TimeTZ
	return tree.NewDTimeTZFromOffset(t.TimeOfDay.Add(durOf(r).Mul(-1)), t.OffsetSecs), nil
}

// EvalPlusTimestampIntervalOp implements tree.OpEvaluator.
func (ev *evaluator) EvalPlusTimestampIntervalOp(_ context.Context, _ *tree.PlusTimestampIntervalOp, l, r tree.Datum) (tree.Datum, error) {
	return newTimestamp(duration.Add(l.(*tree.DTimestamp).Time, durOf(r)))
}

// EvalPlusIntervalTimestampOp implements tree.OpEvaluator.
func (ev *evaluator) EvalPlusIntervalTimestampOp(_ context.Context, _ *tree.PlusIntervalTimestampOp, l, r tree.Datum) (tree.Datum, error) {
	return newTimestamp(duration.Add(r.(*tree.DTimestamp).Time, durOf(l)))
}

// EvalMinusTimestampIntervalOp implements tree.OpEvaluator.
func (ev *evaluator) EvalMinusTimestampIntervalOp(_ context.Context, _ *tree.MinusTimestampIntervalOp, l, r tree.Datum) (tree.Datum, error) {
	return newTimestamp(duration.Add(l.(*tree.DTimestamp).Time, durOf(r).Mul(-1)))
}

// addTZ adds an interval to a timestamptz in the session's time zone.
func (ev *evaluator) addTZ(t time.Time, d duration.Duration) (tree.Datum, error) {
	return newTimestampTZ(duration.Add(t.In(ev.ec.location()), d))
}

// EvalPlusTimestampTZIntervalOp implements tree.OpEvaluator.
func (ev *evaluator) EvalPlusTimestampTZIntervalOp(_ context.Context, _ *tree.PlusTimestampTZIntervalOp, l, r tree.Datum) (tree.Datum, error) {
	return ev.addTZ(l.(*tree.DTimestampTZ).Time, durOf(r))
}

// EvalPlusIntervalTimestampTZOp implements tree.OpEvaluator.
func (ev *evaluator) EvalPlusIntervalTimestampTZOp(_ context.Context, _ *tree.PlusIntervalTimestampTZOp, l, r tree.Datum) (tree.Datum, error) {
	return ev.addTZ(r.(*tree.DTimestampTZ).Time, durOf(l))
}

// EvalMinusTimestampTZIntervalOp implements tree.OpEvaluator.
func (ev *evaluator) EvalMinusTimestampTZIntervalOp(_ context.Context, _ *tree.MinusTimestampTZIntervalOp, l, r tree.Datum) (tree.Datum, error) {
	return ev.addTZ(l.(*tree.DTimestampTZ).Time, durOf(r).Mul(-1))
}

// timeDiff is a - b as an interval whose whole days are split out of the
// hours, as PostgreSQL's timestamp subtraction does.
func timeDiff(a, b time.Time) tree.Datum {
	micros := duration.DiffMicros(a, b)
	return newInterval(duration.MakeDurationJustifyHours(micros*int64(time.Microsecond), 0, 0))
}

// EvalMinusTimestampOp implements tree.OpEvaluator.
func (ev *evaluator) EvalMinusTimestampOp(_ context.Context, _ *tree.MinusTimestampOp, l, r tree.Datum) (tree.Datum, error) {
	return timeDiff(l.(*tree.DTimestamp).Time, r.(*tree.DTimestamp).Time), nil
}

// EvalMinusTimestampTZOp implements tree.OpEvaluator.
func (ev *evaluator) EvalMinusTimestampTZOp(_ context.Context, _ *tree.MinusTimestampTZOp, l, r tree.Datum) (tree.Datum, error) {
	return timeDiff(l.(*tree.DTimestampTZ).Time, r.(*tree.DTimestampTZ).Time), nil
}

// EvalMinusTimestampTimestampTZOp implements tree.OpEvaluator: the
// timestamp is read in the session's time zone.
func (ev *evaluator) EvalMinusTimestampTimestampTZOp(_ context.Context, _ *tree.MinusTimestampTimestampTZOp, l, r tree.Datum) (tree.Datum, error) {
	lt, err := l.(*tree.DTimestamp).AddTimeZone(ev.ec.location(), time.Microsecond)
	if err != nil {
		return nil, err
	}
	return timeDiff(lt.Time, r.(*tree.DTimestampTZ).Time), nil
}

// EvalMinusTimestampTZTimestampOp implements tree.OpEvaluator.
func (ev *evaluator) EvalMinusTimestampTZTimestampOp(_ context.Context, _ *tree.MinusTimestampTZTimestampOp, l, r tree.Datum) (tree.Datum, error) {
	rt, err := r.(*tree.DTimestamp).AddTimeZone(ev.ec.location(), time.Microsecond)
	if err != nil {
		return nil, err
	}
	return timeDiff(l.(*tree.DTimestampTZ).Time, rt.Time), nil
}

// EvalPlusIntervalOp implements tree.OpEvaluator.
func (ev *evaluator) EvalPlusIntervalOp(_ context.Context, _ *tree.PlusIntervalOp, l, r tree.Datum) (tree.Datum, error) {
	return newInterval(durOf(l).Add(durOf(r))), nil
}

// EvalMinusIntervalOp implements tree.OpEvaluator.
func (ev *evaluator) EvalMinusIntervalOp(_ context.Context, _ *tree.MinusIntervalOp, l, r tree.Datum) (tree.Datum, error) {
	return newInterval(durOf(l).Sub(durOf(r))), nil
}

// EvalMultIntervalIntOp implements tree.OpEvaluator.
func (ev *evaluator) EvalMultIntervalIntOp(_ context.Context, _ *tree.MultIntervalIntOp, l, r tree.Datum) (tree.Datum, error) {
	return newInterval(durOf(l).Mul(intOf(r))), nil
}

// EvalMultIntIntervalOp implements tree.OpEvaluator.
func (ev *evaluator) EvalMultIntIntervalOp(_ context.Context, _ *tree.MultIntIntervalOp, l, r tree.Datum) (tree.Datum, error) {
	return newInterval(durOf(r).Mul(intOf(l))), nil
}

// EvalMultIntervalFloatOp implements tree.OpEvaluator.
func (ev *evaluator) EvalMultIntervalFloatOp(_ context.Context, _ *tree.MultIntervalFloatOp, l, r tree.Datum) (tree.Datum, error) {
	return newInterval(durOf(l).MulFloat(floatOf(r))), nil
}

// EvalMultFloatIntervalOp implements tree.OpEvaluator.
func (ev *evaluator) EvalMultFloatIntervalOp(_ context.Context, _ *tree.MultFloatIntervalOp, l, r tree.Datum) (tree.Datum, error) {
	return newInterval(durOf(r).MulFloat(floatOf(l))), nil
}

// EvalMultIntervalDecimalOp implements tree.OpEvaluator.
func (ev *evaluator) EvalMultIntervalDecimalOp(_ context.Context, _ *tree.MultIntervalDecimalOp, l, r tree.Datum) (tree.Datum, error) {
	f, err := decOf(r).Float64()
	if err != nil {
		return nil, err
	}
	return newInterval(durOf(l).MulFloat(f)), nil
}

// EvalMultDecimalIntervalOp implements tree.OpEvaluator.
func (ev *evaluator) EvalMultDecimalIntervalOp(_ context.Context, _ *tree.MultDecimalIntervalOp, l, r tree.Datum) (tree.Datum, error) {
	f, err := decOf(l).Float64()
	if err != nil {
		return nil, err
	}
	return newInterval(durOf(r).MulFloat(f)), nil
}

// EvalDivIntervalIntOp implements tree.OpEvaluator.
func (ev *evaluator) EvalDivIntervalIntOp(_ context.Context, _ *tree.DivIntervalIntOp, l, r tree.Datum) (tree.Datum, error) {
	n := intOf(r)
	if n == 0 {
		return nil, tree.ErrDivByZero
	}
	return newInterval(durOf(l).Div(n)), nil
}

// EvalDivIntervalFloatOp implements tree.OpEvaluator.
func (ev *evaluator) EvalDivIntervalFloatOp(_ context.Context, _ *tree.DivIntervalFloatOp, l, r tree.Datum) (tree.Datum, error) {
	f := floatOf(r)
	if f == 0 {
		return nil, tree.ErrDivByZero
	}
	return newInterval(durOf(l).DivFloat(f)), nil
}
