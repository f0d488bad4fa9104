package rowenc

import (
	"testing"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
)

// Row keys and values are read back from storage that replication can fill
// from another cluster: decoding arbitrary bytes must fail cleanly, never
// panic.

var fuzzTypes = []*types.T{types.Bool, types.Int, types.Float, types.Decimal, types.String,
	types.Bytes, types.Date, types.Timestamp, types.TimestampTZ, types.Interval, types.Uuid, types.Jsonb, types.Time}

func FuzzDecodeKey(f *testing.F) {
	for typ, samples := range orderedSamples() {
		for _, d := range samples {
			for _, dir := range []Direction{Ascending, Descending} {
				k, err := EncodeKey(nil, d, dir)
				if err != nil {
					f.Fatal(err)
				}
				f.Add(k, uint8(typeIndex(typ)), bool(dir))
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte, ti uint8, desc bool) {
		typ := fuzzTypes[int(ti)%len(fuzzTypes)]
		if !IsKeyType(typ) {
			return
		}
		var a tree.DatumAlloc
		_, _, _ = DecodeKey(&a, typ, b, Direction(desc))
		_, _ = SkipKey(b)
	})
}

func FuzzDecodeValue(f *testing.F) {
	var seed []byte
	for i, typ := range fuzzTypes {
		samples := orderedSamples()[typ]
		if len(samples) == 0 {
			continue
		}
		var err error
		if seed, err = EncodeValue(seed, uint32(1), samples[len(samples)-1]); err != nil {
			f.Fatal(err)
		}
		f.Add(append([]byte(nil), seed...), uint8(i))
	}
	f.Fuzz(func(t *testing.T, b []byte, shift uint8) {
		colTypes := make([]*types.T, len(fuzzTypes))
		for i := range colTypes {
			colTypes[i] = fuzzTypes[(i+int(shift))%len(fuzzTypes)]
		}
		row := make(tree.Datums, len(colTypes))
		var a tree.DatumAlloc
		_ = DecodeValue(&a, b, func(id uint32) int {
			if id == 0 || int(id) > len(colTypes) {
				return -1
			}
			return int(id) - 1
		}, colTypes, row)
	})
}

func typeIndex(t *types.T) int {
	for i, ft := range fuzzTypes {
		if ft == t {
			return i
		}
	}
	return 0
}
