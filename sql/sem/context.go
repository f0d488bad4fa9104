package sem

import (
	"context"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/lex"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sessiondatapb"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/duration"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/timeutil/pgdate"
)

// Context is what evaluation needs from the session and the statement. The
// executor fills it once per statement (or keeps one per session and
// updates the timestamps and placeholders); Eval only reads the exported
// fields. A Context must not be used by two goroutines at once: it holds
// the evaluator's scratch state.
type Context struct {
	// TxnTimestamp is now(), current_timestamp and transaction_timestamp():
	// fixed for the whole transaction.
	TxnTimestamp time.Time
	// StmtTimestamp is statement_timestamp().
	StmtTimestamp time.Time
	// Location is the session's TimeZone (nil means UTC).
	Location *time.Location
	// SessionUser is session_user.
	SessionUser string
	// User is current_user and user.
	User string
	// Database is current_database().
	Database string
	// SearchPath is the session's search_path, for current_schema() and
	// current_schemas().
	SearchPath []string
	// Version is the text version() returns.
	Version string
	// ExecutableVersion is the binary's release ("25.2"), which
	// crdb_internal.node_executable_version() returns.
	ExecutableVersion string
	// Placeholders holds the values of $1..$n, already converted to the
	// types the statement was prepared with (tree.DNull for NULL).
	Placeholders tree.Datums
	// IntervalStyle and DateStyle govern the text form of intervals and
	// dates (casts to string) and the parsing of ambiguous date strings.
	IntervalStyle duration.IntervalStyle
	DateStyle     pgdate.DateStyle
	// ExtraFloatDigits is the session's extra_float_digits; it decides how
	// many digits a float shows when cast to text (PostgreSQL's default 1
	// means the shortest exact representation).
	ExtraFloatDigits int32
	// ByteaOutput is the session's bytea_output: the text form of bytes
	// (casts to string), PostgreSQL's hex (the zero value) or escape.
	ByteaOutput lex.BytesEncodeFormat
	// BackendPID is pg_backend_pid().
	BackendPID int32

	// Hooks the executor provides; when one is nil, the functions that need
	// it return an error that says so.

	// UniqueRowID backs unique_rowid().
	UniqueRowID func() int64
	// ClusterLogicalTimestamp backs cluster_logical_timestamp().
	ClusterLogicalTimestamp func() *tree.DDecimal
	// Subquery evaluates a scalar, EXISTS or IN subquery. For a scalar
	// subquery it returns the single value (or DNull when there is no row);
	// for EXISTS a *tree.DBool; for the right side of IN / = ANY a
	// *tree.DTuple holding one datum per row (a *tree.DTuple per row when the
	// subquery has several columns).
	Subquery func(ctx context.Context, s *tree.Subquery) (tree.Datum, error)
	// SessionSetting backs current_setting(name).
	SessionSetting func(name string) (string, bool)
	// Catalog backs pg_get_userbyid() and pg_table_is_visible().
	Catalog CatalogLookup
	// Clock backs clock_timestamp(); nil means time.Now.
	Clock func() time.Time

	ev evaluator
}

// location returns the session's time zone, UTC when unset.
func (ec *Context) location() *time.Location {
	if ec.Location == nil {
		return time.UTC
	}
	return ec.Location
}

// dataConversion is the formatting configuration for casts to text.
func (ec *Context) dataConversion() sessiondatapb.DataConversionConfig {
	return sessiondatapb.DataConversionConfig{
		ExtraFloatDigits:  ec.ExtraFloatDigits,
		IntervalStyle:     ec.IntervalStyle,
		DateStyle:         ec.DateStyle,
		BytesEncodeFormat: ec.ByteaOutput,
	}
}

// txnTime is the transaction timestamp, falling back to the wall clock for
// a Context that was never given one (tests, internal use).
func (ec *Context) txnTime() time.Time {
	if ec.TxnTimestamp.IsZero() {
		return ec.clock()
	}
	return ec.TxnTimestamp
}

// stmtTime is the statement timestamp, falling back to the transaction's.
func (ec *Context) stmtTime() time.Time {
	if ec.StmtTimestamp.IsZero() {
		return ec.txnTime()
	}
	return ec.StmtTimestamp
}

func (ec *Context) clock() time.Time {
	if ec.Clock != nil {
		return ec.Clock()
	}
	return time.Now()
}

// evaluator implements the parser module's evaluation interfaces
// (tree.ExprEvaluator, tree.OpEvaluator, tree.CompareContext,
// tree.ParseContext) for one Context. It lives inside the Context so that
// evaluating an expression per row allocates nothing for the evaluator
// itself.
type evaluator struct {
	ec  *Context
	row tree.Datums

	collationEnv tree.CollationEnvironment
	dateHelper   pgdate.ParseHelper
	// inLastSeen and inIdx let IN search long lists that stay the same
	// from row to row (see inIndexFor).
	inLastSeen *tree.DTuple
	inIdx      *inIndex
	// constTuples caches the value of tuple literals whose elements are all
	// constants, so that x IN (1, 2, 3) builds its list once.
	constTuples map[*tree.Tuple]*tree.DTuple
	// argStack holds the arguments of the builtin calls being evaluated.
	argStack tree.Datums
	// likeCache holds compiled LIKE patterns: a constant pattern is
	// compiled once per statement, not once per row.
	likeCache map[likeKey]*likePattern
}

var (
	_ tree.ExprEvaluator  = (*evaluator)(nil)
	_ tree.OpEvaluator    = (*evaluator)(nil)
	_ tree.CompareContext = (*evaluator)(nil)
	_ tree.ParseContext   = (*evaluator)(nil)
)

// UnwrapDatum implements tree.CompareContext.
func (ev *evaluator) UnwrapDatum(ctx context.Context, d tree.Datum) tree.Datum {
	if p, ok := d.(*tree.Placeholder); ok {
		d = ev.MustGetPlaceholderValue(ctx, p)
	}
	return tree.UnwrapDOidWrapper(d)
}

// GetLocation implements tree.CompareContext.
func (ev *evaluator) GetLocation() *time.Location { return ev.ec.location() }

// GetRelativeParseTime implements tree.CompareContext and tree.ParseContext:
// relative date strings ('today', 'now') are relative to the transaction
// timestamp, in the session's time zone.
func (ev *evaluator) GetRelativeParseTime() time.Time {
	return ev.ec.txnTime().In(ev.ec.location())
}

// MustGetPlaceholderValue implements tree.CompareContext.
func (ev *evaluator) MustGetPlaceholderValue(ctx context.Context, p *tree.Placeholder) tree.Datum {
	d, err := ev.EvalPlaceholder(ctx, p)
	if err != nil {
		return tree.DNull
	}
	return d
}

// GetCollationEnv implements tree.ParseContext.
func (ev *evaluator) GetCollationEnv() *tree.CollationEnvironment { return &ev.collationEnv }

// GetIntervalStyle implements tree.ParseContext.
func (ev *evaluator) GetIntervalStyle() duration.IntervalStyle { return ev.ec.IntervalStyle }

// GetDateStyle implements tree.ParseContext.
func (ev *evaluator) GetDateStyle() pgdate.DateStyle { return ev.ec.DateStyle }

// GetDateHelper implements tree.ParseContext.
func (ev *evaluator) GetDateHelper() *pgdate.ParseHelper { return &ev.dateHelper }
