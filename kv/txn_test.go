package kv

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"sync"
	"testing"
)

func TestTxnReadYourOwnWrites(t *testing.T) {
	e := openTest(t, Options{})
	ctx := context.Background()
	put(t, e, "a", "1")
	put(t, e, "c", "3")
	put(t, e, "e", "5")
	txn := e.Begin(TxnOptions{})
	must(t, txn.Put([]byte("b"), []byte("2")))
	must(t, txn.Delete([]byte("c")))
	must(t, txn.Put([]byte("e"), []byte("55")))
	must(t, txn.Put([]byte("f"), nil))
	if v, ok, _ := txn.Get(ctx, []byte("b")); !ok || string(v) != "2" {
		t.Fatal("own put not visible")
	}
	if _, ok, _ := txn.Get(ctx, []byte("c")); ok {
		t.Fatal("own delete not visible")
	}
	res, err := txn.Scan(ctx, sp("a", "z"), ScanOptions{})
	must(t, err)
	if got := kvsString(res.KVs); got != "a=1 b=2 e=55 f=" {
		t.Fatalf("merged scan: %s", got)
	}
	res, _ = txn.Scan(ctx, sp("a", "z"), ScanOptions{Reverse: true, MaxRows: 3})
	if got := kvsString(res.KVs); got != "f= e=55 b=2" || res.ResumeSpan == nil || string(res.ResumeSpan.EndKey) != "b" {
		t.Fatalf("merged reverse scan: %s %v", got, res.ResumeSpan)
	}
	res, _ = txn.Scan(ctx, sp("a", "z"), ScanOptions{MaxRows: 2})
	if got := kvsString(res.KVs); got != "a=1 b=2" || string(res.ResumeSpan.Key) != "e" {
		t.Fatalf("merged limited scan: %s %v", got, res.ResumeSpan)
	}
	// Not visible to others before commit.
	if got := get(t, e, "b", e.Now()); got != "<none>" {
		t.Fatalf("uncommitted write visible: %q", got)
	}
	ts, err := txn.Commit(ctx)
	must(t, err)
	res, _ = e.Scan(ctx, sp("a", "z"), ts, ScanOptions{})
	if got := kvsString(res.KVs); got != "a=1 b=2 e=55 f=" {
		t.Fatalf("after commit: %s", got)
	}
	if _, err := txn.Commit(ctx); err != ErrTxnDone {
		t.Fatalf("second commit: %v", err)
	}
}

func TestTxnSavepoints(t *testing.T) {
	e := openTest(t, Options{})
	ctx := context.Background()
	put(t, e, "a", "0")
	txn := e.Begin(TxnOptions{})
	must(t, txn.Put([]byte("a"), []byte("1")))
	sp1 := txn.Savepoint()
	must(t, txn.Put([]byte("a"), []byte("2")))
	must(t, txn.Put([]byte("b"), []byte("2")))
	sp2 := txn.Savepoint()
	must(t, txn.Delete([]byte("a")))
	must(t, txn.RollbackTo(sp2))
	if v, _, _ := txn.Get(ctx, []byte("a")); string(v) != "2" {
		t.Fatalf("after rollback to sp2: %q", v)
	}
	must(t, txn.RollbackTo(sp1))
	if v, _, _ := txn.Get(ctx, []byte("a")); string(v) != "1" {
		t.Fatalf("after rollback to sp1: %q", v)
	}
	if _, ok, _ := txn.Get(ctx, []byte("b")); ok {
		t.Fatal("b survived rollback")
	}
	res, _ := txn.Scan(ctx, sp("a", "z"), ScanOptions{})
	if kvsString(res.KVs) != "a=1" {
		t.Fatalf("scan after rollback: %s", kvsString(res.KVs))
	}
	if err := txn.RollbackTo(sp2); err == nil {
		t.Fatal("rolling back to a savepoint past the buffer must fail")
	}
	must(t, txn.Put([]byte("b"), []byte("3")))
	ts, err := txn.Commit(ctx)
	must(t, err)
	if get(t, e, "a", ts) != "1" || get(t, e, "b", ts) != "3" {
		t.Fatal("committed state wrong")
	}
}

func TestTxnConflicts(t *testing.T) {
	ctx := context.Background()
	t.Run("read-write", func(t *testing.T) {
		e := openTest(t, Options{})
		put(t, e, "x", "0")
		t1 := e.Begin(TxnOptions{})
		v, _, _ := t1.Get(ctx, []byte("x"))
		put(t, e, "x", "1") // concurrent commit after t1 read x
		must(t, t1.Put([]byte("x"), append(v, '+')))
		_, err := t1.Commit(ctx)
		if !IsRetryable(err) {
			t.Fatalf("expected retryable error, got %v", err)
		}
		var cv interface{ ClientVisibleRetryError() }
		if !asIface(err, &cv) {
			t.Fatal("error does not implement ClientVisibleRetryError")
		}
	})
	t.Run("write-skew", func(t *testing.T) {
		e := openTest(t, Options{})
		put(t, e, "a", "on")
		put(t, e, "b", "on")
		t1 := e.Begin(TxnOptions{})
		t2 := e.Begin(TxnOptions{})
		t1.Get(ctx, []byte("a"))
		t1.Get(ctx, []byte("b"))
		t2.Get(ctx, []byte("a"))
		t2.Get(ctx, []byte("b"))
		must(t, t1.Put([]byte("a"), []byte("off")))
		must(t, t2.Put([]byte("b"), []byte("off")))
		_, err1 := t1.Commit(ctx)
		_, err2 := t2.Commit(ctx)
		if err1 != nil || !IsRetryable(err2) {
			t.Fatalf("write skew allowed or wrong txn failed: %v / %v", err1, err2)
		}
	})
	t.Run("phantom", func(t *testing.T) {
		e := openTest(t, Options{})
		t1 := e.Begin(TxnOptions{})
		res, _ := t1.Scan(ctx, sp("p", "q"), ScanOptions{})
		if len(res.KVs) != 0 {
			t.Fatal("expected empty")
		}
		put(t, e, "p1", "new")
		must(t, t1.Put([]byte("count"), []byte("0")))
		if _, err := t1.Commit(ctx); !IsRetryable(err) {
			t.Fatalf("phantom not detected: %v", err)
		}
	})
	t.Run("limited-scan-covers-only-what-it-read", func(t *testing.T) {
		e := openTest(t, Options{})
		put(t, e, "a", "1")
		put(t, e, "b", "2")
		put(t, e, "c", "3")
		t1 := e.Begin(TxnOptions{})
		res, _ := t1.Scan(ctx, sp("a", "z"), ScanOptions{MaxRows: 1})
		if kvsString(res.KVs) != "a=1" {
			t.Fatal(kvsString(res.KVs))
		}
		put(t, e, "c", "33") // outside what t1 read
		must(t, t1.Put([]byte("a"), []byte("11")))
		if _, err := t1.Commit(ctx); err != nil {
			t.Fatalf("unexpected conflict: %v", err)
		}
	})
	t.Run("blind-writes-do-not-conflict", func(t *testing.T) {
		e := openTest(t, Options{})
		t1 := e.Begin(TxnOptions{})
		t2 := e.Begin(TxnOptions{})
		must(t, t1.Put([]byte("k"), []byte("1")))
		must(t, t2.Put([]byte("k"), []byte("2")))
		ts2, err := t2.Commit(ctx)
		must(t, err)
		ts1, err := t1.Commit(ctx)
		must(t, err)
		if !ts2.Less(ts1) || get(t, e, "k", e.Now()) != "1" {
			t.Fatal("last committer must win")
		}
	})
	t.Run("read-only-never-fails", func(t *testing.T) {
		e := openTest(t, Options{})
		put(t, e, "x", "0")
		ro := e.Begin(TxnOptions{ReadOnly: true})
		v, _, _ := ro.Get(ctx, []byte("x"))
		put(t, e, "x", "1")
		if v2, _, _ := ro.Get(ctx, []byte("x")); string(v2) != string(v) {
			t.Fatal("snapshot not repeatable")
		}
		if err := ro.Put([]byte("x"), nil); err != ErrReadOnly {
			t.Fatalf("write in read-only txn: %v", err)
		}
		if _, err := ro.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("delete-range", func(t *testing.T) {
		e := openTest(t, Options{})
		put(t, e, "r1", "1")
		put(t, e, "r2", "2")
		put(t, e, "s", "3")
		t1 := e.Begin(TxnOptions{})
		must(t, t1.Put([]byte("r3"), []byte("3")))
		must(t, t1.DeleteRange(sp("r", "s")))
		must(t, t1.Put([]byte("r2"), []byte("again")))
		ts, err := t1.Commit(ctx)
		must(t, err)
		res, _ := e.Scan(ctx, sp("a", "z"), ts, ScanOptions{})
		if kvsString(res.KVs) != "r2=again s=3" {
			t.Fatalf("after delete range: %s", kvsString(res.KVs))
		}
		// A key added to the span concurrently makes DeleteRange conflict.
		t2 := e.Begin(TxnOptions{})
		must(t, t2.DeleteRange(sp("r", "s")))
		put(t, e, "r9", "late")
		if _, err := t2.Commit(ctx); !IsRetryable(err) {
			t.Fatalf("delete range conflict not detected: %v", err)
		}
	})
	t.Run("past-read-timestamp", func(t *testing.T) {
		e := openTest(t, Options{})
		t0 := put(t, e, "x", "0")
		put(t, e, "x", "1")
		old := e.Begin(TxnOptions{ReadTimestamp: t0})
		if v, _, _ := old.Get(ctx, []byte("x")); string(v) != "0" {
			t.Fatal("AS OF read")
		}
		must(t, old.Put([]byte("y"), []byte("1")))
		if _, err := old.Commit(ctx); !IsRetryable(err) {
			t.Fatalf("stale read-write txn committed: %v", err)
		}
	})
}

func TestConcurrentCounter(t *testing.T) {
	// Concurrent read-modify-write increments with retries must not lose
	// updates.
	e := openTest(t, Options{})
	ctx := context.Background()
	const workers, perWorker = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				for {
					txn := e.Begin(TxnOptions{})
					v, _, err := txn.Get(ctx, []byte("ctr"))
					if err != nil {
						errs <- err
						return
					}
					n := 0
					fmt.Sscan(string(v), &n)
					txn.Put([]byte("ctr"), []byte(fmt.Sprint(n+1)))
					_, err = txn.Commit(ctx)
					if err == nil {
						break
					}
					if !IsRetryable(err) {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := get(t, e, "ctr", e.Now()); got != fmt.Sprint(workers*perWorker) {
		t.Fatalf("counter = %s, want %d", got, workers*perWorker)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestTxnWriteBufferRandomized drives one transaction's write buffer through
// both of its modes (small, then indexed past smallBuffer keys) with random
// puts, deletes, savepoints and rollbacks, checking Get and Scan against a
// simple map after every step.
func TestTxnWriteBufferRandomized(t *testing.T) {
	e := openTest(t, Options{})
	ctx := context.Background()
	for i := 0; i < 40; i += 3 {
		put(t, e, fmt.Sprintf("k%02d", i), "stored")
	}
	rng := rand.New(rand.NewSource(7))
	base := map[string]string{}
	for i := 0; i < 40; i += 3 {
		base[fmt.Sprintf("k%02d", i)] = "stored"
	}
	for round := 0; round < 20; round++ {
		txn := e.Begin(TxnOptions{})
		view := map[string]string{}
		for a, b := range base {
			view[a] = b
		}
		type saved struct {
			sp   Savepoint
			view map[string]string
		}
		var sps []saved
		for step := 0; step < 60; step++ {
			k := fmt.Sprintf("k%02d", rng.Intn(40))
			switch r := rng.Intn(10); {
			case r < 5:
				v := fmt.Sprintf("v%d.%d", round, step)
				must(t, txn.Put([]byte(k), []byte(v)))
				view[k] = v
			case r < 7:
				must(t, txn.Delete([]byte(k)))
				delete(view, k)
			case r < 8:
				cp := map[string]string{}
				for a, b := range view {
					cp[a] = b
				}
				sps = append(sps, saved{txn.Savepoint(), cp})
			default:
				if len(sps) == 0 {
					continue
				}
				i := rng.Intn(len(sps))
				must(t, txn.RollbackTo(sps[i].sp))
				view = map[string]string{}
				for a, b := range sps[i].view {
					view[a] = b
				}
				sps = sps[:i+1]
			}
			v, ok, err := txn.Get(ctx, []byte(k))
			must(t, err)
			if want, wok := view[k]; ok != wok || string(v) != want {
				t.Fatalf("round %d step %d: get %s = %q/%v, want %q/%v", round, step, k, v, ok, want, wok)
			}
			res, err := txn.Scan(ctx, sp("k", "l"), ScanOptions{Reverse: step%2 == 0})
			must(t, err)
			var keys []string
			for a := range view {
				keys = append(keys, a)
			}
			sort.Strings(keys)
			if step%2 == 0 {
				sort.Sort(sort.Reverse(sort.StringSlice(keys)))
			}
			var want []KeyValue
			for _, a := range keys {
				want = append(want, KeyValue{Key: []byte(a), Value: []byte(view[a])})
			}
			if kvsString(res.KVs) != kvsString(want) {
				t.Fatalf("round %d step %d: scan\n got %s\nwant %s", round, step, kvsString(res.KVs), kvsString(want))
			}
		}
		if round%2 == 0 {
			txn.Rollback()
			continue
		}
		ts, err := txn.Commit(ctx)
		must(t, err)
		res, _ := e.Scan(ctx, sp("k", "l"), ts, ScanOptions{})
		var keys []string
		for a := range view {
			keys = append(keys, a)
		}
		sort.Strings(keys)
		var want []KeyValue
		for _, a := range keys {
			want = append(want, KeyValue{Key: []byte(a), Value: []byte(view[a])})
		}
		if kvsString(res.KVs) != kvsString(want) {
			t.Fatalf("round %d: committed state\n got %s\nwant %s", round, kvsString(res.KVs), kvsString(want))
		}
		base = view
	}
}

// TestTxnReadTimestampTakenOnFirstUse: without an explicit read timestamp,
// a transaction takes it when first needed and keeps it.
func TestTxnReadTimestampTakenOnFirstUse(t *testing.T) {
	e := openTest(t, Options{})
	ctx := context.Background()
	// Taken by the first read: a commit between Begin and the read is
	// visible.
	txn := e.Begin(TxnOptions{})
	put(t, e, "a", "1")
	if v, ok, err := txn.Get(ctx, []byte("a")); err != nil || !ok || string(v) != "1" {
		t.Fatalf("read after a commit that followed Begin: %q %v %v", v, ok, err)
	}
	// Taken by ReadTimestamp: later commits are not visible, and the
	// timestamp does not change.
	txn = e.Begin(TxnOptions{})
	rts := txn.ReadTimestamp()
	tb := put(t, e, "b", "1")
	if !rts.Less(tb) {
		t.Fatalf("read timestamp %v not below a later commit %v", rts, tb)
	}
	if _, ok, err := txn.Get(ctx, []byte("b")); err != nil || ok {
		t.Fatalf("read at %v saw a commit at %v: %v %v", rts, tb, ok, err)
	}
	if got := txn.ReadTimestamp(); got != rts {
		t.Fatalf("read timestamp moved from %v to %v", rts, got)
	}
	// A transaction that neither reads nor writes commits at its read
	// timestamp; one that only writes commits above everything before.
	txn = e.Begin(TxnOptions{})
	ts, err := txn.Commit(ctx)
	must(t, err)
	if ts.IsEmpty() || ts != txn.ReadTimestamp() {
		t.Fatalf("empty commit at %v, read timestamp %v", ts, txn.ReadTimestamp())
	}
	txn = e.Begin(TxnOptions{})
	must(t, txn.Put([]byte("c"), nil))
	tc, err := txn.Commit(ctx)
	must(t, err)
	if !ts.Less(tc) || !tb.Less(tc) {
		t.Fatalf("write-only commit at %v not above %v and %v", tc, ts, tb)
	}
}
