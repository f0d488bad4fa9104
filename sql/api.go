package sql

// This file is the contract between the SQL engine and the wire server
// (package server). The server owns the connection and the wire formats; the
// engine owns statements, transactions and results. Values cross the boundary
// as the parser module's tree.Datum and types.T, so the server encodes and
// decodes text and binary wire formats from them and the engine never sees
// wire bytes.
//
// Change this file with care: server and sql are written against it.

import (
	"context"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
)

// SessionArgs are a connection's startup parameters, after the server has
// authenticated the user.
type SessionArgs struct {
	// User is the authenticated user name (already normalized to lower case).
	User string
	// Database is the startup `database` parameter ("" means the VC's default).
	Database string
	// ApplicationName is the startup `application_name` parameter.
	ApplicationName string
	// SessionDefaults are session variables given at startup: `-c name=value`
	// items of the `options` parameter and other recognised startup
	// parameters (for example DateStyle, TimeZone). They are applied as SET.
	// Unknown names give an error from NewSession.
	SessionDefaults map[string]string
	// RemoteAddr is the client's address, for logs and SHOW SESSIONS.
	RemoteAddr string
}

// StatusParam is a ParameterStatus value reported to the client.
type StatusParam struct {
	Name, Value string
}

// Column describes one result column (a RowDescription field).
type Column struct {
	Name string
	Type *types.T
	// TableID and ColumnID identify the source column when the result column
	// is a plain column of a table, else zero (RowDescription's table OID and
	// attribute number).
	TableID  uint32
	ColumnID uint16
}

// Statement is one parsed statement of a query string.
type Statement struct {
	// SQL is the statement's text.
	SQL string
	// AST is the parsed statement.
	AST tree.Statement
	// NumPlaceholders is the number of $n placeholders in the statement.
	NumPlaceholders int
}

// Prepared is a type-checked statement, ready to be bound and executed any
// number of times (the extended protocol's prepared statement; the simple
// protocol prepares and executes each statement once).
type Prepared struct {
	Statement
	// ParamTypes has one entry per placeholder: the types the client gave,
	// with the missing ones inferred (ParameterDescription).
	ParamTypes []*types.T
	// Columns describes the rows the statement returns; nil when it returns
	// none (NoData).
	Columns []Column

	// plan is the engine's cached plan (nil for statements that are not
	// planned, such as DDL): Execute reuses it, re-binding placeholders,
	// while the catalog version it was planned against is current.
	plan *stmtPlan
	// replCall is set for a call of a replication stream builtin
	// (replication_builtins.go).
	replCall *replBuiltinCall
}

// Result is a statement being executed. The caller pulls rows with Next and
// must call Close exactly once, even after an error. Results of one session
// are used one at a time, from one goroutine.
type Result interface {
	// Columns describes the rows; nil when the statement returns none.
	Columns() []Column
	// Next returns the next row, or nil (and a nil error) when there are no
	// more rows. The row is valid until the next call to Next.
	Next(ctx context.Context) (tree.Datums, error)
	// Close finishes the statement: it releases the statement's resources
	// and, for a statement that runs in its own implicit transaction, commits
	// it. It returns the command tag ("SELECT 3", "INSERT 0 1", "BEGIN") or the
	// error that ended the statement (for example a serialization failure at
	// commit).
	Close(ctx context.Context) (tag string, err error)
}

// RowFlusher is an optional interface of a Result: when FlushEachRow
// returns true, the wire server sends each row to the client as soon as
// Next returned it (a flush after every DataRow) instead of buffering
// output until the result ends or the buffer fills. Results that trickle
// rows for a long time implement it — crdb_internal.stream_partition,
// whose rows are replication frames and whose latency is the standby's
// replication lag.
type RowFlusher interface {
	FlushEachRow() bool
}

// SessionAPI lists the methods the wire server calls on a *Session. It is
// written out here as documentation of the contract; the server declares its
// own interface.
//
// Transaction boundaries follow PostgreSQL: outside BEGIN ... COMMIT, each
// statement runs in an implicit transaction, committed when its Result is
// closed (and retried server-side on a serialization conflict when no row has
// been returned yet). After an error inside an explicit transaction, further
// statements fail with 25P02 until ROLLBACK. Sync (the extended protocol's
// Sync message, or the end of a simple Query message) ends an implicit
// transaction that is still open.
type SessionAPI interface {
	// StatusParams are the ParameterStatus values to send after startup.
	StatusParams() []StatusParam
	// TakeStatusChanges returns the ParameterStatus values changed (by SET)
	// since the last call.
	TakeStatusChanges() []StatusParam
	// TxnStatus is the ReadyForQuery status: 'I' idle, 'T' in a transaction
	// block, 'E' in a failed transaction block.
	TxnStatus() byte
	// Parse splits a query string into statements (none for an empty query).
	Parse(query string) ([]Statement, error)
	// Prepare type-checks stmt. paramTypes may be shorter than the number of
	// placeholders and may hold nil entries: those types are inferred.
	Prepare(ctx context.Context, stmt Statement, paramTypes []*types.T) (*Prepared, error)
	// Execute starts p with the given arguments (one per placeholder, already
	// decoded to p.ParamTypes; tree.DNull for NULL).
	Execute(ctx context.Context, p *Prepared, args tree.Datums) (Result, error)
	// TakeNotices returns the notices (pgnotice-style errors with a
	// SQLSTATE and severity NOTICE or WARNING) raised since the last call; the
	// server sends them as NoticeResponse messages.
	TakeNotices() []error
	// Sync ends the current implicit transaction, if any.
	Sync(ctx context.Context) error
	// Close aborts any open transaction and releases the session.
	Close()
	// Done is closed when the session's VC service stops (STOP SERVICE or
	// shutdown): the wire server must then end the connection, sending
	// the 57P01 error every later call returns, and Close the session.
	Done() <-chan struct{}
}

// UserInfo is what authentication needs to know about a user of the VC
// (Server.LookupUser).
type UserInfo struct {
	Name string
	// CanLogin is the LOGIN option (false for roles).
	CanLogin bool
	// PasswordVerifier is the stored SCRAM-SHA-256 verifier, "" when the
	// user has no password.
	PasswordVerifier string
	// IsAdmin is true for root and for members (direct or indirect) of the
	// admin role.
	IsAdmin bool
	// MayConnect is true when the user may log in to THIS VC: any user
	// with LOGIN for an application VC (and for the system VC of a
	// cluster that is not virtualized); for the system VC of a
	// virtualized cluster only admins and holders of REPLICATION,
	// REPLICATIONSOURCE, REPLICATIONDEST, MANAGEVIRTUALCLUSTER or
	// VIEWSYSTEMDATA (directly or through a role).
	MayConnect bool
}
