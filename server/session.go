package server

import (
	"context"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/vcdb/vcdb/sql"
)

// Session is what a connection needs from a SQL session: the methods of
// sql.SessionAPI that the wire protocol calls. It is declared here, by its
// consumer, so the protocol can be tested against a scripted session
// (fake_session_test.go) as well as *sql.Session.
//
// A Session is used by one goroutine at a time (the connection's processor);
// at most one Result is open at a time. Every method may block on storage;
// the ones that take a context return promptly once it is cancelled.
type Session interface {
	// StatusParams are the ParameterStatus values sent after startup.
	StatusParams() []sql.StatusParam
	// TakeStatusChanges returns the ParameterStatus values changed since the
	// last call (by SET).
	TakeStatusChanges() []sql.StatusParam
	// TxnStatus is the ReadyForQuery status: 'I', 'T' or 'E'.
	TxnStatus() byte
	// Parse splits a query string into statements.
	Parse(query string) ([]sql.Statement, error)
	// Prepare type-checks a statement; nil entries of paramTypes are
	// inferred.
	Prepare(ctx context.Context, stmt sql.Statement, paramTypes []*types.T) (*sql.Prepared, error)
	// Execute starts a prepared statement with decoded arguments.
	Execute(ctx context.Context, p *sql.Prepared, args tree.Datums) (sql.Result, error)
	// TakeNotices returns the notices raised since the last call.
	TakeNotices() []error
	// Sync ends the current implicit transaction, if any.
	Sync(ctx context.Context) error
	// Close aborts any open transaction and releases the session.
	Close()
	// ExtraFloatDigits is the extra_float_digits setting, which
	// PostgreSQL does not report through ParameterStatus but which
	// decides how floats print in text format. (The other formatting
	// settings, TimeZone, DateStyle and IntervalStyle, arrive as
	// ParameterStatus values.)
	ExtraFloatDigits() int32
}

// OpenSession opens a session of one virtual cluster for an authenticated
// user. It is called from the connection's goroutine during startup.
type OpenSession func(ctx context.Context, args sql.SessionArgs) (Session, error)

// SQLServerSessions adapts a *sql.Server to OpenSession.
func SQLServerSessions(s *sql.Server) OpenSession {
	return func(ctx context.Context, args sql.SessionArgs) (Session, error) {
		sess, err := s.NewSession(ctx, args)
		if err != nil {
			return nil, err
		}
		return sess, nil
	}
}

// Router finds the virtual cluster a connection asked for. cluster is the
// name from the startup options (-ccluster=NAME) or the database name's
// "cluster:NAME" prefix, or "" when the client named none (the default
// target cluster). An unknown or stopped cluster gives an error with SQLSTATE
// 08000 (see RoutingError); the connection is then refused during startup.
type Router func(cluster string) (OpenSession, error)
