package server

import (
	"context"
	"sync"

	"github.com/jackc/pgx/v5/pgproto3"
)

// maxQueuedBytes bounds the bodies of messages the read loop has read but
// the processor has not yet handled. A client that pipelines more than this
// waits (TCP back-pressure) instead of growing the server's memory; one
// message larger than the bound is still accepted when the queue is empty.
const maxQueuedBytes = 1 << 20

// command is one decoded frontend message, or the error that ended the
// read loop (the last command of a connection).
type command struct {
	msg  pgproto3.FrontendMessage
	size int
	err  error
}

// cmdQueue hands commands from the read loop to the processor. Both sides
// wait on one-slot signal channels rather than a condition variable so
// that they can also wait for the connection's context.
type cmdQueue struct {
	mu struct {
		sync.Mutex
		cmds  []command
		head  int
		bytes int
	}
	ready chan struct{} // a command was pushed
	space chan struct{} // the queue went below maxQueuedBytes
}

func newCmdQueue() *cmdQueue {
	return &cmdQueue{ready: make(chan struct{}, 1), space: make(chan struct{}, 1)}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// push appends a command and, when wake is set, wakes the processor. The
// read loop defers the wake-up while more of a pipelined batch is already
// buffered, so a Bind/Execute/Sync batch costs the processor one wake-up
// rather than three.
func (q *cmdQueue) push(cmd command, wake bool) {
	q.mu.Lock()
	q.mu.cmds = append(q.mu.cmds, cmd)
	q.mu.bytes += cmd.size
	q.mu.Unlock()
	if wake {
		signal(q.ready)
	}
}

// waitSpace blocks the read loop while the queue holds more than
// maxQueuedBytes. It returns false when ctx ends first.
func (q *cmdQueue) waitSpace(ctx context.Context) bool {
	for {
		q.mu.Lock()
		full := q.mu.bytes > maxQueuedBytes
		q.mu.Unlock()
		if !full {
			return true
		}
		// The processor may be asleep on a deferred wake-up.
		signal(q.ready)
		select {
		case <-q.space:
		case <-ctx.Done():
			return false
		}
	}
}

// pop returns the oldest command, if any.
func (q *cmdQueue) pop() (command, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.mu.head == len(q.mu.cmds) {
		return command{}, false
	}
	cmd := q.mu.cmds[q.mu.head]
	q.mu.cmds[q.mu.head] = command{}
	q.mu.head++
	if q.mu.head == len(q.mu.cmds) {
		q.mu.cmds = q.mu.cmds[:0]
		q.mu.head = 0
	}
	wasFull := q.mu.bytes > maxQueuedBytes
	q.mu.bytes -= cmd.size
	if wasFull && q.mu.bytes <= maxQueuedBytes {
		signal(q.space)
	}
	return cmd, true
}
