package replication

import (
	"errors"
	"math"
	"math/rand"
	"testing"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/vcdb/vcdb/kv"
)

func ts(w int64) kv.Timestamp { return kv.Timestamp{WallTime: w} }

var allStatuses = []Status{StatusInitializing, StatusInitialScan, StatusReplicating, StatusPaused,
	StatusPendingFailover, StatusFailingOver, StatusError, StatusComplete, StatusCancelled}

var allEvents = []EventType{EvConnected, EvScanDone, EvProgress, EvStreamError, EvRetryElapsed,
	EvRevertFirstDone, EvFailoverDone, EvPause, EvResume, EvFailover, EvCancel}

func allowed(from Status, ev EventType, to Status) bool {
	for _, tr := range Transitions {
		if tr.From == from && tr.Event == ev {
			for _, s := range tr.To {
				if s == to {
					return true
				}
			}
		}
	}
	return false
}

// TestMachineLifecycle walks the ordinary life of a job.
func TestMachineLifecycle(t *testing.T) {
	m := Machine{Status: StatusInitializing, StartTime: ts(100), RetainedTime: ts(100),
		Policy: RetryPolicy{MaxRetries: 2, InitialBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond}}
	step := func(ev Event, want Status) {
		t.Helper()
		if err := m.Step(ev); err != nil {
			t.Fatalf("%s: %v", ev.Type, err)
		}
		if m.Status != want {
			t.Fatalf("%s: status %q, want %q", ev.Type, m.Status, want)
		}
	}
	if m.Next().Kind != ActStream {
		t.Fatal("a new job streams")
	}
	step(Event{Type: EvConnected}, StatusInitialScan)
	step(Event{Type: EvScanDone, Time: ts(100)}, StatusReplicating)
	step(Event{Type: EvProgress, Time: ts(150)}, StatusReplicating)
	if m.ReplicatedTime != ts(150) {
		t.Fatal("progress not recorded")
	}
	// Errors retry with growing backoff, then pause; progress resets.
	step(Event{Type: EvStreamError, Err: errors.New("boom")}, StatusError)
	if a := m.Next(); a.Kind != ActWaitRetry || a.Backoff != time.Millisecond {
		t.Fatalf("action %+v", a)
	}
	step(Event{Type: EvRetryElapsed}, StatusInitializing)
	step(Event{Type: EvStreamError, Err: errors.New("boom")}, StatusError)
	if a := m.Next(); a.Backoff != 2*time.Millisecond {
		t.Fatalf("backoff %s", a.Backoff)
	}
	step(Event{Type: EvRetryElapsed}, StatusInitializing)
	step(Event{Type: EvConnected}, StatusReplicating)
	step(Event{Type: EvProgress, Time: ts(160)}, StatusReplicating)
	if m.Retries != 0 || m.LastError != "" {
		t.Fatal("progress must reset the retry counter")
	}
	for i := 0; i < 2; i++ {
		step(Event{Type: EvStreamError, Err: errors.New("x")}, StatusError)
		step(Event{Type: EvRetryElapsed}, StatusInitializing)
	}
	step(Event{Type: EvStreamError, Err: errors.New("last")}, StatusPaused)
	if m.Next().Kind != ActWaitControl || m.LastError != "last" {
		t.Fatal("a job out of retries pauses with its error")
	}
	step(Event{Type: EvResume}, StatusInitializing)
	step(Event{Type: EvConnected}, StatusReplicating)
	// Failover below the retained time is refused; a future time pends and
	// can be changed; reaching it starts the failover, which cannot be
	// changed or paused.
	if err := m.Step(Event{Type: EvFailover, Time: ts(99)}); pgerror.GetPGCode(err) != pgcode.InvalidParameterValue {
		t.Fatalf("expected 22023, got %v", err)
	}
	step(Event{Type: EvFailover, Time: ts(300)}, StatusPendingFailover)
	step(Event{Type: EvFailover, Time: ts(250)}, StatusPendingFailover)
	step(Event{Type: EvProgress, Time: ts(249)}, StatusPendingFailover)
	step(Event{Type: EvProgress, Time: ts(251)}, StatusFailingOver)
	if m.Next().Kind != ActFailover || m.FailoverTime != ts(250) {
		t.Fatal("failover at 250")
	}
	if err := m.Step(Event{Type: EvFailover, Latest: true}); pgerror.GetPGCode(err) != pgcode.ObjectNotInPrerequisiteState {
		t.Fatalf("expected 55000, got %v", err)
	}
	if err := m.Step(Event{Type: EvPause}); err == nil {
		t.Fatal("pausing a failover must fail")
	}
	step(Event{Type: EvFailoverDone}, StatusComplete)
	if m.Next().Kind != ActExit {
		t.Fatal("complete jobs exit")
	}
	if err := m.Step(Event{Type: EvResume}); err == nil {
		t.Fatal("a complete job takes no requests")
	}
}

func TestMachineFailoverLatestAndFromPause(t *testing.T) {
	m := Machine{Status: StatusReplicating, StartTime: ts(10), RetainedTime: ts(10), ScanDone: true, ReplicatedTime: ts(40)}
	if err := m.Step(Event{Type: EvPause}); err != nil {
		t.Fatal(err)
	}
	// LATEST is the replicated time, already reached: straight to failing
	// over, even while paused.
	if err := m.Step(Event{Type: EvFailover, Latest: true}); err != nil {
		t.Fatal(err)
	}
	if m.Status != StatusFailingOver || m.FailoverTime != ts(40) {
		t.Fatalf("%+v", m)
	}
	// LATEST reports a clean time: the replicated time's wall nanosecond
	// with logical 0 (polish item 14), never above the replicated time and
	// never below the retained time.
	rt := kv.Timestamp{WallTime: 1700000004704, Logical: math.MaxInt32}
	m = Machine{Status: StatusReplicating, StartTime: ts(10), RetainedTime: ts(10), ScanDone: true, ReplicatedTime: rt}
	if err := m.Step(Event{Type: EvFailover, Latest: true}); err != nil {
		t.Fatal(err)
	}
	if want := (kv.Timestamp{WallTime: rt.WallTime}); m.FailoverTime != want || m.Status != StatusFailingOver {
		t.Fatalf("failover time %s (%s), want %s", m.FailoverTime, m.Status, want)
	}
	retained := kv.Timestamp{WallTime: rt.WallTime, Logical: 5}
	m = Machine{Status: StatusReplicating, StartTime: ts(10), RetainedTime: retained, ScanDone: true, ReplicatedTime: rt}
	if err := m.Step(Event{Type: EvFailover, Latest: true}); err != nil || m.FailoverTime != rt {
		t.Fatalf("failover time %s below the retained time %s: %v", m.FailoverTime, retained, err)
	}
	// A future time unpauses the job.
	m = Machine{Status: StatusPaused, StartTime: ts(10), RetainedTime: ts(10), ScanDone: true, ReplicatedTime: ts(40)}
	if err := m.Step(Event{Type: EvFailover, Time: ts(90)}); err != nil {
		t.Fatal(err)
	}
	if m.Status != StatusInitializing || m.Next().Kind != ActStream {
		t.Fatalf("%+v", m)
	}
	// Before the scan ends, LATEST is the start time and waits for it.
	m = Machine{Status: StatusInitialScan, StartTime: ts(10), RetainedTime: ts(10)}
	if err := m.Step(Event{Type: EvFailover, Latest: true}); err != nil || m.Status != StatusPendingFailover {
		t.Fatalf("%v %+v", err, m)
	}
	if err := m.Step(Event{Type: EvScanDone, Time: ts(10)}); err != nil || m.Status != StatusFailingOver {
		t.Fatalf("%v %+v", err, m)
	}
	// No retained time yet.
	m = Machine{Status: StatusInitialScan, StartTime: ts(10)}
	if err := m.Step(Event{Type: EvFailover, Latest: true}); pgerror.GetPGCode(err) != pgcode.ObjectNotInPrerequisiteState {
		t.Fatalf("got %v", err)
	}
}

// TestMachineAgainstTransitions steps random events from random states and
// checks every change against the Transitions table, that refused events
// leave the machine untouched, and that the replicated time never regresses.
func TestMachineAgainstTransitions(t *testing.T) {
	rng := rand.New(rand.NewSource(42))
	seen := map[[3]string]bool{}
	for run := 0; run < 2000; run++ {
		m := Machine{Status: allStatuses[rng.Intn(len(allStatuses))], StartTime: ts(10), RetainedTime: ts(10),
			Policy: RetryPolicy{MaxRetries: 3, InitialBackoff: time.Millisecond, MaxBackoff: time.Second}}
		// Only consistent starting states: the scan is running exactly in
		// InitialScan, done in Replicating and while failing over.
		m.ScanDone = rng.Intn(2) == 0
		switch m.Status {
		case StatusInitialScan:
			m.ScanDone = false
		case StatusReplicating, StatusFailingOver:
			m.ScanDone = true
		}
		if m.ScanDone {
			m.ReplicatedTime = ts(10 + rng.Int63n(50))
		}
		if rng.Intn(4) == 0 {
			m.RevertFirst = ts(10)
		}
		if m.Status == StatusPendingFailover || m.Status == StatusFailingOver {
			m.FailoverTime = ts(30)
		}
		if m.Status == StatusFailingOver {
			m.ReplicatedTime = ts(60)
		}
		for i := 0; i < 30; i++ {
			ev := Event{Type: allEvents[rng.Intn(len(allEvents))], Time: ts(rng.Int63n(120)), Latest: rng.Intn(3) == 0}
			if ev.Type == EvStreamError {
				ev.Err = errors.New("e")
			}
			before := m
			err := m.Step(ev)
			if err != nil {
				if m != before {
					t.Fatalf("refused %s changed the machine", ev.Type)
				}
				continue
			}
			if !allowed(before.Status, ev.Type, m.Status) {
				t.Fatalf("transition %q --%s--> %q is not in the table", before.Status, ev.Type, m.Status)
			}
			seen[[3]string{string(before.Status), ev.Type.String(), string(m.Status)}] = true
			if m.ReplicatedTime.Less(before.ReplicatedTime) {
				t.Fatalf("replicated time regressed on %s", ev.Type)
			}
			if m.Status == StatusFailingOver && before.Status != StatusFailingOver && (m.FailoverTime.IsEmpty() || m.ReplicatedTime.Less(m.FailoverTime) || !m.ScanDone) {
				t.Fatalf("failing over without the data: %+v", m)
			}
		}
	}
	// Every entry of the table is reachable, so the table is not a loose
	// superset.
	for _, tr := range Transitions {
		found := false
		for _, to := range tr.To {
			if seen[[3]string{string(tr.From), tr.Event.String(), string(to)}] {
				found = true
			}
		}
		if !found {
			t.Errorf("table entry %q --%s--> %v never happened", tr.From, tr.Event, tr.To)
		}
	}
}

func TestRetainedTimeFor(t *testing.T) {
	h := time.Hour
	for _, c := range []struct {
		start, repl, failover, prev, want kv.Timestamp
	}{
		{start: ts(10), want: ts(10)},
		{start: ts(10), repl: ts(int64(h) + 50), want: ts(50)},
		{start: ts(100), repl: ts(int64(h) + 50), want: ts(100)},
		{start: ts(10), repl: ts(int64(h) + 50), failover: ts(30), want: ts(30)},
		{start: ts(10), repl: ts(int64(h) + 50), prev: ts(70), want: ts(70)},
	} {
		if got := RetainedTimeFor(c.start, c.repl, h, c.failover, c.prev); got != c.want {
			t.Errorf("%+v: got %s", c, got)
		}
	}
}
