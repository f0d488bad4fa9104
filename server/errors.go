package server

import (
	"context"
	"io"
	"net"
	"syscall"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/vcdb/vcdb/sql"
)

// Severities of ErrorResponse and NoticeResponse (PostgreSQL's elog
// levels as sent on the wire).
const (
	severityError = "ERROR"
	severityFatal = "FATAL"
)

// Errors that explain why a statement's context was cancelled; the
// connection maps them to the SQLSTATEs PostgreSQL uses.
var (
	// errQueryCanceled is the cause when a CancelRequest (or pg_cancel
	// backend) stops the running statement.
	errQueryCanceled = pgerror.New(pgcode.QueryCanceled, "canceling statement due to user request")
	// errAdminShutdown is the cause when the server stops the connection
	// at the end of a drain.
	errAdminShutdown = pgerror.New(pgcode.AdminShutdown, "terminating connection due to administrator command")
	// errStatementDrained is the cause when a draining server ends a
	// statement that would never end by itself (a replication stream,
	// see drainEnder). 57P01, as for the connections the drain closes;
	// a standby treats it as a stream error and reconnects.
	errStatementDrained = pgerror.New(pgcode.AdminShutdown, "terminating the statement: the node is draining")
	// errClientGone is the cause when the client closed its end.
	errClientGone = errors.New("client closed the connection")
)

// errServiceStopped ends the connections of a virtual cluster whose SQL
// service stopped (STOP SERVICE), as the engine's sessions report it.
func errServiceStopped(cluster string) error {
	return pgerror.Newf(pgcode.AdminShutdown,
		"terminating connection: the SQL service of virtual cluster %q was stopped", cluster)
}

// toErrorResponse turns any error into an ErrorResponse: this is the one
// place where errors become wire messages (STYLE.md). The SQLSTATE,
// severity, detail, hint and constraint name come from the error chain
// through sql.FlattenError (pgerror.Flatten, but a 40001 keeps vcdb's
// own hint instead of a link to CockroachDB v1.2's docs); errors without
// a code are XXUUU, as in CockroachDB.
func toErrorResponse(err error, severity string) *pgproto3.ErrorResponse {
	pe := sql.FlattenError(err)
	if severity == "" {
		severity = pe.Severity
		if severity == "" {
			severity = severityError
		}
	}
	resp := &pgproto3.ErrorResponse{
		Severity:            severity,
		SeverityUnlocalized: severity,
		Code:                pe.Code,
		Message:             pe.Message,
		Detail:              pe.Detail,
		Hint:                pe.Hint,
		ConstraintName:      pe.ConstraintName,
	}
	if pe.Source != nil {
		resp.File = pe.Source.File
		resp.Line = pe.Source.Line
		resp.Routine = pe.Source.Function
	}
	return resp
}

// toNoticeResponse turns a notice (an error value with a SQLSTATE and a
// severity such as NOTICE or WARNING) into a NoticeResponse.
func toNoticeResponse(notice error) *pgproto3.NoticeResponse {
	resp := toErrorResponse(notice, "")
	if resp.Severity == severityError {
		// A notice created without an explicit severity is still a
		// notice, never an error.
		resp.Severity, resp.SeverityUnlocalized = "NOTICE", "NOTICE"
	}
	if resp.Code == pgcode.Uncategorized.String() {
		resp.Code = pgcode.SuccessfulCompletion.String()
	}
	n := pgproto3.NoticeResponse(*resp)
	return &n
}

// explainCancel rewrites an error that ended a statement whose context was
// cancelled, so the client sees why (57014 after a CancelRequest, 57P01
// at shutdown) rather than whatever the engine made of the cancellation.
func explainCancel(ctx context.Context, err error) error {
	if err == nil || ctx.Err() == nil {
		return err
	}
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errQueryCanceled):
		return errQueryCanceled
	case errors.Is(cause, errAdminShutdown):
		return errAdminShutdown
	case errors.Is(cause, errStatementDrained):
		return errStatementDrained
	case errors.Is(cause, errClientGone):
		return errClientGone
	}
	return err
}

// isUnexpectedClose reports errors that only mean the client went away, to
// keep them out of the log.
func isUnexpectedClose(err error) bool {
	return err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, errClientGone)
}
