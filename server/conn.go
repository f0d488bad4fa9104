package server

import (
	"context"
	"crypto/tls"
	"net"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/duration"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/timeutil"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/timeutil/pgdate"
	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/vcdb/vcdb/sql"
)

// conn is one client connection. Two goroutines serve it:
//
//   - the read loop (readLoop) reads and decodes messages and queues them;
//     it never executes SQL, so it notices at once when the client hangs
//     up (and then cancels the connection's context, which stops the
//     running statement);
//   - the processor (serve, the connection's own goroutine) takes
//     commands in order, runs them against the session and writes the
//     responses through a buffer flushed at Sync, Flush, the end of a
//     Query, or when it grows large.
//
// All fields except mu, ctx and the queue belong to the processor. The
// processor owns the read loop: it closes the network connection to stop
// it and waits for it before returning.
type conn struct {
	srv *Server
	// raw is the accepted TCP connection; nc is what the protocol runs
	// over: raw, or the TLS connection on top of it once negotiated.
	// Only the connection's goroutine changes nc; other goroutines
	// (Server.Close) use raw.
	raw    net.Conn
	nc     net.Conn
	tls    *tls.ConnectionState
	rd     *msgReader
	wb     writeBuffer
	ctx    context.Context
	cancel context.CancelCauseFunc
	queue  *cmdQueue
	readWG sync.WaitGroup

	pid    uint32
	secret [4]byte
	params startupParams
	sess   Session
	// user is what authentication learnt about the session's user.
	user UserAuth
	// routed is the name of the virtual cluster chosen at startup.
	routed string

	enc      *encoder
	parseCtx parseContext

	stmts   map[string]*preparedStatement
	portals map[string]*portal
	// suspended is the portal whose Result is open between Executes.
	// The engine allows one open Result per session, so another
	// statement cannot run until it finishes (like CockroachDB without
	// multiple_active_portals_enabled).
	suspended *portal
	// ignoreTillSync is set after an error in an extended-protocol
	// message: every message up to the next Sync is discarded.
	ignoreTillSync bool
	// idle is true when the last message sent was ReadyForQuery and no
	// command has started since: the connection can be closed by a
	// drain without cutting a statement or a pipelined batch short.
	idle bool
	// pendingStatus holds ParameterStatus changes to send before the
	// next ReadyForQuery, as PostgreSQL reports GUC changes.
	pendingStatus []sql.StatusParam

	// cluster is the name of the virtual cluster the session belongs to,
	// set once startup succeeded (read by metrics).
	cluster atomic.Pointer[string]

	mu struct {
		sync.Mutex
		// stmtCtx and cancelStmt are the context of the statement running
		// now and its cancel function, for CancelRequest.
		stmtCtx    context.Context
		cancelStmt context.CancelCauseFunc
	}
}

// errFatal marks errors after which the connection is closed.
type errFatal struct{ error }

func (e errFatal) Unwrap() error { return e.error }

// newConn prepares a connection; the caller runs startup then serve.
func newConn(s *Server, nc net.Conn, pid uint32, secret [4]byte) *conn {
	c := &conn{
		srv:     s,
		raw:     nc,
		nc:      nc,
		rd:      newMsgReader(nc, s.cfg.MaxMessageSize),
		wb:      writeBuffer{w: nc, buf: make([]byte, 0, 4096)},
		queue:   newCmdQueue(),
		pid:     pid,
		secret:  secret,
		enc:     newEncoder(),
		stmts:   map[string]*preparedStatement{},
		portals: map[string]*portal{},
	}
	c.ctx, c.cancel = context.WithCancelCause(s.ctx)
	c.parseCtx.dateStyle = pgdate.DefaultDateStyle()
	return c
}

// cancelQuery stops the running statement, if any (CancelRequest).
func (c *conn) cancelQuery() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.cancelStmt != nil {
		c.mu.cancelStmt(errQueryCanceled)
	}
}

// cancelAtDrain arranges for the running statement to be cancelled with
// errStatementDrained as soon as the server drains (at once if it already
// does); the returned function undoes it and must be called before the
// statement ends. The statement's own cancel function is taken now, so a
// late call can never reach the connection's next statement.
func (c *conn) cancelAtDrain() (stop func()) {
	c.mu.Lock()
	cancel := c.mu.cancelStmt
	c.mu.Unlock()
	if cancel == nil {
		return func() {}
	}
	unregister := context.AfterFunc(c.srv.drainCtx, func() { cancel(errStatementDrained) })
	return func() { unregister() }
}

// setRunning registers the context and cancel function of the statement
// about to run (nil, nil when it ends).
func (c *conn) setRunning(ctx context.Context, cancel context.CancelCauseFunc) {
	c.mu.Lock()
	c.mu.stmtCtx, c.mu.cancelStmt = ctx, cancel
	c.mu.Unlock()
}

// readLoop reads messages until an error or Terminate. See conn.
func (c *conn) readLoop() {
	defer c.readWG.Done()
	for {
		typ, body, err := c.rd.readMessage()
		if err != nil {
			if pgerror.HasCandidateCode(err) {
				c.queue.push(command{err: err}, true)
				return
			}
			// The network failed or the client hung up: nobody will
			// read the results, so stop the running statement now.
			c.cancel(errClientGone)
			c.queue.push(command{err: errClientGone}, true)
			return
		}
		msg, err := decodeFrontend(typ, body)
		if err != nil {
			c.queue.push(command{err: err}, true)
			return
		}
		// A complete header of the next message already buffered means
		// the client pipelined more: wake the processor after it.
		more := c.rd.buffered() >= 5 && typ != 'S' && typ != 'H' && typ != 'Q'
		c.queue.push(command{msg: msg, size: len(body)}, !more)
		if typ == 'X' {
			return
		}
		if !c.queue.waitSpace(c.ctx) {
			return
		}
	}
}

// next returns the next command. It returns ok=false when the connection
// should end because the server drains and this connection is idle, and
// an error command when the session's virtual cluster stopped serving.
func (c *conn) next() (cmd command, ok bool) {
	stopped := c.sess.Done()
	for {
		select {
		case <-stopped:
			return command{err: errServiceStopped(c.routed)}, true
		default:
		}
		// A draining server closes an idle connection even when the
		// client has already pipelined its next query, so a drain waits
		// for at most one statement or batch per connection.
		if c.idle && c.srv.draining.Load() {
			return command{}, false
		}
		if cmd, ok := c.queue.pop(); ok {
			return cmd, true
		}
		var drain <-chan struct{}
		if c.idle {
			drain = c.srv.drainCh
		}
		select {
		case <-c.queue.ready:
		case <-c.ctx.Done():
			// Commands already queued are dropped: either the client is
			// gone or the server is stopping.
			return command{err: context.Cause(c.ctx)}, true
		case <-drain:
			return command{}, false
		case <-stopped:
			return command{err: errServiceStopped(c.routed)}, true
		}
	}
}

// serve runs the processor after a successful startup. It returns when
// the connection ends and releases everything the connection holds.
func (c *conn) serve() {
	c.readWG.Add(1)
	go c.readLoop()
	defer func() {
		// Cancel first: a portal left open (a suspended statement in an
		// implicit transaction) must be abandoned, not committed, when
		// its client leaves, as PostgreSQL aborts the transaction of a
		// closed connection.
		c.cancel(errClientGone)
		c.closeAllPortals()
		c.sess.Close()
		_ = c.nc.Close()
		c.readWG.Wait()
	}()
	for {
		cmd, ok := c.next()
		if !ok {
			c.sendFatal(errAdminShutdown)
			return
		}
		if cmd.err != nil {
			if !isUnexpectedClose(cmd.err) {
				c.sendFatal(cmd.err)
			}
			return
		}
		if err := c.handleRecover(cmd.msg); err != nil {
			var fatal errFatal
			if errors.As(err, &fatal) && !isUnexpectedClose(fatal.error) {
				c.sendFatal(fatal.error)
			}
			return
		}
		if c.wb.err != nil {
			return
		}
	}
}

// handleRecover runs handle and turns a panic (a bug in the engine or
// here) into an internal error that closes this connection only, as
// CockroachDB's executor does, instead of ending the node with every
// other client's connection.
func (c *conn) handleRecover(msg pgproto3.FrontendMessage) (err error) {
	defer func() {
		if r := recover(); r != nil {
			c.srv.cfg.Logf("connection %d: panic while handling %s: %v\n%s", c.pid, messageName(msg), r, debug.Stack())
			err = errFatal{pgerror.Newf(pgcode.Internal, "internal error while handling %s: %v", messageName(msg), r)}
		}
	}()
	return c.handle(msg)
}

// errTerminate ends the connection quietly (Terminate message).
var errTerminate = errFatal{errClientGone}

// handle runs one command. A returned error ends the connection; errors
// of statements are reported to the client and return nil.
func (c *conn) handle(msg pgproto3.FrontendMessage) error {
	if c.ignoreTillSync {
		switch msg.(type) {
		case *pgproto3.Sync, *pgproto3.Terminate:
		default:
			return nil
		}
	}
	c.idle = false
	var err error
	switch m := msg.(type) {
	case *pgproto3.Query:
		return c.handleQuery(m.String)
	case *pgproto3.Parse:
		err = c.handleParse(m)
	case *pgproto3.Bind:
		err = c.handleBind(m)
	case *pgproto3.Describe:
		err = c.handleDescribe(m)
	case *pgproto3.Execute:
		err = c.handleExecute(m)
	case *pgproto3.Close:
		err = c.handleClose(m)
	case *pgproto3.Sync:
		return c.handleSync()
	case *pgproto3.Flush:
		return c.wb.flush()
	case *pgproto3.Terminate:
		return errTerminate
	case *pgproto3.CopyData, *pgproto3.CopyDone, *pgproto3.CopyFail:
		// PostgreSQL ignores copy messages outside COPY mode, so that a
		// client aborting a copy cannot desynchronise the connection.
		return nil
	case *pgproto3.FunctionCall:
		c.sendError(pgerror.Newf(pgcode.FeatureNotSupported, "the function call protocol is not supported"))
		return c.sendReady()
	default:
		return errFatal{protocolViolation("unexpected message %s", messageName(msg))}
	}
	if err != nil {
		if fatal := asFatal(err); fatal != nil {
			return fatal
		}
		c.sendError(err)
		c.ignoreTillSync = true
	}
	return nil
}

// asFatal returns the error to end the connection with when err must end
// it: a write failure or protocol violation (errFatal), or a statement
// stopped because the server is shutting down or the client left (sent
// once, as FATAL, instead of an ERROR followed by a FATAL).
func asFatal(err error) error {
	var fatal errFatal
	switch {
	case errors.As(err, &fatal):
		return err
	case errors.Is(err, errAdminShutdown), errors.Is(err, errClientGone):
		return errFatal{err}
	}
	return nil
}

// sendError sends pending notices and then err as an ErrorResponse.
func (c *conn) sendError(err error) {
	c.sendNotices()
	c.wb.send(toErrorResponse(err, ""))
}

// sendFatal sends err with severity FATAL and flushes; the caller then
// closes the connection.
func (c *conn) sendFatal(err error) {
	c.wb.send(toErrorResponse(err, severityFatal))
	_ = c.wb.flush()
}

// sendNotices sends the notices the session raised.
func (c *conn) sendNotices() {
	if c.sess == nil {
		return
	}
	for _, n := range c.sess.TakeNotices() {
		c.wb.send(toNoticeResponse(n))
	}
}

// sendReady ends a Query or a Sync: status changes, notices, then
// ReadyForQuery with the transaction status, and a flush.
func (c *conn) sendReady() error {
	c.takeStatusChanges()
	for _, p := range c.pendingStatus {
		c.wb.send(&pgproto3.ParameterStatus{Name: p.Name, Value: p.Value})
	}
	c.pendingStatus = c.pendingStatus[:0]
	c.sendNotices()
	c.wb.send(&pgproto3.ReadyForQuery{TxStatus: c.sess.TxnStatus()})
	c.idle = true
	return c.wb.flush()
}

// takeStatusChanges collects the session's ParameterStatus changes for
// the next ReadyForQuery and applies those that change how values are
// formatted, so the next statement of the same Query already uses them.
func (c *conn) takeStatusChanges() {
	changes := c.sess.TakeStatusChanges()
	for _, p := range changes {
		c.applyStatus(p)
		replaced := false
		for i := range c.pendingStatus {
			if c.pendingStatus[i].Name == p.Name {
				c.pendingStatus[i].Value = p.Value
				replaced = true
			}
		}
		if !replaced {
			c.pendingStatus = append(c.pendingStatus, p)
		}
	}
	c.enc.conv.ExtraFloatDigits = c.sess.ExtraFloatDigits()
	c.enc.conv.BytesEncodeFormat = c.sess.BytesEncodeFormat()
}

// applyStatus updates the encoder and the parameter parser from a
// ParameterStatus value. Values it cannot parse are left to the engine,
// which validated them when they were set.
func (c *conn) applyStatus(p sql.StatusParam) {
	switch strings.ToLower(p.Name) {
	case "timezone":
		if loc, err := timeutil.TimeZoneStringToLocation(p.Value, timeutil.TimeZoneStringToLocationPOSIXStandard); err == nil {
			c.enc.loc = loc
		}
	case "datestyle":
		if ds, err := pgdate.ParseDateStyle(p.Value, pgdate.DefaultDateStyle()); err == nil {
			c.enc.conv.DateStyle = ds
			c.parseCtx.dateStyle = ds
		}
	case "intervalstyle":
		if st, ok := duration.IntervalStyle_value[strings.ToUpper(p.Value)]; ok {
			c.enc.conv.IntervalStyle = duration.IntervalStyle(st)
			c.parseCtx.intervalStyle = duration.IntervalStyle(st)
		}
	}
}
