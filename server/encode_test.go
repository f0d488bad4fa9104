package server

import (
	"math"
	"math/big"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/lex"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/timeutil/pgdate"
	"github.com/jackc/pgx/v5/pgtype"
)

// TestNumericBinary checks PostgreSQL's binary numeric format both ways
// against pgx's numeric codec, for values around the base-10000 digit
// boundaries, with positive and negative exponents and special values.
func TestNumericBinary(t *testing.T) {
	values := []string{
		"0", "0.0", "0.00000", "1", "-1", "9999", "10000", "10001", "-10000.0001",
		"0.0001", "0.00001", "0.1", "123.45", "-12345.678900", "1E+5", "1E+20", "12E-30",
		"123456789012345678901234567890.123456789012345678901234567890",
		"99999999.99999999", "5E+3", "1.000000000000000000001",
	}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 200; i++ {
		var b strings.Builder
		if rng.Intn(2) == 0 {
			b.WriteByte('-')
		}
		for n := rng.Intn(25) + 1; n > 0; n-- {
			b.WriteByte(byte('0' + rng.Intn(10)))
		}
		if rng.Intn(2) == 0 {
			b.WriteByte('.')
			for n := rng.Intn(25) + 1; n > 0; n-- {
				b.WriteByte(byte('0' + rng.Intn(10)))
			}
		}
		values = append(values, b.String())
	}
	m := pgtype.NewMap()
	for _, s := range values {
		d, _, err := apd.NewFromString(s)
		if err != nil {
			t.Fatal(err)
		}
		// Ours → pgx.
		enc := appendNumericBinary(nil, d)
		var got pgtype.Numeric
		if err := m.Scan(pgtype.NumericOID, pgtype.BinaryFormatCode, enc, &got); err != nil {
			t.Fatalf("%s: pgx cannot decode %x: %v", s, enc, err)
		}
		coeff, _ := new(big.Int).SetString(d.Coeff.String(), 10)
		if d.Negative {
			coeff.Neg(coeff)
		}
		want := pgtype.Numeric{Int: coeff, Exp: d.Exponent, Valid: true}
		if !equalValue(got, want) {
			t.Errorf("%s: encoded %x decodes as %v", s, enc, got)
		}
		// pgx → ours, keeping the scale.
		pgxEnc, err := m.Encode(pgtype.NumericOID, pgtype.BinaryFormatCode, want, nil)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeNumericBinary(types.Decimal, pgxEnc)
		if err != nil {
			t.Fatalf("%s: decoding %x: %v", s, pgxEnc, err)
		}
		if bd := &back.(*tree.DDecimal).Decimal; bd.Cmp(d) != 0 {
			t.Errorf("%s: pgx's %x decodes as %s", s, pgxEnc, bd)
		}
	}
	for _, s := range []string{"NaN", "Infinity", "-Infinity"} {
		d, _, _ := apd.NewFromString(s)
		back, err := decodeNumericBinary(types.Decimal, appendNumericBinary(nil, d))
		if err != nil || back.(*tree.DDecimal).Decimal.String() != s {
			t.Errorf("%s: round trip gives %v, %v", s, back, err)
		}
	}
}

// TestByteaOutput checks BYTES in text format under both bytea_output
// settings against PostgreSQL's outputs and the parser's own escape
// encoder (lex.EncodeByteArrayToRawBytes) for every byte value.
func TestByteaOutput(t *testing.T) {
	e := newEncoder()
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for _, tc := range []struct {
		in         string
		hex, escap string
	}{
		{"", `\x`, ""},
		{"ab", `\x6162`, "ab"},
		{"\x00\n\\\xff~ ", `\x000a5cff7e20`, `\000\012\\\377~ `},
		{"\x7f\x1f", `\x7f1f`, `\177\037`},
		{string(all), "", lex.EncodeByteArrayToRawBytes(string(all), lex.BytesEncodeEscape, false)},
	} {
		d := tree.NewDBytes(tree.DBytes(tc.in))
		e.conv.BytesEncodeFormat = lex.BytesEncodeHex
		if got := string(e.appendText(nil, d, types.Bytes)); tc.hex != "" && got != tc.hex {
			t.Errorf("hex %q: got %q, want %q", tc.in, got, tc.hex)
		}
		e.conv.BytesEncodeFormat = lex.BytesEncodeEscape
		if got := string(e.appendText(nil, d, types.Bytes)); got != tc.escap {
			t.Errorf("escape %q: got %q, want %q", tc.in, got, tc.escap)
		}
	}
	// The binary format is the bytes themselves whatever bytea_output.
	got, err := e.appendBinary(nil, tree.NewDBytes("a\\"), types.Bytes)
	if err != nil || string(got) != "a\\" {
		t.Errorf("binary: got %q, %v", got, err)
	}
}

// TestTextFormats pins text outputs that PostgreSQL clients parse.
func TestTextFormats(t *testing.T) {
	e := newEncoder()
	loc, _ := time.LoadLocation("America/New_York")
	ts := time.Date(2024, 7, 1, 12, 0, 0, 500000000, time.UTC)
	tstz, _ := tree.MakeDTimestampTZ(ts, time.Microsecond)
	tsNoFrac, _ := tree.MakeDTimestamp(time.Date(2024, 7, 1, 12, 0, 0, 0, time.UTC), time.Microsecond)
	bc, _ := tree.MakeDTimestamp(time.Date(-44, 3, 15, 0, 0, 0, 0, time.UTC), time.Microsecond)
	inf, _ := tree.MakeDTimestampTZ(pgdate.TimeInfinity, time.Microsecond)
	for _, tc := range []struct {
		d    tree.Datum
		typ  *types.T
		loc  *time.Location
		efd  int32
		want string
	}{
		{tree.NewDFloat(0.1), types.Float, nil, 1, "0.1"},
		{tree.NewDFloat(tree.DFloat(math.Inf(-1))), types.Float, nil, 1, "-Infinity"},
		{tree.NewDFloat(tree.DFloat(math.NaN())), types.Float, nil, 1, "NaN"},
		{tree.NewDFloat(1e21), types.Float, nil, 1, "1e+21"},
		{tree.NewDFloat(123456789.125), types.Float, nil, 0, "123456789.125"},
		{tree.NewDFloat(1.0 / 3), types.Float, nil, -14, "0.3"},
		{tstz, types.TimestampTZ, loc, 1, "2024-07-01 08:00:00.5-04"},
		{tstz, types.TimestampTZ, time.UTC, 1, "2024-07-01 12:00:00.5+00"},
		{tsNoFrac, types.Timestamp, nil, 1, "2024-07-01 12:00:00"},
		{bc, types.Timestamp, nil, 1, "0045-03-15 00:00:00 BC"},
		{inf, types.TimestampTZ, time.UTC, 1, "infinity"},
		{tree.NewDBytes(""), types.Bytes, nil, 1, `\x`},
		{tree.NewDString("ab"), types.MakeChar(4), nil, 1, "ab  "},
		{tree.NewDArray(types.Int), types.IntArray, nil, 1, "{}"},
	} {
		e.loc = time.UTC
		if tc.loc != nil {
			e.loc = tc.loc
		}
		e.conv.ExtraFloatDigits = tc.efd
		if got := string(e.appendText(nil, tc.d, tc.typ)); got != tc.want {
			t.Errorf("%s as %s: got %q, want %q", tc.d, tc.typ, got, tc.want)
		}
	}
}
