package kv

import (
	"context"
	"fmt"
	"math/rand"
	"sync"
	"testing"
	"time"
)

// collectUntil reads events until cond holds on the collected events.
func collectUntil(t *testing.T, sub *Subscription, evs *[]Event, cond func() bool) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for !cond() {
		select {
		case ev, ok := <-sub.Events():
			if !ok {
				t.Fatalf("subscription ended: %v", sub.Err())
			}
			*evs = append(*evs, ev)
		case <-deadline:
			t.Fatal("timed out waiting for events")
		}
	}
}

func TestRangefeedCatchUpThenLive(t *testing.T) {
	e := openTest(t, Options{CheckpointInterval: time.Millisecond})
	ctx := context.Background()
	t0 := put(t, e, "a", "0")
	t1 := put(t, e, "a", "1")
	put(t, e, "z", "outside")
	t2 := del(t, e, "b")
	sub, err := e.Subscribe(ctx, sp("a", "c"), t0, SubscribeOptions{})
	must(t, err)
	defer sub.Close()
	var evs []Event
	var values []Event
	var resolved Timestamp
	t3 := put(t, e, "b", "3")
	collectUntil(t, sub, &evs, func() bool {
		values = values[:0]
		for _, ev := range evs {
			if ev.Type == EventValue {
				values = append(values, ev)
			} else {
				resolved = ev.Resolved
			}
		}
		return t3.LessEq(resolved)
	})
	got := ""
	for _, v := range values {
		got += fmt.Sprintf("%s@%v:%s/%v ", v.Version.Key, v.Version.Timestamp == t1 || v.Version.Timestamp == t2 || v.Version.Timestamp == t3, v.Version.Value, v.Version.Tombstone)
	}
	if got != "a@true:1/false b@true:/true b@true:3/false " {
		t.Fatalf("events: %s", got)
	}
	// Checkpoints are monotonic and no value arrives at or below one.
	var last Timestamp
	for _, ev := range evs {
		switch ev.Type {
		case EventCheckpoint:
			if ev.Resolved.Less(last) {
				t.Fatal("checkpoint went backwards")
			}
			last = ev.Resolved
			if string(ev.Span.Key) != "a" || string(ev.Span.EndKey) != "c" {
				t.Fatalf("checkpoint span %s", ev.Span)
			}
		case EventValue:
			if ev.Version.Timestamp.LessEq(last) {
				t.Fatalf("value at %v after checkpoint %v", ev.Version.Timestamp, last)
			}
		}
	}
	sub.Close()
	if sub.Err() != nil {
		t.Fatalf("Err after Close: %v", sub.Err())
	}
}

func TestRangefeedSlowSubscriberCutOff(t *testing.T) {
	e := openTest(t, Options{})
	ctx := context.Background()
	sub, err := e.Subscribe(ctx, sp("a", "z"), e.Now(), SubscribeOptions{BufferSize: 2})
	must(t, err)
	defer sub.Close()
	// Nobody reads: 2 in the channel + 8 pending, then the cut-off.
	for i := 0; i < 40; i++ {
		put(t, e, fmt.Sprintf("k%02d", i), "v")
	}
	succeedsSoon(t, func() error {
		if sub.Err() == nil {
			return fmt.Errorf("still running")
		}
		return nil
	})
	if sub.Err() != ErrSubscriberTooSlow {
		t.Fatalf("Err = %v", sub.Err())
	}
	// Drain what was delivered: the channel is closed.
	var last Timestamp
	for ev := range sub.Events() {
		if ev.Type == EventCheckpoint {
			last = ev.Resolved
		}
	}
	// Resubscribing from the last checkpoint gets everything after it.
	sub2, err := e.Subscribe(ctx, sp("a", "z"), last, SubscribeOptions{})
	must(t, err)
	defer sub2.Close()
	var evs []Event
	n := 0
	collectUntil(t, sub2, &evs, func() bool {
		n = 0
		for _, ev := range evs {
			if ev.Type == EventCheckpoint {
				return true
			}
			n++
		}
		return false
	})
	if n != 40 {
		t.Fatalf("resubscribe from %v got %d values, want 40", last, n)
	}
}

func TestRangefeedEndsOnContextAndEngineClose(t *testing.T) {
	e, err := Open(Options{InMemory: true})
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	sub, err := e.Subscribe(ctx, sp("a", "z"), e.Now(), SubscribeOptions{})
	must(t, err)
	cancel()
	for range sub.Events() {
	}
	if sub.Err() != context.Canceled {
		t.Fatalf("Err after cancel = %v", sub.Err())
	}
	sub2, err := e.Subscribe(context.Background(), sp("a", "z"), e.Now(), SubscribeOptions{})
	must(t, err)
	must(t, e.Close())
	for range sub2.Events() {
	}
	if sub2.Err() != ErrClosed {
		t.Fatalf("Err after engine close = %v", sub2.Err())
	}
}

// TestRangefeedConcurrentWriters checks the resolved-timestamp guarantee and
// the catch-up/live hand-off under concurrent writers: the events received
// up to the final checkpoint reproduce exactly the versions in the store
// (equal fingerprints), and no value arrives at or below a checkpoint
// already delivered.
//
// It runs with the idle tick alone (a 1ms tick, no commit-driven
// checkpoints), with commit-driven checkpoints alone (an hour-long tick),
// and with both and a small Events buffer that the subscriber lets fill up
// now and then (writers are throttled so that it is never cut off), so that
// deliveries keep switching between direct sends and the subscription's
// queue.
func TestRangefeedConcurrentWriters(t *testing.T) {
	for _, c := range []struct {
		name     string
		opts     Options
		sub      SubscribeOptions
		throttle bool
	}{
		{"tick", Options{CheckpointInterval: time.Millisecond, CheckpointSpacing: -1}, SubscribeOptions{}, false},
		{"commit-driven", Options{CheckpointInterval: time.Hour}, SubscribeOptions{}, false},
		{"small-buffer", Options{CheckpointInterval: time.Millisecond}, SubscribeOptions{BufferSize: 16}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			testRangefeedConcurrentWriters(t, c.opts, c.sub, c.throttle)
		})
	}
}

func testRangefeedConcurrentWriters(t *testing.T, opts Options, subOpts SubscribeOptions, throttle bool) {
	e := openTest(t, opts)
	ctx := context.Background()
	start := e.Now()
	// Some history before the subscription, for the catch-up scan.
	for i := 0; i < 50; i++ {
		put(t, e, fmt.Sprintf("k%03d", i%20), fmt.Sprint(i))
	}
	span := sp("k", "l")
	stop := make(chan struct{})
	// With throttle, a writer takes a token per key of the span it writes
	// and the subscriber returns one per writer's event it receives: at
	// most 64 events are ever ahead of it, less than the 16 + 4*16 it may
	// fall behind before being cut off, and more than the channel holds.
	var tokens chan struct{}
	if throttle {
		tokens = make(chan struct{}, 64)
		for len(tokens) < cap(tokens) {
			tokens <- struct{}{}
		}
	}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(w)))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				keys := map[string]bool{}
				for j := 0; j < 1+rng.Intn(3); j++ {
					keys[fmt.Sprintf("k%03d", rng.Intn(40))] = true
				}
				if tokens != nil {
					for range keys {
						select {
						case <-tokens:
						case <-stop:
							return
						}
					}
				}
				txn := e.Begin(TxnOptions{})
				for k := range keys {
					if rng.Intn(5) == 0 {
						txn.Delete([]byte(k))
					} else {
						txn.Put([]byte(k), []byte(fmt.Sprintf("w%d-%d", w, i)))
					}
				}
				txn.Put([]byte(fmt.Sprintf("other%d", w)), nil) // outside the span
				if _, err := txn.Commit(ctx); err != nil {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	sub, err := e.Subscribe(ctx, span, start, subOpts)
	must(t, err)
	defer sub.Close()
	var versions []Version
	var last Timestamp
	deadline := time.After(500 * time.Millisecond)
	checkpoints := 0
	func() {
		for {
			select {
			case ev, ok := <-sub.Events():
				if !ok {
					t.Fatalf("ended: %v", sub.Err())
				}
				if ev.Type == EventCheckpoint {
					if ev.Resolved.Less(last) {
						t.Fatal("checkpoint regressed")
					}
					last = ev.Resolved
					checkpoints++
					continue
				}
				if ev.Version.Timestamp.LessEq(last) {
					t.Fatalf("value at %v after checkpoint %v", ev.Version.Timestamp, last)
				}
				if !span.ContainsKey(ev.Version.Key) {
					t.Fatalf("event outside span: %s", ev.Version.Key)
				}
				versions = append(versions, ev.Version)
				if tokens != nil && (ev.Version.Tombstone || ev.Version.Value[0] == 'w') {
					tokens <- struct{}{}
					if len(versions)%200 == 0 {
						// Stop reading until the writers have used
						// every token: the channel fills and events
						// queue.
						succeedsSoon(t, func() error {
							if n := len(tokens); n > 0 {
								return errorf("%d tokens left", n)
							}
							return nil
						})
					}
				}
			case <-deadline:
				return
			}
		}
	}()
	close(stop)
	wg.Wait()
	// Keep only what the last checkpoint covers, then compare with the
	// store over the same interval.
	var covered []Version
	seen := map[string]bool{}
	for _, v := range versions {
		if v.Timestamp.LessEq(last) {
			id := fmt.Sprintf("%s@%v", v.Key, v.Timestamp)
			if seen[id] {
				t.Fatalf("duplicate event %s", id)
			}
			seen[id] = true
			covered = append(covered, v)
		}
	}
	want, err := e.Fingerprint(ctx, span, start, last, FingerprintOptions{})
	must(t, err)
	if got := FingerprintVersions(covered, FingerprintOptions{}); got != want {
		t.Fatalf("fingerprint of events %x != store %x (%d events, %d checkpoints)", got, want, len(covered), checkpoints)
	}
	if len(covered) < 50 || checkpoints < 10 {
		t.Fatalf("too little happened: %d events, %d checkpoints", len(covered), checkpoints)
	}
	sub.mu.Lock()
	fills := sub.mu.fills
	sub.mu.Unlock()
	if throttle && fills == 0 {
		t.Fatal("the Events channel never filled up: no switch from direct sends to the queue")
	}
}

// checkpointWaiter reads a subscription's events and remembers the newest
// checkpoint.
type checkpointWaiter struct {
	sub  *Subscription
	last Timestamp
}

// wait reads events until a checkpoint at or above ts has arrived (perhaps
// already) and returns the checkpoints seen meanwhile.
func (w *checkpointWaiter) wait(t *testing.T, ts Timestamp, within time.Duration) []Timestamp {
	t.Helper()
	deadline := time.After(within)
	var seen []Timestamp
	for w.last.Less(ts) {
		select {
		case ev, ok := <-w.sub.Events():
			if !ok {
				t.Fatalf("subscription ended: %v", w.sub.Err())
			}
			if ev.Type == EventCheckpoint {
				seen = append(seen, ev.Resolved)
				w.last = ev.Resolved
			}
		case <-deadline:
			t.Fatalf("no checkpoint at or above %v within %v (saw %v)", ts, within, seen)
		}
	}
	return seen
}

// TestRangefeedCheckpointFollowsCommit: with an idle tick of an hour, only
// commit-driven checkpoints can cover a commit, and they do, including the
// second of two commits in one CheckpointSpacing window (the checkpoint loop
// sends it once the spacing has passed). With commit-driven checkpoints
// disabled, nothing covers the commit.
func TestRangefeedCheckpointFollowsCommit(t *testing.T) {
	ctx := context.Background()
	t.Run("commit-driven", func(t *testing.T) {
		e := openTest(t, Options{CheckpointInterval: time.Hour, CheckpointSpacing: 50 * time.Millisecond})
		sub, err := e.Subscribe(ctx, sp("a", "z"), e.Now(), SubscribeOptions{})
		must(t, err)
		defer sub.Close()
		w := checkpointWaiter{sub: sub}
		w.wait(t, Timestamp{WallTime: 1}, 10*time.Second)
		for i := 0; i < 3; i++ {
			t1 := put(t, e, "a", "1")
			t2 := put(t, e, "b", "2")
			w.wait(t, t1, 10*time.Second)
			w.wait(t, t2, 10*time.Second)
		}
	})
	t.Run("tick-only", func(t *testing.T) {
		e := openTest(t, Options{CheckpointInterval: time.Hour, CheckpointSpacing: -1})
		sub, err := e.Subscribe(ctx, sp("a", "z"), e.Now(), SubscribeOptions{})
		must(t, err)
		defer sub.Close()
		w := checkpointWaiter{sub: sub}
		r0 := w.wait(t, Timestamp{WallTime: 1}, 10*time.Second)
		put(t, e, "a", "1")
		timeout := time.After(100 * time.Millisecond)
		for {
			select {
			case ev := <-sub.Events():
				if ev.Type == EventCheckpoint {
					t.Fatalf("checkpoint %v after %v without a tick or commit-driven checkpoints", ev.Resolved, r0)
				}
				continue
			case <-timeout:
			}
			break
		}
	})
}

// TestRangefeedPendingCheckpointsCoalesce: checkpoints queued behind a
// subscriber that does not read supersede each other, so it gets the
// newest one once, after every event before it.
func TestRangefeedPendingCheckpointsCoalesce(t *testing.T) {
	e := openTest(t, Options{CheckpointInterval: time.Millisecond, CheckpointSpacing: -1})
	ctx := context.Background()
	sub, err := e.Subscribe(ctx, sp("a", "z"), e.Now(), SubscribeOptions{BufferSize: 1})
	must(t, err)
	defer sub.Close()
	w := checkpointWaiter{sub: sub}
	w.wait(t, Timestamp{WallTime: 1}, 10*time.Second)
	// Nobody reads: the channel fills, then everything queues while ticks
	// keep adding checkpoints.
	queuedAbove := func(ts Timestamp) Timestamp {
		var r Timestamp
		succeedsSoon(t, func() error {
			sub.mu.Lock()
			defer sub.mu.Unlock()
			if r = sub.mu.resolved; !ts.Less(r) {
				return errorf("no checkpoint above %v queued yet", ts)
			}
			return nil
		})
		return r
	}
	var last Timestamp
	for i := 0; i < 3; i++ {
		last = put(t, e, fmt.Sprintf("k%d", i), "v")
		// Two ticks after each commit.
		queuedAbove(queuedAbove(last))
	}
	succeedsSoon(t, func() error {
		sub.mu.Lock()
		defer sub.mu.Unlock()
		live := 0
		for _, ev := range sub.mu.pending {
			if ev.Type == EventCheckpoint {
				live++
			}
		}
		if live != 1 {
			return errorf("%d live checkpoints pending", live)
		}
		return nil
	})
	var values int
	var ckpts []Timestamp
	for values < 3 || len(ckpts) == 0 || !last.Less(ckpts[len(ckpts)-1]) {
		ev := <-sub.Events()
		switch ev.Type {
		case EventValue:
			if n := len(ckpts); n > 0 && ev.Version.Timestamp.LessEq(ckpts[n-1]) {
				t.Fatalf("value at %v after checkpoint %v", ev.Version.Timestamp, ckpts[n-1])
			}
			values++
		case EventCheckpoint:
			ckpts = append(ckpts, ev.Resolved)
		default:
			t.Fatalf("delivered event of type %v", ev.Type)
		}
	}
	// Each commit was followed by many ticks; the queue kept one.
	if len(ckpts) > 3 {
		t.Fatalf("%d checkpoints delivered for 3 commits: %v", len(ckpts), ckpts)
	}
}
