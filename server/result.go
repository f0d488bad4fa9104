package server

import (
	"encoding/binary"
	"math"
	"net"
	"unsafe"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/vcdb/vcdb/sql"
)

// formatFor returns the format code of column i under a Bind's result
// format codes: none means text, one applies to every column, else one
// per column (checked at Bind).
func formatFor(formats []int16, i int) int16 {
	switch len(formats) {
	case 0:
		return formatText
	case 1:
		return formats[0]
	}
	if i < len(formats) {
		return formats[i]
	}
	return formatText
}

// checkResultFormats validates a Bind's result format codes against the
// statement's columns, as PostgreSQL does.
func checkResultFormats(formats []int16, ncols int) error {
	if len(formats) > 1 && len(formats) != ncols {
		return pgerror.Newf(pgcode.ProtocolViolation,
			"bind message has %d result formats but query has %d columns", len(formats), ncols)
	}
	for _, f := range formats {
		if f != formatText && f != formatBinary {
			return pgerror.Newf(pgcode.InvalidParameterValue, "unsupported format code: %d", f)
		}
	}
	return nil
}

// sendRowDescription writes a RowDescription straight into the output
// buffer (no per-field allocation).
func (c *conn) sendRowDescription(cols []sql.Column, formats []int16) {
	b := &c.wb
	if b.err != nil {
		return
	}
	pos := b.beginMessage('T')
	b.buf = binary.BigEndian.AppendUint16(b.buf, uint16(len(cols)))
	for i, col := range cols {
		t := col.Type
		if t == nil {
			t = types.Unknown
		}
		b.buf = append(b.buf, col.Name...)
		b.buf = append(b.buf, 0)
		b.buf = binary.BigEndian.AppendUint32(b.buf, col.TableID)
		b.buf = binary.BigEndian.AppendUint16(b.buf, col.ColumnID)
		b.buf = binary.BigEndian.AppendUint32(b.buf, uint32(t.Oid()))
		b.buf = binary.BigEndian.AppendUint16(b.buf, uint16(typeSize(t)))
		b.buf = binary.BigEndian.AppendUint32(b.buf, uint32(t.TypeModifier()))
		b.buf = binary.BigEndian.AppendUint16(b.buf, uint16(formatFor(formats, i)))
	}
	b.finishMessage(pos)
}

// sendDataRow writes one row, encoding each value for its column's type in
// the requested format. On an encoding error nothing of the row is kept.
func (c *conn) sendDataRow(row tree.Datums, cols []sql.Column, formats []int16) error {
	b := &c.wb
	if b.err != nil {
		return errFatal{b.err}
	}
	if len(row) == 1 && formatFor(formats, 0) == formatBinary {
		if d, ok := row[0].(*tree.DBytes); ok && len(*d) >= largeValueBytes {
			return c.sendLargeBytesRow(string(*d))
		}
	}
	start := len(b.buf)
	pos := b.beginMessage('D')
	b.buf = binary.BigEndian.AppendUint16(b.buf, uint16(len(row)))
	for i, d := range row {
		if d == tree.DNull {
			b.buf = binary.BigEndian.AppendUint32(b.buf, math.MaxUint32)
			continue
		}
		var t *types.T
		if i < len(cols) && cols[i].Type != nil {
			t = cols[i].Type
		} else {
			t = d.ResolvedType()
		}
		lenPos := len(b.buf)
		b.buf = append(b.buf, 0, 0, 0, 0)
		if formatFor(formats, i) == formatBinary {
			var err error
			if b.buf, err = c.enc.appendBinary(b.buf, d, t); err != nil {
				b.truncate(start)
				return err
			}
		} else {
			b.buf = c.enc.appendText(b.buf, d, t)
		}
		binary.BigEndian.PutUint32(b.buf[lenPos:], uint32(len(b.buf)-lenPos-4))
	}
	b.finishMessage(pos)
	if err := b.maybeFlush(); err != nil {
		return errFatal{err}
	}
	return nil
}

// largeValueBytes is the size from which a one-column binary BYTES row is
// written to the network straight from the value instead of being copied
// into the output buffer (replication frames of about 1 MB: the copy and
// the buffer's regrowth after each flush dominated the initial scan's CPU
// on the source).
const largeValueBytes = flushThreshold

// sendLargeBytesRow writes a DataRow of one binary BYTES value: what is
// buffered and the row header in one write, the value in the next (one
// writev on a plain TCP connection). The value is only read.
func (c *conn) sendLargeBytesRow(v string) error {
	b := &c.wb
	pos := b.beginMessage('D')
	b.buf = binary.BigEndian.AppendUint16(b.buf, 1)
	b.buf = binary.BigEndian.AppendUint32(b.buf, uint32(len(v)))
	binary.BigEndian.PutUint32(b.buf[pos:], uint32(len(b.buf)-pos+len(v)))
	payload := unsafe.Slice(unsafe.StringData(v), len(v))
	bufs := net.Buffers{b.buf, payload}
	if _, err := bufs.WriteTo(b.w); err != nil {
		b.err = err
		return errFatal{err}
	}
	b.buf = b.buf[:0]
	return nil
}
