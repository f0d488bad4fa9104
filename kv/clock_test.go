package kv

import (
	"testing"
	"time"

	"github.com/cockroachdb/crlib/testutils/leaktest"
)

// TestReopenClockTracksWallTime: on a real wall clock and an on-disk store,
// a reopened engine hands out timestamps at the wall time (not up to the
// persisted lead ahead of it), above everything handed out before, and
// Open waits no longer than the lead for it.
func TestReopenClockTracksWallTime(t *testing.T) {
	defer leaktest.AfterTest(t)()
	dir := t.TempDir()
	var last Timestamp
	for round := 0; round < 3; round++ {
		start := time.Now()
		e, err := Open(Options{Dir: dir, GCInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("round %d: Open took %s", round, d)
		}
		now := e.Now()
		after := time.Now().UnixNano()
		if !last.Less(now) {
			t.Fatalf("round %d: clock %v not above %v from before the restart", round, now, last)
		}
		if now.WallTime > after {
			t.Fatalf("round %d: clock %v is %s ahead of the wall clock", round, now, time.Duration(now.WallTime-after))
		}
		// The persisted mark leads the wall clock by at most the lead.
		e.hwm.Lock()
		lead := e.hwm.persisted - time.Now().UnixNano()
		e.hwm.Unlock()
		if lead > hwmLead {
			t.Fatalf("round %d: persisted mark %s ahead of the wall clock, more than %s", round, time.Duration(lead), time.Duration(hwmLead))
		}
		last = put(t, e, "k", "v")
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestClockRenewalOffCommitPath: the renewal goroutine keeps the persisted
// mark ahead of the wall clock whether the engine is idle or busy, so no
// commit (and no Now) has to persist the mark itself, and the mark never
// leads by more than hwmLead.
func TestClockRenewalOffCommitPath(t *testing.T) {
	e := openTest(t, Options{GCInterval: -1})
	syncs := func() int64 {
		e.clock.mu.Lock()
		defer e.clock.mu.Unlock()
		return e.clock.mu.syncExtensions
	}
	checkLead := func(when string) {
		t.Helper()
		e.hwm.Lock()
		lead := e.hwm.persisted - time.Now().UnixNano()
		e.hwm.Unlock()
		if lead > hwmLead {
			t.Fatalf("%s: persisted mark %s ahead of the wall clock", when, time.Duration(lead))
		}
	}
	base := syncs()
	// Idle for several leads: the timer alone must renew the mark.
	time.Sleep(3 * time.Duration(hwmLead))
	checkLead("idle")
	put(t, e, "k", "idle")
	if n := syncs() - base; n != 0 {
		t.Fatalf("the first commit after an idle period persisted the mark itself (%d times)", n)
	}
	// Busy for several leads.
	deadline := time.Now().Add(3 * time.Duration(hwmLead))
	for i := 0; time.Now().Before(deadline); i++ {
		put(t, e, "k", "busy")
		if i%50 == 0 {
			checkLead("busy")
		}
	}
	if n := syncs() - base; n != 0 {
		t.Fatalf("commits persisted the mark themselves %d times", n)
	}
}

// TestCloseLowersMarkAndSeals: Close lowers the persisted mark to the last
// timestamp handed out, and a Now on the closed engine's clock that would
// need a higher mark is flagged rather than handed out unprotected.
func TestCloseLowersMarkAndSeals(t *testing.T) {
	defer leaktest.AfterTest(t)()
	w := newManualWall(int64(1000 * time.Second))
	e, err := Open(Options{InMemory: true, WallClock: w.now, GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	ts := e.Now()
	e.hwm.Lock()
	if e.hwm.persisted != ts.WallTime+hwmLead {
		t.Errorf("mark %d, want %d", e.hwm.persisted, ts.WallTime+hwmLead)
	}
	e.hwm.Unlock()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e.hwm.Lock()
	if e.hwm.persisted != ts.WallTime {
		t.Errorf("mark after Close %d, want %d", e.hwm.persisted, ts.WallTime)
	}
	e.hwm.Unlock()
	if e.clockErr.Load() != nil {
		t.Fatal("clock error before any use after Close")
	}
	w.add(int64(time.Millisecond))
	_ = e.Now()
	if e.clockErr.Load() == nil {
		t.Fatal("a Now beyond the lowered mark after Close was not flagged")
	}
}
