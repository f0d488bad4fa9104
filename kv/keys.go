package kv

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/cockroachdb/errors"
	"github.com/cockroachdb/pebble/v2"
)

// Engine key encoding.
//
// A Pebble key ("engine key") is
//
//	userKey 0x00 [ ^wall(8, big endian) ^logical(4, big endian) 0x0d ]
//
// The user key plus the 0x00 sentinel is the prefix that Split returns; the
// optional 13-byte suffix is the version. A key without a suffix (a "bare"
// key) sorts before every version of the same user key, so it serves as a seek
// and bound key and as the form of engine-local metadata keys. Appending 0x00
// to every user key keeps byte order between prefixes identical to byte order
// between user keys (a shorter key that is a prefix of a longer one is
// followed by 0x00, the smallest byte).
//
// The timestamp is stored bit-inverted so that plain byte comparison of
// suffixes orders versions newest first, which is what a reader wants: a
// SeekGE to (key, readTS) lands on the newest version at or below readTS. The
// trailing length byte (13) lets Split recognise a suffix without parsing:
// a bare key always ends in the 0x00 sentinel, a versioned key always in
// 0x0d.
const (
	sentinel   = 0x00
	suffixLen  = 13
	suffixMark = suffixLen
)

// User keys live in [MinUserKey, MaxUserKey). Everything below MinUserKey is
// reserved for the engine: localPrefix (0x01) holds persisted metadata (clock
// high-water mark, protected timestamps, GC configuration and thresholds), and
// 0x00 is kept free. Tenant keys start with 0xfe, well inside the user range.
var (
	MinUserKey = []byte{0x02}
	MaxUserKey = []byte{0xff, 0xff}
	// EverythingSpan covers every user key.
	EverythingSpan = Span{Key: MinUserKey, EndKey: MaxUserKey}
)

const localPrefix = 0x01

// validateUserKey rejects keys in the engine's reserved range, so user writes
// can never collide with metadata.
func validateUserKey(k []byte) error {
	if bytes.Compare(k, MinUserKey) < 0 || bytes.Compare(k, MaxUserKey) >= 0 {
		return errors.Newf("kv: key %s outside the user keyspace [%s, %s)",
			formatUserKey(k), formatUserKey(MinUserKey), formatUserKey(MaxUserKey))
	}
	return nil
}

// clampSpan restricts a user span to the user keyspace and turns a single-key
// span into a range. ok is false when nothing of the span remains.
func clampSpan(s Span) (Span, bool) {
	end := s.end()
	start := s.Key
	if bytes.Compare(start, MinUserKey) < 0 {
		start = MinUserKey
	}
	if bytes.Compare(end, MaxUserKey) > 0 {
		end = MaxUserKey
	}
	if bytes.Compare(start, end) >= 0 {
		return Span{}, false
	}
	return Span{Key: start, EndKey: end}, true
}

// encodeKey appends the engine key of (key, ts) to dst.
func encodeKey(dst, key []byte, ts Timestamp) []byte {
	dst = append(dst, key...)
	dst = append(dst, sentinel)
	dst = binary.BigEndian.AppendUint64(dst, ^uint64(ts.WallTime))
	dst = binary.BigEndian.AppendUint32(dst, ^uint32(ts.Logical))
	return append(dst, suffixMark)
}

// encodeBareKey appends the version-less engine key of key to dst; it sorts
// before every version of key.
func encodeBareKey(dst, key []byte) []byte {
	dst = append(dst, key...)
	return append(dst, sentinel)
}

// encodedKeyLen is the length of encodeKey's output for a user key of n bytes.
func encodedKeyLen(n int) int { return n + 1 + suffixLen }

// writeKey writes the engine key of (key, ts) into dst, which must have length
// encodedKeyLen(len(key)).
func writeKey(dst, key []byte, ts Timestamp) {
	n := copy(dst, key)
	dst[n] = sentinel
	binary.BigEndian.PutUint64(dst[n+1:], ^uint64(ts.WallTime))
	binary.BigEndian.PutUint32(dst[n+9:], ^uint32(ts.Logical))
	dst[n+13] = suffixMark
}

// split returns the length of the prefix (user key plus sentinel) of an engine
// key. Keys that do not end in a version mark are all prefix.
func split(k []byte) int {
	n := len(k)
	if n > suffixLen && k[n-1] == suffixMark && k[n-suffixLen-1] == sentinel {
		return n - suffixLen
	}
	if n == suffixLen && k[n-1] == suffixMark {
		// A bare suffix: Pebble may compare suffixes as keys of their own.
		return 0
	}
	return n
}

// decodeKey splits an engine key into its user key and timestamp. A bare key
// decodes with an empty timestamp. The returned user key aliases ek.
func decodeKey(ek []byte) (key []byte, ts Timestamp, err error) {
	n := len(ek)
	if n == 0 || (ek[n-1] != sentinel && ek[n-1] != suffixMark) {
		return nil, Timestamp{}, errors.Newf("kv: malformed engine key %x", ek)
	}
	if ek[n-1] == sentinel {
		return ek[:n-1], Timestamp{}, nil
	}
	if n < suffixLen+1 || ek[n-suffixLen-1] != sentinel {
		return nil, Timestamp{}, errors.Newf("kv: malformed engine key %x", ek)
	}
	p := n - suffixLen
	ts = decodeSuffix(ek[p:])
	if ts.WallTime < 0 || ts.Logical < 0 || ts.IsEmpty() {
		return nil, Timestamp{}, errors.Newf("kv: malformed timestamp in engine key %x", ek)
	}
	return ek[:p-1], ts, nil
}

// decodeSuffix decodes a 13-byte version suffix. The caller has checked its
// length.
func decodeSuffix(s []byte) Timestamp {
	return Timestamp{
		WallTime: int64(^binary.BigEndian.Uint64(s)),
		Logical:  int32(^binary.BigEndian.Uint32(s[8:])),
	}
}

// compareKeys orders engine keys by user key, then by version newest first,
// with a bare key before every version of its user key.
func compareKeys(a, b []byte) int {
	// Fast path: two versioned keys of one length have user keys of one
	// length, so byte order is user key order, then version order. Most
	// comparisons (memtable inserts, seeks within a table) are of this
	// kind.
	if n := len(a); n == len(b) && n > suffixLen && a[n-1] == suffixMark && b[n-1] == suffixMark &&
		a[n-suffixLen-1] == sentinel && b[n-suffixLen-1] == sentinel {
		return bytes.Compare(a, b)
	}
	as, bs := split(a), split(b)
	if c := bytes.Compare(a[:as], b[:bs]); c != 0 {
		return c
	}
	return bytes.Compare(a[as:], b[bs:])
}

// comparer is the Pebble Comparer for engine keys. Its name is persisted in
// the store: changing the encoding requires a new name.
var comparer = &pebble.Comparer{
	Name:    "vcdb.mvcc.v1",
	Compare: compareKeys,
	Equal:   bytes.Equal,
	Split:   split,
	// Suffixes are inverted timestamps followed by a constant mark, so byte
	// order is version order (newest first) and the empty suffix sorts first.
	ComparePointSuffixes: bytes.Compare,
	CompareRangeSuffixes: bytes.Compare,
	AbbreviatedKey: func(k []byte) uint64 {
		p := k[:split(k)]
		var buf [8]byte
		copy(buf[:], p)
		return binary.BigEndian.Uint64(buf[:])
	},
	// Shortening separators would have to produce valid engine keys; the
	// saving in index-block size is not worth that complexity here.
	Separator: func(dst, a, b []byte) []byte { return append(dst, a...) },
	Successor: func(dst, a []byte) []byte { return append(dst, a...) },
	ImmediateSuccessor: func(dst, a []byte) []byte {
		// a is a prefix (user key + sentinel); the next prefix belongs to the
		// user key a[:len(a)-1]+0x00, whose prefix is a+0x00.
		return append(append(dst, a...), sentinel)
	},
	FormatKey: func(k []byte) fmt.Formatter { return engineKeyFormatter(k) },
}

type engineKeyFormatter []byte

func (f engineKeyFormatter) Format(s fmt.State, _ rune) {
	key, ts, err := decodeKey(f)
	if err != nil {
		fmt.Fprintf(s, "%x", []byte(f))
		return
	}
	if ts.IsEmpty() {
		fmt.Fprint(s, formatUserKey(key))
		return
	}
	fmt.Fprintf(s, "%s@%s", formatUserKey(key), ts)
}

// formatUserKey prints printable ASCII as is and everything else escaped.
func formatUserKey(k []byte) string {
	for _, c := range k {
		if c < 0x20 || c > 0x7e {
			return strconv.QuoteToASCII(string(k))
		}
	}
	return string(k)
}
