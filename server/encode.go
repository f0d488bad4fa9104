package server

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"math"
	"strconv"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/lex"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sessiondatapb"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/timeutil/pgdate"
	"github.com/lib/pq/oid"
)

// Wire format codes (PostgreSQL's format codes in Bind and RowDescription).
const (
	formatText   int16 = 0
	formatBinary int16 = 1
)

// pgEpochUnixMicros is 2000-01-01 00:00:00 UTC, PostgreSQL's epoch for
// binary dates and timestamps, in microseconds since the Unix epoch.
const pgEpochUnixMicros = 946684800 * 1000000

// encoder turns datums into wire values. It carries the session's
// formatting settings (TimeZone, DateStyle, IntervalStyle,
// extra_float_digits, bytea_output) and scratch buffers reused for every
// value, so
// encoding a row allocates nothing for the common types. Owned by one
// connection.
type encoder struct {
	conv sessiondatapb.DataConversionConfig
	loc  *time.Location
	// scratch holds values formatted through a bytes.Buffer API (dates,
	// intervals, JSON) before they are copied to the output.
	scratch bytes.Buffer
	tmp     []byte
}

func newEncoder() *encoder {
	e := &encoder{loc: time.UTC}
	e.conv.ExtraFloatDigits = 1
	return e
}

// appendText appends d's text format for a column of type t. d is not
// NULL.
func (e *encoder) appendText(b []byte, d tree.Datum, t *types.T) []byte {
	switch v := tree.UnwrapDOidWrapper(d).(type) {
	case *tree.DBool:
		if *v {
			return append(b, 't')
		}
		return append(b, 'f')
	case *tree.DInt:
		return strconv.AppendInt(b, int64(*v), 10)
	case *tree.DFloat:
		return tree.PgwireFormatFloat(b, float64(*v), e.conv, floatType(t))
	case *tree.DDecimal:
		// CockroachDB prints decimals with apd's %G form (1E+2 for 100
		// with a positive exponent), not PostgreSQL's expanded digits.
		return v.Decimal.Append(b, 'G')
	case *tree.DString:
		return append(b, tree.ResolveBlankPaddedChar(string(*v), t)...)
	case *tree.DCollatedString:
		return append(b, tree.ResolveBlankPaddedChar(v.Contents, t)...)
	case *tree.DBytes:
		if e.conv.BytesEncodeFormat == lex.BytesEncodeEscape {
			return appendByteaEscape(b, string(*v))
		}
		// bytea_output = hex, PostgreSQL's default.
		b = append(b, '\\', 'x')
		return hex.AppendEncode(b, []byte(*v))
	case *tree.DUuid:
		var buf [36]byte
		v.UUID.StringBytes(buf[:])
		return append(b, buf[:]...)
	case *tree.DDate:
		e.scratch.Reset()
		v.Date.Format(&e.scratch)
		return append(b, e.scratch.Bytes()...)
	case *tree.DTimestamp:
		e.tmp = tree.PGWireFormatTimestamp(v.Time, nil, e.tmp[:0])
		return append(b, e.tmp...)
	case *tree.DTimestampTZ:
		e.tmp = tree.PGWireFormatTimestamp(v.Time, e.loc, e.tmp[:0])
		return append(b, e.tmp...)
	case *tree.DInterval:
		e.scratch.Reset()
		v.Duration.FormatWithStyle(&e.scratch, e.conv.IntervalStyle)
		return append(b, e.scratch.Bytes()...)
	case *tree.DJSON:
		e.scratch.Reset()
		v.JSON.Format(&e.scratch)
		return append(b, e.scratch.Bytes()...)
	default:
		// Arrays, tuples, OIDs, time of day and the rest use the
		// parser's own pgwire text formatter.
		f := tree.NewFmtCtx(tree.FmtPgwireText,
			tree.FmtDataConversionConfig(e.conv), tree.FmtLocation(e.loc))
		f.FormatNode(d)
		b = append(b, f.Bytes()...)
		f.Close()
		return b
	}
}

// appendByteaEscape appends v in PostgreSQL's escape format for bytea
// (bytea_output = escape): printable ASCII as is, a backslash doubled,
// every other byte as a backslash and three octal digits.
func appendByteaEscape(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\':
			b = append(b, '\\', '\\')
		case c < 0x20 || c > 0x7e:
			b = append(b, '\\', '0'+(c>>6), '0'+((c>>3)&7), '0'+(c&7))
		default:
			b = append(b, c)
		}
	}
	return b
}

func floatType(t *types.T) *types.T {
	if t != nil && t.Family() == types.FloatFamily {
		return t
	}
	return types.Float
}

// appendBinary appends d's binary format for a column of type t (the type
// announced in RowDescription decides the width of integers and floats).
// d is not NULL.
func (e *encoder) appendBinary(b []byte, d tree.Datum, t *types.T) ([]byte, error) {
	switch v := tree.UnwrapDOidWrapper(d).(type) {
	case *tree.DBool:
		if *v {
			return append(b, 1), nil
		}
		return append(b, 0), nil
	case *tree.DInt:
		switch t.Oid() {
		case oid.T_int2:
			return binary.BigEndian.AppendUint16(b, uint16(int16(*v))), nil
		case oid.T_int4:
			return binary.BigEndian.AppendUint32(b, uint32(int32(*v))), nil
		case oid.T_oid:
			return binary.BigEndian.AppendUint32(b, uint32(*v)), nil
		}
		return binary.BigEndian.AppendUint64(b, uint64(*v)), nil
	case *tree.DFloat:
		if t.Oid() == oid.T_float4 {
			return binary.BigEndian.AppendUint32(b, math.Float32bits(float32(*v))), nil
		}
		return binary.BigEndian.AppendUint64(b, math.Float64bits(float64(*v))), nil
	case *tree.DDecimal:
		return appendNumericBinary(b, &v.Decimal), nil
	case *tree.DString:
		return append(b, tree.ResolveBlankPaddedChar(string(*v), t)...), nil
	case *tree.DCollatedString:
		return append(b, tree.ResolveBlankPaddedChar(v.Contents, t)...), nil
	case *tree.DBytes:
		return append(b, *v...), nil
	case *tree.DUuid:
		return append(b, v.UUID[:]...), nil
	case *tree.DDate:
		return binary.BigEndian.AppendUint32(b, uint32(v.Date.PGEpochDays())), nil
	case *tree.DTimestamp:
		return binary.BigEndian.AppendUint64(b, uint64(timeToPGMicros(v.Time))), nil
	case *tree.DTimestampTZ:
		return binary.BigEndian.AppendUint64(b, uint64(timeToPGMicros(v.Time))), nil
	case *tree.DInterval:
		b = binary.BigEndian.AppendUint64(b, uint64(v.Duration.Nanos()/int64(time.Microsecond)))
		b = binary.BigEndian.AppendUint32(b, uint32(int32(v.Duration.Days)))
		return binary.BigEndian.AppendUint32(b, uint32(int32(v.Duration.Months))), nil
	case *tree.DJSON:
		if t.Oid() != oid.T_json {
			// jsonb's binary format is a version byte, then the text.
			b = append(b, 1)
		}
		e.scratch.Reset()
		v.JSON.Format(&e.scratch)
		return append(b, e.scratch.Bytes()...), nil
	case *tree.DOid:
		return binary.BigEndian.AppendUint32(b, uint32(v.Oid)), nil
	case *tree.DArray:
		return e.appendArrayBinary(b, v, t)
	}
	return b, pgerror.Newf(pgcode.FeatureNotSupported,
		"binary format is not supported for type %s", t.SQLStringForError())
}

// appendArrayBinary writes a one-dimensional array in PostgreSQL's binary
// array format: dimensions, a has-nulls flag, the element OID, then each
// element length-prefixed (-1 for NULL).
func (e *encoder) appendArrayBinary(b []byte, a *tree.DArray, t *types.T) ([]byte, error) {
	elemType := a.ParamTyp
	if t.Family() == types.ArrayFamily {
		elemType = t.ArrayContents()
	}
	ndims := uint32(1)
	if len(a.Array) == 0 {
		ndims = 0
	}
	b = binary.BigEndian.AppendUint32(b, ndims)
	hasNulls := uint32(0)
	if a.HasNulls {
		hasNulls = 1
	}
	b = binary.BigEndian.AppendUint32(b, hasNulls)
	b = binary.BigEndian.AppendUint32(b, uint32(elemType.Oid()))
	if ndims == 1 {
		b = binary.BigEndian.AppendUint32(b, uint32(len(a.Array)))
		b = binary.BigEndian.AppendUint32(b, 1) // lower bound
	}
	for _, elem := range a.Array {
		if elem == tree.DNull {
			b = binary.BigEndian.AppendUint32(b, math.MaxUint32)
			continue
		}
		pos := len(b)
		b = append(b, 0, 0, 0, 0)
		var err error
		if b, err = e.appendBinary(b, elem, elemType); err != nil {
			return b, err
		}
		binary.BigEndian.PutUint32(b[pos:], uint32(len(b)-pos-4))
	}
	return b, nil
}

// timeToPGMicros converts a time to microseconds since 2000-01-01 UTC,
// with PostgreSQL's sentinels for infinity.
func timeToPGMicros(t time.Time) int64 {
	switch {
	case t.Equal(pgdate.TimeInfinity):
		return math.MaxInt64
	case t.Equal(pgdate.TimeNegativeInfinity):
		return math.MinInt64
	}
	return t.UnixMicro() - pgEpochUnixMicros
}

// PostgreSQL numeric sign words (utils/adt/numeric.c).
const (
	numericPos    = 0x0000
	numericNeg    = 0x4000
	numericNaN    = 0xC000
	numericPinf   = 0xD000
	numericNinf   = 0xF000
	numericDigits = 4 // decimal digits per base-10000 digit
)

// appendNumericBinary writes d in PostgreSQL's binary numeric format:
// ndigits, weight, sign and dscale (int16 each), then ndigits base-10000
// digits, most significant first. The value is sum(digit[i] *
// 10000^(weight-i)); dscale is the number of decimal digits after the
// point. Trailing zero base-10000 digits are dropped, as PostgreSQL does.
func appendNumericBinary(b []byte, d *apd.Decimal) []byte {
	switch d.Form {
	case apd.NaN, apd.NaNSignaling:
		return appendNumericHeader(b, 0, 0, numericNaN, 0)
	case apd.Infinite:
		if d.Negative {
			return appendNumericHeader(b, 0, 0, numericNinf, 0)
		}
		return appendNumericHeader(b, 0, 0, numericPinf, 0)
	}
	sign := uint16(numericPos)
	if d.Negative {
		sign = numericNeg
	}
	dscale := int32(0)
	if d.Exponent < 0 {
		dscale = -d.Exponent
	}
	var coeffBuf [64]byte
	coeff := d.Coeff.Append(coeffBuf[:0], 10)
	if len(coeff) == 1 && coeff[0] == '0' {
		return appendNumericHeader(b, 0, 0, sign, uint16(dscale))
	}
	// The coefficient's first digit has decimal power p0; digit of power p
	// belongs to base-10000 digit floor(p/4).
	exp := int(d.Exponent)
	p0 := len(coeff) - 1 + exp
	weight := floorDiv(p0, numericDigits)
	last := floorDiv(exp, numericDigits)
	n := weight - last + 1
	var groupsBuf [32]uint16
	var groups []uint16
	if n <= len(groupsBuf) {
		groups = groupsBuf[:n]
	} else {
		groups = make([]uint16, n)
	}
	for i, c := range coeff {
		p := p0 - i
		g := floorDiv(p, numericDigits)
		groups[weight-g] += uint16(c-'0') * pow10u16[p-g*numericDigits]
	}
	for len(groups) > 0 && groups[len(groups)-1] == 0 {
		groups = groups[:len(groups)-1]
	}
	b = appendNumericHeader(b, uint16(len(groups)), uint16(int16(weight)), sign, uint16(dscale))
	for _, g := range groups {
		b = binary.BigEndian.AppendUint16(b, g)
	}
	return b
}

var pow10u16 = [numericDigits]uint16{1, 10, 100, 1000}

func appendNumericHeader(b []byte, ndigits, weight, sign, dscale uint16) []byte {
	b = binary.BigEndian.AppendUint16(b, ndigits)
	b = binary.BigEndian.AppendUint16(b, weight)
	b = binary.BigEndian.AppendUint16(b, sign)
	return binary.BigEndian.AppendUint16(b, dscale)
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// typeSize is RowDescription's data type size: the fixed width of the
// type's storage, or -1 for variable-length types.
func typeSize(t *types.T) int16 {
	switch t.Oid() {
	case oid.T_bool, oid.T_char:
		return 1
	case oid.T_int2:
		return 2
	case oid.T_int4, oid.T_float4, oid.T_date, oid.T_oid:
		return 4
	case oid.T_int8, oid.T_float8, oid.T_timestamp, oid.T_timestamptz, oid.T_time:
		return 8
	case oid.T_interval, oid.T_uuid:
		return 16
	case oid.T_timetz:
		return 12
	}
	return -1
}
