package tenant

import "testing"

func TestParseVersion(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Version
		ok   bool
	}{
		{"25.2", Version{25, 2}, true},
		{"v25.2.0", Version{25, 2}, true},
		{"25.2.3", Version{25, 2}, true},
		{"24.3", Version{24, 3}, true},
		{"25", Version{}, false},
		{"25.x", Version{}, false},
		{"25.5", Version{}, false},
		{"25.0", Version{}, false},
		{"", Version{}, false},
		{"25.2.-1", Version{}, false},
	} {
		got, err := ParseVersion(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// TestPreviousNext: the release train (24.1–24.3, then four a year) in
// both directions.
func TestPreviousNext(t *testing.T) {
	train := []Version{{24, 1}, {24, 2}, {24, 3}, {25, 1}, {25, 2}, {25, 3}, {25, 4}, {26, 1}, {26, 2}}
	for i := 1; i < len(train); i++ {
		if p := train[i].Previous(); p != train[i-1] {
			t.Errorf("%v.Previous() = %v, want %v", train[i], p, train[i-1])
		}
		if n := train[i-1].Next(); n != train[i] {
			t.Errorf("%v.Next() = %v, want %v", train[i-1], n, train[i])
		}
		if !train[i-1].Less(train[i]) || train[i].Less(train[i-1]) {
			t.Errorf("order of %v and %v", train[i-1], train[i])
		}
	}
}

// TestBinaryOverride: the link-time override makes the binary another
// release, and the supported cluster versions follow it.
func TestBinaryOverride(t *testing.T) {
	if Binary() != binaryRelease || BinaryString() != "v25.2.0" {
		t.Fatalf("binary %v %s", Binary(), BinaryString())
	}
	if !Supports(Version{25, 2}) || !Supports(Version{25, 1}) || Supports(Version{24, 3}) || Supports(Version{25, 3}) {
		t.Fatal("25.2 supports exactly 25.1 and 25.2")
	}
	defer func(old string) { binaryVersionOverride = old }(binaryVersionOverride)
	binaryVersionOverride = "25.1"
	if Binary() != (Version{25, 1}) || BinaryString() != "v25.1.0" || MinSupported() != (Version{24, 3}) {
		t.Fatalf("override: %v %s %v", Binary(), BinaryString(), MinSupported())
	}
	if Supports(Version{25, 2}) {
		t.Fatal("a 25.1 binary cannot run 25.2")
	}
	binaryVersionOverride = "garbage"
	if Binary() != binaryRelease {
		t.Fatal("an unparsable override is ignored")
	}
}

// TestTestingSetBinaryVersion: the in-process override changes the
// binary's release and what it supports, and restore brings back the
// previous one (nested calls restore in order).
func TestTestingSetBinaryVersion(t *testing.T) {
	orig := Binary()
	restore := TestingSetBinaryVersion(Version{25, 1})
	if Binary() != (Version{25, 1}) || BinaryString() != "v25.1.0" || !Supports(Version{24, 3}) || Supports(Version{25, 2}) {
		t.Fatalf("as 25.1: %v %s", Binary(), BinaryString())
	}
	restore2 := TestingSetBinaryVersion(Version{25, 3})
	if Binary() != (Version{25, 3}) || MinSupported() != (Version{25, 2}) {
		t.Fatalf("as 25.3: %v min %v", Binary(), MinSupported())
	}
	restore2()
	if Binary() != (Version{25, 1}) {
		t.Fatalf("after the inner restore: %v", Binary())
	}
	restore()
	if Binary() != orig {
		t.Fatalf("after restore: %v, want %v", Binary(), orig)
	}
}
