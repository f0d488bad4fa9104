package rowenc

import (
	"bytes"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/duration"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/json"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/timeutil/pgdate"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/uuid"
)

func dec(s string) *tree.DDecimal {
	d, _, err := apd.NewFromString(s)
	if err != nil {
		panic(err)
	}
	return &tree.DDecimal{Decimal: *d}
}

// orderedSamples lists, per type, datums in increasing order.
func orderedSamples() map[*types.T][]tree.Datum {
	ts := func(s int64) time.Time { return time.Unix(s, 0).UTC() }
	u1 := uuid.Must(uuid.FromString("00000000-0000-0001-0000-000000000002"))
	u2 := uuid.Must(uuid.FromString("00000000-0000-0003-0000-000000000000"))
	return map[*types.T][]tree.Datum{
		types.Bool:        {tree.DNull, tree.DBoolFalse, tree.DBoolTrue},
		types.Int:         {tree.DNull, tree.NewDInt(-1 << 62), tree.NewDInt(-1), tree.NewDInt(0), tree.NewDInt(7), tree.NewDInt(1 << 40)},
		types.Float:       {tree.DNull, tree.NewDFloat(-3.5), tree.NewDFloat(0), tree.NewDFloat(2.25)},
		types.Decimal:     {tree.DNull, dec("-10.5"), dec("0"), dec("1.25"), dec("100")},
		types.String:      {tree.DNull, tree.NewDString(""), tree.NewDString("a"), tree.NewDString("a\x00b"), tree.NewDString("b")},
		types.Bytes:       {tree.DNull, tree.NewDBytes(""), tree.NewDBytes("\x00\xff"), tree.NewDBytes("\x01")},
		types.Date:        {tree.DNull, tree.NewDDate(pgdate.MakeCompatibleDateFromDisk(-5)), tree.NewDDate(pgdate.MakeCompatibleDateFromDisk(20000))},
		types.Timestamp:   {tree.DNull, &tree.DTimestamp{Time: ts(-100)}, &tree.DTimestamp{Time: ts(1700000000)}},
		types.TimestampTZ: {tree.DNull, &tree.DTimestampTZ{Time: ts(0)}, &tree.DTimestampTZ{Time: ts(1700000000)}},
		types.Interval:    {tree.DNull, &tree.DInterval{Duration: duration.MakeDuration(-1000, 0, 0)}, &tree.DInterval{Duration: duration.MakeDuration(0, 1, 0)}},
		types.Uuid:        {tree.DNull, tree.NewDUuid(tree.DUuid{UUID: u1}), tree.NewDUuid(tree.DUuid{UUID: u2})},
	}
}

// TestKeyOrderAndRoundTrip checks that key encodings round-trip and sort like
// the values they encode, in both directions, with NULL first ascending and
// last descending.
func TestKeyOrderAndRoundTrip(t *testing.T) {
	var a tree.DatumAlloc
	for typ, samples := range orderedSamples() {
		for _, dir := range []Direction{Ascending, Descending} {
			var prev []byte
			for i, d := range samples {
				k, err := EncodeKey([]byte("p"), d, dir)
				if err != nil {
					t.Fatalf("%s %v: %v", typ, d, err)
				}
				got, rest, err := DecodeKey(&a, typ, k[1:], dir)
				if err != nil {
					t.Fatalf("%s %v: decode: %v", typ, d, err)
				}
				if len(rest) != 0 {
					t.Fatalf("%s %v: %d bytes left", typ, d, len(rest))
				}
				if !sameDatum(got, d) {
					t.Fatalf("%s: round trip of %s gave %s", typ, d, got)
				}
				if skipped, err := SkipKey(k[1:]); err != nil || len(skipped) != 0 {
					t.Fatalf("%s %v: SkipKey left %d bytes (%v)", typ, d, len(skipped), err)
				}
				if i > 0 {
					c := bytes.Compare(prev, k)
					if (dir == Ascending && c >= 0) || (dir == Descending && c <= 0) {
						t.Fatalf("%s dir=%v: %s and its predecessor are out of order", typ, dir, d)
					}
				}
				prev = k
			}
		}
	}
}

// sameDatum compares by value; decimals compare numerically because key
// encoding keeps a decimal's value but not its trailing zeros (the column's
// exact form is also stored in the row's value, see IsComposite).
func sameDatum(a, b tree.Datum) bool {
	if da, ok := a.(*tree.DDecimal); ok {
		if db, ok := b.(*tree.DDecimal); ok {
			return da.Cmp(&db.Decimal) == 0
		}
	}
	return a.String() == b.String()
}

// TestValueRoundTrip encodes one value per column and decodes it back,
// including a column id the reader does not know (a dropped column), which
// must be skipped.
func TestValueRoundTrip(t *testing.T) {
	j, err := json.ParseJSON(`{"a": [1, "x", null]}`)
	if err != nil {
		t.Fatal(err)
	}
	var colTypes []*types.T
	var want tree.Datums
	for typ, samples := range orderedSamples() {
		colTypes = append(colTypes, typ)
		want = append(want, samples[len(samples)-1])
	}
	colTypes = append(colTypes, types.Jsonb)
	want = append(want, tree.NewDJSON(j))
	// Column ids are 2, 4, 6, ...; id 3 is written but unknown to the reader.
	var b []byte
	last := uint32(0)
	for i, d := range want {
		id := uint32(2 * (i + 1))
		if id == 4 {
			b, err = EncodeValue(b, 3-last, tree.NewDString("dropped"))
			if err != nil {
				t.Fatal(err)
			}
			last = 3
		}
		b, err = EncodeValue(b, id-last, d)
		if err != nil {
			t.Fatal(err)
		}
		last = id
	}
	row := make(tree.Datums, len(want))
	var a tree.DatumAlloc
	lookup := func(id uint32) int {
		if id%2 == 1 {
			return -1
		}
		return int(id/2) - 1
	}
	if err := DecodeValue(&a, b, lookup, colTypes, row); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if row[i].String() != want[i].String() {
			t.Errorf("column %d: got %s want %s", i, row[i], want[i])
		}
	}
}
