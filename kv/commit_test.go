package kv

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestCompletionInWALOrder: a commit whose goroutine is held up after its
// WAL sync is marked applied by the next commit to finish (every commit
// queued before a synced one is durable, commit.go), so readers at its
// timestamp and rangefeed checkpoints do not wait for its goroutine. With
// ownCompletion (each commit marks only itself) the reader waits, which is
// what shows the test measures the mechanism.
func TestCompletionInWALOrder(t *testing.T) {
	for _, own := range []bool{false, true} {
		t.Run(fmt.Sprintf("own-completion=%t", own), func(t *testing.T) {
			ctx := context.Background()
			// On disk, with real syncs: the mechanism is about durability.
			e := openTest(t, Options{Dir: t.TempDir(), GCInterval: -1, ownCompletion: own})
			sub, err := e.Subscribe(ctx, sp("a", "z"), e.Now(), SubscribeOptions{})
			must(t, err)
			defer sub.Close()
			held := make(chan Timestamp, 1)
			release := make(chan struct{})
			first := true
			e.testAfterSync = func(ts Timestamp) {
				if first {
					first = false
					held <- ts
					<-release
				}
			}
			type result struct {
				ts  Timestamp
				err error
			}
			slow := make(chan result, 1)
			go func() {
				txn := e.Begin(TxnOptions{})
				must(t, txn.Put([]byte("a"), []byte("1")))
				ts, err := txn.Commit(ctx)
				slow <- result{ts, err}
			}()
			t1 := <-held
			// The second commit finishes while the first one's goroutine is
			// held after its sync (the hook runs only for the first).
			t2 := put(t, e, "b", "2")
			if !t1.Less(t2) {
				t.Fatalf("commit timestamps %s, %s", t1, t2)
			}
			rctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			v, ok, err := e.Get(rctx, []byte("a"), t2)
			cancel()
			if own {
				if err != context.DeadlineExceeded {
					t.Fatalf("with own completion, a read at %s did not wait for the held commit: %q %v %v", t2, v, ok, err)
				}
			} else {
				if err != nil || !ok || string(v) != "1" {
					t.Fatalf("read of a at %s: %q %v %v", t2, v, ok, err)
				}
				// The feed delivers both commits, in order, and a checkpoint
				// at or above the second, while the first goroutine is held.
				var got []string
				for len(got) < 2 {
					select {
					case ev := <-sub.Events():
						if ev.Type == EventValue {
							got = append(got, fmt.Sprintf("%s@%s", ev.Version.Key, ev.Version.Timestamp))
						}
					case <-time.After(10 * time.Second):
						t.Fatalf("events so far: %v", got)
					}
				}
				if want := []string{"a@" + t1.String(), "b@" + t2.String()}; fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("events %v, want %v", got, want)
				}
				for resolved := false; !resolved; {
					select {
					case ev := <-sub.Events():
						resolved = ev.Type == EventCheckpoint && !ev.Resolved.Less(t2)
					case <-time.After(10 * time.Second):
						t.Fatal("no checkpoint at or above the second commit")
					}
				}
			}
			close(release)
			r := <-slow
			if r.err != nil || r.ts != t1 {
				t.Fatalf("held commit: %s %v", r.ts, r.err)
			}
			if got := get(t, e, "a", e.Now()); got != "1" {
				t.Fatalf("a = %s", got)
			}
		})
	}
}
