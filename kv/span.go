package kv

import "bytes"

// Span is the key range [Key, EndKey). An empty EndKey means the single key
// Key.
type Span struct{ Key, EndKey []byte }

// ContainsKey reports whether k lies in s.
func (s Span) ContainsKey(k []byte) bool {
	if len(s.EndKey) == 0 {
		return bytes.Equal(s.Key, k)
	}
	return bytes.Compare(s.Key, k) <= 0 && bytes.Compare(k, s.EndKey) < 0
}

// Overlaps reports whether s and o share at least one key.
func (s Span) Overlaps(o Span) bool {
	sEnd, oEnd := s.end(), o.end()
	return bytes.Compare(s.Key, oEnd) < 0 && bytes.Compare(o.Key, sEnd) < 0
}

// end returns the exclusive end of s, turning a single-key span into
// [Key, Key\x00).
func (s Span) end() []byte {
	if len(s.EndKey) == 0 {
		return keyNext(s.Key)
	}
	return s.EndKey
}

// Valid reports whether s is a non-empty range (or a single key).
func (s Span) Valid() bool {
	return len(s.EndKey) == 0 || bytes.Compare(s.Key, s.EndKey) < 0
}

func (s Span) String() string {
	if len(s.EndKey) == 0 {
		return formatUserKey(s.Key)
	}
	return formatUserKey(s.Key) + "-" + formatUserKey(s.EndKey)
}

// PrefixEnd returns the smallest key greater than every key with the given
// prefix. A prefix of only 0xff bytes has no such key; PrefixEnd returns
// MaxUserKey for it, which is past every user key.
func PrefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return append([]byte(nil), MaxUserKey...)
}

// keyNext returns the smallest key greater than k.
func keyNext(k []byte) []byte {
	out := make([]byte, len(k)+1)
	copy(out, k)
	return out
}

// KeyValue is a visible row: the newest live version of a key at or below a
// read timestamp.
type KeyValue struct{ Key, Value []byte }

// Version is one MVCC version of a key, as carried by rangefeeds, export,
// ingest and replication.
type Version struct {
	Key       []byte
	Timestamp Timestamp
	Value     []byte // nil when Tombstone
	Tombstone bool
}
