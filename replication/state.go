package replication

import (
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/errors"
	"github.com/vcdb/vcdb/kv"
)

// Status is a consumer job's replication status, exactly the strings SHOW
// VIRTUAL CLUSTER ... WITH REPLICATION STATUS prints (CONTRACT §3), plus two
// terminal statuses that SHOW never prints (the VC then shows its data state).
type Status string

// Consumer statuses.
const (
	StatusInitializing    Status = "initializing replication"
	StatusInitialScan     Status = "running initial scan"
	StatusReplicating     Status = "replicating"
	StatusPaused          Status = "replication paused"
	StatusPendingFailover Status = "replication pending failover"
	StatusFailingOver     Status = "replication failing over"
	StatusError           Status = "replication error"
	// StatusComplete: failover finished, the VC is ready. Terminal.
	StatusComplete Status = "complete"
	// StatusCancelled: the job was cancelled (DROP VIRTUAL CLUSTER). Terminal.
	StatusCancelled Status = "cancelled"
)

// Terminal reports whether no further transition can leave s.
func (s Status) Terminal() bool { return s == StatusComplete || s == StatusCancelled }

// EventType names an input of the consumer state machine.
type EventType int

// Inputs of the state machine. The run loop produces Connected, ScanDone,
// Progress, StreamError, RetryElapsed, RevertFirstDone and FailoverDone;
// users produce Pause, Resume, Failover and Cancel.
const (
	EvConnected EventType = iota + 1
	EvScanDone
	EvProgress
	EvStreamError
	EvRetryElapsed
	EvRevertFirstDone
	EvFailoverDone
	EvPause
	EvResume
	EvFailover
	EvCancel
)

var eventNames = map[EventType]string{
	EvConnected: "connected", EvScanDone: "scan-done", EvProgress: "progress",
	EvStreamError: "stream-error", EvRetryElapsed: "retry-elapsed",
	EvRevertFirstDone: "revert-first-done", EvFailoverDone: "failover-done",
	EvPause: "pause", EvResume: "resume", EvFailover: "failover", EvCancel: "cancel",
}

func (e EventType) String() string { return eventNames[e] }

// Event is one input. Time is the replicated time (EvProgress, EvScanDone)
// or the requested failover time (EvFailover, empty with Latest).
type Event struct {
	Type   EventType
	Time   kv.Timestamp
	Latest bool
	Err    error
	// Permanent (EvStreamError): retrying cannot help (a version
	// mismatch), so the job pauses at once with Err as its last error.
	Permanent bool
}

// ActionKind tells the run loop what to do next.
type ActionKind int

// Actions.
const (
	// ActStream: connect (or stay connected) and ingest.
	ActStream ActionKind = iota + 1
	// ActWaitRetry: wait Backoff, then deliver EvRetryElapsed.
	ActWaitRetry
	// ActWaitControl: do nothing until a user event arrives (paused).
	ActWaitControl
	// ActRevertFirst: revert the span to RevertFirst before streaming
	// (failback), then deliver EvRevertFirstDone.
	ActRevertFirst
	// ActFailover: stop ingesting, revert to FailoverTime, activate, then
	// deliver EvFailoverDone.
	ActFailover
	// ActExit: the job is over.
	ActExit
)

// Action is the machine's instruction to the run loop.
type Action struct {
	Kind    ActionKind
	Backoff time.Duration
}

// RetryPolicy bounds the retries of stream errors. The counter resets
// whenever the replicated time advances; once it exceeds MaxRetries the job
// pauses (it never fails: progress must not be lost).
type RetryPolicy struct {
	MaxRetries     int
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
}

// DefaultRetryPolicy retries for about three minutes, as CockroachDB's
// documentation says a PCR job does (CRDB-PCR-FACTS §4.2: 20 retries,
// backoff capped at 15 s).
var DefaultRetryPolicy = RetryPolicy{MaxRetries: 20, InitialBackoff: 100 * time.Millisecond, MaxBackoff: 15 * time.Second}

// Machine is the consumer job's state machine: a plain value with no
// goroutines and no I/O, persisted whole in the job record. See doc.go for
// the diagram and Transitions for the table it obeys.
type Machine struct {
	Status Status `json:"status"`
	// StartTime is the stream's start (the initial scan's snapshot, or the
	// failback resume time).
	StartTime kv.Timestamp `json:"start_time"`
	// ScanDone: the initial scan is complete (or none was needed).
	ScanDone bool `json:"scan_done"`
	// ReplicatedTime is the persisted frontier (empty before the scan ends).
	ReplicatedTime kv.Timestamp `json:"replicated_time"`
	// RetainedTime is where the consumer's protected timestamp stands.
	RetainedTime kv.Timestamp `json:"retained_time"`
	// FailoverTime is the requested failover time, empty if none.
	FailoverTime kv.Timestamp `json:"failover_time"`
	// RevertFirst, when set, is the divergence time a failback job reverts
	// the span to before it streams.
	RevertFirst kv.Timestamp `json:"revert_first"`
	// Retries counts stream errors since the replicated time last advanced.
	Retries int `json:"retries"`
	// LastError is the most recent stream error's text (for SHOW and logs).
	LastError string `json:"last_error,omitempty"`

	Policy RetryPolicy `json:"-"`
}

// Next returns what the run loop must do in the current state.
func (m *Machine) Next() Action {
	switch m.Status {
	case StatusInitializing:
		if !m.RevertFirst.IsEmpty() {
			return Action{Kind: ActRevertFirst}
		}
		return Action{Kind: ActStream}
	case StatusInitialScan, StatusReplicating, StatusPendingFailover:
		return Action{Kind: ActStream}
	case StatusError:
		return Action{Kind: ActWaitRetry, Backoff: m.backoff()}
	case StatusPaused:
		return Action{Kind: ActWaitControl}
	case StatusFailingOver:
		return Action{Kind: ActFailover}
	}
	return Action{Kind: ActExit}
}

func (m *Machine) backoff() time.Duration {
	p := m.Policy
	if p.InitialBackoff <= 0 {
		p = DefaultRetryPolicy
	}
	d := p.InitialBackoff
	for i := 1; i < m.Retries && d < p.MaxBackoff; i++ {
		d *= 2
	}
	if d > p.MaxBackoff {
		d = p.MaxBackoff
	}
	return d
}

func (m *Machine) maxRetries() int {
	if m.Policy.MaxRetries <= 0 {
		return DefaultRetryPolicy.MaxRetries
	}
	return m.Policy.MaxRetries
}

// streaming reports whether the job ingests in status s.
func streaming(s Status) bool {
	return s == StatusInitializing || s == StatusInitialScan || s == StatusReplicating || s == StatusPendingFailover
}

// errInvalidTransition marks an internal event delivered in a state that
// cannot take it: a bug in the run loop, not a user error.
var errInvalidTransition = errors.New("replication: invalid state transition")

func (m *Machine) invalid(ev Event) error {
	return errors.Mark(errors.Newf("replication: event %s in status %q", ev.Type, m.Status), errInvalidTransition)
}

// Step applies ev. On error the machine is unchanged. User events that the
// state refuses return errors with a SQLSTATE (55000 for a wrong state,
// 22023 for a bad time), worded as CockroachDB words them.
func (m *Machine) Step(ev Event) error {
	next := *m
	if err := next.step(ev); err != nil {
		return err
	}
	*m = next
	return nil
}

func (m *Machine) step(ev Event) error {
	if m.Status.Terminal() {
		if ev.Type == EvCancel && m.Status == StatusCancelled {
			return nil
		}
		return pgerror.Newf(pgcode.ObjectNotInPrerequisiteState, "replication job is no longer active (%s)", m.Status)
	}
	switch ev.Type {
	case EvConnected:
		if m.Status != StatusInitializing || !m.RevertFirst.IsEmpty() {
			return m.invalid(ev)
		}
		m.Status = m.streamingStatus()
	case EvScanDone:
		// The scan's end is a durable fact reported by the ingester; it may
		// be observed after the session ended (paused, error), and then it
		// only records the time.
		if ev.Time.IsEmpty() || m.Status == StatusFailingOver {
			return m.invalid(ev)
		}
		if m.ScanDone {
			return nil
		}
		m.ScanDone = true
		m.progress(ev.Time)
		if m.Status == StatusInitialScan || m.Status == StatusPendingFailover {
			m.Status = m.streamingStatus()
			m.maybeStartFailover()
		}
	case EvProgress:
		// Like EvScanDone, progress is durable whenever it is observed;
		// only a connected stream moves on to the failover from it.
		if !m.ScanDone || ev.Time.IsEmpty() {
			return m.invalid(ev)
		}
		if ev.Time.Less(m.ReplicatedTime) {
			return errors.AssertionFailedf("replication: replicated time regressed from %s to %s", m.ReplicatedTime, ev.Time)
		}
		m.progress(ev.Time)
		if m.Status == StatusInitialScan || m.Status == StatusReplicating || m.Status == StatusPendingFailover {
			m.maybeStartFailover()
		}
	case EvStreamError:
		if !streaming(m.Status) {
			return m.invalid(ev)
		}
		m.Retries++
		if ev.Err != nil {
			m.LastError = ev.Err.Error()
		}
		if m.Retries > m.maxRetries() || ev.Permanent {
			m.Status = StatusPaused
		} else {
			m.Status = StatusError
		}
	case EvRetryElapsed:
		if m.Status != StatusError {
			return m.invalid(ev)
		}
		m.Status = StatusInitializing
	case EvRevertFirstDone:
		if m.Status != StatusInitializing || m.RevertFirst.IsEmpty() {
			return m.invalid(ev)
		}
		m.RevertFirst = kv.Timestamp{}
	case EvFailoverDone:
		if m.Status != StatusFailingOver {
			return m.invalid(ev)
		}
		m.Status = StatusComplete
	case EvPause:
		switch {
		case m.Status == StatusPaused:
		case m.Status == StatusFailingOver:
			return m.alreadyFailingOver()
		default:
			m.Status = StatusPaused
		}
	case EvResume:
		if m.Status == StatusPaused {
			m.Retries = 0
			m.Status = StatusInitializing
		}
	case EvFailover:
		return m.requestFailover(ev)
	case EvCancel:
		m.Status = StatusCancelled
	default:
		return m.invalid(ev)
	}
	return nil
}

// streamingStatus is the status of a connected stream.
func (m *Machine) streamingStatus() Status {
	switch {
	case !m.FailoverTime.IsEmpty():
		return StatusPendingFailover
	case !m.ScanDone:
		return StatusInitialScan
	}
	return StatusReplicating
}

func (m *Machine) progress(ts kv.Timestamp) {
	if m.ReplicatedTime.Less(ts) {
		m.ReplicatedTime = ts
		m.Retries = 0
		m.LastError = ""
	}
}

// failoverReady reports whether the data at FailoverTime is all here.
func (m *Machine) failoverReady() bool {
	return !m.FailoverTime.IsEmpty() && m.ScanDone && m.FailoverTime.LessEq(m.ReplicatedTime)
}

func (m *Machine) maybeStartFailover() {
	if m.failoverReady() {
		m.Status = StatusFailingOver
	}
}

func (m *Machine) alreadyFailingOver() error {
	return pgerror.Newf(pgcode.ObjectNotInPrerequisiteState,
		"job already started cutting over to timestamp %s", m.FailoverTime)
}

// requestFailover validates and records a failover time (COMPLETE
// REPLICATION). The chosen time is left in FailoverTime.
func (m *Machine) requestFailover(ev Event) error {
	if m.Status == StatusFailingOver {
		return m.alreadyFailingOver()
	}
	t := ev.Time
	if ev.Latest {
		t = m.ReplicatedTime
		if t.IsEmpty() {
			t = m.StartTime
		}
		t = cleanLatest(t, m.RetainedTime)
	}
	if t.IsEmpty() {
		return pgerror.New(pgcode.InvalidParameterValue, "failover time must be set")
	}
	if m.RetainedTime.IsEmpty() {
		return pgerror.New(pgcode.ObjectNotInPrerequisiteState,
			"replicated virtual cluster has not yet recorded a retained timestamp")
	}
	if t.Less(m.RetainedTime) {
		return pgerror.Newf(pgcode.InvalidParameterValue,
			"cutover time %s is before earliest safe cutover time %s", t, m.RetainedTime)
	}
	m.FailoverTime = t
	if m.failoverReady() {
		m.Status = StatusFailingOver
		return nil
	}
	switch m.Status {
	case StatusPaused, StatusError:
		// Requesting a failover unpauses the job (CRDB-PCR-FACTS §3.1).
		m.Retries = 0
		m.Status = StatusInitializing
	case StatusInitialScan, StatusReplicating:
		m.Status = StatusPendingFailover
	}
	return nil
}

// cleanLatest is the failover time TO LATEST reports for the replicated
// time t: t floored to its wall nanosecond with logical 0, as CockroachDB
// shows it (`….0000000000`), rather than a checkpoint's raw HLC such as
// `….2147483647` (a resolved time is often the maximum logical below a
// commit). The floor is still ≤ the replicated time, so everything at it
// is here; it is kept only if it is not below the retained time (the
// earliest valid failover time), else t is used as it is.
func cleanLatest(t, retained kv.Timestamp) kv.Timestamp {
	floor := kv.Timestamp{WallTime: t.WallTime}
	if floor.IsEmpty() || floor.Less(retained) {
		return t
	}
	return floor
}

// RetainedTimeFor returns where the consumer's protection should stand:
// max(start, replicated − retention), capped at the failover time once one
// is set, and never below prev (protection only moves up).
func RetainedTimeFor(start, replicated kv.Timestamp, retention time.Duration, failover, prev kv.Timestamp) kv.Timestamp {
	t := start
	if !replicated.IsEmpty() {
		if r := (kv.Timestamp{WallTime: replicated.WallTime - int64(retention)}); t.Less(r) {
			t = r
		}
	}
	if !failover.IsEmpty() && failover.Less(t) {
		t = failover
	}
	if t.Less(prev) {
		t = prev
	}
	return t
}

// Transitions lists every status change the machine can make, by event.
// doc.go draws it; state_test.go checks the machine against it.
var Transitions = []struct {
	From  Status
	Event EventType
	To    []Status
}{
	{StatusInitializing, EvConnected, []Status{StatusInitialScan, StatusReplicating, StatusPendingFailover}},
	{StatusInitializing, EvRevertFirstDone, []Status{StatusInitializing}},
	{StatusInitialScan, EvScanDone, []Status{StatusReplicating, StatusFailingOver}},
	{StatusPendingFailover, EvScanDone, []Status{StatusPendingFailover, StatusFailingOver}},
	{StatusInitializing, EvScanDone, []Status{StatusInitializing}},
	{StatusReplicating, EvScanDone, []Status{StatusReplicating}},
	{StatusError, EvScanDone, []Status{StatusError}},
	{StatusPaused, EvScanDone, []Status{StatusPaused}},
	{StatusInitializing, EvProgress, []Status{StatusInitializing}},
	{StatusReplicating, EvProgress, []Status{StatusReplicating}},
	{StatusPendingFailover, EvProgress, []Status{StatusPendingFailover, StatusFailingOver}},
	{StatusError, EvProgress, []Status{StatusError}},
	{StatusPaused, EvProgress, []Status{StatusPaused}},
	{StatusFailingOver, EvProgress, []Status{StatusFailingOver}},
	{StatusInitializing, EvStreamError, []Status{StatusError, StatusPaused}},
	{StatusInitialScan, EvStreamError, []Status{StatusError, StatusPaused}},
	{StatusReplicating, EvStreamError, []Status{StatusError, StatusPaused}},
	{StatusPendingFailover, EvStreamError, []Status{StatusError, StatusPaused}},
	{StatusError, EvRetryElapsed, []Status{StatusInitializing}},
	{StatusInitializing, EvPause, []Status{StatusPaused}},
	{StatusInitialScan, EvPause, []Status{StatusPaused}},
	{StatusReplicating, EvPause, []Status{StatusPaused}},
	{StatusPendingFailover, EvPause, []Status{StatusPaused}},
	{StatusError, EvPause, []Status{StatusPaused}},
	{StatusPaused, EvPause, []Status{StatusPaused}},
	{StatusPaused, EvResume, []Status{StatusInitializing}},
	{StatusInitializing, EvResume, []Status{StatusInitializing}},
	{StatusInitialScan, EvResume, []Status{StatusInitialScan}},
	{StatusReplicating, EvResume, []Status{StatusReplicating}},
	{StatusPendingFailover, EvResume, []Status{StatusPendingFailover}},
	{StatusError, EvResume, []Status{StatusError}},
	{StatusFailingOver, EvResume, []Status{StatusFailingOver}},
	{StatusInitializing, EvFailover, []Status{StatusInitializing, StatusFailingOver}},
	{StatusInitialScan, EvFailover, []Status{StatusPendingFailover, StatusFailingOver}},
	{StatusReplicating, EvFailover, []Status{StatusPendingFailover, StatusFailingOver}},
	{StatusPendingFailover, EvFailover, []Status{StatusPendingFailover, StatusFailingOver}},
	{StatusPaused, EvFailover, []Status{StatusInitializing, StatusFailingOver}},
	{StatusError, EvFailover, []Status{StatusInitializing, StatusFailingOver}},
	{StatusFailingOver, EvFailoverDone, []Status{StatusComplete}},
	{StatusInitializing, EvCancel, []Status{StatusCancelled}},
	{StatusInitialScan, EvCancel, []Status{StatusCancelled}},
	{StatusReplicating, EvCancel, []Status{StatusCancelled}},
	{StatusPendingFailover, EvCancel, []Status{StatusCancelled}},
	{StatusError, EvCancel, []Status{StatusCancelled}},
	{StatusPaused, EvCancel, []Status{StatusCancelled}},
	{StatusFailingOver, EvCancel, []Status{StatusCancelled}},
	{StatusCancelled, EvCancel, []Status{StatusCancelled}},
}
