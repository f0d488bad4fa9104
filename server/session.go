package server

import (
	"context"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/lex"
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
	// BytesEncodeFormat is the bytea_output setting, which decides how
	// BYTES print in text format (not reported through ParameterStatus
	// either).
	BytesEncodeFormat() lex.BytesEncodeFormat
	// Done is closed when the session's virtual cluster stops serving
	// (STOP SERVICE, shutdown): the connection then ends with 57P01.
	Done() <-chan struct{}
}

// Cluster is the SQL service of one virtual cluster as a connection sees
// it once routed: who may log in, and sessions. *sql.Server implements it
// through SQLCluster; tests use a scripted one (fake_session_test.go).
// Every method is called from the connection's goroutine during startup
// and must be safe for concurrent use by many connections.
type Cluster interface {
	// Name is the virtual cluster's name ("system", "main", ...).
	Name() string
	// LookupUser reads what authentication needs to know about a user of
	// this virtual cluster; found is false for an unknown user.
	LookupUser(ctx context.Context, user string) (info UserAuth, found bool, err error)
	// NewSession opens a session for an authenticated user.
	NewSession(ctx context.Context, args sql.SessionArgs) (Session, error)
}

// UserAuth is what authentication needs to know about a user of the routed
// virtual cluster (from sql.UserInfo).
type UserAuth struct {
	// CanLogin is the LOGIN option (false for roles).
	CanLogin bool
	// MayConnect is true when the user may log in to this virtual
	// cluster: any login user of an application VC; for the system VC
	// only admins and holders of a system privilege (contract §2).
	MayConnect bool
	// PasswordVerifier is the stored SCRAM-SHA-256 verifier, "" when the
	// user has no password.
	PasswordVerifier string
	// IsAdmin reports root and members of the admin role (the
	// is_superuser ParameterStatus).
	IsAdmin bool
}

// SQLCluster adapts a *sql.Server (one virtual cluster's SQL service) to
// Cluster.
func SQLCluster(s *sql.Server) Cluster { return sqlCluster{s} }

type sqlCluster struct{ s *sql.Server }

func (c sqlCluster) Name() string { return c.s.TenantName() }

func (c sqlCluster) LookupUser(ctx context.Context, user string) (UserAuth, bool, error) {
	info, found, err := c.s.LookupUser(ctx, user)
	if err != nil || !found {
		return UserAuth{}, found, err
	}
	return UserAuth{
		CanLogin:         info.CanLogin,
		MayConnect:       info.MayConnect,
		PasswordVerifier: info.PasswordVerifier,
		IsAdmin:          info.IsAdmin,
	}, true, nil
}

func (c sqlCluster) NewSession(ctx context.Context, args sql.SessionArgs) (Session, error) {
	sess, err := c.s.NewSession(ctx, args)
	if err != nil {
		return nil, err
	}
	return sess, nil
}

// Router finds the virtual cluster a connection asked for. cluster is the
// name from the startup options (-ccluster=NAME) or the database name's
// "cluster:NAME" prefix, or "" when the client named none (the default
// target cluster). An unknown or stopped cluster gives an error with SQLSTATE
// 08000 (see RoutingError); the connection is then refused during startup.
type Router func(cluster string) (Cluster, error)
