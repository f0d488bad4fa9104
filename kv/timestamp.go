package kv

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/errors"
)

// Timestamp is a hybrid-logical-clock time: wall nanoseconds since the Unix
// epoch plus a logical counter that orders events sharing a wall time. The
// zero Timestamp is "empty" and is never assigned to a write.
type Timestamp struct {
	WallTime int64 // nanoseconds since the Unix epoch
	Logical  int32
}

// MaxTimestamp is larger than every timestamp a clock hands out; reading at it
// sees the newest version of every key.
var MaxTimestamp = Timestamp{WallTime: math.MaxInt64, Logical: math.MaxInt32}

// IsEmpty reports whether t is the zero timestamp.
func (t Timestamp) IsEmpty() bool { return t == Timestamp{} }

// Less reports whether t < o.
func (t Timestamp) Less(o Timestamp) bool {
	return t.WallTime < o.WallTime || (t.WallTime == o.WallTime && t.Logical < o.Logical)
}

// LessEq reports whether t <= o.
func (t Timestamp) LessEq(o Timestamp) bool { return !o.Less(t) }

// Compare returns -1, 0 or +1 as t is before, equal to or after o.
func (t Timestamp) Compare(o Timestamp) int {
	switch {
	case t.Less(o):
		return -1
	case o.Less(t):
		return 1
	}
	return 0
}

// Next returns the smallest timestamp greater than t.
func (t Timestamp) Next() Timestamp {
	if t.Logical == math.MaxInt32 {
		return Timestamp{WallTime: t.WallTime + 1}
	}
	return Timestamp{WallTime: t.WallTime, Logical: t.Logical + 1}
}

// Prev returns the largest timestamp smaller than t. The empty timestamp has
// no predecessor; Prev returns it unchanged.
func (t Timestamp) Prev() Timestamp {
	switch {
	case t.Logical > 0:
		return Timestamp{WallTime: t.WallTime, Logical: t.Logical - 1}
	case t.WallTime > 0:
		return Timestamp{WallTime: t.WallTime - 1, Logical: math.MaxInt32}
	}
	return t
}

// GoTime returns the wall-time part of t as a time.Time.
func (t Timestamp) GoTime() time.Time { return time.Unix(0, t.WallTime) }

// String prints the decimal form CockroachDB uses for
// cluster_logical_timestamp() and failover times: the wall nanoseconds, a dot
// and the logical counter as exactly ten digits.
func (t Timestamp) String() string {
	return fmt.Sprintf("%d.%010d", t.WallTime, t.Logical)
}

// ParseTimestamp parses the decimal form printed by String. The fractional
// part is the logical counter scaled by 10^10, as in CockroachDB, so "5.1"
// reads as logical 1000000000 and "5" as logical 0.
func ParseTimestamp(decimal string) (Timestamp, error) {
	s := strings.TrimSpace(decimal)
	whole, frac, hasFrac := strings.Cut(s, ".")
	if whole == "" || (hasFrac && frac == "") {
		return Timestamp{}, errors.Newf("invalid timestamp %q", decimal)
	}
	for _, r := range whole {
		if r < '0' || r > '9' {
			return Timestamp{}, errors.Newf("invalid timestamp %q", decimal)
		}
	}
	wall, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return Timestamp{}, errors.Wrapf(err, "invalid timestamp %q", decimal)
	}
	var logical int64
	if hasFrac {
		if len(frac) > 10 {
			return Timestamp{}, errors.Newf("invalid timestamp %q: more than 10 fractional digits", decimal)
		}
		for _, r := range frac {
			if r < '0' || r > '9' {
				return Timestamp{}, errors.Newf("invalid timestamp %q", decimal)
			}
		}
		frac += strings.Repeat("0", 10-len(frac))
		logical, err = strconv.ParseInt(frac, 10, 64)
		if err != nil {
			return Timestamp{}, errors.Wrapf(err, "invalid timestamp %q", decimal)
		}
		if logical > math.MaxInt32 {
			return Timestamp{}, errors.Newf("invalid timestamp %q: logical part out of range", decimal)
		}
	}
	return Timestamp{WallTime: wall, Logical: int32(logical)}, nil
}
