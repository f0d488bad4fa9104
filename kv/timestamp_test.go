package kv

import (
	"math"
	"testing"
)

func TestTimestampOrderAndNeighbours(t *testing.T) {
	a := Timestamp{WallTime: 10, Logical: 5}
	b := Timestamp{WallTime: 10, Logical: 6}
	c := Timestamp{WallTime: 11}
	if !a.Less(b) || !b.Less(c) || c.Less(a) || a.Less(a) {
		t.Fatal("Less is wrong")
	}
	if !a.LessEq(a) || a.Compare(b) != -1 || c.Compare(b) != 1 || a.Compare(a) != 0 {
		t.Fatal("Compare/LessEq are wrong")
	}
	if a.Next() != b || b.Prev() != a {
		t.Fatal("Next/Prev within a wall time")
	}
	top := Timestamp{WallTime: 10, Logical: math.MaxInt32}
	if top.Next() != c || c.Prev() != top {
		t.Fatalf("Next/Prev across wall times: %v %v", top.Next(), c.Prev())
	}
	if !(Timestamp{}).IsEmpty() || a.IsEmpty() {
		t.Fatal("IsEmpty")
	}
	if (Timestamp{}).Prev() != (Timestamp{}) {
		t.Fatal("Prev of empty")
	}
}

func TestTimestampStringRoundTrip(t *testing.T) {
	ts := Timestamp{WallTime: 1700000000123456789, Logical: 2}
	if got, want := ts.String(), "1700000000123456789.0000000002"; got != want {
		t.Fatalf("String = %q, want %q", got, want)
	}
	for _, ts := range []Timestamp{{}, {WallTime: 1}, {WallTime: 5, Logical: math.MaxInt32}, ts} {
		back, err := ParseTimestamp(ts.String())
		if err != nil || back != ts {
			t.Fatalf("round trip of %v: %v, %v", ts, back, err)
		}
	}
	cases := map[string]Timestamp{
		"5":              {WallTime: 5},
		"5.1":            {WallTime: 5, Logical: 1000000000},
		" 7.0000000003 ": {WallTime: 7, Logical: 3},
	}
	for in, want := range cases {
		got, err := ParseTimestamp(in)
		if err != nil || got != want {
			t.Errorf("ParseTimestamp(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", ".", "5.", "-1.0", "a.1", "1.00000000001", "1.9999999999", "1e5", "99999999999999999999"} {
		if _, err := ParseTimestamp(bad); err == nil {
			t.Errorf("ParseTimestamp(%q) succeeded", bad)
		}
	}
}

func TestClockMonotonicAndUpdate(t *testing.T) {
	w := newManualWall(100)
	c := NewClock(w.now)
	a := c.Now()
	b := c.Now()
	if !a.Less(b) || a.WallTime != 100 {
		t.Fatalf("not increasing: %v %v", a, b)
	}
	w.set(50) // wall clock goes backwards
	if d := c.Now(); !b.Less(d) {
		t.Fatalf("went backwards: %v after %v", d, b)
	}
	c.Update(Timestamp{WallTime: 1000, Logical: 7})
	if d := c.Now(); !(Timestamp{WallTime: 1000, Logical: 7}).Less(d) {
		t.Fatalf("Update not respected: %v", d)
	}
	c.Update(Timestamp{WallTime: 1}) // older remote: no effect
	w.set(2000)
	if d := c.Now(); d != (Timestamp{WallTime: 2000}) {
		t.Fatalf("wall time did not take over: %v", d)
	}
	if NewClock(nil).Now().IsEmpty() {
		t.Fatal("default clock")
	}
}
