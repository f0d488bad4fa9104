package server

import (
	"encoding/binary"
	"io"

	"github.com/jackc/pgx/v5/pgproto3"
)

// flushThreshold is the buffered output size at which a long result is
// written out before the statement ends, so a large SELECT streams in
// bounded memory instead of accumulating.
const flushThreshold = 64 << 10

// writeBuffer accumulates backend messages and writes them to the network
// in one system call per Sync, Flush or Query (or when it grows past
// flushThreshold). Its buffer is reused for the life of the connection.
// The first write error is sticky: later sends are dropped and flush
// returns it, so callers check once.
type writeBuffer struct {
	w   io.Writer
	buf []byte
	err error
}

func (b *writeBuffer) send(msg pgproto3.BackendMessage) {
	if b.err != nil {
		return
	}
	out, err := msg.Encode(b.buf)
	if err != nil {
		b.err = err
		return
	}
	b.buf = out
}

// flush writes everything buffered.
func (b *writeBuffer) flush() error {
	if b.err != nil {
		return b.err
	}
	if len(b.buf) == 0 {
		return nil
	}
	_, b.err = b.w.Write(b.buf)
	// Keep the capacity for the next batch unless one huge result grew
	// it far beyond what ordinary traffic needs.
	if cap(b.buf) > 4*flushThreshold {
		b.buf = nil
	} else {
		b.buf = b.buf[:0]
	}
	return b.err
}

// maybeFlush writes the buffer out when it is large.
func (b *writeBuffer) maybeFlush() error {
	if len(b.buf) >= flushThreshold {
		return b.flush()
	}
	return b.err
}

// beginMessage starts a message of type typ with a length placeholder and
// returns the offset of the length word, for finishMessage.
func (b *writeBuffer) beginMessage(typ byte) int {
	b.buf = append(b.buf, typ, 0, 0, 0, 0)
	return len(b.buf) - 4
}

// finishMessage fills in the length word of the message begun at pos.
func (b *writeBuffer) finishMessage(pos int) {
	binary.BigEndian.PutUint32(b.buf[pos:], uint32(len(b.buf)-pos))
}

// truncate drops everything after n bytes (an abandoned message).
func (b *writeBuffer) truncate(n int) { b.buf = b.buf[:n] }
