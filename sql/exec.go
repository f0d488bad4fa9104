package sql

import (
	"context"
	"fmt"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/cockroachdb/errors"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/sql/catalog"
	"github.com/vcdb/vcdb/sql/sem"
)

// Statement kinds, for dispatch.
func isPlannable(stmt tree.Statement) bool {
	switch t := stmt.(type) {
	case *tree.Select, *tree.ParenSelect, *tree.Insert, *tree.Update, *tree.Delete:
		return true
	case *tree.Explain:
		return isPlannable(t.Statement)
	}
	return false
}

// isReadOnlyQuery reports whether a plannable statement only reads (EXPLAIN
// plans its statement without running it).
func isReadOnlyQuery(stmt tree.Statement) bool {
	switch stmt.(type) {
	case *tree.Select, *tree.ParenSelect, *tree.Explain:
		return true
	}
	return false
}

func isTxnControl(stmt tree.Statement) bool {
	switch stmt.(type) {
	case *tree.BeginTransaction, *tree.CommitTransaction, *tree.RollbackTransaction,
		*tree.Savepoint, *tree.ReleaseSavepoint, *tree.RollbackToSavepoint, *tree.ShowTransactionStatus:
		return true
	}
	return false
}

// topLevelAsOf returns the AS OF SYSTEM TIME clause of a SELECT statement.
func topLevelAsOf(stmt tree.Statement) *tree.AsOfClause {
	sel, ok := stmt.(*tree.Select)
	if !ok {
		return nil
	}
	for {
		switch t := sel.Select.(type) {
		case *tree.SelectClause:
			if t.From.AsOf.Expr != nil {
				return &t.From.AsOf
			}
			return nil
		case *tree.ParenSelect:
			sel = t.Select
		default:
			return nil
		}
	}
}

// recoverInternal turns a panic (a bug) into an internal error, so that one
// bad statement fails alone instead of taking the server down.
func recoverInternal(err *error) {
	if r := recover(); r != nil {
		*err = errors.WithStack(pgerror.Newf(pgcode.Internal, "unexpected error: %v", r))
	}
}

// Prepare implements SessionAPI.
func (s *Session) Prepare(ctx context.Context, stmt Statement, paramTypes []*types.T) (_ *Prepared, err error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.exit()
	defer recoverInternal(&err)
	prep := &Prepared{Statement: stmt}
	if stmt.AST == nil {
		return prep, nil
	}
	if s.txn.mode == txnAborted && !isTxnControl(stmt.AST) {
		return nil, errAborted()
	}
	if call := replicationBuiltinCall(stmt.AST); call != nil {
		if err := prepareReplicationBuiltin(prep, call, paramTypes); err != nil {
			return nil, err
		}
		return prep, nil
	}
	if isPlannable(stmt.AST) {
		var sp *stmtPlan
		plan := func(snap *catalog.Snapshot) error {
			var err error
			sp, err = s.plan(ctx, stmt, paramTypes, snap)
			return err
		}
		var err error
		if asOf, ok := s.prepareAsOf(ctx, stmt.AST); ok {
			// Plan against the catalog of the statement's own timestamp.
			txn := s.beginKV(true, asOf)
			snap, snapErr := s.srv.newCollection(txn).Snapshot(ctx)
			if err = snapErr; err == nil {
				err = plan(snap)
			}
			txn.Rollback()
		} else {
			err = s.withCatalog(ctx, plan)
		}
		if err != nil {
			return nil, toSQLError(err)
		}
		prep.ParamTypes = sp.placeholderTypes
		prep.Columns = columnsOf(sp.cols)
		if sp.version != "" {
			prep.plan = sp
		}
		return prep, nil
	}
	prep.ParamTypes = make([]*types.T, stmt.NumPlaceholders)
	for i := range prep.ParamTypes {
		if i < len(paramTypes) && paramTypes[i] != nil {
			prep.ParamTypes[i] = paramTypes[i]
		} else {
			prep.ParamTypes[i] = types.String
		}
	}
	prep.Columns = columnsOf(utilityColumns(stmt.AST))
	return prep, nil
}

// prepareAsOf evaluates the AS OF SYSTEM TIME clause of an implicit
// transaction's statement when it has no placeholders.
func (s *Session) prepareAsOf(ctx context.Context, stmt tree.Statement) (kv.Timestamp, bool) {
	clause := topLevelAsOf(stmt)
	if clause == nil || s.txn.mode != txnIdle {
		return kv.Timestamp{}, false
	}
	ts, err := s.evalAsOf(ctx, *clause)
	if err != nil {
		return kv.Timestamp{}, false
	}
	return ts, true
}

// plan plans a plannable statement against snap.
func (s *Session) plan(ctx context.Context, stmt Statement, paramTypes []*types.T, snap *catalog.Snapshot) (*stmtPlan, error) {
	p, err := newPlanner(s, snap, stmt.NumPlaceholders, paramTypes)
	if err != nil {
		return nil, err
	}
	p.asOf = topLevelAsOf(stmt.AST)
	if ex, ok := stmt.AST.(*tree.Explain); ok {
		p.asOf = topLevelAsOf(ex.Statement)
		return s.planExplain(ctx, ex, p)
	}
	return p.planStatement(ctx, stmt.AST)
}

// planFor returns the plan of prep for a transaction whose catalog is
// descs: the cached plan when the catalog version is unchanged, else a new
// one (which must describe the same result columns).
func (s *Session) planFor(ctx context.Context, prep *Prepared, descs *catalog.Collection) (*stmtPlan, error) {
	snap, err := descs.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	if sp := prep.plan; sp != nil && sp.version == snap.Version {
		return sp, nil
	}
	sp, err := s.plan(ctx, prep.Statement, prep.ParamTypes, snap)
	if err != nil {
		return nil, err
	}
	if prep.Columns != nil || sp.cols != nil {
		cols := columnsOf(sp.cols)
		if len(cols) != len(prep.Columns) {
			return nil, pgerror.Newf(pgcode.FeatureNotSupported, "cached plan must not change result type")
		}
		for i := range cols {
			if !cols[i].Type.Equivalent(prep.Columns[i].Type) {
				return nil, pgerror.Newf(pgcode.FeatureNotSupported, "cached plan must not change result type")
			}
		}
	}
	if sp.version != "" {
		prep.plan = sp
	}
	return sp, nil
}

// Execute implements SessionAPI.
func (s *Session) Execute(ctx context.Context, prep *Prepared, args tree.Datums) (res Result, err error) {
	stmt := prep.AST
	if stmt == nil {
		return &bufferedResult{}, nil
	}
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer func() {
		if _, streaming := res.(sessionHolder); !streaming || err != nil {
			// A streaming result is still running: its Close calls exit.
			s.exit()
		}
	}()
	if isTxnControl(stmt) {
		return s.execTxnControl(ctx, stmt)
	}
	switch s.txn.mode {
	case txnAborted:
		return nil, errAborted()
	case txnCommitWait:
		return nil, pgerror.Newf(pgcode.InvalidTransactionState,
			"current transaction is committed, commands ignored until end of transaction block")
	}
	if len(args) != len(prep.ParamTypes) {
		return nil, pgerror.Newf(pgcode.ProtocolViolation,
			"expected %d arguments, got %d", len(prep.ParamTypes), len(args))
	}
	s.setActiveQuery(activeQueryText(prep))
	defer func() {
		if _, streaming := res.(sessionHolder); !streaming || err != nil {
			// A streaming result clears it when it is closed.
			s.setActiveQuery("")
		}
	}()
	defer func() {
		recoverInternal(&err)
		if err != nil {
			err = toSQLError(err)
			s.stmtFailed(err)
			res = nil
		}
	}()
	return s.execStmt(ctx, prep, args)
}

// stmtFailed moves an explicit transaction to the aborted state.
func (s *Session) stmtFailed(err error) {
	if s.txn.mode == txnOpen {
		s.txn.mode = txnAborted
		s.txn.retryErr = pgerror.GetPGCode(err) == pgcode.SerializationFailure
	}
}

func (s *Session) execTxnControl(ctx context.Context, stmt tree.Statement) (Result, error) {
	var tag string
	var err error
	switch t := stmt.(type) {
	case *tree.BeginTransaction:
		tag, err = s.execBegin(ctx, t)
	case *tree.CommitTransaction:
		tag, err = s.execCommit(ctx)
	case *tree.RollbackTransaction:
		tag = s.execRollback()
	case *tree.Savepoint:
		if s.txn.mode == txnAborted {
			return nil, errAborted()
		}
		tag, err = s.execSavepoint(t)
	case *tree.ReleaseSavepoint:
		tag, err = s.execRelease(ctx, t)
	case *tree.RollbackToSavepoint:
		tag, err = s.execRollbackTo(ctx, t)
	case *tree.ShowTransactionStatus:
		return &bufferedResult{
			cols: []Column{{Name: "TRANSACTION STATUS", Type: types.String}},
			rows: []tree.Datums{{tree.NewDString(s.txnStatusName())}},
			tag:  "SHOW 1",
		}, nil
	}
	if err != nil {
		return nil, err
	}
	return &bufferedResult{tag: tag}, nil
}

// execStmt runs a statement that is not transaction control.
func (s *Session) execStmt(ctx context.Context, prep *Prepared, args tree.Datums) (Result, error) {
	stmt := prep.AST
	switch t := stmt.(type) {
	case *tree.SetVar:
		if err := s.setVarFromExprs(ctx, t, args); err != nil {
			return nil, err
		}
		return &bufferedResult{tag: "SET"}, nil
	case *tree.SetSessionCharacteristics:
		if err := s.checkIsolation(t.Modes.Isolation); err != nil {
			return nil, err
		}
		switch t.Modes.ReadWriteMode {
		case tree.ReadOnly:
			s.data.defaultReadOnly = true
		case tree.ReadWrite:
			s.data.defaultReadOnly = false
		}
		return &bufferedResult{tag: "SET"}, nil
	case *tree.SetTransaction:
		if err := s.execSetTransaction(ctx, t); err != nil {
			return nil, err
		}
		return &bufferedResult{tag: "SET TRANSACTION"}, nil
	case *tree.ShowVar:
		return s.execShowVar(t)
	case *tree.SetClusterSetting:
		return s.execSetClusterSetting(ctx, t, args)
	case *tree.Discard:
		if s.txn.mode != txnIdle {
			return nil, pgerror.Newf(pgcode.ActiveSQLTransaction, "DISCARD ALL cannot run inside a transaction block")
		}
		return &bufferedResult{tag: "DISCARD ALL"}, nil
	}
	if prep.replCall != nil {
		return s.execReplicationBuiltin(ctx, prep, args)
	}
	if isVCStatement(stmt) {
		return s.execVCStatement(ctx, prep, args)
	}
	if isPlannable(stmt) {
		return s.execPlanned(ctx, prep, args)
	}
	return s.execUtilityStmt(ctx, stmt, args)
}

// execPlanned runs a query or mutation.
func (s *Session) execPlanned(ctx context.Context, prep *Prepared, args tree.Datums) (Result, error) {
	readOnly := isReadOnlyQuery(prep.AST)
	if !readOnly {
		if err := s.checkWritable(prep.AST); err != nil {
			return nil, err
		}
	}
	stmtCtx, cancel := s.stmtContext(ctx)
	if s.txn.mode == txnOpen {
		if topLevelAsOf(prep.AST) != nil && s.txn.asOf.IsEmpty() {
			cancel()
			return nil, pgerror.Newf(pgcode.FeatureNotSupported,
				"AS OF SYSTEM TIME inside an explicit transaction must be given on BEGIN")
		}
		if readOnly {
			return s.startStream(stmtCtx, cancel, prep, args, s.txn.kv, s.txn.descs, func(_ context.Context, err error) error {
				if err != nil {
					s.stmtFailed(err)
				}
				return err
			})
		}
		defer cancel()
		rows, tag, err := s.runToCompletion(stmtCtx, prep, args, s.txn.kv, s.txn.descs)
		if err != nil {
			return nil, err
		}
		return &bufferedResult{cols: prep.Columns, rows: rows, tag: tag}, nil
	}
	if readOnly {
		var asOf kv.Timestamp
		if clause := topLevelAsOf(prep.AST); clause != nil {
			ts, err := s.evalAsOfWithArgs(stmtCtx, *clause, args)
			if err != nil {
				cancel()
				return nil, err
			}
			asOf = ts
		}
		txn := s.beginKV(true, asOf)
		descs := s.srv.newCollection(txn)
		return s.startStream(stmtCtx, cancel, prep, args, txn, descs, func(ctx context.Context, err error) error {
			txn.Rollback()
			return err
		})
	}
	defer cancel()
	var rows []tree.Datums
	var tag string
	err := s.retryImplicit(stmtCtx, func(txn *kv.Txn, descs *catalog.Collection) error {
		var err error
		rows, tag, err = s.runToCompletion(stmtCtx, prep, args, txn, descs)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &bufferedResult{cols: prep.Columns, rows: rows, tag: tag}, nil
}

// retryImplicit runs fn in an implicit read-write transaction and commits
// it, retrying the whole statement on serialization conflicts.
func (s *Session) retryImplicit(ctx context.Context, fn func(*kv.Txn, *catalog.Collection) error) error {
	for attempt := 0; ; attempt++ {
		txn := s.beginKV(false, kv.Timestamp{})
		descs := s.srv.newCollection(txn)
		err := fn(txn, descs)
		if err == nil {
			err = s.srv.commit(ctx, txn, descs)
		} else {
			txn.Rollback()
		}
		if err == nil {
			return nil
		}
		if kv.IsRetryable(err) && attempt < s.srv.cfg.MaxImplicitRetries && ctx.Err() == nil {
			if attempt > 2 {
				// Let the conflicting transactions finish.
				time.Sleep(time.Duration(attempt) * 100 * time.Microsecond)
			}
			continue
		}
		return err
	}
}

// checkWritable refuses writes in read-only transactions and VCs.
func (s *Session) checkWritable(stmt tree.Statement) error {
	if s.srv.cfg.ReadOnlyAt != nil || (s.txn.mode == txnOpen && s.txn.readOnly) ||
		(s.txn.mode == txnIdle && s.data.defaultReadOnly) {
		return pgerror.Newf(pgcode.ReadOnlySQLTransaction,
			"cannot execute %s in a read-only transaction", stmt.StatementTag())
	}
	return nil
}

// newRunParams prepares one execution of sp.
func (s *Session) newRunParams(sp *stmtPlan, args tree.Datums, txn *kv.Txn, descs *catalog.Collection) *runParams {
	rp := &runParams{s: s, txn: txn, descs: descs, ec: s.prepareEvalContext(txn, args), plans: sp.subqueries}
	rp.ec.Catalog = rp
	if len(sp.subqueries) > 0 {
		rp.subqueries = make([]tree.Datum, len(sp.subqueries))
		rp.ec.Subquery = rp.runSubquery
	}
	return rp
}

// startStream starts a read-only plan whose rows the caller pulls.
func (s *Session) startStream(
	ctx context.Context, cancel context.CancelFunc, prep *Prepared, args tree.Datums,
	txn *kv.Txn, descs *catalog.Collection, finish func(context.Context, error) error,
) (Result, error) {
	sp, err := s.planFor(ctx, prep, descs)
	if err != nil {
		finish(ctx, err)
		cancel()
		return nil, err
	}
	rp := s.newRunParams(sp, args, txn, descs)
	it, err := sp.root.start(ctx, rp)
	if err != nil {
		err = toSQLError(err)
		finish(ctx, err)
		cancel()
		return nil, err
	}
	return &streamResult{s: s, cols: prep.Columns, it: it, rp: rp, ctx: ctx, cancel: cancel, finish: finish}, nil
}

// runToCompletion runs a plan (a mutation) and returns its rows and tag.
func (s *Session) runToCompletion(
	ctx context.Context, prep *Prepared, args tree.Datums, txn *kv.Txn, descs *catalog.Collection,
) ([]tree.Datums, string, error) {
	sp, err := s.planFor(ctx, prep, descs)
	if err != nil {
		return nil, "", err
	}
	rp := s.newRunParams(sp, args, txn, descs)
	it, err := sp.root.start(ctx, rp)
	if err != nil {
		return nil, "", err
	}
	defer it.close()
	var rows []tree.Datums
	for {
		row, err := it.next(ctx)
		if err != nil {
			return nil, "", err
		}
		if row == nil {
			break
		}
		if sp.returnsRows {
			rows = append(rows, append(tree.Datums(nil), row...))
		}
	}
	n := rp.rowsAffected
	if !sp.writes {
		n = len(rows)
	}
	switch sp.tag {
	case "INSERT":
		return rows, fmt.Sprintf("INSERT 0 %d", n), nil
	case "EXPLAIN", "SELECT":
		return rows, fmt.Sprintf("SELECT %d", len(rows)), nil
	}
	return rows, fmt.Sprintf("%s %d", sp.tag, n), nil
}

// evalSystemTime evaluates a system time expression the way AS OF SYSTEM
// TIME does (a timestamp, a decimal HLC, or an interval from now), without
// AS OF SYSTEM TIME's checks (WITH START TIMESTAMP uses it).
func (s *Session) evalSystemTime(ctx context.Context, e tree.Expr, args tree.Datums) (kv.Timestamp, error) {
	return s.evalSystemTimeAt(ctx, e, args, s.srv.now())
}

func (s *Session) evalSystemTimeAt(ctx context.Context, e tree.Expr, args tree.Datums, now kv.Timestamp) (kv.Timestamp, error) {
	ec := &sem.Context{
		TxnTimestamp: now.GoTime(), StmtTimestamp: now.GoTime(), Location: s.data.location,
		Placeholders: args, DateStyle: s.data.dateStyle, IntervalStyle: s.data.intervalStyle,
	}
	wall, logical, err := sem.EvalAsOf(ctx, ec, tree.AsOfClause{Expr: e}, now.WallTime)
	if err != nil {
		return kv.Timestamp{}, err
	}
	return kv.Timestamp{WallTime: wall, Logical: logical}, nil
}

// evalAsOf evaluates an AS OF SYSTEM TIME clause without placeholders.
func (s *Session) evalAsOf(ctx context.Context, asOf tree.AsOfClause) (kv.Timestamp, error) {
	return s.evalAsOfWithArgs(ctx, asOf, nil)
}

func (s *Session) evalAsOfWithArgs(ctx context.Context, asOf tree.AsOfClause, args tree.Datums) (kv.Timestamp, error) {
	now := s.srv.now()
	ts, err := s.evalSystemTimeAt(ctx, asOf.Expr, args, now)
	if err != nil {
		return kv.Timestamp{}, err
	}
	if now.Less(ts) {
		return kv.Timestamp{}, pgerror.Newf(pgcode.InvalidParameterValue,
			"AS OF SYSTEM TIME: cannot specify timestamp in the future (%s > statement time %s)", ts, now)
	}
	if f := s.srv.cfg.ReadOnlyAt; f != nil {
		// A read-only VC holds a consistent copy only up to its replicated
		// time.
		if limit := f(); limit.Less(ts) {
			return kv.Timestamp{}, pgerror.Newf(pgcode.InvalidParameterValue,
				"AS OF SYSTEM TIME: %s is after the replicated time %s of this read-only virtual cluster", ts, limit)
		}
	}
	return ts, nil
}
