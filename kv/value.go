package kv

import "github.com/cockroachdb/errors"

// Value encoding: one header byte, then the user value for a live version.
// An empty live value (header only) is valid and distinct from a tombstone.
const (
	valueTagTombstone = 0x00
	valueTagLive      = 0x01
)

// tombstoneValue is the encoded tombstone.
var tombstoneValue = []byte{valueTagTombstone}

// encodedValueLen returns the encoded length of a version's value.
func encodedValueLen(value []byte, tombstone bool) int {
	if tombstone {
		return 1
	}
	return 1 + len(value)
}

// writeValue writes the encoding of a version's value into dst, which must
// have length encodedValueLen.
func writeValue(dst, value []byte, tombstone bool) {
	if tombstone {
		dst[0] = valueTagTombstone
		return
	}
	dst[0] = valueTagLive
	copy(dst[1:], value)
}

// encodeValue appends the encoding of a version's value to dst.
func encodeValue(dst, value []byte, tombstone bool) []byte {
	if tombstone {
		return append(dst, valueTagTombstone)
	}
	dst = append(dst, valueTagLive)
	return append(dst, value...)
}

// decodeValue returns the user value (aliasing ev) and whether the version is
// a tombstone.
func decodeValue(ev []byte) (value []byte, tombstone bool, err error) {
	if len(ev) == 0 {
		return nil, false, errors.New("kv: empty encoded value")
	}
	switch ev[0] {
	case valueTagLive:
		return ev[1:], false, nil
	case valueTagTombstone:
		if len(ev) != 1 {
			return nil, false, errors.Newf("kv: tombstone with %d trailing bytes", len(ev)-1)
		}
		return nil, true, nil
	}
	return nil, false, errors.Newf("kv: unknown value tag %#x", ev[0])
}
