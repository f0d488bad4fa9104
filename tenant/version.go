package tenant

import (
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/cockroachdb/errors"
)

// A Version is a release, and a cluster version, in CockroachDB's
// numbering: year.release ("25.2"). Patch releases never change
// compatibility, so they are not part of it. The zero Version is unset.
type Version struct {
	Year, Release int
}

// binaryRelease is the release this binary is: the single source of truth
// for every version string vcdb shows (vcdb version, version(),
// server_version's vcdb part, the bootstrap cluster version).
var binaryRelease = Version{Year: 25, Release: 2}

// binaryVersionOverride, when set at link time, makes this binary another
// release. It exists for tests that need a real mixed-version pair of
// processes:
//
//	go build -ldflags "-X github.com/vcdb/vcdb/tenant.binaryVersionOverride=25.1"
//
// A value that does not parse is ignored: the binary is then its
// compiled release, which `vcdb version` shows.
var binaryVersionOverride string

// testingBinary, when set, replaces the linked release for in-process
// tests (TestingSetBinaryVersion). It is atomic because a Host's
// goroutines (the auto-finalizer) read Binary while a test switches
// releases between restarts.
var testingBinary atomic.Pointer[Version]

// Binary is this binary's release.
func Binary() Version {
	if v := testingBinary.Load(); v != nil {
		return *v
	}
	if binaryVersionOverride != "" {
		if v, err := ParseVersion(binaryVersionOverride); err == nil {
			return v
		}
	}
	return binaryRelease
}

// TestingSetBinaryVersion makes this process behave as a binary of
// release v (Binary, MinSupported, Supports and every version string
// derived from them) until restore is called. It is for in-process tests
// that open a store as one release and reopen it as another; a real
// previous-release binary is built with the link-time override instead.
// Calls must not overlap (restore undoes one call).
func TestingSetBinaryVersion(v Version) (restore func()) {
	prev := testingBinary.Swap(&v)
	return func() { testingBinary.Store(prev) }
}

// BinaryString is the binary's version as `vcdb version` prints it:
// "v25.2.0".
func BinaryString() string {
	return "v" + Binary().String() + ".0"
}

// MinSupported is the oldest cluster version this binary can run: the
// release before its own. A binary supports exactly two cluster versions,
// MinSupported and Binary.
func MinSupported() Version {
	return Binary().Previous()
}

// Supports reports whether this binary can run a cluster (or open a
// store) at cluster version v.
func Supports(v Version) bool {
	return v == Binary() || v == MinSupported()
}

// ParseVersion parses "25.2" (and, leniently, "v25.2" and "25.2.0" with a
// zero patch, which is how binary versions are written).
func ParseVersion(s string) (Version, error) {
	t := strings.TrimPrefix(s, "v")
	y, r, ok := strings.Cut(t, ".")
	if !ok {
		return Version{}, errors.Newf("invalid version %q: want YY.N, for example 25.2", s)
	}
	if r2, patch, hasPatch := strings.Cut(r, "."); hasPatch {
		if p, err := strconv.Atoi(patch); err != nil || p < 0 {
			return Version{}, errors.Newf("invalid version %q: want YY.N, for example 25.2", s)
		}
		r = r2
	}
	yi, err1 := strconv.Atoi(y)
	ri, err2 := strconv.Atoi(r)
	if err1 != nil || err2 != nil || yi < 1 || ri < 1 || ri > 4 {
		return Version{}, errors.Newf("invalid version %q: want YY.N, for example 25.2", s)
	}
	return Version{Year: yi, Release: ri}, nil
}

// String is "25.2"; "" for the zero Version.
func (v Version) String() string {
	if v.IsZero() {
		return ""
	}
	return strconv.Itoa(v.Year) + "." + strconv.Itoa(v.Release)
}

// IsZero reports whether v is unset.
func (v Version) IsZero() bool { return v == Version{} }

// Less reports whether v is an older release than w.
func (v Version) Less(w Version) bool {
	return v.Year < w.Year || v.Year == w.Year && v.Release < w.Release
}

// Previous is the release before v. CockroachDB released 24.1–24.3 and
// then four releases a year from 2025 (25.1–25.4); vcdb's versions follow
// that numbering, so 25.1's predecessor is 24.3 and 26.1's is 25.4.
func (v Version) Previous() Version {
	switch {
	case v.Release > 1:
		return Version{Year: v.Year, Release: v.Release - 1}
	case v.Year <= 25:
		return Version{Year: v.Year - 1, Release: 3}
	default:
		return Version{Year: v.Year - 1, Release: 4}
	}
}

// Next is the release after v (see Previous).
func (v Version) Next() Version {
	last := 4
	if v.Year <= 24 {
		last = 3
	}
	if v.Release < last {
		return Version{Year: v.Year, Release: v.Release + 1}
	}
	return Version{Year: v.Year + 1, Release: 1}
}
