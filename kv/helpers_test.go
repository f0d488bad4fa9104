package kv

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/crlib/testutils/leaktest"
)

// openTest opens an in-memory engine closed at the end of the test, and
// checks for leaked goroutines.
func openTest(t testing.TB, opts Options) *Engine {
	t.Helper()
	if tt, ok := t.(*testing.T); ok {
		t.Cleanup(leaktest.AfterTest(tt))
	}
	if opts.FS == nil && opts.Dir == "" {
		opts.InMemory = true
	}
	e, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil && err != ErrClosed {
			t.Error(err)
		}
	})
	return e
}

// manualWall is an injectable wall clock that advances only when told to.
// The engine's background loops read it concurrently, hence the atomic.
type manualWall struct{ v atomic.Int64 }

func newManualWall(ns int64) *manualWall {
	m := &manualWall{}
	m.v.Store(ns)
	return m
}

func (m *manualWall) now() int64 { return m.v.Load() }

func (m *manualWall) set(ns int64) { m.v.Store(ns) }

func (m *manualWall) add(d int64) { m.v.Add(d) }

// put commits a single write and returns its timestamp.
func put(t testing.TB, e *Engine, key, value string) Timestamp {
	t.Helper()
	txn := e.Begin(TxnOptions{})
	if err := txn.Put([]byte(key), []byte(value)); err != nil {
		t.Fatal(err)
	}
	ts, err := txn.Commit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// del commits a single delete and returns its timestamp.
func del(t testing.TB, e *Engine, key string) Timestamp {
	t.Helper()
	txn := e.Begin(TxnOptions{})
	if err := txn.Delete([]byte(key)); err != nil {
		t.Fatal(err)
	}
	ts, err := txn.Commit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func get(t testing.TB, e *Engine, key string, ts Timestamp) string {
	t.Helper()
	v, ok, err := e.Get(context.Background(), []byte(key), ts)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return "<none>"
	}
	return string(v)
}

func kvsString(kvs []KeyValue) string {
	s := ""
	for i, kv := range kvs {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%s=%s", kv.Key, kv.Value)
	}
	return s
}

// succeedsSoon retries fn until it returns nil or the bound expires.
func succeedsSoon(t testing.TB, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	backoff := time.Millisecond
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition never held: %v", err)
		}
		time.Sleep(backoff)
		if backoff < 100*time.Millisecond {
			backoff *= 2
		}
	}
}

func sp(a, b string) Span {
	if b == "" {
		return Span{Key: []byte(a)}
	}
	return Span{Key: []byte(a), EndKey: []byte(b)}
}

func errorf(format string, args ...interface{}) error { return fmt.Errorf(format, args...) }
