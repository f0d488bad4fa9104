package sem

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
)

// This file implements the common subset of PostgreSQL's date/time
// formatting templates for to_char, to_timestamp and to_date: year, month,
// day, hour, minute, second and fraction fields, month and day names,
// AM/PM, ISO week fields, time zone, the FM modifier and quoted literals.
// Anything else in a template is copied (to_char) or must match a
// separator (to_timestamp), as in PostgreSQL.

// dtPatterns lists the template keywords, longest first so that the
// tokenizer takes the longest match.
var dtPatterns = []string{
	"YYYY", "IYYY", "HH24", "HH12", "Month", "MONTH", "month", "A.M.", "P.M.", "a.m.", "p.m.",
	"SSSS", "YYY", "IYY", "MON", "Mon", "mon", "DAY", "Day", "day", "DDD", "IDDD",
	"TZH", "TZM", "YY", "IY", "HH", "MI", "SS", "MS", "US", "AM", "PM", "am", "pm", "MM", "DD",
	"DY", "Dy", "dy", "ID", "IW", "WW", "CC", "TZ", "tz", "OF", "Y", "I", "D", "W", "Q", "J",
}

type dtToken struct {
	pattern string // keyword, or "" for literal text
	literal string
	fm      bool // FM: no padding
}

func tokenizeDateTimeFormat(f string) []dtToken {
	var toks []dtToken
	for i := 0; i < len(f); {
		fm := false
		if strings.HasPrefix(f[i:], "FM") {
			fm = true
			i += 2
		}
		if i < len(f) && f[i] == '"' {
			j := i + 1
			var lit strings.Builder
			for j < len(f) && f[j] != '"' {
				if f[j] == '\\' && j+1 < len(f) {
					j++
				}
				lit.WriteByte(f[j])
				j++
			}
			toks = append(toks, dtToken{literal: lit.String()})
			i = j + 1
			continue
		}
		matched := ""
		for _, p := range dtPatterns {
			if strings.HasPrefix(f[i:], p) {
				matched = p
				break
			}
		}
		if matched == "" {
			if fm {
				toks = append(toks, dtToken{literal: "FM"})
			}
			if i < len(f) {
				if f[i] == '\\' && i+1 < len(f) {
					i++
				}
				toks = append(toks, dtToken{literal: f[i : i+1]})
				i++
			}
			continue
		}
		toks = append(toks, dtToken{pattern: matched, fm: fm})
		i += len(matched)
	}
	return toks
}

func pad(n int, width int, fm bool) string {
	if fm {
		return strconv.Itoa(n)
	}
	s := strconv.Itoa(abs(n))
	for len(s) < width {
		s = "0" + s
	}
	if n < 0 {
		s = "-" + s
	}
	return s
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func caseLike(pattern, s string) string {
	switch {
	case pattern == strings.ToUpper(pattern):
		return strings.ToUpper(s)
	case pattern == strings.ToLower(pattern):
		return strings.ToLower(s)
	}
	return s
}

// formatWithPattern is to_char(timestamp, template).
func formatWithPattern(t time.Time, f string, withZone bool) (string, error) {
	var b strings.Builder
	year := t.Year()
	isoYear, isoWeek := t.ISOWeek()
	hour12 := t.Hour() % 12
	if hour12 == 0 {
		hour12 = 12
	}
	for _, tok := range tokenizeDateTimeFormat(f) {
		if tok.pattern == "" {
			b.WriteString(tok.literal)
			continue
		}
		switch tok.pattern {
		case "YYYY":
			b.WriteString(pad(year, 4, tok.fm))
		case "YYY":
			b.WriteString(pad(year%1000, 3, tok.fm))
		case "YY":
			b.WriteString(pad(year%100, 2, tok.fm))
		case "Y":
			b.WriteString(strconv.Itoa(year % 10))
		case "IYYY":
			b.WriteString(pad(isoYear, 4, tok.fm))
		case "IYY":
			b.WriteString(pad(isoYear%1000, 3, tok.fm))
		case "IY":
			b.WriteString(pad(isoYear%100, 2, tok.fm))
		case "I":
			b.WriteString(strconv.Itoa(isoYear % 10))
		case "HH", "HH12":
			b.WriteString(pad(hour12, 2, tok.fm))
		case "HH24":
			b.WriteString(pad(t.Hour(), 2, tok.fm))
		case "MI":
			b.WriteString(pad(t.Minute(), 2, tok.fm))
		case "SS":
			b.WriteString(pad(t.Second(), 2, tok.fm))
		case "SSSS":
			b.WriteString(strconv.Itoa(t.Hour()*3600 + t.Minute()*60 + t.Second()))
		case "MS":
			b.WriteString(pad(t.Nanosecond()/1e6, 3, tok.fm))
		case "US":
			b.WriteString(pad(t.Nanosecond()/1e3, 6, tok.fm))
		case "AM", "PM", "am", "pm":
			s := "AM"
			if t.Hour() >= 12 {
				s = "PM"
			}
			b.WriteString(caseLike(tok.pattern, s))
		case "A.M.", "P.M.", "a.m.", "p.m.":
			s := "A.M."
			if t.Hour() >= 12 {
				s = "P.M."
			}
			b.WriteString(caseLike(tok.pattern, s))
		case "MONTH", "Month", "month":
			s := caseLike(tok.pattern, t.Month().String())
			if !tok.fm {
				s = fmt.Sprintf("%-9s", s)
			}
			b.WriteString(s)
		case "MON", "Mon", "mon":
			b.WriteString(caseLike(tok.pattern, t.Month().String()[:3]))
		case "MM":
			b.WriteString(pad(int(t.Month()), 2, tok.fm))
		case "DAY", "Day", "day":
			s := caseLike(tok.pattern, t.Weekday().String())
			if !tok.fm {
				s = fmt.Sprintf("%-9s", s)
			}
			b.WriteString(s)
		case "DY", "Dy", "dy":
			b.WriteString(caseLike(tok.pattern, t.Weekday().String()[:3]))
		case "DDD":
			b.WriteString(pad(t.YearDay(), 3, tok.fm))
		case "IDDD":
			wd := (int(t.Weekday()) + 6) % 7
			b.WriteString(pad((isoWeek-1)*7+wd+1, 3, tok.fm))
		case "DD":
			b.WriteString(pad(t.Day(), 2, tok.fm))
		case "D":
			b.WriteString(strconv.Itoa(int(t.Weekday()) + 1))
		case "ID":
			wd := int(t.Weekday())
			if wd == 0 {
				wd = 7
			}
			b.WriteString(strconv.Itoa(wd))
		case "W":
			b.WriteString(strconv.Itoa((t.Day()-1)/7 + 1))
		case "WW":
			b.WriteString(pad((t.YearDay()-1)/7+1, 2, tok.fm))
		case "IW":
			b.WriteString(pad(isoWeek, 2, tok.fm))
		case "CC":
			cc := (year-1)/100 + 1
			if year <= 0 {
				cc = -((99 - (year - 1)) / 100)
			}
			b.WriteString(pad(cc, 2, tok.fm))
		case "Q":
			b.WriteString(strconv.Itoa((int(t.Month())-1)/3 + 1))
		case "J":
			b.WriteString(strconv.FormatInt(julianDay(t), 10))
		case "TZ", "tz":
			if withZone {
				name, _ := t.Zone()
				b.WriteString(caseLike(tok.pattern, name))
			}
		case "OF", "TZH", "TZM":
			if !withZone {
				break
			}
			_, off := t.Zone()
			sign := "+"
			if off < 0 {
				sign, off = "-", -off
			}
			switch tok.pattern {
			case "TZH":
				b.WriteString(sign + pad(off/3600, 2, false))
			case "TZM":
				b.WriteString(pad((off/60)%60, 2, false))
			default:
				b.WriteString(sign + pad(off/3600, 2, false))
				if m := (off / 60) % 60; m != 0 {
					b.WriteString(":" + pad(m, 2, false))
				}
			}
		}
	}
	return b.String(), nil
}

// julianDay is the Julian day number of t's date.
func julianDay(t time.Time) int64 {
	y, m, d := t.Date()
	a := (14 - int(m)) / 12
	yy := int64(y + 4800 - a)
	mm := int64(int(m) + 12*a - 3)
	return int64(d) + (153*mm+2)/5 + 365*yy + yy/4 - yy/100 + yy/400 - 32045
}

func invalidFormatValue(s, f string) error {
	return pgerror.Newf(pgcode.InvalidDatetimeFormat, "invalid value %q for %q", s, f)
}

// parseWithFormat is to_timestamp(text, template): fields missing from the
// template default to the start of their range (year 1, January, day 1,
// midnight). The result is in loc unless the input carries a zone offset.
func parseWithFormat(s, f string, loc *time.Location) (time.Time, error) {
	year, month, day := 1, 1, 1
	hour, minute, sec, nanos := 0, 0, 0, 0
	pm, hasAMPM, hour12 := false, false, false
	var offset *int
	pos := 0
	skipSpaces := func() {
		for pos < len(s) && s[pos] == ' ' {
			pos++
		}
	}
	readInt := func(maxDigits int, name string) (int, error) {
		skipSpaces()
		start := pos
		if pos < len(s) && (s[pos] == '-' || s[pos] == '+') {
			pos++
		}
		for pos < len(s) && pos-start < maxDigits && s[pos] >= '0' && s[pos] <= '9' {
			pos++
		}
		n, err := strconv.Atoi(s[start:pos])
		if err != nil {
			return 0, invalidFormatValue(s[start:], name)
		}
		return n, nil
	}
	readName := func(names func(i int) string, count int, name string, abbrev bool) (int, error) {
		skipSpaces()
		rest := strings.ToLower(s[pos:])
		for i := 0; i < count; i++ {
			n := strings.ToLower(names(i))
			if abbrev {
				n = n[:3]
			}
			if strings.HasPrefix(rest, n) {
				pos += len(n)
				return i, nil
			}
		}
		return 0, invalidFormatValue(s[pos:], name)
	}
	toks := tokenizeDateTimeFormat(f)
	for i, tok := range toks {
		// A field directly followed by another field (YYYYMMDD) takes only
		// its nominal width; otherwise YYYY may have more digits.
		adjacent := i+1 < len(toks) && toks[i+1].pattern != ""
		var err error
		switch tok.pattern {
		case "":
			// A separator in the template matches any single non-alphanumeric
			// character of the input (or nothing at the end).
			for range tok.literal {
				if pos < len(s) && !isAlnum(s[pos]) {
					pos++
				}
			}
		case "YYYY", "IYYY":
			width := 6
			if adjacent {
				width = 4
			}
			year, err = readInt(width, tok.pattern)
		case "YYY", "IYY":
			year, err = readInt(3, tok.pattern)
			year += 2000
			if year > 2069 {
				year -= 1000
			}
		case "YY", "IY":
			year, err = readInt(2, tok.pattern)
			if year < 70 {
				year += 2000
			} else {
				year += 1900
			}
		case "MM":
			month, err = readInt(2, tok.pattern)
		case "DD":
			day, err = readInt(2, tok.pattern)
		case "HH", "HH12":
			hour, err = readInt(2, tok.pattern)
			hour12 = true
		case "HH24":
			hour, err = readInt(2, tok.pattern)
		case "MI":
			minute, err = readInt(2, tok.pattern)
		case "SS":
			sec, err = readInt(2, tok.pattern)
		case "MS":
			var ms int
			ms, err = readInt(3, tok.pattern)
			nanos += ms * 1e6
		case "US":
			var us int
			us, err = readInt(6, tok.pattern)
			nanos += us * 1e3
		case "AM", "PM", "am", "pm", "A.M.", "P.M.", "a.m.", "p.m.":
			skipSpaces()
			rest := strings.ToUpper(s[pos:])
			hasAMPM = true
			switch {
			case strings.HasPrefix(rest, "A.M."), strings.HasPrefix(rest, "P.M."):
				pm = rest[0] == 'P'
				pos += 4
			case strings.HasPrefix(rest, "AM"), strings.HasPrefix(rest, "PM"):
				pm = rest[0] == 'P'
				pos += 2
			default:
				err = invalidFormatValue(s[pos:], tok.pattern)
			}
		case "MONTH", "Month", "month":
			var m int
			m, err = readName(func(i int) string { return time.Month(i + 1).String() }, 12, tok.pattern, false)
			month = m + 1
		case "MON", "Mon", "mon":
			var m int
			m, err = readName(func(i int) string { return time.Month(i + 1).String() }, 12, tok.pattern, true)
			month = m + 1
		case "DAY", "Day", "day":
			_, err = readName(func(i int) string { return time.Weekday(i).String() }, 7, tok.pattern, false)
		case "DY", "Dy", "dy":
			_, err = readName(func(i int) string { return time.Weekday(i).String() }, 7, tok.pattern, true)
		case "TZH":
			var h int
			h, err = readInt(3, tok.pattern)
			o := h * 3600
			offset = &o
		case "TZM":
			var m int
			m, err = readInt(2, tok.pattern)
			if offset == nil {
				o := 0
				offset = &o
			}
			if *offset < 0 {
				*offset -= m * 60
			} else {
				*offset += m * 60
			}
		default:
			return time.Time{}, pgerror.Newf(pgcode.FeatureNotSupported,
				"formatting field %q is only supported in to_char", tok.pattern)
		}
		if err != nil {
			return time.Time{}, err
		}
	}
	if hour12 || hasAMPM {
		if hour < 1 || hour > 12 {
			return time.Time{}, pgerror.Newf(pgcode.InvalidDatetimeFormat,
				"hour \"%d\" is invalid for the 12-hour clock", hour)
		}
		hour %= 12
		if pm {
			hour += 12
		}
	}
	if month < 1 || month > 12 || day < 1 || day > 31 || hour > 24 || minute > 59 || sec > 60 {
		return time.Time{}, pgerror.Newf(pgcode.DatetimeFieldOverflow,
			"date/time field value out of range: %q", s)
	}
	if offset != nil {
		loc = time.FixedZone("", *offset)
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nanos, loc)
	if t.Day() != day {
		return time.Time{}, pgerror.Newf(pgcode.DatetimeFieldOverflow,
			"date/time field value out of range: %q", s)
	}
	return t, nil
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
