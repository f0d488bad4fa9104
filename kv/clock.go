package kv

import (
	"math"
	"sync"
	"time"
)

// Clock is a hybrid logical clock: Now returns the wall time when it moves
// forward and otherwise bumps the logical counter, so timestamps are strictly
// increasing no matter what the wall clock does. Update folds in timestamps
// received from elsewhere so every later Now is above them.
//
// An engine's clock is also monotonic across restarts and crashes. Before it
// hands out a timestamp whose wall time is beyond a persisted high-water mark,
// the mark is moved forward (synchronously, durably); on Open the clock starts
// above the persisted mark. The mark leads the wall clock by a small window
// (hwmLead, 500ms) so that a restarted node's timestamps stay close to real
// time: Open waits for the wall clock to pass the mark (at most the lead), and
// a clean Close lowers the mark to the last timestamp handed out, so a
// restart after a clean shutdown does not wait at all. A background renewal,
// driven by a timer as well as by Now, moves the mark forward whenever less
// than half the lead remains, so the synchronous path is taken only after a
// clock jump, an Update from ahead, or a renewal stalled for half the lead;
// idle or busy, commits do not wait for it.
//
// Rejected alternatives: a lead of seconds (the first design, 10s) made every
// restart hand out timestamps seconds in the future, skewing now(), AS OF
// SYSTEM TIME and a standby's replication lag; scanning the store for its
// newest version at Open would miss timestamps that were handed out without
// being written (read timestamps, rangefeed checkpoints a standby relies on)
// and costs a full scan.
type Clock struct {
	wall func() int64

	mu struct {
		sync.Mutex
		last Timestamp
		// limit is the persisted high-water mark (engine clocks only): no
		// timestamp with a wall time above it is handed out before the mark
		// is raised. Zero means no persistence.
		limit int64
		// syncExtensions counts the times Now or Update had to persist the
		// mark themselves, the renewal having fallen behind (tests check
		// that commits do not wait for it).
		syncExtensions int64
	}
	// persist durably records a new high-water mark; nil for free-standing
	// clocks. It is called with mu held, which blocks Now for one sync in
	// the rare synchronous case.
	persist func(limit int64) error
	// renew asks the engine's renewal goroutine to move the mark forward
	// before it is reached; nil for free-standing clocks.
	renew func()
	// window is how far ahead of the wall time the mark is kept (hwmLead
	// for engine clocks).
	window int64
	// persistErr is called when persisting failed; the engine then refuses
	// commits rather than risk reusing timestamps after a restart.
	persistErr func(error)
}

// NewClock returns a clock reading wall time from wall (nanoseconds since the
// Unix epoch); nil means time.Now().UnixNano.
func NewClock(wall func() int64) *Clock {
	if wall == nil {
		wall = func() int64 { return time.Now().UnixNano() }
	}
	return &Clock{wall: wall}
}

// Now returns a timestamp strictly greater than every timestamp returned by
// Now before, and than every timestamp passed to Update.
func (c *Clock) Now() Timestamp {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.wall()
	if w > c.mu.last.WallTime {
		c.mu.last = Timestamp{WallTime: w}
	} else {
		c.mu.last = c.mu.last.Next()
	}
	c.ensureLimitLocked(c.mu.last.WallTime)
	return c.mu.last
}

// Update makes every later Now return a timestamp greater than remote.
func (c *Clock) Update(remote Timestamp) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.last.Less(remote) {
		c.mu.last = remote
		c.ensureLimitLocked(remote.WallTime)
	}
}

// Last returns the most recent timestamp handed out (or folded in by Update);
// every later Now is above it.
func (c *Clock) Last() Timestamp {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.last
}

// ensureLimitLocked keeps the persisted high-water mark at or above wall.
func (c *Clock) ensureLimitLocked(wall int64) {
	if c.persist == nil {
		return
	}
	if wall > c.mu.limit {
		// Synchronous: the timestamp must not escape before the mark covers
		// it, or a restart could hand it out again.
		next := wall + c.window
		c.mu.syncExtensions++
		if err := c.persist(next); err != nil {
			c.persistErr(err)
			return
		}
		c.mu.limit = next
		return
	}
	if wall > c.mu.limit-c.window/2 && c.renew != nil {
		c.renew()
	}
}

// raiseLimit records that the mark has been durably moved to limit by the
// renewal goroutine.
func (c *Clock) raiseLimit(limit int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if limit > c.mu.limit {
		c.mu.limit = limit
	}
}

// renewalTarget is the mark the renewal goroutine should persist next, or 0
// when the current mark is far enough ahead.
func (c *Clock) renewalTarget() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.wall()
	if w < c.mu.last.WallTime {
		w = c.mu.last.WallTime
	}
	if w <= c.mu.limit-c.window/2 {
		return 0
	}
	return w + c.window
}

// renewalDelay is how long the renewal goroutine may sleep before the mark
// needs renewing (less than half the lead left). It never exceeds half the
// lead, so a wall clock that jumps forward is noticed in time, and is at
// least a millisecond, so a wall clock that stands still (tests) cannot make
// the goroutine spin.
func (c *Clock) renewalDelay() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.wall()
	if w < c.mu.last.WallTime {
		w = c.mu.last.WallTime
	}
	d := c.mu.limit - c.window/2 - w
	if d < int64(time.Millisecond) {
		d = int64(time.Millisecond)
	}
	if d > c.window/2 {
		d = c.window / 2
	}
	return time.Duration(d)
}

// startAbove makes every timestamp the clock hands out from now on have a
// wall time above mark, whatever its logical part: a timestamp handed out
// before a restart may carry mark's wall time with any logical value.
func (c *Clock) startAbove(mark int64) {
	c.mu.last = Timestamp{WallTime: mark, Logical: math.MaxInt32}
	c.mu.limit = mark
}
