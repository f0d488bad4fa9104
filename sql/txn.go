package sql

import (
	"context"
	"strings"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/errors"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/sql/catalog"
)

// Transactions
//
// A session is in one of four states, which map onto ReadyForQuery's
// status byte:
//
//	idle        'I'  no transaction; each statement runs in its own
//	                 implicit transaction (begun and committed by the
//	                 statement, retried on serialization conflicts)
//	open        'T'  inside BEGIN ... COMMIT
//	aborted     'E'  a statement of the explicit transaction failed; only
//	                 ROLLBACK [TO SAVEPOINT] is accepted (25P02 otherwise)
//	commitWait  'T'  RELEASE SAVEPOINT cockroach_restart committed the KV
//	                 transaction; only COMMIT or ROLLBACK is accepted
//
// KV transactions are optimistic: conflicts surface at commit. For an
// explicit transaction that is COMMIT (or RELEASE SAVEPOINT
// cockroach_restart), which then fails with 40001 and a hint; with the
// cockroach_restart savepoint the client retries by ROLLBACK TO SAVEPOINT
// cockroach_restart, which restarts the transaction at a new timestamp.
type txnMode int

const (
	txnIdle txnMode = iota
	txnOpen
	txnAborted
	txnCommitWait
)

// restartSavepointName is CockroachDB's client-side retry savepoint.
const restartSavepointName = "cockroach_restart"

type savepoint struct {
	name string
	kv   kv.Savepoint
}

// txnState is the session's explicit transaction.
type txnState struct {
	mode     txnMode
	kv       *kv.Txn
	descs    *catalog.Collection
	readOnly bool
	// asOf is set for BEGIN AS OF SYSTEM TIME.
	asOf       kv.Timestamp
	savepoints []savepoint
	// retryErr records that the transaction failed with a retryable error:
	// only a restart (ROLLBACK TO SAVEPOINT cockroach_restart) or ROLLBACK
	// recovers.
	retryErr bool
}

// TxnStatus implements SessionAPI.
func (s *Session) TxnStatus() byte {
	switch s.txn.mode {
	case txnOpen, txnCommitWait:
		return 'T'
	case txnAborted:
		return 'E'
	}
	return 'I'
}

func (s *Session) txnStatusName() string {
	switch s.txn.mode {
	case txnOpen:
		return "Open"
	case txnCommitWait:
		return "CommitWait"
	case txnAborted:
		return "Aborted"
	}
	return "NoTxn"
}

func (s *Session) txnReadOnly() bool {
	if s.txn.mode == txnIdle {
		return s.data.defaultReadOnly
	}
	return s.txn.readOnly
}

func (s *Session) setTxnReadOnly(ro bool) error {
	if s.txn.mode == txnIdle {
		// Outside a transaction, SET transaction_read_only applies to
		// nothing, as in PostgreSQL.
		return nil
	}
	if !ro && !s.txn.asOf.IsEmpty() {
		return pgerror.Newf(pgcode.InvalidTransactionState,
			"AS OF SYSTEM TIME specified with READ WRITE mode")
	}
	s.txn.readOnly = ro
	return nil
}

// beginKV starts a KV transaction with the session's VC settings: a
// read-only VC reads at its replicated time.
func (s *Session) beginKV(readOnly bool, asOf kv.Timestamp) *kv.Txn {
	opts := kv.TxnOptions{ReadOnly: readOnly, ReadTimestamp: asOf}
	if f := s.srv.cfg.ReadOnlyAt; f != nil {
		opts.ReadOnly = true
		if asOf.IsEmpty() {
			opts.ReadTimestamp = f()
		}
	}
	return s.srv.cfg.KV.Begin(opts)
}

// execBegin runs BEGIN / START TRANSACTION.
func (s *Session) execBegin(ctx context.Context, b *tree.BeginTransaction) (string, error) {
	if s.txn.mode != txnIdle {
		return "", pgerror.Newf(pgcode.ActiveSQLTransaction, "there is already a transaction in progress")
	}
	readOnly := s.data.defaultReadOnly
	if err := s.checkIsolation(b.Modes.Isolation); err != nil {
		return "", err
	}
	switch b.Modes.ReadWriteMode {
	case tree.ReadOnly:
		readOnly = true
	case tree.ReadWrite:
		readOnly = false
	}
	var asOf kv.Timestamp
	if b.Modes.AsOf.Expr != nil {
		ts, err := s.evalAsOf(ctx, b.Modes.AsOf)
		if err != nil {
			return "", err
		}
		if b.Modes.ReadWriteMode == tree.ReadWrite {
			return "", pgerror.Newf(pgcode.InvalidTransactionState, "AS OF SYSTEM TIME specified with READ WRITE mode")
		}
		asOf, readOnly = ts, true
	}
	s.txn = txnState{mode: txnOpen, readOnly: readOnly, asOf: asOf}
	s.txn.kv = s.beginKV(readOnly, asOf)
	s.txn.descs = s.srv.newCollection(s.txn.kv)
	return "BEGIN", nil
}

func (s *Session) checkIsolation(level tree.IsolationLevel) error {
	switch level {
	case tree.UnspecifiedIsolation, tree.SerializableIsolation:
		return nil
	}
	return setIsolation(context.Background(), s, strings.ToLower(level.String()))
}

// execSetTransaction runs SET TRANSACTION.
func (s *Session) execSetTransaction(ctx context.Context, st *tree.SetTransaction) error {
	if s.txn.mode != txnOpen {
		return pgerror.Newf(pgcode.NoActiveSQLTransaction, "there is no transaction in progress")
	}
	if err := s.checkIsolation(st.Modes.Isolation); err != nil {
		return err
	}
	if st.Modes.AsOf.Expr != nil {
		return unimplemented("SET TRANSACTION AS OF SYSTEM TIME")
	}
	switch st.Modes.ReadWriteMode {
	case tree.ReadOnly:
		return s.setTxnReadOnly(true)
	case tree.ReadWrite:
		return s.setTxnReadOnly(false)
	}
	return nil
}

// execCommit runs COMMIT (and END).
func (s *Session) execCommit(ctx context.Context) (string, error) {
	switch s.txn.mode {
	case txnIdle:
		s.addNotice(pgerror.WithSeverity(pgerror.Newf(pgcode.NoActiveSQLTransaction,
			"there is no transaction in progress"), "WARNING"))
		return "COMMIT", nil
	case txnAborted:
		s.finishTxn()
		return "ROLLBACK", nil
	case txnCommitWait:
		s.finishTxn()
		return "COMMIT", nil
	}
	err := s.srv.commit(ctx, s.txn.kv, s.txn.descs)
	s.finishTxn()
	if err != nil {
		return "", toSQLError(err)
	}
	return "COMMIT", nil
}

// execRollback runs ROLLBACK.
func (s *Session) execRollback() string {
	if s.txn.mode == txnIdle {
		s.addNotice(pgerror.WithSeverity(pgerror.Newf(pgcode.NoActiveSQLTransaction,
			"there is no transaction in progress"), "WARNING"))
	}
	s.finishTxn()
	return "ROLLBACK"
}

// finishTxn ends the explicit transaction (rolling back anything
// uncommitted) and returns the session to idle.
func (s *Session) finishTxn() {
	if s.txn.kv != nil {
		s.txn.kv.Rollback()
	}
	s.txn = txnState{}
}

// execSavepoint runs SAVEPOINT name.
func (s *Session) execSavepoint(sp *tree.Savepoint) (string, error) {
	if s.txn.mode != txnOpen {
		return "", pgerror.Newf(pgcode.NoActiveSQLTransaction, "SAVEPOINT can only be used in transaction blocks")
	}
	s.txn.savepoints = append(s.txn.savepoints, savepoint{name: string(sp.Name), kv: s.txn.kv.Savepoint()})
	return "SAVEPOINT", nil
}

func (s *Session) findSavepoint(name string) (int, error) {
	for i := len(s.txn.savepoints) - 1; i >= 0; i-- {
		if s.txn.savepoints[i].name == name {
			return i, nil
		}
	}
	return 0, pgerror.Newf(pgcode.InvalidSavepointSpecification, "savepoint %q does not exist", name)
}

// execRelease runs RELEASE SAVEPOINT name; releasing cockroach_restart
// commits.
func (s *Session) execRelease(ctx context.Context, r *tree.ReleaseSavepoint) (string, error) {
	if s.txn.mode == txnIdle {
		return "", pgerror.Newf(pgcode.NoActiveSQLTransaction, "there is no transaction in progress")
	}
	if s.txn.mode != txnOpen {
		return "", errAborted()
	}
	i, err := s.findSavepoint(string(r.Savepoint))
	if err != nil {
		return "", err
	}
	if string(r.Savepoint) == restartSavepointName {
		if err := s.srv.commit(ctx, s.txn.kv, s.txn.descs); err != nil {
			s.txn.mode = txnAborted
			s.txn.retryErr = kv.IsRetryable(err)
			return "", toSQLError(err)
		}
		s.txn.mode = txnCommitWait
		return "RELEASE", nil
	}
	s.txn.savepoints = s.txn.savepoints[:i]
	return "RELEASE", nil
}

// execRollbackTo runs ROLLBACK TO SAVEPOINT name. For cockroach_restart it
// restarts the transaction at a new timestamp.
func (s *Session) execRollbackTo(ctx context.Context, r *tree.RollbackToSavepoint) (string, error) {
	if s.txn.mode == txnIdle {
		return "", pgerror.Newf(pgcode.NoActiveSQLTransaction, "ROLLBACK TO SAVEPOINT can only be used in transaction blocks")
	}
	if s.txn.mode == txnCommitWait {
		return "", pgerror.Newf(pgcode.InvalidTransactionState,
			"current transaction is committed, commands ignored until end of transaction block")
	}
	name := string(r.Savepoint)
	i, err := s.findSavepoint(name)
	if err != nil {
		return "", err
	}
	if name == restartSavepointName {
		s.txn.kv.Rollback()
		s.txn.kv = s.beginKV(s.txn.readOnly, s.txn.asOf)
		s.txn.descs = s.srv.newCollection(s.txn.kv)
		s.txn.savepoints = s.txn.savepoints[:i+1]
		s.txn.savepoints[i].kv = s.txn.kv.Savepoint()
		s.txn.mode, s.txn.retryErr = txnOpen, false
		return "ROLLBACK", nil
	}
	if s.txn.retryErr {
		return "", pgerror.Newf(pgcode.SerializationFailure,
			"the transaction must restart from its beginning (ROLLBACK, or ROLLBACK TO SAVEPOINT %s)", restartSavepointName)
	}
	if err := s.txn.kv.RollbackTo(s.txn.savepoints[i].kv); err != nil {
		return "", err
	}
	if err := s.txn.descs.Reload(ctx); err != nil {
		return "", err
	}
	s.txn.savepoints = s.txn.savepoints[:i+1]
	s.txn.mode = txnOpen
	return "ROLLBACK", nil
}

func errAborted() error {
	return pgerror.Newf(pgcode.InFailedSQLTransaction,
		"current transaction is aborted, commands ignored until end of transaction block")
}

// toSQLError gives errors from lower layers their SQLSTATE.
func toSQLError(err error) error {
	if err == nil {
		return nil
	}
	switch {
	case kv.IsRetryable(err):
		// CockroachDB's wording; pgerror.Flatten prefixes "restart
		// transaction". The hint points at vcdb's documentation
		// (FlattenError drops the one pgerror.Flatten adds). The KV error
		// (with its key and timestamps) stays attached for logs, out of the
		// message, so that the message is stable.
		reason := "serializable conflict"
		var re *kv.RetryError
		if errors.As(err, &re) && re.Reason != "" {
			reason = re.Reason
		}
		return errors.WithSecondaryError(errors.WithHint(pgerror.Newf(pgcode.SerializationFailure,
			"TransactionRetryWithProtoRefreshError: TransactionRetryError: retry txn (RETRY_SERIALIZABLE - %s)", reason),
			RetryHint), err)
	case kv.IsBelowGCThreshold(err):
		return pgerror.Wrap(err, pgcode.MakeCode("72000"), "AS OF SYSTEM TIME")
	case errors.Is(err, kv.ErrReadOnly):
		return pgerror.Newf(pgcode.ReadOnlySQLTransaction, "cannot execute a write in a read-only transaction")
	case errors.Is(err, context.DeadlineExceeded):
		return pgerror.New(pgcode.QueryCanceled, "query execution canceled due to statement timeout")
	case errors.Is(err, context.Canceled):
		return pgerror.New(pgcode.QueryCanceled, "query execution canceled")
	}
	return err
}

// txnTimestamp is now() for a KV transaction.
func txnTimestamp(t *kv.Txn) time.Time {
	return t.ReadTimestamp().GoTime()
}
