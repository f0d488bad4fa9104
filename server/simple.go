package server

import (
	"context"
	"unicode/utf8"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/vcdb/vcdb/sql"
)

// handleQuery runs a simple-protocol Query: every statement of the string
// in order, each answered with RowDescription, DataRows and
// CommandComplete, stopping at the first error; then the implicit
// transaction ends (Sync) and ReadyForQuery follows. Results are in text
// format.
func (c *conn) handleQuery(query string) error {
	// PostgreSQL destroys the unnamed portal at the start of a simple
	// query.
	c.closePortal("")
	failed := false
	if err := c.runQuery(query); err != nil {
		if fatal := asFatal(err); fatal != nil {
			return fatal
		}
		c.sendError(err)
		failed = true
	}
	if err := c.sess.Sync(c.ctx); err != nil && !failed {
		c.sendError(err)
	}
	return c.sendReady()
}

func (c *conn) runQuery(query string) error {
	if !utf8.ValidString(query) {
		return pgerror.Newf(pgcode.CharacterNotInRepertoire, "invalid byte sequence for encoding \"UTF8\"")
	}
	stmts, err := c.sess.Parse(query)
	if err != nil {
		return err
	}
	if len(stmts) == 0 {
		c.wb.send(&pgproto3.EmptyQueryResponse{})
		return nil
	}
	if c.suspended != nil {
		return errPortalActive(c.suspended)
	}
	for _, st := range stmts {
		if err := c.runSimpleStatement(st); err != nil {
			return err
		}
	}
	return nil
}

// runSimpleStatement prepares and runs one statement of a Query.
func (c *conn) runSimpleStatement(st sql.Statement) error {
	if st.NumPlaceholders > 0 {
		return pgerror.Newf(pgcode.UndefinedParameter, "there is no parameter $1")
	}
	ctx, cancel := context.WithCancelCause(c.ctx)
	c.setRunning(ctx, cancel)
	defer func() {
		c.setRunning(nil, nil)
		cancel(nil)
	}()
	prep, err := c.sess.Prepare(ctx, st, nil)
	if err != nil {
		return explainCancel(ctx, err)
	}
	res, err := c.sess.Execute(ctx, prep, nil)
	if err != nil {
		c.takeStatusChanges()
		return explainCancel(ctx, err)
	}
	cols := res.Columns()
	if cols != nil {
		c.sendRowDescription(cols, nil)
	}
	tag, err := c.drainResult(ctx, res, cols, nil, 0)
	c.takeStatusChanges()
	if err != nil {
		return err
	}
	c.sendNotices()
	c.wb.send(&pgproto3.CommandComplete{CommandTag: []byte(tag)})
	return nil
}

// drainResult sends up to limit rows (0: all) of res and, when the rows
// run out, closes it and returns its tag. It returns suspended=true (as
// tag "") when the limit was reached first; res then stays open. Errors
// close res.
func (c *conn) drainResult(ctx context.Context, res sql.Result, cols []sql.Column, formats []int16, limit int) (tag string, err error) {
	tag, _, err = c.sendRows(ctx, res, cols, formats, limit)
	return tag, err
}

// drainEnder is an optional interface of a sql.Result. A result whose
// EndAtDrain returns true never ends by itself (crdb_internal.
// stream_partition: a replication stream runs until the standby goes
// away), so a draining server cancels its statement at once, with
// errStatementDrained, rather than wait the whole drain timeout for it.
// Its client must be one that reconnects by itself and loses nothing
// when the statement ends early (the standby's consumer resumes from its
// durable replicated time).
type drainEnder interface {
	EndAtDrain() bool
}

func (c *conn) sendRows(ctx context.Context, res sql.Result, cols []sql.Column, formats []int16, limit int) (tag string, suspended bool, err error) {
	if d, ok := res.(drainEnder); ok && d.EndAtDrain() {
		defer c.cancelAtDrain()()
	}
	// A result that trickles rows (a replication stream) has each one
	// flushed as it comes: its latency is the standby's replication lag.
	flushEach := false
	if f, ok := res.(sql.RowFlusher); ok {
		flushEach = f.FlushEachRow()
	}
	for n := 0; limit == 0 || n < limit; n++ {
		row, err := res.Next(ctx)
		if err != nil {
			_, _ = res.Close(ctx)
			return "", false, explainCancel(ctx, err)
		}
		if row == nil {
			tag, err := res.Close(ctx)
			if err != nil {
				return "", false, explainCancel(ctx, err)
			}
			return tag, false, nil
		}
		if err := c.sendDataRow(row, cols, formats); err != nil {
			_, _ = res.Close(ctx)
			return "", false, err
		}
		if flushEach {
			if err := c.wb.flush(); err != nil {
				_, _ = res.Close(ctx)
				return "", false, errFatal{err}
			}
		}
	}
	return "", true, nil
}

func errPortalActive(p *portal) error {
	return errors.WithHint(pgerror.Newf(pgcode.FeatureNotSupported,
		"unimplemented: portal %q is suspended and multiple active portals are not supported", p.name),
		"Execute the suspended portal until it completes, or Close it, before running another statement.")
}
