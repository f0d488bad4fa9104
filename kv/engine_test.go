package kv

import (
	"context"
	"testing"
)

func TestGetAtTimestamps(t *testing.T) {
	e := openTest(t, Options{})
	ctx := context.Background()
	t1 := put(t, e, "a", "1")
	t2 := put(t, e, "a", "2")
	t3 := del(t, e, "a")
	t4 := put(t, e, "a", "")
	for _, c := range []struct {
		ts   Timestamp
		want string
	}{{t1.Prev(), "<none>"}, {t1, "1"}, {t2.Prev(), "1"}, {t2, "2"}, {t3, "<none>"}, {t4, ""}, {e.Now(), ""}} {
		if got := get(t, e, "a", c.ts); got != c.want {
			t.Errorf("get a@%v = %q, want %q", c.ts, got, c.want)
		}
	}
	v, ok, err := e.Get(ctx, []byte("a"), t4)
	if err != nil || !ok || v == nil || len(v) != 0 {
		t.Fatalf("empty value must be live and non-nil: %v %v %v", v, ok, err)
	}
	if _, _, err := e.Get(ctx, []byte{0x01, 'x'}, t4); err == nil {
		t.Fatal("reading a reserved key must fail")
	}
	if _, _, err := e.Get(ctx, []byte("a"), Timestamp{}); err == nil {
		t.Fatal("reading at the empty timestamp must fail")
	}
	if _, _, err := e.Get(ctx, []byte("a"), MaxTimestamp); err == nil {
		t.Fatal("reading far in the future must fail")
	}
}

func TestScanForwardReverseLimits(t *testing.T) {
	e := openTest(t, Options{})
	ctx := context.Background()
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		put(t, e, k, "v"+k)
	}
	put(t, e, "b", "vb2")
	del(t, e, "c")
	now := e.Now()
	res, err := e.Scan(ctx, sp("a", "z"), now, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := kvsString(res.KVs); got != "a=va b=vb2 d=vd e=ve" || res.ResumeSpan != nil {
		t.Fatalf("forward scan: %s resume %v", got, res.ResumeSpan)
	}
	res, _ = e.Scan(ctx, sp("a", "z"), now, ScanOptions{Reverse: true})
	if got := kvsString(res.KVs); got != "e=ve d=vd b=vb2 a=va" {
		t.Fatalf("reverse scan: %s", got)
	}
	// Row limits with resume spans, both directions, page through all.
	for _, rev := range []bool{false, true} {
		span := sp("a", "z")
		var all []string
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("too many pages")
			}
			res, err := e.Scan(ctx, span, now, ScanOptions{MaxRows: 2, Reverse: rev})
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, kvsString(res.KVs))
			if res.ResumeSpan == nil {
				break
			}
			span = *res.ResumeSpan
		}
		want := []string{"a=va b=vb2", "d=vd e=ve"}
		if rev {
			want = []string{"e=ve d=vd", "b=vb2 a=va"}
		}
		if len(all) != 2 || all[0] != want[0] || all[1] != want[1] {
			t.Fatalf("pages (reverse=%v): %q", rev, all)
		}
	}
	// Byte limit: each row is 3-4 bytes; a limit of 1 still returns a row.
	res, _ = e.Scan(ctx, sp("a", "z"), now, ScanOptions{MaxBytes: 1})
	if len(res.KVs) != 1 || res.ResumeSpan == nil || string(res.ResumeSpan.Key) != "b" {
		t.Fatalf("byte limit: %s %v", kvsString(res.KVs), res.ResumeSpan)
	}
	res, _ = e.Scan(ctx, sp("a", "z"), now, ScanOptions{MaxBytes: 8})
	if kvsString(res.KVs) != "a=va b=vb2" {
		t.Fatalf("byte limit 8: %s", kvsString(res.KVs))
	}
	// Scans never see reserved keys, even with a span starting at 0x00.
	res, _ = e.Scan(ctx, Span{Key: []byte{0}, EndKey: []byte{0xff, 0xff, 0xff}}, now, ScanOptions{})
	if kvsString(res.KVs) != "a=va b=vb2 d=vd e=ve" {
		t.Fatalf("full scan: %s", kvsString(res.KVs))
	}
	// Single-key span.
	res, _ = e.Scan(ctx, sp("d", ""), now, ScanOptions{})
	if kvsString(res.KVs) != "d=vd" {
		t.Fatalf("single key span: %s", kvsString(res.KVs))
	}
}

func TestScanManyVersions(t *testing.T) {
	// Many versions newer than the read timestamp exercise the
	// next-then-seek path; many deleted keys exercise skipping.
	e := openTest(t, Options{})
	ctx := context.Background()
	old := put(t, e, "k1", "old")
	put(t, e, "k2", "x")
	for i := 0; i < 20; i++ {
		put(t, e, "k1", "new")
		put(t, e, "k2", "new")
	}
	del(t, e, "k2")
	res, _ := e.Scan(ctx, sp("k", "l"), old, ScanOptions{})
	if kvsString(res.KVs) != "k1=old" {
		t.Fatalf("old scan: %s", kvsString(res.KVs))
	}
	res, _ = e.Scan(ctx, sp("k", "l"), old, ScanOptions{Reverse: true})
	if kvsString(res.KVs) != "k1=old" {
		t.Fatalf("old reverse scan: %s", kvsString(res.KVs))
	}
	res, _ = e.Scan(ctx, sp("k", "l"), e.Now(), ScanOptions{Reverse: true})
	if kvsString(res.KVs) != "k1=new" {
		t.Fatalf("reverse scan: %s", kvsString(res.KVs))
	}
}

func TestReopenKeepsDataAndClockMonotonic(t *testing.T) {
	dir := t.TempDir()
	// A wall clock stuck in the past must not make the reopened store hand
	// out timestamps at or below those it handed out before.
	w := newManualWall(1000)
	e, err := Open(Options{Dir: dir, WallClock: w.now})
	if err != nil {
		t.Fatal(err)
	}
	ts := put(t, e, "a", "1")
	last := e.Now()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	w.set(10) // wall clock went backwards across the restart
	e, err = Open(Options{Dir: dir, WallClock: w.now})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if got := get(t, e, "a", ts); got != "1" {
		t.Fatalf("after reopen: %q", got)
	}
	if now := e.Now(); !last.Less(now) {
		t.Fatalf("clock went backwards across restart: %v then %v", last, now)
	}
	if ts2 := put(t, e, "a", "2"); !ts.Less(ts2) {
		t.Fatalf("commit timestamp %v not above %v", ts2, ts)
	}
}
