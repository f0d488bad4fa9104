package server

import (
	"context"
	"fmt"
	"unicode/utf8"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/lib/pq/oid"
	"github.com/vcdb/vcdb/sql"
)

// preparedStatement is a Parse result. prep is nil for an empty query
// string, which Execute answers with EmptyQueryResponse.
type preparedStatement struct {
	prep *sql.Prepared
	// paramOIDs are the ParameterDescription values, computed once.
	paramOIDs []uint32
}

func (ps *preparedStatement) columns() []sql.Column {
	if ps.prep == nil {
		return nil
	}
	return ps.prep.Columns
}

// portal is a Bind result: a statement with its arguments and result
// formats. Its Result is opened by the first Execute and stays open while
// the portal is suspended (row limit reached).
type portal struct {
	name    string
	stmt    *preparedStatement
	args    tree.Datums
	formats []int16

	result sql.Result
	cols   []sql.Column
	// ctx lives as long as result: the engine may keep it for the
	// statement's whole run, across Executes.
	ctx    context.Context
	cancel context.CancelCauseFunc
	// done is set when the statement ran to completion; tag is its
	// command tag, repeated if the portal is executed again.
	done bool
	tag  string
}

// close releases the portal's Result, if open.
func (p *portal) close() {
	if p.result != nil {
		_, _ = p.result.Close(p.ctx)
		p.result = nil
	}
	if p.cancel != nil {
		p.cancel(nil)
		p.cancel = nil
	}
}

func (c *conn) closePortal(name string) {
	if p, ok := c.portals[name]; ok {
		p.close()
		if c.suspended == p {
			c.suspended = nil
		}
		delete(c.portals, name)
	}
}

func (c *conn) closeAllPortals() {
	for name := range c.portals {
		c.closePortal(name)
	}
}

func statementName(name string) string {
	if name == "" {
		return "unnamed prepared statement"
	}
	return fmt.Sprintf("prepared statement %q", name)
}

func (c *conn) handleParse(m *pgproto3.Parse) error {
	if m.Name != "" {
		if _, ok := c.stmts[m.Name]; ok {
			return pgerror.Newf(pgcode.DuplicatePreparedStatement, "prepared statement %q already exists", m.Name)
		}
	}
	if !utf8.ValidString(m.Query) {
		return pgerror.Newf(pgcode.CharacterNotInRepertoire, "invalid byte sequence for encoding \"UTF8\"")
	}
	stmts, err := c.sess.Parse(m.Query)
	if err != nil {
		return err
	}
	if len(stmts) > 1 {
		return pgerror.Newf(pgcode.Syntax, "cannot insert multiple commands into a prepared statement")
	}
	ps := &preparedStatement{}
	if len(stmts) == 1 {
		if len(m.ParameterOIDs) > stmts[0].NumPlaceholders {
			return pgerror.Newf(pgcode.ProtocolViolation,
				"received too many type hints: %d vs %d placeholders in query",
				len(m.ParameterOIDs), stmts[0].NumPlaceholders)
		}
		hints := make([]*types.T, len(m.ParameterOIDs))
		for i, o := range m.ParameterOIDs {
			if o == 0 || oid.Oid(o) == oid.T_unknown {
				continue // inferred by the engine
			}
			t, ok := types.OidToType[oid.Oid(o)]
			if !ok {
				return pgerror.Newf(pgcode.UndefinedObject, "unknown type with OID %d for parameter $%d", o, i+1)
			}
			hints[i] = t
		}
		prep, err := c.sess.Prepare(c.ctx, stmts[0], hints)
		if err != nil {
			return explainCancel(c.ctx, err)
		}
		ps.prep = prep
		ps.paramOIDs = make([]uint32, len(prep.ParamTypes))
		for i, t := range prep.ParamTypes {
			if t != nil {
				ps.paramOIDs[i] = uint32(t.Oid())
			}
		}
	}
	c.stmts[m.Name] = ps
	c.wb.send(&pgproto3.ParseComplete{})
	return nil
}

func (c *conn) handleBind(m *pgproto3.Bind) error {
	ps, ok := c.stmts[m.PreparedStatement]
	if !ok {
		return pgerror.Newf(pgcode.InvalidSQLStatementName, "%s does not exist", statementName(m.PreparedStatement))
	}
	if m.DestinationPortal != "" {
		if _, ok := c.portals[m.DestinationPortal]; ok {
			return pgerror.Newf(pgcode.DuplicateCursor, "portal %q already exists", m.DestinationPortal)
		}
	} else {
		c.closePortal("")
	}
	nparams := len(ps.paramOIDs)
	if len(m.Parameters) != nparams {
		return pgerror.Newf(pgcode.ProtocolViolation,
			"bind message supplies %d parameters, but %s requires %d",
			len(m.Parameters), statementName(m.PreparedStatement), nparams)
	}
	if n := len(m.ParameterFormatCodes); n > 1 && n != nparams {
		return pgerror.Newf(pgcode.ProtocolViolation,
			"bind message has %d parameter formats but %d parameters", n, nparams)
	}
	var args tree.Datums
	if nparams > 0 {
		args = make(tree.Datums, nparams)
		for i, raw := range m.Parameters {
			if raw == nil {
				args[i] = tree.DNull
				continue
			}
			t := ps.prep.ParamTypes[i]
			if t == nil {
				t = types.Unknown
			}
			d, err := c.decodeParam(i, t, formatFor(m.ParameterFormatCodes, i), raw)
			if err != nil {
				return err
			}
			args[i] = d
		}
	}
	if err := checkResultFormats(m.ResultFormatCodes, len(ps.columns())); err != nil {
		return err
	}
	c.portals[m.DestinationPortal] = &portal{
		name:    m.DestinationPortal,
		stmt:    ps,
		args:    args,
		formats: m.ResultFormatCodes,
	}
	c.wb.send(&pgproto3.BindComplete{})
	return nil
}

func (c *conn) handleDescribe(m *pgproto3.Describe) error {
	switch m.ObjectType {
	case 'S':
		ps, ok := c.stmts[m.Name]
		if !ok {
			return pgerror.Newf(pgcode.InvalidSQLStatementName, "%s does not exist", statementName(m.Name))
		}
		c.wb.send(&pgproto3.ParameterDescription{ParameterOIDs: ps.paramOIDs})
		c.describeRows(ps.columns(), nil)
	case 'P':
		p, ok := c.portals[m.Name]
		if !ok {
			return pgerror.Newf(pgcode.InvalidCursorName, "portal %q does not exist", m.Name)
		}
		c.describeRows(p.stmt.columns(), p.formats)
	default:
		return errFatal{protocolViolation("invalid DESCRIBE message subtype %d", m.ObjectType)}
	}
	return nil
}

func (c *conn) describeRows(cols []sql.Column, formats []int16) {
	if cols == nil {
		c.wb.send(&pgproto3.NoData{})
		return
	}
	c.sendRowDescription(cols, formats)
}

func (c *conn) handleExecute(m *pgproto3.Execute) error {
	p, ok := c.portals[m.Portal]
	if !ok {
		return pgerror.Newf(pgcode.InvalidCursorName, "portal %q does not exist", m.Portal)
	}
	if p.stmt.prep == nil {
		c.wb.send(&pgproto3.EmptyQueryResponse{})
		return nil
	}
	if p.done {
		// Executing a finished portal again returns no more rows.
		tag := p.tag
		if p.cols != nil {
			tag = rowCountTag(tag, 0)
		}
		c.wb.send(&pgproto3.CommandComplete{CommandTag: []byte(tag)})
		return nil
	}
	if p.result == nil {
		if c.suspended != nil {
			return errPortalActive(c.suspended)
		}
		p.ctx, p.cancel = context.WithCancelCause(c.ctx)
		c.setRunning(p.ctx, p.cancel)
		res, err := c.sess.Execute(p.ctx, p.stmt.prep, p.args)
		c.setRunning(nil, nil)
		if err != nil {
			err = explainCancel(p.ctx, err)
			// A failed portal cannot be run again; its transaction is
			// aborted or, when implicit, ends at the next Sync.
			c.closePortal(m.Portal)
			c.takeStatusChanges()
			return err
		}
		p.result = res
		p.cols = res.Columns()
	}
	c.setRunning(p.ctx, p.cancel)
	tag, suspended, err := c.sendRows(p.ctx, p.result, p.cols, p.formats, int(m.MaxRows))
	c.setRunning(nil, nil)
	if suspended {
		c.suspended = p
		c.wb.send(&pgproto3.PortalSuspended{})
		return nil
	}
	// The Result is closed (sendRows closes it when the rows end or on
	// error).
	p.result = nil
	p.close()
	if c.suspended == p {
		c.suspended = nil
	}
	c.takeStatusChanges()
	if err != nil {
		c.closePortal(m.Portal)
		return err
	}
	p.done = true
	p.tag = tag
	c.sendNotices()
	c.wb.send(&pgproto3.CommandComplete{CommandTag: []byte(tag)})
	return nil
}

// rowCountTag replaces the row count of a tag like "SELECT 3".
func rowCountTag(tag string, n int) string {
	for i := len(tag) - 1; i >= 0; i-- {
		if tag[i] == ' ' {
			return fmt.Sprintf("%s %d", tag[:i], n)
		}
	}
	return tag
}

func (c *conn) handleClose(m *pgproto3.Close) error {
	switch m.ObjectType {
	case 'S':
		delete(c.stmts, m.Name)
	case 'P':
		c.closePortal(m.Name)
	default:
		return errFatal{protocolViolation("invalid CLOSE message subtype %d", m.ObjectType)}
	}
	c.wb.send(&pgproto3.CloseComplete{})
	return nil
}

// handleSync ends an extended-protocol batch: outside a transaction block
// the implicit transaction ends, and with it every portal (PostgreSQL
// destroys portals at transaction end); then ReadyForQuery.
func (c *conn) handleSync() error {
	c.ignoreTillSync = false
	if c.sess.TxnStatus() == 'I' {
		c.closeAllPortals()
	}
	if err := c.sess.Sync(c.ctx); err != nil {
		c.sendError(err)
	}
	return c.sendReady()
}
