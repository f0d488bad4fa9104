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

// TestReadersAndGCAgree: a GC pass that raises the threshold above a
// reader's timestamp between the reader's own threshold check and its
// snapshot (forced here with a hook at the snapshot) must make the read
// fail, never return history with the versions it removed missing (see
// "Readers and GC" in gc.go).
//
// The "/pooled" variants first leave an iterator in the pool (iterpool.go),
// so the reads that use the pool reuse a snapshot taken before the pass.
func TestReadersAndGCAgree(t *testing.T) {
	ctx := context.Background()
	poolReaders := map[string]bool{"get": true, "scan": true, "txn-get": true, "txn-scan": true}
	for _, c := range []struct {
		name string
		// read reads at (or from) ts and returns its error; it fails the
		// test itself if it returns a result without the removed version.
		read func(t *testing.T, e *Engine, t1, ts Timestamp) error
	}{
		{"get", func(t *testing.T, e *Engine, t1, ts Timestamp) error {
			v, ok, err := e.Get(ctx, []byte("a"), ts)
			if err == nil && (!ok || string(v) != "1") {
				t.Fatalf("a at %v = %q, %v", ts, v, ok)
			}
			return err
		}},
		{"scan", func(t *testing.T, e *Engine, t1, ts Timestamp) error {
			res, err := e.Scan(ctx, sp("a", "z"), ts, ScanOptions{})
			if err == nil && kvsString(res.KVs) != "a=1" {
				t.Fatalf("scan at %v = %s", ts, kvsString(res.KVs))
			}
			return err
		}},
		{"txn-get", func(t *testing.T, e *Engine, t1, ts Timestamp) error {
			v, ok, err := e.Begin(TxnOptions{ReadTimestamp: ts}).Get(ctx, []byte("a"))
			if err == nil && (!ok || string(v) != "1") {
				t.Fatalf("a at %v = %q, %v", ts, v, ok)
			}
			return err
		}},
		{"txn-scan", func(t *testing.T, e *Engine, t1, ts Timestamp) error {
			res, err := e.Begin(TxnOptions{ReadTimestamp: ts}).Scan(ctx, sp("a", "z"), ScanOptions{})
			if err == nil && kvsString(res.KVs) != "a=1" {
				t.Fatalf("scan at %v = %s", ts, kvsString(res.KVs))
			}
			return err
		}},
		{"fingerprint", func(t *testing.T, e *Engine, t1, ts Timestamp) error {
			fp, err := e.Fingerprint(ctx, sp("a", "z"), t1.Prev(), ts, FingerprintOptions{})
			want := FingerprintVersions([]Version{{Key: []byte("a"), Timestamp: t1, Value: []byte("1")}}, FingerprintOptions{})
			if err == nil && fp != want {
				t.Fatalf("fingerprint from %v = %x, want %x", t1.Prev(), fp, want)
			}
			return err
		}},
		{"export", func(t *testing.T, e *Engine, t1, ts Timestamp) error {
			n := 0
			err := e.Export(ctx, sp("a", "z"), t1.Prev(), ts, func(Version) error { n++; return nil })
			if err == nil && n != 1 {
				t.Fatalf("export from %v gave %d versions", t1.Prev(), n)
			}
			return err
		}},
		{"catch-up", func(t *testing.T, e *Engine, t1, ts Timestamp) error {
			sub, err := e.Subscribe(ctx, sp("a", "z"), t1.Prev(), SubscribeOptions{})
			must(t, err)
			defer sub.Close()
			for ev := range sub.Events() {
				if ev.Type == EventCheckpoint {
					t.Fatalf("catch-up completed after GC removed %v", t1)
				}
			}
			return sub.Err()
		}},
		{"revert", func(t *testing.T, e *Engine, t1, ts Timestamp) error {
			err := e.RevertRange(ctx, sp("a", "z"), ts)
			if err == nil {
				if got := scanAll(t, e, sp("a", "z"), e.Now()); got != "a=1" {
					t.Fatalf("after revert to %v: %s", ts, got)
				}
			}
			return err
		}},
	} {
		for _, warm := range []bool{false, true} {
			name := c.name
			if warm {
				name += "/pooled"
			}
			t.Run(name, func(t *testing.T) {
				w := newManualWall(int64(time.Hour))
				e := openTest(t, Options{WallClock: w.now, GCInterval: -1, DefaultGCTTL: time.Minute})
				t1 := put(t, e, "a", "1")
				w.add(int64(10 * time.Second))
				put(t, e, "a", "2")
				ts := t1.Next() // a=1 there; a@t1 is shadowed by a@t2 above
				opened := -1
				if warm {
					// Leave a pooled iterator, opened before the GC
					// pass, for the read to reuse.
					if _, _, err := e.Get(ctx, []byte("zz"), e.Now()); err != nil {
						t.Fatal(err)
					}
					opened = e.iters.opened
				}
				var gcErr error
				ran := false
				e.testBeforeSnapshot = func() {
					if ran {
						return
					}
					ran = true
					// Everything so far is older than the TTL now: the
					// pass removes a@t1 and keeps a@t2.
					w.add(int64(2 * time.Minute))
					var stats GCStats
					stats, gcErr = e.RunGC(ctx)
					if gcErr == nil && stats.VersionsRemoved != 1 {
						gcErr = errorf("GC removed %d versions", stats.VersionsRemoved)
					}
				}
				err := c.read(t, e, t1, ts)
				must(t, gcErr)
				if !ran {
					t.Fatal("the read took no snapshot")
				}
				if poolReaders[c.name] && warm && e.iters.opened != opened {
					t.Fatal("the read did not reuse the pooled iterator")
				}
				if !IsBelowGCThreshold(err) {
					t.Fatalf("read at %v with the threshold raised to %v: %v", ts, e.GCThreshold(sp("a", "z")), err)
				}
			})
		}
	}
}
