package sql

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/lex"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/parser"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/sql/catalog"
	"github.com/vcdb/vcdb/sql/sem"
)

// Session is one client connection's SQL state: session variables, the
// current transaction, notices and ParameterStatus changes. A session is
// used by one goroutine at a time (its connection's), except Cancel, which
// may be called from any goroutine.
type Session struct {
	srv     *Server
	id      int32
	startup SessionArgs
	// startupDatabase is the database RESET database returns to.
	startupDatabase string
	data            sessionData
	isAdmin         bool

	txn           txnState
	statusChanges []StatusParam
	notices       []error

	// alloc amortizes datum allocations of decoded rows.
	alloc tree.DatumAlloc
	// ec is the evaluation context, refreshed per statement; ecTxn is the
	// transaction it belongs to (for cluster_logical_timestamp()), and the
	// hooks are bound once per session so that refreshing allocates
	// nothing.
	ec            sem.Context
	ecTxn         *kv.Txn
	clusterTSHook func() *tree.DDecimal
	settingHook   func(string) (string, bool)

	cancelMu struct {
		sync.Mutex
		cancel context.CancelFunc
		// query is the statement running now ("" when idle) and app the
		// session's application_name, for SHOW SESSIONS from other
		// sessions.
		query, app string
	}
	start  time.Time
	closed bool

	// busy is set while a statement of the session runs (from Prepare or
	// Execute until it returns, or until a streaming Result is closed);
	// terminated is set by Server.Stop, which then waits for busy to
	// clear. Each side stores its flag before loading the other's, so a
	// statement either sees the termination or is waited for.
	busy       atomic.Bool
	terminated atomic.Bool
	// done is closed when the session is terminated.
	done          chan struct{}
	terminateOnce sync.Once

	// authz caches the principal of the session's user for one catalog
	// version (authz.go).
	authz struct {
		version string
		p       *catalog.Principal
	}
}

var _ SessionAPI = (*Session)(nil)

func newSession(ctx context.Context, srv *Server, args SessionArgs) (*Session, error) {
	s := &Session{srv: srv, id: srv.nextSessionID.Add(1), startup: args, data: defaultSessionData(), done: make(chan struct{})}
	s.clusterTSHook = s.clusterLogicalTimestamp
	s.start = time.Now()
	s.settingHook = s.settingForFunc
	s.data.user = args.User
	s.data.applicationName = args.ApplicationName
	db := args.Database
	if db == "" {
		db = "defaultdb"
	}
	// Check the database and the user's roles in one read-only
	// transaction.
	txn := s.beginKV(true, kv.Timestamp{})
	defer txn.Rollback()
	descs := srv.newCollection(txn)
	snap, err := descs.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	if snap.User(args.User) == nil {
		return nil, pgerror.Newf(pgcode.InvalidAuthorizationSpecification, "role %q does not exist", args.User)
	}
	if snap.DatabaseByName(db) == nil {
		return nil, pgerror.Newf(pgcode.InvalidCatalogName, "database %q does not exist", db)
	}
	s.data.database = db
	s.startupDatabase = db
	s.isAdmin = snap.Principal(args.User).Admin
	// Session defaults of ALTER ROLE ... SET, then the startup options.
	for _, kv := range snap.SessionDefaults(args.User, db) {
		if err := s.setVar(ctx, kv[0], kv[1]); err != nil {
			s.addNotice(pgerror.WithSeverity(pgerror.Newf(pgcode.Warning,
				"ignoring the session default %s: %v", kv[0], err), "WARNING"))
		}
	}
	for name, value := range args.SessionDefaults {
		if err := s.setVar(ctx, name, value); err != nil {
			return nil, err
		}
	}
	s.statusChanges = nil
	return s, nil
}

// ExtraFloatDigits returns the session's extra_float_digits, which decides
// how the wire server prints floats in text format (PostgreSQL does not
// report it through ParameterStatus).
func (s *Session) ExtraFloatDigits() int32 { return s.data.extraFloatDigits }

// BytesEncodeFormat returns the session's bytea_output, which decides how
// BYTES values print as text: in text-format results (the wire server's
// encoder; PostgreSQL does not report bytea_output through
// ParameterStatus) and in casts to STRING.
func (s *Session) BytesEncodeFormat() lex.BytesEncodeFormat {
	// SET stores the canonical spelling ("hex" or "escape"), so a plain
	// comparison decides, without allocating on every statement.
	if v, err := s.getVar("bytea_output"); err == nil && v == "escape" {
		return lex.BytesEncodeEscape
	}
	return lex.BytesEncodeHex
}

// StatusParams implements SessionAPI.
func (s *Session) StatusParams() []StatusParam { return s.statusParams() }

// TakeStatusChanges implements SessionAPI.
func (s *Session) TakeStatusChanges() []StatusParam {
	out := s.statusChanges
	s.statusChanges = nil
	return out
}

// TakeNotices implements SessionAPI.
func (s *Session) TakeNotices() []error {
	out := s.notices
	s.notices = nil
	return out
}

func (s *Session) addNotice(err error) { s.notices = append(s.notices, err) }

// Parse implements SessionAPI.
func (s *Session) Parse(query string) ([]Statement, error) {
	stmts, err := parser.Parse(query)
	if err != nil {
		return nil, err
	}
	out := make([]Statement, len(stmts))
	for i, st := range stmts {
		out[i] = Statement{SQL: st.SQL, AST: st.AST, NumPlaceholders: st.NumPlaceholders}
	}
	return out, nil
}

// Cancel cancels the statement the session is running, if any (the wire
// protocol's CancelRequest). Safe to call from any goroutine.
func (s *Session) Cancel() {
	s.cancelMu.Lock()
	defer s.cancelMu.Unlock()
	if s.cancelMu.cancel != nil {
		s.cancelMu.cancel()
	}
}

// setActiveQuery records the statement the session runs ("" when done).
func (s *Session) setActiveQuery(q string) {
	s.cancelMu.Lock()
	s.cancelMu.query = q
	s.cancelMu.app = s.data.applicationName
	s.cancelMu.Unlock()
}

// activity returns the statement the session runs and its application
// name; safe from any goroutine.
func (s *Session) activity() (query, app string) {
	s.cancelMu.Lock()
	defer s.cancelMu.Unlock()
	return s.cancelMu.query, s.cancelMu.app
}

// stmtContext derives the context of one statement: cancellable by Cancel
// and bounded by statement_timeout.
func (s *Session) stmtContext(ctx context.Context) (context.Context, context.CancelFunc) {
	var cancel context.CancelFunc
	if d := s.data.statementTimeout; d > 0 {
		ctx, cancel = context.WithTimeout(ctx, d)
	} else {
		ctx, cancel = context.WithCancel(ctx)
	}
	s.cancelMu.Lock()
	s.cancelMu.cancel = cancel
	s.cancelMu.Unlock()
	return ctx, func() {
		s.cancelMu.Lock()
		s.cancelMu.cancel = nil
		s.cancelMu.query = ""
		s.cancelMu.Unlock()
		cancel()
	}
}

// Done returns a channel closed when the session is terminated because its
// VC's service stopped (STOP SERVICE, shutdown). The wire server then ends
// the connection (SQLSTATE 57P01) and closes the session; every call but
// Close fails with 57P01 from then on.
func (s *Session) Done() <-chan struct{} { return s.done }

// terminate ends the session from the server's side (Server.Stop).
func (s *Session) terminate() {
	s.terminateOnce.Do(func() {
		s.terminated.Store(true)
		close(s.done)
		s.Cancel()
	})
}

// errTerminated is the error of every call on a terminated session.
func (s *Session) errTerminated() error {
	return pgerror.Newf(pgcode.AdminShutdown,
		"terminating connection: the SQL service of virtual cluster %q was stopped", s.srv.cfg.TenantName)
}

// enter marks a statement as running, unless the session is terminated.
func (s *Session) enter() error {
	s.busy.Store(true)
	if s.terminated.Load() {
		s.busy.Store(false)
		return s.errTerminated()
	}
	return nil
}

// exit marks the running statement as done.
func (s *Session) exit() { s.busy.Store(false) }

// Sync implements SessionAPI. Implicit transactions end when their
// statement's Result is closed, so nothing is left open here.
func (s *Session) Sync(ctx context.Context) error { return nil }

// Close implements SessionAPI.
func (s *Session) Close() {
	if s.closed {
		return
	}
	s.closed = true
	s.finishTxn()
	s.srv.removeSession(s)
}

// prepareEvalContext sets the evaluation context for a statement running in
// txn.
func (s *Session) prepareEvalContext(txn *kv.Txn, args tree.Datums) *sem.Context {
	ec := &s.ec
	s.ecTxn = txn
	*ec = sem.Context{
		TxnTimestamp:            txnTimestamp(txn),
		StmtTimestamp:           time.Now(),
		Location:                s.data.location,
		SessionUser:             s.data.user,
		User:                    s.data.user,
		Database:                s.data.database,
		SearchPath:              s.data.searchPath,
		Version:                 versionString(),
		ExecutableVersion:       executableVersion(),
		Placeholders:            args,
		IntervalStyle:           s.data.intervalStyle,
		DateStyle:               s.data.dateStyle,
		ExtraFloatDigits:        s.data.extraFloatDigits,
		ByteaOutput:             s.BytesEncodeFormat(),
		BackendPID:              s.id,
		UniqueRowID:             s.srv.uniqueRowIDHook,
		SessionSetting:          s.settingHook,
		ClusterLogicalTimestamp: s.clusterTSHook,
	}
	return ec
}

// clusterLogicalTimestamp backs cluster_logical_timestamp(): the
// transaction's read timestamp as a decimal HLC.
func (s *Session) clusterLogicalTimestamp() *tree.DDecimal {
	d, err := tree.ParseDDecimal(s.ecTxn.ReadTimestamp().String())
	if err != nil {
		return &tree.DDecimal{}
	}
	return d
}

// setDatabase implements SET database / USE.
func (s *Session) setDatabase(ctx context.Context, name string) error {
	if name == "" {
		s.data.database = ""
		return nil
	}
	err := s.withCatalog(ctx, func(snap *catalog.Snapshot) error {
		if snap.DatabaseByName(name) == nil {
			return pgerror.Newf(pgcode.InvalidCatalogName, "database %q does not exist", name)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.data.database = name
	return nil
}

// withCatalog calls fn with the catalog as the current transaction sees it,
// or as of now when there is none.
func (s *Session) withCatalog(ctx context.Context, fn func(*catalog.Snapshot) error) error {
	if s.txn.mode == txnOpen {
		snap, err := s.txn.descs.Snapshot(ctx)
		if err != nil {
			return err
		}
		return fn(snap)
	}
	txn := s.beginKV(true, kv.Timestamp{})
	defer txn.Rollback()
	snap, err := s.srv.newCollection(txn).Snapshot(ctx)
	if err != nil {
		return err
	}
	return fn(snap)
}

// setVarFromExprs runs SET name = exprs.
func (s *Session) setVarFromExprs(ctx context.Context, sv *tree.SetVar, args tree.Datums) error {
	if sv.ResetAll {
		for name, v := range sessionVars {
			if v.set != nil && name != "database" && name != "transaction_read_only" {
				if err := s.resetVar(ctx, name); err != nil {
					return err
				}
			}
		}
		return nil
	}
	name := strings.ToLower(sv.Name)
	if name == "" {
		return pgerror.Newf(pgcode.Syntax, "missing variable name")
	}
	if sv.Reset || len(sv.Values) == 0 {
		return s.resetVar(ctx, name)
	}
	if len(sv.Values) == 1 {
		if _, ok := sv.Values[0].(tree.DefaultVal); ok {
			return s.resetVar(ctx, name)
		}
	}
	var parts []string
	for _, e := range sv.Values {
		v, err := s.varValue(ctx, e, args)
		if err != nil {
			return err
		}
		parts = append(parts, v)
	}
	if sv.Local {
		s.addNotice(pgerror.WithSeverity(pgerror.Newf(pgcode.Warning,
			"SET LOCAL is applied to the whole session"), "NOTICE"))
	}
	return s.setVar(ctx, name, strings.Join(parts, ", "))
}

// varValue turns one SET value into text.
func (s *Session) varValue(ctx context.Context, e tree.Expr, args tree.Datums) (string, error) {
	switch t := e.(type) {
	case *tree.StrVal:
		return t.RawString(), nil
	case *tree.NumVal:
		return t.String(), nil
	case *tree.UnresolvedName:
		if t.NumParts == 1 {
			return t.Parts[0], nil
		}
		return tree.AsStringWithFlags(t, tree.FmtBareIdentifiers), nil
	case tree.DefaultVal:
		return "", pgerror.Newf(pgcode.Syntax, "DEFAULT must be the only value")
	case *tree.Placeholder:
		if int(t.Idx) < len(args) && args[t.Idx] != tree.DNull {
			return tree.AsStringWithFlags(args[t.Idx], tree.FmtBareStrings), nil
		}
	}
	// Anything else (a placeholder, a negative number, an interval) is
	// evaluated.
	var out string
	err := s.withCatalog(ctx, func(snap *catalog.Snapshot) error {
		p, err := newPlanner(s, snap, len(args), nil)
		if err != nil {
			return err
		}
		typed, err := p.typeCheck(ctx, e, nil, "SET", types.AnyElement)
		if err != nil {
			return err
		}
		txn := s.beginKV(true, kv.Timestamp{})
		defer txn.Rollback()
		d, err := sem.Eval(ctx, s.prepareEvalContext(txn, args), typed, nil)
		if err != nil {
			return err
		}
		out = tree.AsStringWithFlags(d, tree.FmtBareStrings)
		return nil
	})
	return out, err
}
