package server

import (
	"encoding/binary"
	"math"

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
