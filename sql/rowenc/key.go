package rowenc

import (
	"github.com/cockroachdb/apd/v3"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/duration"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/encoding"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/timeofday"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/timeutil/pgdate"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/uuid"
	"github.com/cockroachdb/errors"
)

// Direction is the order of a key column.
type Direction bool

const (
	// Ascending keys sort NULL first, then increasing values.
	Ascending Direction = false
	// Descending keys sort decreasing values, then NULL last.
	Descending Direction = true
)

// IsKeyType reports whether columns of type t can be key columns of an index.
func IsKeyType(t *types.T) bool {
	switch t.Family() {
	case types.BoolFamily, types.IntFamily, types.FloatFamily, types.DecimalFamily,
		types.StringFamily, types.BytesFamily, types.DateFamily, types.TimestampFamily,
		types.TimestampTZFamily, types.IntervalFamily, types.UuidFamily, types.TimeFamily,
		types.OidFamily:
		return true
	}
	return false
}

// IsComposite reports whether the key encoding of type t can lose
// information that the value has: a decimal key keeps the number but not its
// trailing zeros (1.50 and 1.5 have one key) and a float key makes -0 into 0.
// Index entries store such key columns in their value as well, and readers
// take the value's form.
func IsComposite(t *types.T) bool {
	switch t.Family() {
	case types.DecimalFamily, types.FloatFamily:
		return true
	}
	return false
}

// EncodeKey appends the order-preserving encoding of d in direction dir.
func EncodeKey(b []byte, d tree.Datum, dir Direction) ([]byte, error) {
	if d == tree.DNull {
		if dir == Descending {
			return encoding.EncodeNullDescending(b), nil
		}
		return encoding.EncodeNullAscending(b), nil
	}
	desc := dir == Descending
	switch t := d.(type) {
	case *tree.DBool:
		v := int64(0)
		if *t {
			v = 1
		}
		return encodeVarint(b, v, desc), nil
	case *tree.DInt:
		return encodeVarint(b, int64(*t), desc), nil
	case *tree.DOid:
		return encodeVarint(b, int64(t.Oid), desc), nil
	case *tree.DFloat:
		if desc {
			return encoding.EncodeFloatDescending(b, float64(*t)), nil
		}
		return encoding.EncodeFloatAscending(b, float64(*t)), nil
	case *tree.DDecimal:
		if desc {
			return encoding.EncodeDecimalDescending(b, &t.Decimal), nil
		}
		return encoding.EncodeDecimalAscending(b, &t.Decimal), nil
	case *tree.DString:
		if desc {
			return encoding.EncodeStringDescending(b, string(*t)), nil
		}
		return encoding.EncodeStringAscending(b, string(*t)), nil
	case *tree.DBytes:
		if desc {
			return encoding.EncodeStringDescending(b, string(*t)), nil
		}
		return encoding.EncodeStringAscending(b, string(*t)), nil
	case *tree.DDate:
		return encodeVarint(b, t.UnixEpochDaysWithOrig(), desc), nil
	case *tree.DTimestamp:
		if desc {
			return encoding.EncodeTimeDescending(b, t.Time), nil
		}
		return encoding.EncodeTimeAscending(b, t.Time), nil
	case *tree.DTimestampTZ:
		if desc {
			return encoding.EncodeTimeDescending(b, t.Time), nil
		}
		return encoding.EncodeTimeAscending(b, t.Time), nil
	case *tree.DInterval:
		if desc {
			return encoding.EncodeDurationDescending(b, t.Duration)
		}
		return encoding.EncodeDurationAscending(b, t.Duration)
	case *tree.DUuid:
		if desc {
			return encoding.EncodeBytesDescending(b, t.GetBytes()), nil
		}
		return encoding.EncodeBytesAscending(b, t.GetBytes()), nil
	case *tree.DTime:
		return encodeVarint(b, int64(*t), desc), nil
	}
	return nil, pgerror.Newf(pgcode.FeatureNotSupported,
		"unsupported key column type %s", d.ResolvedType().SQLStringForError())
}

func encodeVarint(b []byte, v int64, desc bool) []byte {
	if desc {
		return encoding.EncodeVarintDescending(b, v)
	}
	return encoding.EncodeVarintAscending(b, v)
}

func decodeVarint(b []byte, desc bool) ([]byte, int64, error) {
	if desc {
		return encoding.DecodeVarintDescending(b)
	}
	return encoding.DecodeVarintAscending(b)
}

// DecodeKey decodes one key column of type t written by EncodeKey and returns
// the rest of the key.
func DecodeKey(a *tree.DatumAlloc, t *types.T, b []byte, dir Direction) (_ tree.Datum, _ []byte, retErr error) {
	defer recoverDecodeError(&retErr)
	if rest, isNull := encoding.DecodeIfNull(b); isNull {
		return tree.DNull, rest, nil
	}
	desc := dir == Descending
	var err error
	switch t.Family() {
	case types.BoolFamily:
		var v int64
		if b, v, err = decodeVarint(b, desc); err != nil {
			return nil, nil, err
		}
		return tree.MakeDBool(v != 0), b, nil
	case types.IntFamily:
		var v int64
		if b, v, err = decodeVarint(b, desc); err != nil {
			return nil, nil, err
		}
		return a.NewDInt(tree.DInt(v)), b, nil
	case types.OidFamily:
		var v int64
		if b, v, err = decodeVarint(b, desc); err != nil {
			return nil, nil, err
		}
		return tree.NewDOid(oidFromInt(v)), b, nil
	case types.FloatFamily:
		var f float64
		if desc {
			b, f, err = encoding.DecodeFloatDescending(b)
		} else {
			b, f, err = encoding.DecodeFloatAscending(b)
		}
		if err != nil {
			return nil, nil, err
		}
		return a.NewDFloat(tree.DFloat(f)), b, nil
	case types.DecimalFamily:
		var dec apd.Decimal
		if desc {
			b, dec, err = encoding.DecodeDecimalDescending(b, nil)
		} else {
			b, dec, err = encoding.DecodeDecimalAscending(b, nil)
		}
		if err != nil {
			return nil, nil, err
		}
		d := a.NewDDecimal(tree.DDecimal{})
		d.Decimal.Set(&dec)
		return d, b, nil
	case types.StringFamily, types.BytesFamily:
		var s []byte
		if desc {
			b, s, err = encoding.DecodeBytesDescending(b, nil)
		} else {
			b, s, err = encoding.DecodeBytesAscending(b, nil)
		}
		if err != nil {
			return nil, nil, err
		}
		if t.Family() == types.BytesFamily {
			return a.NewDBytes(tree.DBytes(s)), b, nil
		}
		return a.NewDString(tree.DString(s)), b, nil
	case types.DateFamily:
		var v int64
		if b, v, err = decodeVarint(b, desc); err != nil {
			return nil, nil, err
		}
		return a.NewDDate(tree.MakeDDate(pgdate.MakeCompatibleDateFromDisk(v))), b, nil
	case types.TimestampFamily, types.TimestampTZFamily:
		if desc {
			rest, ts, err := encoding.DecodeTimeDescending(b)
			if err != nil {
				return nil, nil, err
			}
			return makeTimestamp(a, t, ts), rest, nil
		}
		rest, ts, err := encoding.DecodeTimeAscending(b)
		if err != nil {
			return nil, nil, err
		}
		return makeTimestamp(a, t, ts), rest, nil
	case types.IntervalFamily:
		var d duration.Duration
		if desc {
			b, d, err = encoding.DecodeDurationDescending(b)
		} else {
			b, d, err = encoding.DecodeDurationAscending(b)
		}
		if err != nil {
			return nil, nil, err
		}
		return a.NewDInterval(tree.DInterval{Duration: d}), b, nil
	case types.UuidFamily:
		var s []byte
		if desc {
			b, s, err = encoding.DecodeBytesDescending(b, nil)
		} else {
			b, s, err = encoding.DecodeBytesAscending(b, nil)
		}
		if err != nil {
			return nil, nil, err
		}
		u, err := uuid.FromBytes(s)
		if err != nil {
			return nil, nil, err
		}
		return a.NewDUuid(tree.DUuid{UUID: u}), b, nil
	case types.TimeFamily:
		var v int64
		if b, v, err = decodeVarint(b, desc); err != nil {
			return nil, nil, err
		}
		return a.NewDTime(tree.DTime(timeofday.TimeOfDay(v))), b, nil
	}
	return nil, nil, errors.AssertionFailedf("unsupported key column type %s", t.SQLStringForError())
}

// SkipKey returns b without its first key column.
func SkipKey(b []byte) (_ []byte, retErr error) {
	defer recoverDecodeError(&retErr)
	n, err := encoding.PeekLength(b)
	if err != nil {
		return nil, err
	}
	return b[n:], nil
}
