package sem

import (
	"context"
	"math"
	"strings"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/volatility"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/duration"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/timeofday"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/timetz"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/timeutil"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/timeutil/pgdate"
)

// Date and time builtins. Session-dependent ones (now(), current_date,
// anything that reads the time zone) are stable; clock_timestamp() is
// volatile.

func stable(o tree.Overload) tree.Overload   { return withVolatility(o, volatility.Stable) }
func volatile(o tree.Overload) tree.Overload { return withVolatility(o, volatility.Volatile) }

func tsTZ(t time.Time) (tree.Datum, error) { return tree.MakeDTimestampTZ(t, time.Microsecond) }

func timestampFn(get func(ev *evaluator) time.Time) []tree.Overload {
	return []tree.Overload{
		stable(overload(params(), types.TimestampTZ, func(_ context.Context, ev *evaluator, _ tree.Datums) (tree.Datum, error) {
			return tsTZ(get(ev))
		})),
	}
}

// nowWithPrecision is current_timestamp(p) and friends.
func nowWithPrecision(ret *types.T, conv func(ev *evaluator, t time.Time, precision time.Duration) (tree.Datum, error)) []tree.Overload {
	return []tree.Overload{
		stable(overload(params(), ret, func(_ context.Context, ev *evaluator, _ tree.Datums) (tree.Datum, error) {
			return conv(ev, ev.ec.txnTime(), time.Microsecond)
		})),
		stable(overload(params(types.Int), ret, func(_ context.Context, ev *evaluator, a tree.Datums) (tree.Datum, error) {
			p := intOf(a[0])
			if p < 0 || p > 6 {
				return nil, pgerror.Newf(pgcode.InvalidParameterValue, "precision %d out of range", p)
			}
			return conv(ev, ev.ec.txnTime(), tree.TimeFamilyPrecisionToRoundDuration(int32(p)))
		})),
	}
}

func convTZ(_ *evaluator, t time.Time, p time.Duration) (tree.Datum, error) {
	return tree.MakeDTimestampTZ(t, p)
}

func convLocalTS(ev *evaluator, t time.Time, p time.Duration) (tree.Datum, error) {
	tz, err := tree.MakeDTimestampTZ(t, time.Microsecond)
	if err != nil {
		return nil, err
	}
	return tz.EvalAtAndRemoveTimeZone(ev.ec.location(), p)
}

func convLocalTime(ev *evaluator, t time.Time, p time.Duration) (tree.Datum, error) {
	return tree.MakeDTime(timeofday.FromTime(t.In(ev.ec.location())).Round(p)), nil
}

func convTimeTZ(ev *evaluator, t time.Time, p time.Duration) (tree.Datum, error) {
	tz := timetz.MakeTimeTZFromTime(t.In(ev.ec.location()))
	return tree.NewDTimeTZ(tz.Round(p)), nil
}

// normalizeField maps the spellings PostgreSQL accepts for a date/time
// field to one name.
func normalizeField(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	switch s {
	case "millennia", "millenniums", "mil", "mils":
		return "millennium"
	case "centuries", "c", "cent":
		return "century"
	case "decades", "dec", "decs":
		return "decade"
	case "years", "y", "yr", "yrs":
		return "year"
	case "quarters", "qtr":
		return "quarter"
	case "months", "mon", "mons":
		return "month"
	case "weeks", "w":
		return "week"
	case "days", "d":
		return "day"
	case "dayofweek":
		return "dow"
	case "dayofyear":
		return "doy"
	case "hours", "h", "hr", "hrs":
		return "hour"
	case "minutes", "m", "min", "mins":
		return "minute"
	case "seconds", "s", "sec", "secs":
		return "second"
	case "milliseconds", "ms", "msec", "msecs", "millisecon":
		return "millisecond"
	case "microseconds", "us", "usec", "usecs":
		return "microsecond"
	}
	return s
}

func unsupportedField(field string, typ string) error {
	return pgerror.Newf(pgcode.InvalidParameterValue, "unit %q not supported for type %s", field, typ)
}

// extractFromTime is extract(field FROM t), t already in the right zone.
func extractFromTime(field string, t time.Time, withZone bool, typName string) (tree.Datum, error) {
	if t == pgdate.TimeInfinity || t == pgdate.TimeNegativeInfinity {
		if field == "epoch" {
			if t == pgdate.TimeInfinity {
				return newFloat(math.Inf(1)), nil
			}
			return newFloat(math.Inf(-1)), nil
		}
		return tree.DNull, nil
	}
	year := t.Year()
	switch field {
	case "millennium":
		if year > 0 {
			return newFloat(float64((year-1)/1000 + 1)), nil
		}
		return newFloat(float64(-((999 - (year - 1)) / 1000))), nil
	case "century":
		if year > 0 {
			return newFloat(float64((year-1)/100 + 1)), nil
		}
		return newFloat(float64(-((99 - (year - 1)) / 100))), nil
	case "decade":
		return newFloat(math.Floor(float64(year) / 10)), nil
	case "year":
		return newFloat(float64(year)), nil
	case "isoyear":
		y, _ := t.ISOWeek()
		return newFloat(float64(y)), nil
	case "quarter":
		return newFloat(float64((int(t.Month())-1)/3 + 1)), nil
	case "month":
		return newFloat(float64(t.Month())), nil
	case "week":
		_, w := t.ISOWeek()
		return newFloat(float64(w)), nil
	case "day":
		return newFloat(float64(t.Day())), nil
	case "dow":
		return newFloat(float64(t.Weekday())), nil
	case "isodow":
		wd := int(t.Weekday())
		if wd == 0 {
			wd = 7
		}
		return newFloat(float64(wd)), nil
	case "doy":
		return newFloat(float64(t.YearDay())), nil
	case "hour":
		return newFloat(float64(t.Hour())), nil
	case "minute":
		return newFloat(float64(t.Minute())), nil
	case "second":
		return newFloat(float64(t.Second()) + float64(t.Nanosecond())/1e9), nil
	case "millisecond":
		return newFloat(float64(t.Second())*1e3 + float64(t.Nanosecond())/1e6), nil
	case "microsecond":
		return newFloat(float64(t.Second())*1e6 + float64(t.Nanosecond()/1e3)), nil
	case "epoch":
		if withZone {
			return newFloat(float64(t.UnixMicro()) / 1e6), nil
		}
		// A timestamp without time zone counts from 1970-01-01 00:00 as a
		// wall time.
		_, off := t.Zone()
		return newFloat(float64(t.UnixMicro())/1e6 + float64(off)), nil
	case "timezone", "timezone_hour", "timezone_minute":
		if !withZone {
			return nil, unsupportedField(field, typName)
		}
		_, off := t.Zone()
		switch field {
		case "timezone_hour":
			return newFloat(float64(off / 3600)), nil
		case "timezone_minute":
			return newFloat(float64((off / 60) % 60)), nil
		}
		return newFloat(float64(off)), nil
	}
	return nil, unsupportedField(field, typName)
}

func extractFromInterval(field string, d duration.Duration) (tree.Datum, error) {
	nanos := d.Nanos()
	switch field {
	case "millennium":
		return newFloat(float64(d.Months / 12 / 1000)), nil
	case "century":
		return newFloat(float64(d.Months / 12 / 100)), nil
	case "decade":
		return newFloat(float64(d.Months / 12 / 10)), nil
	case "year":
		return newFloat(float64(d.Months / 12)), nil
	case "quarter":
		return newFloat(float64((d.Months%12)/3 + 1)), nil
	case "month":
		return newFloat(float64(d.Months % 12)), nil
	case "day":
		return newFloat(float64(d.Days)), nil
	case "hour":
		return newFloat(float64(nanos / int64(time.Hour))), nil
	case "minute":
		return newFloat(float64((nanos / int64(time.Minute)) % 60)), nil
	case "second":
		return newFloat(float64(nanos%int64(time.Minute)) / 1e9), nil
	case "millisecond":
		return newFloat(float64(nanos%int64(time.Minute)) / 1e6), nil
	case "microsecond":
		return newFloat(float64(nanos%int64(time.Minute)) / 1e3), nil
	case "epoch":
		// PostgreSQL counts a year as 365.25 days and a month as 30 days.
		years, months := d.Months/12, d.Months%12
		secs := float64(years)*365.25*86400 + float64(months)*30*86400 + float64(d.Days)*86400 + float64(nanos)/1e9
		return newFloat(secs), nil
	}
	return nil, unsupportedField(field, "interval")
}

func extractOverloads() []tree.Overload {
	return []tree.Overload{
		overload(params(types.String, types.Timestamp), types.Float, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			return extractFromTime(normalizeField(stringOf(a[0])), a[1].(*tree.DTimestamp).Time, false, "timestamp")
		}),
		stable(overload(params(types.String, types.TimestampTZ), types.Float, func(_ context.Context, ev *evaluator, a tree.Datums) (tree.Datum, error) {
			t := a[1].(*tree.DTimestampTZ).Time
			if t != pgdate.TimeInfinity && t != pgdate.TimeNegativeInfinity {
				t = t.In(ev.ec.location())
			}
			return extractFromTime(normalizeField(stringOf(a[0])), t, true, "timestamp with time zone")
		})),
		overload(params(types.String, types.Date), types.Float, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			field := normalizeField(stringOf(a[0]))
			switch field {
			case "hour", "minute", "second", "millisecond", "microsecond", "timezone", "timezone_hour", "timezone_minute":
				return nil, unsupportedField(field, "date")
			}
			t, err := dateToTime(a[1].(*tree.DDate).Date)
			if err != nil {
				return nil, err
			}
			return extractFromTime(field, t, false, "date")
		}),
		overload(params(types.String, types.Interval), types.Float, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			return extractFromInterval(normalizeField(stringOf(a[0])), durOf(a[1]))
		}),
		overload(params(types.String, types.Time), types.Float, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			field := normalizeField(stringOf(a[0]))
			t := timeofday.TimeOfDay(*a[1].(*tree.DTime)).ToTime()
			switch field {
			case "hour", "minute", "second", "millisecond", "microsecond", "epoch":
				return extractFromTime(field, t, false, "time")
			}
			return nil, unsupportedField(field, "time without time zone")
		}),
	}
}

// truncateTime is date_trunc(field, t) with t in its zone.
func truncateTime(field string, t time.Time) (time.Time, error) {
	if t == pgdate.TimeInfinity || t == pgdate.TimeNegativeInfinity {
		return t, nil
	}
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	loc := t.Location()
	switch field {
	case "microsecond":
		return t.Truncate(time.Microsecond), nil
	case "millisecond":
		return time.Date(y, mo, d, h, mi, s, t.Nanosecond()/1e6*1e6, loc), nil
	case "second":
		return time.Date(y, mo, d, h, mi, s, 0, loc), nil
	case "minute":
		return time.Date(y, mo, d, h, mi, 0, 0, loc), nil
	case "hour":
		return time.Date(y, mo, d, h, 0, 0, 0, loc), nil
	case "day":
		return time.Date(y, mo, d, 0, 0, 0, 0, loc), nil
	case "week":
		back := (int(t.Weekday()) + 6) % 7 // days since Monday
		return time.Date(y, mo, d-back, 0, 0, 0, 0, loc), nil
	case "month":
		return time.Date(y, mo, 1, 0, 0, 0, 0, loc), nil
	case "quarter":
		return time.Date(y, time.Month((int(mo)-1)/3*3+1), 1, 0, 0, 0, 0, loc), nil
	case "year":
		return time.Date(y, 1, 1, 0, 0, 0, 0, loc), nil
	case "decade":
		return time.Date(floorDiv(y, 10)*10, 1, 1, 0, 0, 0, 0, loc), nil
	case "century":
		return time.Date(floorDiv(y-1, 100)*100+1, 1, 1, 0, 0, 0, 0, loc), nil
	case "millennium":
		return time.Date(floorDiv(y-1, 1000)*1000+1, 1, 1, 0, 0, 0, 0, loc), nil
	}
	return time.Time{}, pgerror.Newf(pgcode.InvalidParameterValue, "unsupported timespan: %s", field)
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func truncateInterval(field string, d duration.Duration) (duration.Duration, error) {
	nanos := d.Nanos()
	trunc := func(unit time.Duration) duration.Duration {
		return duration.MakeDuration(nanos-nanos%int64(unit), d.Days, d.Months)
	}
	switch field {
	case "microsecond":
		return trunc(time.Microsecond), nil
	case "millisecond":
		return trunc(time.Millisecond), nil
	case "second":
		return trunc(time.Second), nil
	case "minute":
		return trunc(time.Minute), nil
	case "hour":
		return trunc(time.Hour), nil
	case "day":
		return duration.MakeDuration(0, d.Days, d.Months), nil
	case "month":
		return duration.MakeDuration(0, 0, d.Months), nil
	case "quarter":
		return duration.MakeDuration(0, 0, d.Months-d.Months%3), nil
	case "year":
		return duration.MakeDuration(0, 0, d.Months-d.Months%12), nil
	case "decade":
		return duration.MakeDuration(0, 0, d.Months-d.Months%120), nil
	case "century":
		return duration.MakeDuration(0, 0, d.Months-d.Months%1200), nil
	case "millennium":
		return duration.MakeDuration(0, 0, d.Months-d.Months%12000), nil
	}
	return duration.Duration{}, pgerror.Newf(pgcode.InvalidParameterValue, "unsupported timespan: %s", field)
}

func dateTruncOverloads() []tree.Overload {
	return []tree.Overload{
		overload(params(types.String, types.Timestamp), types.Timestamp, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			t, err := truncateTime(normalizeField(stringOf(a[0])), a[1].(*tree.DTimestamp).Time)
			if err != nil {
				return nil, err
			}
			return newTimestamp(t)
		}),
		stable(overload(params(types.String, types.TimestampTZ), types.TimestampTZ, func(_ context.Context, ev *evaluator, a tree.Datums) (tree.Datum, error) {
			t := a[1].(*tree.DTimestampTZ).Time
			if t != pgdate.TimeInfinity && t != pgdate.TimeNegativeInfinity {
				t = t.In(ev.ec.location())
			}
			t, err := truncateTime(normalizeField(stringOf(a[0])), t)
			if err != nil {
				return nil, err
			}
			return tsTZ(t)
		})),
		stable(overload(params(types.String, types.Date), types.TimestampTZ, func(_ context.Context, ev *evaluator, a tree.Datums) (tree.Datum, error) {
			tz, err := tree.MakeDTimestampTZFromDate(ev.ec.location(), a[1].(*tree.DDate))
			if err != nil {
				return nil, err
			}
			t, err := truncateTime(normalizeField(stringOf(a[0])), tz.Time.In(ev.ec.location()))
			if err != nil {
				return nil, err
			}
			return tsTZ(t)
		})),
		overload(params(types.String, types.Interval), types.Interval, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			d, err := truncateInterval(normalizeField(stringOf(a[0])), durOf(a[1]))
			if err != nil {
				return nil, err
			}
			return newInterval(d), nil
		}),
	}
}

// loadZone parses a time zone name or offset as AT TIME ZONE does.
func loadZone(name string) (*time.Location, error) {
	loc, err := timeutil.TimeZoneStringToLocation(name, timeutil.TimeZoneStringToLocationPOSIXStandard)
	if err != nil {
		return nil, pgerror.Newf(pgcode.InvalidParameterValue, "time zone %q not recognized", name)
	}
	return loc, nil
}

func makeDate(y, m, d int64) (time.Time, error) {
	if y == 0 || y < -4713 || y > 5874897 || m < 1 || m > 12 || d < 1 || d > 31 {
		return time.Time{}, pgerror.Newf(pgcode.DatetimeFieldOverflow,
			"date field value out of range: %d-%02d-%02d", y, m, d)
	}
	year := int(y)
	if year < 0 {
		year++ // 1 BC is year 0 in the proleptic Gregorian calendar.
	}
	t := time.Date(year, time.Month(m), int(d), 0, 0, 0, 0, time.UTC)
	if t.Day() != int(d) {
		return time.Time{}, pgerror.Newf(pgcode.DatetimeFieldOverflow,
			"date field value out of range: %d-%02d-%02d", y, m, d)
	}
	return t, nil
}

func makeTimestamp(a tree.Datums) (time.Time, error) {
	t, err := makeDate(intOf(a[0]), intOf(a[1]), intOf(a[2]))
	if err != nil {
		return time.Time{}, err
	}
	h, mi, s := intOf(a[3]), intOf(a[4]), floatOf(a[5])
	if h < 0 || h > 24 || mi < 0 || mi > 59 || s < 0 || s > 60 || math.IsNaN(s) ||
		(h == 24 && (mi != 0 || s != 0)) {
		return time.Time{}, pgerror.Newf(pgcode.DatetimeFieldOverflow,
			"time field value out of range: %d:%02d:%02d", h, mi, int64(s))
	}
	return t.Add(time.Duration(h)*time.Hour + time.Duration(mi)*time.Minute +
		time.Duration(math.Round(s*1e6))*time.Microsecond), nil
}

var timeBuiltins = map[string]builtinDef{
	"now":                   def("date and time", nowWithPrecision(types.TimestampTZ, convTZ)[0]),
	"current_timestamp":     def("date and time", nowWithPrecision(types.TimestampTZ, convTZ)...),
	"transaction_timestamp": def("date and time", timestampFn(func(ev *evaluator) time.Time { return ev.ec.txnTime() })...),
	"statement_timestamp":   def("date and time", timestampFn(func(ev *evaluator) time.Time { return ev.ec.stmtTime() })...),
	"clock_timestamp": def("date and time", volatile(overload(params(), types.TimestampTZ, func(_ context.Context, ev *evaluator, _ tree.Datums) (tree.Datum, error) {
		return tsTZ(ev.ec.clock())
	}))),
	"localtimestamp": def("date and time", nowWithPrecision(types.Timestamp, convLocalTS)...),
	"localtime":      def("date and time", nowWithPrecision(types.Time, convLocalTime)...),
	"current_time":   def("date and time", nowWithPrecision(types.TimeTZ, convTimeTZ)...),
	"current_date": def("date and time", stable(overload(params(), types.Date, func(_ context.Context, ev *evaluator, _ tree.Datums) (tree.Datum, error) {
		return dateFromTime(ev.ec.txnTime().In(ev.ec.location()))
	}))),
	"extract":    def("date and time", extractOverloads()...),
	"date_part":  def("date and time", extractOverloads()...),
	"date_trunc": def("date and time", dateTruncOverloads()...),
	"age": def("date and time",
		overload(params(types.TimestampTZ, types.TimestampTZ), types.Interval, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			return newInterval(duration.Age(a[0].(*tree.DTimestampTZ).Time, a[1].(*tree.DTimestampTZ).Time)), nil
		}),
		overload(params(types.Timestamp, types.Timestamp), types.Interval, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			return newInterval(duration.Age(a[0].(*tree.DTimestamp).Time, a[1].(*tree.DTimestamp).Time)), nil
		}),
		stable(overload(params(types.TimestampTZ), types.Interval, func(_ context.Context, ev *evaluator, a tree.Datums) (tree.Datum, error) {
			// age(t) is age(current_date, t): midnight of today in the
			// session's time zone.
			now := ev.ec.txnTime().In(ev.ec.location())
			y, m, d := now.Date()
			midnight := time.Date(y, m, d, 0, 0, 0, 0, ev.ec.location())
			return newInterval(duration.Age(midnight, a[0].(*tree.DTimestampTZ).Time)), nil
		}))),
	"to_timestamp": def("date and time",
		overload(params(types.Float), types.TimestampTZ, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			f := floatOf(a[0])
			switch {
			case math.IsNaN(f):
				return nil, pgerror.New(pgcode.InvalidParameterValue, "timestamp cannot be NaN")
			case math.IsInf(f, 1):
				return tsTZ(pgdate.TimeInfinity)
			case math.IsInf(f, -1):
				return tsTZ(pgdate.TimeNegativeInfinity)
			}
			if math.Abs(f) > 1e13 {
				return nil, pgerror.Newf(pgcode.DatetimeFieldOverflow, "timestamp out of range: %q", formatFloat(f, 1, 64))
			}
			micros := int64(math.Round(f * 1e6))
			return tsTZ(timeutil.FromUnixMicros(micros).UTC())
		}),
		stable(overload(params(types.String, types.String), types.TimestampTZ, func(_ context.Context, ev *evaluator, a tree.Datums) (tree.Datum, error) {
			t, err := parseWithFormat(stringOf(a[0]), stringOf(a[1]), ev.ec.location())
			if err != nil {
				return nil, err
			}
			return tsTZ(t)
		}))),
	"to_date": def("date and time",
		overload(params(types.String, types.String), types.Date, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			t, err := parseWithFormat(stringOf(a[0]), stringOf(a[1]), time.UTC)
			if err != nil {
				return nil, err
			}
			return dateFromTime(t)
		})),
	"to_char": def("date and time",
		overload(params(types.Timestamp, types.String), types.String, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			s, err := formatWithPattern(a[0].(*tree.DTimestamp).Time, stringOf(a[1]), false)
			if err != nil {
				return nil, err
			}
			return str(s), nil
		}),
		stable(overload(params(types.TimestampTZ, types.String), types.String, func(_ context.Context, ev *evaluator, a tree.Datums) (tree.Datum, error) {
			s, err := formatWithPattern(a[0].(*tree.DTimestampTZ).Time.In(ev.ec.location()), stringOf(a[1]), true)
			if err != nil {
				return nil, err
			}
			return str(s), nil
		})),
		overload(params(types.Date, types.String), types.String, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			t, err := dateToTime(a[0].(*tree.DDate).Date)
			if err != nil {
				return nil, err
			}
			s, err := formatWithPattern(t, stringOf(a[1]), false)
			if err != nil {
				return nil, err
			}
			return str(s), nil
		})),
	"make_date": def("date and time",
		overload(params(types.Int, types.Int, types.Int), types.Date, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			t, err := makeDate(intOf(a[0]), intOf(a[1]), intOf(a[2]))
			if err != nil {
				return nil, err
			}
			return dateFromTime(t)
		})),
	"make_timestamp": def("date and time",
		overload(params(types.Int, types.Int, types.Int, types.Int, types.Int, types.Float), types.Timestamp,
			func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
				t, err := makeTimestamp(a)
				if err != nil {
					return nil, err
				}
				return newTimestamp(t)
			})),
	"make_timestamptz": def("date and time",
		stable(overload(params(types.Int, types.Int, types.Int, types.Int, types.Int, types.Float), types.TimestampTZ,
			func(_ context.Context, ev *evaluator, a tree.Datums) (tree.Datum, error) {
				t, err := makeTimestamp(a)
				if err != nil {
					return nil, err
				}
				ts := &tree.DTimestamp{Time: t}
				return ts.AddTimeZone(ev.ec.location(), time.Microsecond)
			}))),
	"timezone": def("date and time",
		overload(params(types.String, types.Timestamp), types.TimestampTZ, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			loc, err := loadZone(stringOf(a[0]))
			if err != nil {
				return nil, err
			}
			return a[1].(*tree.DTimestamp).AddTimeZone(loc, time.Microsecond)
		}),
		overload(params(types.String, types.TimestampTZ), types.Timestamp, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			loc, err := loadZone(stringOf(a[0]))
			if err != nil {
				return nil, err
			}
			return a[1].(*tree.DTimestampTZ).EvalAtAndRemoveTimeZone(loc, time.Microsecond)
		})),
	"justify_days": def("date and time",
		overload(params(types.Interval), types.Interval, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			d := durOf(a[0])
			return newInterval(duration.MakeDuration(d.Nanos(), d.Days%30, d.Months+d.Days/30)), nil
		})),
	"justify_hours": def("date and time",
		overload(params(types.Interval), types.Interval, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			d := durOf(a[0])
			return newInterval(duration.MakeDurationJustifyHours(d.Nanos(), d.Days, d.Months)), nil
		})),
}
