package kv

import (
	"bytes"
	"math"
	"math/rand"
	"sort"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

func TestComparerContract(t *testing.T) {
	var prefixes [][]byte
	for _, k := range []string{"a", "ab", "b", "\xfe\x01", "a\x00", ""} {
		prefixes = append(prefixes, encodeBareKey(nil, []byte(k)))
	}
	var suffixes [][]byte
	for _, ts := range []Timestamp{{WallTime: 1}, {WallTime: 1, Logical: 1}, {WallTime: 2}, {WallTime: math.MaxInt64, Logical: math.MaxInt32}} {
		k := encodeKey(nil, nil, ts)
		suffixes = append(suffixes, k[1:])
	}
	if err := pebble.CheckComparer(comparer, prefixes, suffixes); err != nil {
		t.Fatal(err)
	}
}

func TestKeyEncodingOrder(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	type kt struct {
		key []byte
		ts  Timestamp
	}
	var items []kt
	for i := 0; i < 500; i++ {
		k := make([]byte, rng.Intn(4))
		for j := range k {
			k[j] = byte(rng.Intn(3)) // lots of 0x00 and shared prefixes
		}
		items = append(items, kt{k, Timestamp{WallTime: int64(rng.Intn(5)), Logical: int32(rng.Intn(3))}})
	}
	// The expected order: user key ascending, then timestamp descending,
	// with the empty timestamp (bare key) first.
	less := func(a, b kt) bool {
		if c := bytes.Compare(a.key, b.key); c != 0 {
			return c < 0
		}
		if a.ts.IsEmpty() || b.ts.IsEmpty() {
			return a.ts.IsEmpty() && !b.ts.IsEmpty()
		}
		return b.ts.Less(a.ts)
	}
	enc := func(x kt) []byte {
		if x.ts.IsEmpty() {
			return encodeBareKey(nil, x.key)
		}
		return encodeKey(nil, x.key, x.ts)
	}
	for i := range items {
		for j := range items {
			a, b := items[i], items[j]
			want := 0
			if less(a, b) {
				want = -1
			} else if less(b, a) {
				want = 1
			}
			if got := compareKeys(enc(a), enc(b)); got != want {
				t.Fatalf("compare(%x@%v, %x@%v) = %d, want %d", a.key, a.ts, b.key, b.ts, got, want)
			}
		}
	}
	sort.Slice(items, func(i, j int) bool { return less(items[i], items[j]) })
	for _, x := range items {
		k, ts, err := decodeKey(enc(x))
		if err != nil || !bytes.Equal(k, x.key) || ts != x.ts {
			t.Fatalf("decode(%x@%v) = %x@%v, %v", x.key, x.ts, k, ts, err)
		}
		if n := split(enc(x)); n != len(x.key)+1 {
			t.Fatalf("split(%x@%v) = %d", x.key, x.ts, n)
		}
	}
}

func TestDecodeRejectsGarbage(t *testing.T) {
	for _, bad := range [][]byte{nil, {0x05}, {0x0d}, append(make([]byte, 12), 0x0d), append([]byte{1, 2}, append(make([]byte, 12), 0x0d)...)} {
		if _, _, err := decodeKey(bad); err == nil {
			t.Errorf("decodeKey(%x) succeeded", bad)
		}
	}
	for _, bad := range [][]byte{nil, {0x02}, {0x00, 0x01}} {
		if _, _, err := decodeValue(bad); err == nil {
			t.Errorf("decodeValue(%x) succeeded", bad)
		}
	}
	v, tomb, err := decodeValue(encodeValue(nil, []byte{}, false))
	if err != nil || tomb || v == nil || len(v) != 0 {
		t.Fatalf("empty live value: %v %v %v", v, tomb, err)
	}
	if _, tomb, _ := decodeValue(encodeValue(nil, nil, true)); !tomb {
		t.Fatal("tombstone")
	}
}

func TestSpanHelpers(t *testing.T) {
	s := sp("b", "d")
	if !s.ContainsKey([]byte("b")) || !s.ContainsKey([]byte("c\xff")) || s.ContainsKey([]byte("d")) || s.ContainsKey([]byte("a")) {
		t.Fatal("ContainsKey")
	}
	pt := sp("c", "")
	if !pt.ContainsKey([]byte("c")) || pt.ContainsKey([]byte("c\x00")) {
		t.Fatal("single-key ContainsKey")
	}
	if !s.Overlaps(pt) || !pt.Overlaps(s) || s.Overlaps(sp("d", "e")) || !s.Overlaps(sp("a", "b\x00")) || s.Overlaps(sp("d", "")) {
		t.Fatal("Overlaps")
	}
	if got := PrefixEnd([]byte("a\xff")); string(got) != "b" {
		t.Fatalf("PrefixEnd = %q", got)
	}
	if got := PrefixEnd([]byte{0xff, 0xff}); !bytes.Equal(got, MaxUserKey) {
		t.Fatalf("PrefixEnd(ff ff) = %x", got)
	}
}
