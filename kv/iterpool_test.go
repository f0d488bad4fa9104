package kv

import (
	"context"
	"fmt"
	"math/rand"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Tests of iterator reuse (iterpool.go): pooled iterators are reused while
// no write happened, never serve a read that needs a newer write, still read
// at their reader's timestamp, and do not outlive staleness, their maximum
// age, or the engine.

func poolStats(e *Engine) (free, inUse, opened int) {
	e.iters.mu.Lock()
	defer e.iters.mu.Unlock()
	return len(e.iters.free), e.iters.inUse, e.iters.opened
}

func TestIterPoolReuseAndFreshness(t *testing.T) {
	e := openTest(t, Options{GCInterval: -1, CheckpointInterval: time.Hour})
	t1 := put(t, e, "a", "1")
	if got := get(t, e, "a", e.Now()); got != "1" {
		t.Fatalf("a = %s", got)
	}
	_, _, opened := poolStats(e)
	// No write since: the next reads, point and scan, reuse the iterator.
	for i := 0; i < 3; i++ {
		if got := get(t, e, "a", e.Now()); got != "1" {
			t.Fatalf("a = %s", got)
		}
		res, err := e.Scan(context.Background(), sp("a", "z"), e.Now(), ScanOptions{})
		must(t, err)
		if kvsString(res.KVs) != "a=1" {
			t.Fatalf("scan = %s", kvsString(res.KVs))
		}
	}
	if free, inUse, o := poolStats(e); o != opened || free != 1 || inUse != 0 {
		t.Fatalf("after reuse: free %d, in use %d, opened %d (was %d)", free, inUse, o, opened)
	}
	// A commit makes the pooled view stale: a read at a later time must
	// see it, and so must not use the old iterator.
	t2 := put(t, e, "a", "2")
	if got := get(t, e, "a", e.Now()); got != "2" {
		t.Fatalf("a after the commit = %s", got)
	}
	if _, _, o := poolStats(e); o != opened+1 {
		t.Fatalf("a stale iterator was reused (opened %d, want %d)", o, opened+1)
	}
	// The fresh pooled iterator still reads at each reader's timestamp.
	if got := get(t, e, "a", t1); got != "1" {
		t.Fatalf("a at t1 = %s", got)
	}
	if got := get(t, e, "a", t2.Prev()); got != "1" {
		t.Fatalf("a just below t2 = %s", got)
	}
	if _, _, o := poolStats(e); o != opened+1 {
		t.Fatalf("reads at older timestamps opened iterators (%d)", o-opened-1)
	}
}

// TestIterPoolTxnAcrossConcurrentCommit: a transaction's reads after a
// concurrent commit may reuse an iterator opened before it (they read at the
// transaction's timestamp, below the commit) and still see the transaction's
// snapshot, while a new reader opens a fresh iterator and sees the commit.
func TestIterPoolTxnAcrossConcurrentCommit(t *testing.T) {
	ctx := context.Background()
	for _, readOnly := range []bool{false, true} {
		t.Run(fmt.Sprintf("read-only=%t", readOnly), func(t *testing.T) {
			e := openTest(t, Options{GCInterval: -1, CheckpointInterval: time.Hour})
			put(t, e, "a", "1")
			put(t, e, "b", "1")
			txn := e.Begin(TxnOptions{ReadOnly: readOnly})
			v, _, err := txn.Get(ctx, []byte("a"))
			must(t, err)
			if string(v) != "1" {
				t.Fatalf("a = %s", v)
			}
			_, _, opened := poolStats(e)
			other := e.Begin(TxnOptions{})
			must(t, other.Put([]byte("a"), []byte("2")))
			must(t, other.Put([]byte("b"), []byte("2")))
			must(t, other.Put([]byte("c"), []byte("2")))
			_, err = other.Commit(ctx)
			must(t, err)
			// The transaction's reads reuse the old iterator and see its
			// snapshot: none of the commit's writes.
			v, _, err = txn.Get(ctx, []byte("b"))
			must(t, err)
			if string(v) != "1" {
				t.Fatalf("b in the transaction = %s", v)
			}
			res, err := txn.Scan(ctx, sp("a", "z"), ScanOptions{})
			must(t, err)
			if got := kvsString(res.KVs); got != "a=1 b=1" {
				t.Fatalf("scan in the transaction = %s", got)
			}
			if _, _, o := poolStats(e); o != opened {
				t.Fatalf("the transaction opened %d new iterators", o-opened)
			}
			// A new reader must not reuse the stale one.
			if got := get(t, e, "b", e.Now()); got != "2" {
				t.Fatalf("b after the commit = %s", got)
			}
			if _, _, o := poolStats(e); o != opened+1 {
				t.Fatalf("a new reader reused a stale iterator")
			}
			// The read-write transaction read a, which the commit changed,
			// so it cannot commit a write.
			if !readOnly {
				must(t, txn.Put([]byte("x"), []byte("1")))
			}
			_, err = txn.Commit(ctx)
			if readOnly != (err == nil) || (!readOnly && !IsRetryable(err)) {
				t.Fatalf("commit of the read-only=%t transaction: %v", readOnly, err)
			}
		})
	}
}

// TestIterPoolScanBoundsThenGet: a pooled iterator bounded by a scan serves
// point reads and scans outside those bounds, in both directions.
func TestIterPoolScanBoundsThenGet(t *testing.T) {
	ctx := context.Background()
	e := openTest(t, Options{GCInterval: -1, CheckpointInterval: time.Hour})
	for _, k := range []string{"a", "b", "m", "n", "y", "z"} {
		put(t, e, k, k+"v")
	}
	ts := e.Now()
	for i := 0; i < 3; i++ {
		res, err := e.Scan(ctx, sp("m", "o"), ts, ScanOptions{})
		must(t, err)
		if got := kvsString(res.KVs); got != "m=mv n=nv" {
			t.Fatalf("scan [m,o) = %s", got)
		}
		for _, k := range []string{"a", "z", "m"} {
			if got := get(t, e, k, ts); got != k+"v" {
				t.Fatalf("%s = %s", k, got)
			}
		}
		if got := get(t, e, "c", ts); got != "<none>" {
			t.Fatalf("c = %s", got)
		}
		res, err = e.Scan(ctx, sp("b", "z"), ts, ScanOptions{Reverse: true, MaxRows: 2})
		must(t, err)
		if got := kvsString(res.KVs); got != "y=yv n=nv" {
			t.Fatalf("reverse scan [b,z) = %s", got)
		}
		res, err = e.Scan(ctx, sp("a", ""), ts, ScanOptions{})
		must(t, err)
		if got := kvsString(res.KVs); got != "a=av" {
			t.Fatalf("scan of a = %s", got)
		}
	}
	if _, _, o := poolStats(e); o != 1 {
		t.Fatalf("%d iterators opened for reads with no write between them", o)
	}
}

// TestIterPoolEveryWriteIsSeen: every kind of write the engine makes is
// visible to the next read even though an iterator opened before it is
// pooled; a write path that forgot to advance the view would fail here.
func TestIterPoolEveryWriteIsSeen(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		write func(t *testing.T, e *Engine, old Timestamp)
		want  string // scan of [a, z) at now afterwards
	}{
		{"commit", func(t *testing.T, e *Engine, _ Timestamp) { put(t, e, "b", "2") }, "a=1 b=2"},
		{"write-versions", func(t *testing.T, e *Engine, _ Timestamp) {
			must(t, e.WriteVersions(ctx, []Version{{Key: []byte("b"), Timestamp: e.Now(), Value: []byte("2")}}))
		}, "a=1 b=2"},
		{"write-versions-in-the-past", func(t *testing.T, e *Engine, old Timestamp) {
			must(t, e.WriteVersions(ctx, []Version{{Key: []byte("b"), Timestamp: old.Next(), Value: []byte("2")}}))
		}, "a=1 b=2"},
		{"ingest", func(t *testing.T, e *Engine, _ Timestamp) {
			must(t, e.IngestVersions(ctx, []Version{{Key: []byte("b"), Timestamp: e.Now(), Value: []byte("2")}}))
		}, "a=1 b=2"},
		{"clear-range", func(t *testing.T, e *Engine, _ Timestamp) {
			must(t, e.ClearRange(ctx, sp("a", "b")))
		}, ""},
		{"revert", func(t *testing.T, e *Engine, old Timestamp) {
			must(t, e.RevertRange(ctx, sp("a", "z"), old.Prev()))
		}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := openTest(t, Options{GCInterval: -1, CheckpointInterval: time.Hour})
			old := put(t, e, "a", "1")
			now := e.Now()
			// Pool an iterator, bounded and not.
			res, err := e.Scan(ctx, sp("a", "z"), now, ScanOptions{})
			must(t, err)
			if kvsString(res.KVs) != "a=1" {
				t.Fatalf("before: %s", kvsString(res.KVs))
			}
			if free, _, _ := poolStats(e); free != 1 {
				t.Fatalf("%d pooled iterators", free)
			}
			c.write(t, e, old)
			res, err = e.Scan(ctx, sp("a", "z"), e.Now(), ScanOptions{})
			must(t, err)
			if got := kvsString(res.KVs); got != c.want {
				t.Fatalf("after %s: %s, want %s", c.name, got, c.want)
			}
		})
	}
	// GC deletions: a pooled iterator would still hold the removed version,
	// but the read below the new threshold fails either way, and reads
	// above it see the same data.
	t.Run("gc", func(t *testing.T) {
		w := newManualWall(int64(time.Hour))
		e := openTest(t, Options{WallClock: w.now, GCInterval: -1, DefaultGCTTL: time.Minute, CheckpointInterval: time.Hour})
		t1 := put(t, e, "a", "1")
		w.add(int64(10 * time.Second))
		put(t, e, "a", "2")
		if got := get(t, e, "a", t1); got != "1" {
			t.Fatalf("a at t1 = %s", got)
		}
		_, _, opened := poolStats(e)
		w.add(int64(2 * time.Minute))
		stats, err := e.RunGC(ctx)
		must(t, err)
		if stats.VersionsRemoved != 1 {
			t.Fatalf("GC removed %d", stats.VersionsRemoved)
		}
		if _, _, err := e.Get(ctx, []byte("a"), t1); !IsBelowGCThreshold(err) {
			t.Fatalf("read at t1 after GC: %v", err)
		}
		if got := get(t, e, "a", e.Now()); got != "2" {
			t.Fatalf("a = %s", got)
		}
		if _, _, o := poolStats(e); o != opened+1 {
			t.Fatalf("the GC pass did not make the pooled iterator stale")
		}
	})
}

// TestIterPoolSweep: the checkpoint loop's tick closes pooled iterators
// that a write made stale, and those that reached the maximum age, so a
// pool nobody reads from does not pin old views.
func TestIterPoolSweep(t *testing.T) {
	e := openTest(t, Options{GCInterval: -1, CheckpointInterval: time.Millisecond})
	put(t, e, "a", "1")
	get(t, e, "a", e.Now())
	put(t, e, "a", "2")
	succeedsSoon(t, func() error {
		if free, _, _ := poolStats(e); free != 0 {
			return errorf("%d stale iterators pooled", free)
		}
		return nil
	})
	e.iters.mu.Lock()
	e.iters.maxSweeps = 5
	e.iters.mu.Unlock()
	get(t, e, "a", e.Now())
	succeedsSoon(t, func() error {
		if free, _, _ := poolStats(e); free != 0 {
			return errorf("%d old iterators pooled", free)
		}
		return nil
	})
}

// TestIterPoolCloseWithReaders: Close while readers use the pool returns no
// error (Pebble reports leaked iterators) and later reads fail with
// ErrClosed.
func TestIterPoolCloseWithReaders(t *testing.T) {
	ctx := context.Background()
	e, err := Open(Options{InMemory: true, GCInterval: -1})
	must(t, err)
	for i := 0; i < 20; i++ {
		put(t, e, fmt.Sprintf("k%02d", i), "v")
	}
	var wg sync.WaitGroup
	var reads atomic.Int64
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(r)))
			for {
				k := []byte(fmt.Sprintf("k%02d", rng.Intn(20)))
				var err error
				if rng.Intn(2) == 0 {
					_, _, err = e.Get(ctx, k, e.Now())
				} else {
					_, err = e.Scan(ctx, sp("k", "l"), e.Now(), ScanOptions{MaxRows: 3})
				}
				if err != nil {
					if err != ErrClosed {
						t.Errorf("read: %v", err)
					}
					return
				}
				reads.Add(1)
			}
		}(r)
	}
	succeedsSoon(t, func() error {
		if n := reads.Load(); n < 100 {
			return errorf("%d reads", n)
		}
		return nil
	})
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()
	if _, _, err := e.Get(ctx, []byte("k00"), e.Now()); err != ErrClosed {
		t.Fatalf("read after Close: %v", err)
	}
}

// TestIterPoolSnapshotsUnderConcurrency: transfers between accounts commit
// concurrently with readers that read every account in one transaction
// (point reads and scans, sharing pooled iterators with each other and with
// one-shot reads); every reader must see the same total.
func TestIterPoolSnapshotsUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	e := openTest(t, Options{GCInterval: -1, CheckpointInterval: time.Millisecond})
	const accounts = 8
	const initial = 100
	acct := func(i int) []byte { return []byte(fmt.Sprintf("acct/%d", i)) }
	setup := e.Begin(TxnOptions{})
	for i := 0; i < accounts; i++ {
		must(t, setup.Put(acct(i), []byte(fmt.Sprint(initial))))
	}
	_, err := setup.Commit(ctx)
	must(t, err)
	parse := func(v []byte) int {
		var n int
		if _, err := fmt.Sscan(string(v), &n); err != nil {
			t.Errorf("bad balance %q", v)
		}
		return n
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var transfers, checks atomic.Int64
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(w)))
			for !stop.Load() {
				a, b := rng.Intn(accounts), rng.Intn(accounts)
				if a == b {
					continue
				}
				txn := e.Begin(TxnOptions{})
				va, _, err := txn.Get(ctx, acct(a))
				if err != nil {
					t.Error(err)
					return
				}
				vb, _, err := txn.Get(ctx, acct(b))
				if err != nil {
					t.Error(err)
					return
				}
				amt := rng.Intn(10)
				must(t, txn.Put(acct(a), []byte(fmt.Sprint(parse(va)-amt))))
				must(t, txn.Put(acct(b), []byte(fmt.Sprint(parse(vb)+amt))))
				if _, err := txn.Commit(ctx); err == nil {
					transfers.Add(1)
				} else if !IsRetryable(err) {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(100 + r)))
			for !stop.Load() {
				sum := 0
				switch rng.Intn(3) {
				case 0: // point reads in a transaction, in random order
					txn := e.Begin(TxnOptions{ReadOnly: rng.Intn(2) == 0})
					for _, i := range rng.Perm(accounts) {
						v, ok, err := txn.Get(ctx, acct(i))
						if err != nil || !ok {
							t.Errorf("get: %v %v", ok, err)
							return
						}
						sum += parse(v)
					}
				case 1: // a scan and point reads mixed
					txn := e.Begin(TxnOptions{ReadOnly: true})
					res, err := txn.Scan(ctx, sp("acct/0", "acct/4"), ScanOptions{})
					if err != nil {
						t.Error(err)
						return
					}
					for _, kv := range res.KVs {
						sum += parse(kv.Value)
					}
					for i := 4; i < accounts; i++ {
						v, _, err := txn.Get(ctx, acct(i))
						if err != nil {
							t.Error(err)
							return
						}
						sum += parse(v)
					}
				case 2: // one-shot reads at one timestamp
					ts := e.Now()
					for i := 0; i < accounts; i++ {
						v, _, err := e.Get(ctx, acct(i), ts)
						if err != nil {
							t.Error(err)
							return
						}
						sum += parse(v)
					}
				}
				if sum != accounts*initial {
					t.Errorf("a reader saw a total of %d", sum)
					return
				}
				checks.Add(1)
			}
		}(r)
	}
	succeedsSoon(t, func() error {
		if n, m := transfers.Load(), checks.Load(); n < 300 || m < 300 {
			return errorf("%d transfers, %d checks", n, m)
		}
		return nil
	})
	stop.Store(true)
	wg.Wait()
	if _, inUse, _ := poolStats(e); inUse != 0 {
		t.Fatalf("%d iterators still in use", inUse)
	}
}
