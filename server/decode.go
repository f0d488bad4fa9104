package server

import (
	"encoding/binary"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/duration"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/json"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/timeutil/pgdate"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/uuid"
	"github.com/cockroachdb/errors"
	"github.com/lib/pq/oid"
)

// parseContext is the tree.ParseContext for text parameters: the session's
// time zone (for timestamptz without an offset and for 'now'), DateStyle
// and IntervalStyle.
type parseContext struct {
	now           time.Time
	dateStyle     pgdate.DateStyle
	intervalStyle duration.IntervalStyle
	collation     tree.CollationEnvironment
	helper        pgdate.ParseHelper
}

var _ tree.ParseContext = (*parseContext)(nil)

func (p *parseContext) GetRelativeParseTime() time.Time             { return p.now }
func (p *parseContext) GetCollationEnv() *tree.CollationEnvironment { return &p.collation }
func (p *parseContext) GetIntervalStyle() duration.IntervalStyle    { return p.intervalStyle }
func (p *parseContext) GetDateStyle() pgdate.DateStyle              { return p.dateStyle }
func (p *parseContext) GetDateHelper() *pgdate.ParseHelper          { return &p.helper }

// decodeParam decodes the i-th (0-based) Bind parameter of type t in the
// given format. Errors carry SQLSTATE 22P02/22P03/22021 and name the
// parameter as PostgreSQL does ($1 is the first).
func (c *conn) decodeParam(i int, t *types.T, format int16, b []byte) (tree.Datum, error) {
	var d tree.Datum
	var err error
	switch format {
	case formatText:
		d, err = c.decodeTextParam(t, b)
	case formatBinary:
		d, err = decodeBinaryParam(t, b)
	default:
		return nil, pgerror.Newf(pgcode.ProtocolViolation, "unsupported format code %d for parameter $%d", format, i+1)
	}
	if err != nil {
		code := pgerror.GetPGCode(err)
		if code == pgcode.Uncategorized {
			code = pgcode.InvalidParameterValue
		}
		return nil, pgerror.Wrapf(err, code, "error in argument for $%d", i+1)
	}
	return d, nil
}

func (c *conn) decodeTextParam(t *types.T, b []byte) (tree.Datum, error) {
	if !utf8.Valid(b) {
		return nil, pgerror.Newf(pgcode.CharacterNotInRepertoire, "invalid byte sequence for encoding \"UTF8\"")
	}
	s := string(b)
	switch t.Family() {
	case types.UnknownFamily, types.AnyFamily:
		return tree.NewDString(s), nil
	case types.BytesFamily:
		// PostgreSQL's bytea input accepts the hex form (\x...) and the
		// escape form; ParseDByte handles both.
		return tree.ParseDByte(s)
	}
	if c.parseCtx.now.IsZero() {
		c.parseCtx.now = time.Now().In(c.enc.loc)
		defer func() { c.parseCtx.now = time.Time{} }()
	}
	d, _, err := tree.ParseAndRequireString(t, s, &c.parseCtx)
	if err != nil {
		return nil, err
	}
	if t.Family() == types.IntFamily {
		if err := checkIntWidth(d, t); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// checkIntWidth reports an integer parameter out of its column's range,
// as PostgreSQL's int2in/int4in do.
func checkIntWidth(d tree.Datum, t *types.T) error {
	v, ok := d.(*tree.DInt)
	if !ok {
		return nil
	}
	switch t.Width() {
	case 16:
		if int64(*v) < math.MinInt16 || int64(*v) > math.MaxInt16 {
			return pgerror.Newf(pgcode.NumericValueOutOfRange, "value %d is out of range for type smallint", int64(*v))
		}
	case 32:
		if int64(*v) < math.MinInt32 || int64(*v) > math.MaxInt32 {
			return pgerror.Newf(pgcode.NumericValueOutOfRange, "value %d is out of range for type integer", int64(*v))
		}
	}
	return nil
}

func badBinary(t *types.T, b []byte) error {
	return pgerror.Newf(pgcode.InvalidBinaryRepresentation,
		"incorrect binary data format for type %s (%d bytes)", t.SQLStringForError(), len(b))
}

// decodeBinaryParam decodes PostgreSQL's binary send format of t.
func decodeBinaryParam(t *types.T, b []byte) (tree.Datum, error) {
	switch t.Oid() {
	case oid.T_bool:
		if len(b) != 1 {
			return nil, badBinary(t, b)
		}
		return tree.MakeDBool(b[0] != 0), nil
	case oid.T_int2, oid.T_int4, oid.T_int8:
		// Accept any integer width: a client may bind an int4 value to an
		// int8 parameter it learnt from ParameterDescription.
		switch len(b) {
		case 2:
			return tree.NewDInt(tree.DInt(int16(binary.BigEndian.Uint16(b)))), nil
		case 4:
			return tree.NewDInt(tree.DInt(int32(binary.BigEndian.Uint32(b)))), nil
		case 8:
			d := tree.NewDInt(tree.DInt(int64(binary.BigEndian.Uint64(b))))
			return d, checkIntWidth(d, t)
		}
		return nil, badBinary(t, b)
	case oid.T_oid:
		if len(b) != 4 {
			return nil, badBinary(t, b)
		}
		return tree.NewDOid(oid.Oid(binary.BigEndian.Uint32(b))), nil
	case oid.T_float4, oid.T_float8:
		switch len(b) {
		case 4:
			return tree.NewDFloat(tree.DFloat(math.Float32frombits(binary.BigEndian.Uint32(b)))), nil
		case 8:
			return tree.NewDFloat(tree.DFloat(math.Float64frombits(binary.BigEndian.Uint64(b)))), nil
		}
		return nil, badBinary(t, b)
	case oid.T_numeric:
		return decodeNumericBinary(t, b)
	case oid.T_text, oid.T_varchar, oid.T_bpchar, oid.T_name, oid.T_unknown, oid.T_char:
		if !utf8.Valid(b) {
			return nil, pgerror.Newf(pgcode.CharacterNotInRepertoire, "invalid byte sequence for encoding \"UTF8\"")
		}
		return tree.NewDString(string(b)), nil
	case oid.T_bytea:
		return tree.NewDBytes(tree.DBytes(b)), nil
	case oid.T_date:
		if len(b) != 4 {
			return nil, badBinary(t, b)
		}
		days := int32(binary.BigEndian.Uint32(b))
		date, err := pgdate.MakeDateFromPGEpoch(days)
		if err != nil {
			return nil, err
		}
		return tree.NewDDate(date), nil
	case oid.T_timestamp, oid.T_timestamptz:
		if len(b) != 8 {
			return nil, badBinary(t, b)
		}
		ts := pgMicrosToTime(int64(binary.BigEndian.Uint64(b)))
		if t.Oid() == oid.T_timestamp {
			return tree.MakeDTimestamp(ts, time.Microsecond)
		}
		return tree.MakeDTimestampTZ(ts, time.Microsecond)
	case oid.T_interval:
		if len(b) != 16 {
			return nil, badBinary(t, b)
		}
		micros := int64(binary.BigEndian.Uint64(b))
		days := int32(binary.BigEndian.Uint32(b[8:]))
		months := int32(binary.BigEndian.Uint32(b[12:]))
		if micros > math.MaxInt64/1000 || micros < math.MinInt64/1000 {
			return nil, pgerror.Newf(pgcode.IntervalFieldOverflow, "interval out of range")
		}
		return &tree.DInterval{Duration: duration.MakeDuration(micros*1000, int64(days), int64(months))}, nil
	case oid.T_uuid:
		u, err := uuid.FromBytes(b)
		if err != nil {
			return nil, badBinary(t, b)
		}
		return tree.NewDUuid(tree.DUuid{UUID: u}), nil
	case oid.T_jsonb, oid.T_json:
		if t.Oid() == oid.T_jsonb {
			if len(b) < 1 || b[0] != 1 {
				return nil, pgerror.Newf(pgcode.InvalidBinaryRepresentation, "unsupported jsonb version number")
			}
			b = b[1:]
		}
		j, err := json.ParseJSON(string(b))
		if err != nil {
			return nil, pgerror.WithCandidateCode(err, pgcode.InvalidTextRepresentation)
		}
		return tree.NewDJSON(j), nil
	}
	return nil, pgerror.Newf(pgcode.FeatureNotSupported,
		"binary format is not supported for parameters of type %s", t.SQLStringForError())
}

func pgMicrosToTime(us int64) time.Time {
	switch us {
	case math.MaxInt64:
		return pgdate.TimeInfinity
	case math.MinInt64:
		return pgdate.TimeNegativeInfinity
	}
	return time.UnixMicro(us + pgEpochUnixMicros).UTC()
}

// decodeNumericBinary is the inverse of appendNumericBinary.
func decodeNumericBinary(t *types.T, b []byte) (tree.Datum, error) {
	if len(b) < 8 {
		return nil, badBinary(t, b)
	}
	ndigits := int(binary.BigEndian.Uint16(b))
	weight := int(int16(binary.BigEndian.Uint16(b[2:])))
	sign := binary.BigEndian.Uint16(b[4:])
	dscale := int(binary.BigEndian.Uint16(b[6:]))
	if len(b) != 8+2*ndigits || dscale > 0x3FFF {
		return nil, badBinary(t, b)
	}
	switch sign {
	case numericNaN:
		return tree.ParseDDecimal("NaN")
	case numericPinf:
		return tree.ParseDDecimal("Infinity")
	case numericNinf:
		return tree.ParseDDecimal("-Infinity")
	case numericPos, numericNeg:
	default:
		return nil, badBinary(t, b)
	}
	// Write the decimal digits of the integer and fractional parts, then
	// let the decimal parser build the value with exactly dscale
	// fractional digits.
	var intPart, fracPart strings.Builder
	for i := 0; i < ndigits; i++ {
		g := binary.BigEndian.Uint16(b[8+2*i:])
		if g >= 10000 {
			return nil, badBinary(t, b)
		}
		s := strconv.Itoa(int(g))
		pow := weight - i
		if pow >= 0 {
			if intPart.Len() > 0 {
				s = strings.Repeat("0", numericDigits-len(s)) + s
			}
			intPart.WriteString(s)
		} else {
			if fracPart.Len() == 0 {
				// Zero groups between the point and the first fractional
				// group.
				fracPart.WriteString(strings.Repeat("0", numericDigits*(-pow-1)))
			}
			fracPart.WriteString(strings.Repeat("0", numericDigits-len(s)) + s)
		}
	}
	// Integer groups not present (trailing zero groups) still count.
	if last := weight - ndigits + 1; last > 0 && intPart.Len() > 0 {
		intPart.WriteString(strings.Repeat("0", numericDigits*last))
	}
	if weight >= 0 && ndigits == 0 {
		intPart.WriteString("0")
	}
	var out strings.Builder
	if sign == numericNeg {
		out.WriteByte('-')
	}
	if intPart.Len() == 0 {
		out.WriteByte('0')
	} else {
		out.WriteString(intPart.String())
	}
	frac := fracPart.String()
	if len(frac) > dscale {
		frac = frac[:dscale]
	} else {
		frac += strings.Repeat("0", dscale-len(frac))
	}
	if dscale > 0 {
		out.WriteByte('.')
		out.WriteString(frac)
	}
	d, err := tree.ParseDDecimal(out.String())
	if err != nil {
		return nil, errors.CombineErrors(badBinary(t, b), err)
	}
	return d, nil
}
