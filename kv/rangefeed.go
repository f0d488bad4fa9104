package kv

import (
	"bytes"
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/errors"
)

// Rangefeeds.
//
// A subscription delivers, in order:
//
//  1. a catch-up scan: every version in the span with startTS < ts <= R0,
//     oldest first within a key;
//  2. a checkpoint at R0;
//  3. live events: every commit published after registration, in commit
//     timestamp order, interleaved with checkpoints.
//
// R0 and later checkpoints are resolved timestamps computed under publishMu:
// the timestamp just below the oldest commit still in the in-flight queue, or,
// when the queue is empty, a fresh clock reading (every later commit takes a
// larger timestamp from the same clock). Commits leave the queue only when
// published, and publishing appends their events to every subscription under
// publishMu, in timestamp order. So when a checkpoint R is appended, every
// commit at or below R has already been appended before it, and every commit
// not yet appended has a timestamp above R: no event at or below a delivered
// checkpoint can follow it.
//
// Hand-off: registration and the computation of R0 happen in one publishMu
// critical section. Commits published before it have timestamps <= R0 and are
// in Pebble (publication follows application), so the catch-up scan bounded
// by R0 sees them; commits published after it have timestamps > R0 and arrive
// live. Nothing is missed and nothing is delivered twice.
//
// Checkpoints follow commits: the publisher that pops commits off the queue
// appends a checkpoint at the new resolved timestamp itself, at most one per
// CheckpointSpacing (a skipped one is sent by the checkpoint loop once the
// spacing has passed), and the loop adds one every CheckpointInterval while
// nothing is published. So under load a checkpoint trails the oldest
// in-flight commit by little more than the spacing, and a busy engine sends
// a few thousand per second at most, not one per commit.
//
// Buffering: the publisher never blocks on a subscriber. While the
// subscription's goroutine is idle with nothing queued, the publisher sends
// straight into the Events channel if it has room (no goroutine hop between
// a commit and its subscriber); otherwise it appends to the subscription's
// pending queue (a slice under the subscription's mutex) and nudges the
// goroutine, which moves the queue into the channel in order and only then
// allows direct sends again. When the pending queue exceeds its limit the
// subscription ends with ErrSubscriberTooSlow; the subscriber can
// resubscribe from its last checkpoint. A queued checkpoint is superseded
// by a newer one (which follows every event queued before it), so a
// subscriber that falls behind receives one checkpoint per catch-up batch.
//
// Not carried live: WriteVersions and IngestVersions (they write at their own,
// usually old, timestamps, so they cannot respect checkpoints already given;
// a subscription started after them sees them in its catch-up scan),
// RevertRange and ClearRange (physical removals, not MVCC events). Spans being
// reverted or cleared must have no live subscribers that care.

// EventType says what an Event carries.
type EventType int

const (
	// EventValue carries a committed version (a value or a tombstone).
	EventValue EventType = iota + 1
	// EventCheckpoint carries a resolved timestamp for the span.
	EventCheckpoint
	// eventSuperseded marks a pending checkpoint replaced by a newer one;
	// it is never delivered.
	eventSuperseded EventType = -1
)

func (t EventType) String() string {
	switch t {
	case EventValue:
		return "value"
	case EventCheckpoint:
		return "checkpoint"
	}
	return "unknown"
}

// Event is one rangefeed event. Slices in Version are shared and must not be
// modified.
type Event struct {
	Type     EventType
	Version  Version   // EventValue: the committed version, original timestamp
	Span     Span      // EventCheckpoint: the span the resolved timestamp covers
	Resolved Timestamp // EventCheckpoint
}

// SubscribeOptions configures a subscription.
type SubscribeOptions struct {
	// BufferSize is the capacity of the Events channel; 0 means
	// DefaultRangefeedBuffer. Up to pendingFactor times as many further
	// events wait in the subscription's queue before it is cut off.
	BufferSize int
}

// DefaultRangefeedBuffer is the default Events channel capacity.
const DefaultRangefeedBuffer = 8192

// pendingFactor bounds the queue behind the Events channel, as a multiple of
// BufferSize. It is generous because the queue also absorbs live writes while
// the catch-up scan runs.
const pendingFactor = 4

// Subscription is a running rangefeed.
type Subscription struct {
	e       *Engine
	span    Span // clamped
	startTS Timestamp
	out     chan Event
	notify  chan struct{}
	ctx     context.Context
	cancel  context.CancelCauseFunc
	done    chan struct{}
	limit   int
	err     error // set before out is closed
	r0      Timestamp

	mu struct {
		sync.Mutex
		pending []Event
		values  int // EventValue entries in pending
		// ckpt is the index in pending of its only live checkpoint, or -1.
		ckpt int
		// resolved is the newest checkpoint queued or sent; older or equal
		// ones are dropped.
		resolved Timestamp
		// direct is set while the goroutine is idle with nothing pending:
		// the publisher may then send straight into out (without
		// blocking), sparing a goroutine hop on the way to the subscriber.
		// It implies pending is empty and no batch is being delivered, so
		// direct sends cannot overtake queued events.
		direct bool
		// closed is set (and direct cleared) before out is closed.
		closed bool
		// fills counts switches from direct sends to the queue (tests).
		fills    int
		overflow bool
		endErr   error // engine closed
	}
}

// Subscribe starts a rangefeed over span from startTS (exclusive). The
// subscription ends when ctx is done, on Close, when the engine closes, or
// when the subscriber falls too far behind.
func (e *Engine) Subscribe(ctx context.Context, span Span, startTS Timestamp, opts SubscribeOptions) (*Subscription, error) {
	if err := e.checkOpen(); err != nil {
		return nil, err
	}
	s, ok := clampSpan(span)
	if !ok {
		return nil, errors.Newf("kv: subscribe to empty span %s", span)
	}
	if err := e.gc.checkSpan(s, startTS.Next()); err != nil {
		return nil, err
	}
	if opts.BufferSize <= 0 {
		opts.BufferSize = DefaultRangefeedBuffer
	}
	sub := &Subscription{
		e:       e,
		span:    s,
		startTS: startTS,
		out:     make(chan Event, opts.BufferSize),
		notify:  make(chan struct{}, 1),
		done:    make(chan struct{}),
		limit:   pendingFactor * opts.BufferSize,
	}
	sub.mu.ckpt = -1
	sub.ctx, sub.cancel = context.WithCancelCause(ctx)
	e.publishMu.Lock()
	// r0 and the registration in one inflight.mu critical section: finish
	// decides under it whether to publish (see finish).
	e.inflight.Lock()
	sub.r0 = e.resolvedLockedInflight()
	e.feeds.add(sub)
	e.inflight.Unlock()
	sub.mu.resolved = sub.r0
	if sub.r0.Less(startTS) {
		sub.mu.resolved = startTS
	}
	e.publishMu.Unlock()
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		sub.run()
	}()
	return sub, nil
}

// Events returns the channel of events; it is closed when the subscription
// ends.
func (s *Subscription) Events() <-chan Event { return s.out }

// Err returns why the subscription ended, once Events is closed: nil after
// Close, ErrSubscriberTooSlow, ErrClosed, the context's error, or a storage
// error.
func (s *Subscription) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

// errSubscriptionClosed is the cancellation cause of Close; Err reports nil
// for it.
var errSubscriptionClosed = errors.New("kv: subscription closed")

// Close ends the subscription and waits for its goroutine.
func (s *Subscription) Close() {
	s.cancel(errSubscriptionClosed)
	<-s.done
}

// run is the subscription's goroutine: catch-up, then live delivery.
func (s *Subscription) run() {
	defer func() {
		s.e.feeds.remove(s)
		s.mu.Lock()
		s.mu.closed = true
		s.mu.direct = false
		s.mu.Unlock()
		// done first: a subscriber that saw Events closed must find Err
		// set.
		close(s.done)
		close(s.out)
	}()
	err := s.deliver()
	s.cancel(errSubscriptionClosed)
	s.err = err
}

func (s *Subscription) deliver() error {
	lastResolved := s.startTS
	if s.startTS.Less(s.r0) {
		if err := s.catchUp(); err != nil {
			return err
		}
	}
	if lastResolved.Less(s.r0) {
		if err := s.send(Event{Type: EventCheckpoint, Span: s.span, Resolved: s.r0}); err != nil {
			return err
		}
		lastResolved = s.r0
	}
	var batch []Event
	for {
		s.mu.Lock()
		if s.mu.overflow {
			s.mu.Unlock()
			return ErrSubscriberTooSlow
		}
		if s.mu.endErr != nil {
			err := s.mu.endErr
			s.mu.Unlock()
			return err
		}
		if len(s.mu.pending) == 0 {
			// Idle: let publishers send directly until the channel is
			// full, then wait to be nudged.
			s.mu.direct = true
			s.mu.Unlock()
			select {
			case <-s.notify:
			case <-s.ctx.Done():
				return s.ctxErr()
			}
			continue
		}
		batch, s.mu.pending = s.mu.pending, batch[:0]
		s.mu.values = 0
		s.mu.ckpt = -1
		s.mu.Unlock()
		for i := range batch {
			ev := &batch[i]
			if ev.Type == eventSuperseded {
				*ev = Event{}
				continue
			}
			if ev.Type == EventCheckpoint {
				if !lastResolved.Less(ev.Resolved) {
					continue
				}
				lastResolved = ev.Resolved
			}
			if err := s.send(*ev); err != nil {
				return err
			}
			*ev = Event{}
		}
	}
}

// ctxErr maps the end of the subscription's context to its reason.
func (s *Subscription) ctxErr() error {
	s.mu.Lock()
	endErr := s.mu.endErr
	s.mu.Unlock()
	if endErr != nil {
		return endErr
	}
	if s.e.closed.Load() {
		return ErrClosed
	}
	// A cancelled parent context is reported; our own Close is not.
	if cause := context.Cause(s.ctx); cause != errSubscriptionClosed {
		return cause
	}
	return nil
}

func (s *Subscription) send(ev Event) error {
	select {
	case s.out <- ev:
		return nil
	case <-s.ctx.Done():
		return s.ctxErr()
	}
}

// catchUp sends every version in the span with startTS < ts <= r0, oldest
// first within each key.
func (s *Subscription) catchUp() error {
	var arena rowArena
	var group []Version
	flush := func() error {
		for i := len(group) - 1; i >= 0; i-- {
			if err := s.send(Event{Type: EventValue, Version: group[i]}); err != nil {
				return err
			}
		}
		group = group[:0]
		return nil
	}
	// Subscribe checked the GC threshold; check again once the snapshot is
	// taken, as GC may have run in between.
	check := func() error { return s.e.gc.checkSpan(s.span, s.startTS.Next()) }
	err := s.e.iterVersions(s.ctx, s.span, s.startTS, s.r0, check, func(key []byte, ts Timestamp, value []byte, tomb bool) error {
		if len(group) > 0 && !bytes.Equal(group[0].Key, key) {
			if err := flush(); err != nil {
				return err
			}
		}
		var v Version
		if len(group) > 0 {
			v.Key = group[0].Key
			if !tomb {
				v.Value = arena.row(nil, value).Value
			}
		} else {
			kv := arena.row(key, value)
			v.Key = kv.Key
			if !tomb {
				v.Value = kv.Value
			}
		}
		v.Timestamp, v.Tombstone = ts, tomb
		group = append(group, v)
		return nil
	})
	if err != nil {
		if s.ctx.Err() != nil {
			return s.ctxErr()
		}
		return err
	}
	return flush()
}

// enqueue hands an event to the subscription; called under publishMu. It
// never blocks. It reports whether the subscription's goroutine must be
// nudged (the event was queued rather than sent directly).
func (s *Subscription) enqueue(ev Event) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.overflow || s.mu.endErr != nil || s.mu.closed {
		return false
	}
	if ev.Type == EventCheckpoint {
		if !s.mu.resolved.Less(ev.Resolved) {
			return false
		}
		s.mu.resolved = ev.Resolved
	}
	if s.mu.direct {
		select {
		case s.out <- ev:
			return false
		default:
			// The channel is full: queue from now on; the goroutine
			// delivers the queue in order.
			s.mu.direct = false
			s.mu.fills++
		}
	}
	if ev.Type == EventCheckpoint {
		// A newer checkpoint supersedes a pending one: the newer one
		// follows every event queued so far, so delivering only it keeps
		// the guarantee and spares the subscriber a message.
		if i := s.mu.ckpt; i >= 0 {
			s.mu.pending[i].Type = eventSuperseded
		}
		s.mu.ckpt = len(s.mu.pending)
		s.mu.pending = append(s.mu.pending, ev)
		return true
	}
	s.mu.pending = append(s.mu.pending, ev)
	s.mu.values++
	if s.mu.values > s.limit {
		// Cut off at once, even if the goroutine is blocked sending.
		s.mu.overflow = true
		s.mu.pending = nil
		s.cancel(ErrSubscriberTooSlow)
	}
	return true
}

func (s *Subscription) nudge() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// feedRegistry is the set of live subscriptions.
type feedRegistry struct {
	n  atomic.Int32
	mu struct {
		sync.Mutex
		subs []*Subscription
	}
}

func (f *feedRegistry) init() {}

func (f *feedRegistry) active() bool { return f.n.Load() > 0 }

func (f *feedRegistry) add(s *Subscription) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.subs = append(f.mu.subs, s)
	f.n.Store(int32(len(f.mu.subs)))
}

func (f *feedRegistry) remove(s *Subscription) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, x := range f.mu.subs {
		if x == s {
			f.mu.subs = append(f.mu.subs[:i], f.mu.subs[i+1:]...)
			break
		}
	}
	f.n.Store(int32(len(f.mu.subs)))
}

// snapshot returns the current subscriptions.
func (f *feedRegistry) snapshot(dst []*Subscription) []*Subscription {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append(dst[:0], f.mu.subs...)
}

// closeAll ends every subscription with err.
func (f *feedRegistry) closeAll(err error) {
	f.mu.Lock()
	subs := append([]*Subscription(nil), f.mu.subs...)
	f.mu.Unlock()
	for _, s := range subs {
		s.mu.Lock()
		s.mu.endErr = err
		s.mu.Unlock()
		s.cancel(err)
	}
}

// publishCommit appends the events of a published commit to every
// subscription it touches. Called under publishMu.
func (f *feedRegistry) publishCommit(ce *commitEntry, subs []*Subscription) {
	for _, s := range subs {
		if !s.startTS.Less(ce.ts) {
			continue
		}
		w := ce.writes
		i := sort.Search(len(w), func(i int) bool { return bytes.Compare(w[i].key, s.span.Key) >= 0 })
		queued := false
		for ; i < len(w) && bytes.Compare(w[i].key, s.span.EndKey) < 0; i++ {
			ev := Event{Type: EventValue, Version: Version{Key: w[i].key, Timestamp: ce.ts, Tombstone: w[i].tombstone}}
			if !w[i].tombstone {
				ev.Version.Value = w[i].value
			}
			if s.enqueue(ev) {
				queued = true
			}
		}
		if queued {
			s.nudge()
		}
	}
}

// resolvedLocked returns the resolved timestamp: no commit at or below it
// will be published after this call. Called under publishMu.
func (e *Engine) resolvedLocked() Timestamp {
	e.inflight.Lock()
	defer e.inflight.Unlock()
	return e.resolvedLockedInflight()
}

// resolvedLockedInflight is resolvedLocked for callers that also hold
// inflight.mu.
func (e *Engine) resolvedLockedInflight() Timestamp {
	if len(e.inflight.queue) > 0 {
		return e.inflight.queue[0].ts.Prev()
	}
	return e.clock.Now()
}

// checkpointLoop appends checkpoints to every subscription every
// CheckpointInterval while nothing is published, and after a commit-driven
// checkpoint was skipped because of CheckpointSpacing (see
// commitCheckpointLocked), once the spacing has passed.
func (e *Engine) checkpointLoop() {
	t := time.NewTicker(e.opts.CheckpointInterval)
	defer t.Stop()
	var wait *time.Timer
	var subs []*Subscription
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-t.C:
			e.sweepIters()
		case <-e.ckptSignal:
			e.publishMu.Lock()
			d := e.opts.CheckpointSpacing - time.Since(e.lastCkptAt)
			e.publishMu.Unlock()
			if d > 0 {
				if wait == nil {
					wait = time.NewTimer(d)
					defer wait.Stop()
				} else {
					wait.Reset(d)
				}
				select {
				case <-e.ctx.Done():
					return
				case <-wait.C:
				}
			}
		}
		if !e.feeds.active() {
			continue
		}
		e.publishMu.Lock()
		subs = e.feeds.snapshot(subs)
		e.checkpointLocked(subs, time.Now())
		e.publishMu.Unlock()
	}
}

// commitCheckpointLocked follows published commits with a checkpoint, at
// most one per CheckpointSpacing; a skipped one is left to the checkpoint
// loop, which sends it when the spacing has passed (unless a later publish
// did). Called under publishMu after the commits' events were handed out.
//
// Doing it here, in the committer's goroutine, rather than waking another
// goroutine, keeps goroutine hops off the path from a commit to its
// checkpoint: under load every hop waits behind the runnable committers.
// The spacing bounds the cost to a few thousand checkpoints per second
// however many commits there are; consecutive finishers of one group commit
// mostly fall into one spacing window.
func (e *Engine) commitCheckpointLocked(subs []*Subscription) {
	now := time.Now()
	if now.Sub(e.lastCkptAt) >= e.opts.CheckpointSpacing {
		e.checkpointLocked(subs, now)
		return
	}
	e.ckptDeferred = true
	select {
	case e.ckptSignal <- struct{}{}:
	default:
	}
}

// checkpointLocked hands the current resolved timestamp to every
// subscription in subs unless it has not moved since the previous
// checkpoint. Called under publishMu.
func (e *Engine) checkpointLocked(subs []*Subscription, now time.Time) {
	r := e.resolvedLocked()
	e.lastCkptAt = now
	e.ckptDeferred = false
	if !e.lastResolved.Less(r) {
		return
	}
	e.lastResolved = r
	for _, s := range subs {
		if s.enqueue(Event{Type: EventCheckpoint, Span: s.span, Resolved: r}) {
			s.nudge()
		}
	}
}
