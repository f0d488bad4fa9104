package rowenc

import (
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/encoding"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/json"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/timeofday"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/timeutil/pgdate"
	"github.com/cockroachdb/errors"
	"github.com/lib/pq/oid"
)

// EncodeValue appends column colID's value d, tagged with the delta from the
// previous encoded column id. Callers encode columns in increasing id order
// and skip NULLs.
func EncodeValue(b []byte, colIDDelta uint32, d tree.Datum) ([]byte, error) {
	switch t := d.(type) {
	case *tree.DBool:
		return encoding.EncodeBoolValue(b, colIDDelta, bool(*t)), nil
	case *tree.DInt:
		return encoding.EncodeIntValue(b, colIDDelta, int64(*t)), nil
	case *tree.DOid:
		return encoding.EncodeIntValue(b, colIDDelta, int64(t.Oid)), nil
	case *tree.DFloat:
		return encoding.EncodeFloatValue(b, colIDDelta, float64(*t)), nil
	case *tree.DDecimal:
		return encoding.EncodeDecimalValue(b, colIDDelta, &t.Decimal), nil
	case *tree.DString:
		return encoding.EncodeBytesValue(b, colIDDelta, encoding.UnsafeConvertStringToBytes(string(*t))), nil
	case *tree.DBytes:
		return encoding.EncodeBytesValue(b, colIDDelta, encoding.UnsafeConvertStringToBytes(string(*t))), nil
	case *tree.DDate:
		return encoding.EncodeIntValue(b, colIDDelta, t.UnixEpochDaysWithOrig()), nil
	case *tree.DTimestamp:
		return encoding.EncodeTimeValue(b, colIDDelta, t.Time), nil
	case *tree.DTimestampTZ:
		return encoding.EncodeTimeValue(b, colIDDelta, t.Time), nil
	case *tree.DInterval:
		return encoding.EncodeDurationValue(b, colIDDelta, t.Duration), nil
	case *tree.DUuid:
		return encoding.EncodeUUIDValue(b, colIDDelta, t.UUID), nil
	case *tree.DTime:
		return encoding.EncodeIntValue(b, colIDDelta, int64(*t)), nil
	case *tree.DJSON:
		enc, err := json.EncodeJSON(nil, t.JSON)
		if err != nil {
			return nil, err
		}
		return encoding.EncodeJSONValue(b, colIDDelta, enc), nil
	}
	return nil, pgerror.Newf(pgcode.FeatureNotSupported,
		"unsupported column type %s", d.ResolvedType().SQLStringForError())
}

// IsStorableType reports whether columns of type t can be stored.
func IsStorableType(t *types.T) bool {
	return IsKeyType(t) || t.Family() == types.JsonFamily
}

// ColumnLookup maps a column id to the position of the column in the row
// being decoded, or -1 when the reader does not need that column.
type ColumnLookup func(colID uint32) int

// DecodeValue decodes a value written as a sequence of EncodeValue items into
// row, using lookup to place each column and types to know its type. Columns
// not present keep their current content (callers set them to NULL first).
//
// Values come from storage that replication may have filled from another
// cluster, so malformed input gives an error, never a panic.
func DecodeValue(a *tree.DatumAlloc, b []byte, lookup ColumnLookup, colTypes []*types.T, row tree.Datums) (retErr error) {
	defer recoverDecodeError(&retErr)
	var colID uint32
	for len(b) > 0 {
		_, dataOffset, delta, typ, err := encoding.DecodeValueTag(b)
		if err != nil {
			return err
		}
		n, err := encoding.PeekValueLengthWithOffsetsAndType(b, dataOffset, typ)
		if err != nil {
			return err
		}
		if n > len(b) || n < dataOffset {
			return errors.Newf("value of column %d is truncated", colID+delta)
		}
		colID += delta
		item := b[dataOffset:n]
		b = b[n:]
		idx := lookup(colID)
		if idx < 0 {
			continue
		}
		d, rest, err := decodeUntagged(a, colTypes[idx], typ, item)
		if err != nil {
			return errors.Wrapf(err, "decoding column %d", colID)
		}
		if len(rest) != 0 {
			return errors.Newf("column %d has %d bytes of trailing garbage", colID, len(rest))
		}
		row[idx] = d
	}
	return nil
}

// recoverDecodeError turns a panic of the encoding library on malformed
// input into an error.
func recoverDecodeError(err *error) {
	if r := recover(); r != nil {
		*err = errors.Newf("malformed encoding: %v", r)
	}
}

func decodeUntagged(a *tree.DatumAlloc, t *types.T, typ encoding.Type, b []byte) (tree.Datum, []byte, error) {
	var err error
	switch typ {
	case encoding.Null:
		return tree.DNull, b, nil
	case encoding.True:
		return tree.DBoolTrue, b, nil
	case encoding.False:
		return tree.DBoolFalse, b, nil
	case encoding.Int:
		var v int64
		if b, v, err = encoding.DecodeUntaggedIntValue(b); err != nil {
			return nil, nil, err
		}
		switch t.Family() {
		case types.DateFamily:
			return a.NewDDate(tree.MakeDDate(pgdate.MakeCompatibleDateFromDisk(v))), b, nil
		case types.TimeFamily:
			return a.NewDTime(tree.DTime(timeofday.TimeOfDay(v))), b, nil
		case types.OidFamily:
			return tree.NewDOid(oidFromInt(v)), b, nil
		}
		return a.NewDInt(tree.DInt(v)), b, nil
	case encoding.Float:
		var f float64
		if b, f, err = encoding.DecodeUntaggedFloatValue(b); err != nil {
			return nil, nil, err
		}
		return a.NewDFloat(tree.DFloat(f)), b, nil
	case encoding.Decimal:
		d := a.NewDDecimal(tree.DDecimal{})
		if b, err = encoding.DecodeIntoUntaggedDecimalValue(&d.Decimal, b); err != nil {
			return nil, nil, err
		}
		return d, b, nil
	case encoding.Bytes:
		var s []byte
		if b, s, err = encoding.DecodeUntaggedBytesValue(b); err != nil {
			return nil, nil, err
		}
		if t.Family() == types.BytesFamily {
			return a.NewDBytes(tree.DBytes(s)), b, nil
		}
		return a.NewDString(tree.DString(s)), b, nil
	case encoding.Time:
		var tm time.Time
		if b, tm, err = encoding.DecodeUntaggedTimeValue(b); err != nil {
			return nil, nil, err
		}
		return makeTimestamp(a, t, tm), b, nil
	case encoding.Duration:
		rest, d, err := encoding.DecodeUntaggedDurationValue(b)
		if err != nil {
			return nil, nil, err
		}
		return a.NewDInterval(tree.DInterval{Duration: d}), rest, nil
	case encoding.UUID:
		rest, u, err := encoding.DecodeUntaggedUUIDValue(b)
		if err != nil {
			return nil, nil, err
		}
		return a.NewDUuid(tree.DUuid{UUID: u}), rest, nil
	case encoding.JSON:
		var s []byte
		if b, s, err = encoding.DecodeUntaggedBytesValue(b); err != nil {
			return nil, nil, err
		}
		j, err := json.FromEncoding(append([]byte(nil), s...))
		if err != nil {
			return nil, nil, err
		}
		return a.NewDJSON(tree.DJSON{JSON: j}), b, nil
	}
	return nil, nil, errors.AssertionFailedf("unsupported value type %s for %s", typ, t.SQLStringForError())
}

func makeTimestamp(a *tree.DatumAlloc, t *types.T, tm time.Time) tree.Datum {
	if t.Family() == types.TimestampTZFamily {
		return a.NewDTimestampTZ(tree.DTimestampTZ{Time: tm})
	}
	return a.NewDTimestamp(tree.DTimestamp{Time: tm})
}

func oidFromInt(v int64) oid.Oid { return oid.Oid(v) }
