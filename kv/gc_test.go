package kv

import (
	"context"
	"testing"
	"time"
)

func TestGCRemovesShadowedVersions(t *testing.T) {
	w := newManualWall(int64(time.Hour))
	e := openTest(t, Options{WallClock: w.now, GCInterval: -1, DefaultGCTTL: time.Minute})
	ctx := context.Background()
	t1 := put(t, e, "a", "1")
	put(t, e, "a", "2")
	put(t, e, "b", "1")
	tDel := del(t, e, "b")
	w.add(int64(30 * time.Second))
	t5 := put(t, e, "a", "3")
	w.add(int64(45 * time.Second)) // a=1,a=2,b are older than the TTL now
	stats, err := e.RunGC(ctx)
	must(t, err)
	if stats.VersionsRemoved != 3 { // a@1 (shadowed), b's tombstone and value
		t.Fatalf("removed %d versions", stats.VersionsRemoved)
	}
	th := e.GCThreshold(sp("a", "z"))
	if !tDel.Less(th) || !th.Less(t5) {
		t.Fatalf("threshold %v not between %v and %v", th, tDel, t5)
	}
	// Reads at or above the threshold are unchanged.
	if get(t, e, "a", th) != "2" || get(t, e, "a", e.Now()) != "3" || get(t, e, "b", th) != "<none>" {
		t.Fatal("reads above the threshold changed")
	}
	_, _, err = e.Get(ctx, []byte("a"), t1)
	if !IsBelowGCThreshold(err) {
		t.Fatalf("read below threshold: %v", err)
	}
	if _, err := e.Scan(ctx, sp("a", "z"), t1, ScanOptions{}); !IsBelowGCThreshold(err) {
		t.Fatalf("scan below threshold: %v", err)
	}
	// A transaction that read below the new threshold cannot commit.
	old := e.Begin(TxnOptions{ReadTimestamp: th})
	old.Get(ctx, []byte("a"))
	old.Put([]byte("c"), nil)
	w.add(int64(time.Minute))
	_, err = e.RunGC(ctx)
	must(t, err)
	if _, err := old.Commit(ctx); !IsRetryable(err) {
		t.Fatalf("commit after GC passed the read timestamp: %v", err)
	}
}

func TestGCHeldBackByProtectedTimestamp(t *testing.T) {
	w := newManualWall(int64(time.Hour))
	dir := t.TempDir()
	e, err := Open(Options{Dir: dir, WallClock: w.now, GCInterval: -1})
	must(t, err)
	ctx := context.Background()
	must(t, e.SetGCTTL(ctx, sp("\xfe\x02", "\xfe\x03"), time.Second))
	put(t, e, "\xfe\x02a", "1")
	tp := put(t, e, "\xfe\x02a", "2")
	put(t, e, "\xfe\x02a", "3")
	put(t, e, "\xfe\x03a", "1") // default TTL (4h): never collected here
	put(t, e, "\xfe\x03a", "2")
	must(t, e.Protect(ctx, ProtectedTimestamp{ID: "stream-1", Span: sp("\xfe\x02", "\xfe\x03"), Timestamp: tp}))
	// Restart: configuration and protection survive.
	must(t, e.Close())
	e, err = Open(Options{Dir: dir, WallClock: w.now, GCInterval: -1})
	must(t, err)
	defer e.Close()
	if pts := e.ProtectedTimestamps(); len(pts) != 1 || pts[0].ID != "stream-1" || pts[0].Timestamp != tp {
		t.Fatalf("protected timestamps after restart: %+v", pts)
	}
	w.add(int64(time.Minute))
	stats, err := e.RunGC(ctx)
	must(t, err)
	if stats.VersionsRemoved != 1 { // only a@1, shadowed before tp
		t.Fatalf("removed %d", stats.VersionsRemoved)
	}
	if th := e.GCThreshold(sp("\xfe\x02", "\xfe\x03")); th != tp {
		t.Fatalf("threshold %v, want the protected %v", th, tp)
	}
	if get(t, e, "\xfe\x02a", tp) != "2" {
		t.Fatal("protected version lost")
	}
	if !e.GCThreshold(sp("\xfe\x03", "\xfe\x04")).IsEmpty() {
		t.Fatal("default-TTL span got a threshold")
	}
	// Protecting below the threshold is refused; moving the protection up
	// lets GC proceed.
	if err := e.Protect(ctx, ProtectedTimestamp{ID: "x", Span: sp("\xfe\x02", "\xfe\x03"), Timestamp: tp.Prev()}); !IsBelowGCThreshold(err) {
		t.Fatalf("protect below threshold: %v", err)
	}
	must(t, e.Unprotect(ctx, "stream-1"))
	stats, err = e.RunGC(ctx)
	must(t, err)
	if stats.VersionsRemoved != 1 || get(t, e, "\xfe\x02a", e.Now()) != "3" {
		t.Fatalf("after unprotect: removed %d", stats.VersionsRemoved)
	}
	// Thresholds survive a restart.
	th := e.GCThreshold(sp("\xfe\x02", "\xfe\x03"))
	must(t, e.Close())
	e, err = Open(Options{Dir: dir, WallClock: w.now, GCInterval: -1})
	must(t, err)
	if got := e.GCThreshold(sp("\xfe\x02", "\xfe\x03")); got != th {
		t.Fatalf("threshold after restart %v, want %v", got, th)
	}
	// Subscribing below the threshold fails.
	if _, err := e.Subscribe(ctx, sp("\xfe\x02", "\xfe\x03"), tp, SubscribeOptions{}); !IsBelowGCThreshold(err) {
		t.Fatalf("subscribe below threshold: %v", err)
	}
}

func TestBackgroundGC(t *testing.T) {
	e := openTest(t, Options{GCInterval: time.Millisecond})
	ctx := context.Background()
	must(t, e.SetGCTTL(ctx, sp("a", "b"), 0))
	put(t, e, "a1", "1")
	put(t, e, "a1", "2")
	succeedsSoon(t, func() error {
		n := 0
		must(t, e.Export(ctx, sp("a", "b"), Timestamp{}, e.Now(), func(Version) error { n++; return nil }))
		if n != 1 {
			return errorf("%d versions", n)
		}
		return nil
	})
}
