package kv

import (
	"bytes"
	"testing"
)

// Fuzzers for the decoding trust boundaries: engine keys and values read from
// the store (or an ingested file), the decimal timestamp form that arrives in
// SQL and stream messages, and persisted metadata records. Seed corpora live
// in testdata/fuzz and run with every `go test`.

func FuzzDecodeKey(f *testing.F) {
	f.Add(encodeKey(nil, []byte("a"), Timestamp{WallTime: 1, Logical: 2}))
	f.Add(encodeBareKey(nil, []byte("\xfe\x02")))
	f.Add([]byte{0x0d})
	f.Fuzz(func(t *testing.T, ek []byte) {
		n := split(ek)
		if n < 0 || n > len(ek) {
			t.Fatalf("split(%x) = %d", ek, n)
		}
		key, ts, err := decodeKey(ek)
		if err != nil {
			return
		}
		// A decodable key re-encodes to itself, and Split agrees with the
		// decoded user key.
		var re []byte
		if ts.IsEmpty() {
			re = encodeBareKey(nil, key)
		} else {
			re = encodeKey(nil, key, ts)
		}
		if !bytes.Equal(re, ek) {
			t.Fatalf("%x decodes to %q@%v which encodes to %x", ek, key, ts, re)
		}
		if n != len(key)+1 {
			t.Fatalf("split(%x) = %d, user key has %d bytes", ek, n, len(key))
		}
		if compareKeys(ek, ek) != 0 {
			t.Fatal("key not equal to itself")
		}
	})
}

func FuzzDecodeValue(f *testing.F) {
	f.Add(encodeValue(nil, []byte("v"), false))
	f.Add(encodeValue(nil, nil, true))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, ev []byte) {
		v, tomb, err := decodeValue(ev)
		if err != nil {
			return
		}
		if re := encodeValue(nil, v, tomb); !bytes.Equal(re, ev) {
			t.Fatalf("%x decodes to %x/%v which encodes to %x", ev, v, tomb, re)
		}
	})
}

func FuzzParseTimestamp(f *testing.F) {
	f.Add("1700000000123456789.0000000002")
	f.Add("5")
	f.Add("5.1")
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := ParseTimestamp(s)
		if err != nil {
			return
		}
		back, err := ParseTimestamp(ts.String())
		if err != nil || back != ts {
			t.Fatalf("%q -> %v -> %q -> %v, %v", s, ts, ts.String(), back, err)
		}
	})
}

func FuzzDecodeThresholds(f *testing.F) {
	f.Add(encodeThresholds(&thresholdMap{ranges: []thresholdRange{{span: sp("a", "b"), threshold: Timestamp{WallTime: 7}}}}))
	f.Add([]byte{0xff, 0xff})
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := decodeThresholds(raw)
		if err != nil {
			return
		}
		m2, err := decodeThresholds(encodeThresholds(m))
		if err != nil || len(m2.ranges) != len(m.ranges) {
			t.Fatalf("round trip failed: %v", err)
		}
		_ = m.thresholdForKey([]byte("k"))
	})
}
