package kv

import (
	"fmt"

	"github.com/cockroachdb/errors"
)

// RetryError is returned by Txn.Commit when something the transaction read
// changed between its read timestamp and its commit timestamp. Retrying the
// whole transaction at a new read timestamp can succeed. It implements
// ClientVisibleRetryError so the SQL layer maps it to SQLSTATE 40001 without
// kv importing anything SQL.
type RetryError struct {
	// Key is the first conflicting key found (a copy).
	Key []byte
	// ReadTimestamp is the transaction's read timestamp.
	ReadTimestamp Timestamp
	// ConflictTimestamp is the timestamp of the conflicting write, when known
	// (empty for a write that was not yet visible).
	ConflictTimestamp Timestamp
	// Reason says what kind of conflict it was.
	Reason string
}

func (e *RetryError) Error() string {
	return fmt.Sprintf("kv: restart transaction: %s on key %s (read at %s, conflicting write at %s)",
		e.Reason, formatUserKey(e.Key), e.ReadTimestamp, e.ConflictTimestamp)
}

// ClientVisibleRetryError marks the error as one a client should retry.
func (e *RetryError) ClientVisibleRetryError() {}

// IsRetryable reports whether err (or an error it wraps) is a transaction
// conflict that a retry of the whole transaction can resolve.
func IsRetryable(err error) bool {
	var r *RetryError
	return errors.As(err, &r)
}

// BelowGCThresholdError is returned by reads at a timestamp whose history may
// already have been garbage collected.
type BelowGCThresholdError struct {
	Timestamp Timestamp
	Threshold Timestamp
}

func (e *BelowGCThresholdError) Error() string {
	return fmt.Sprintf("kv: batch timestamp %s must be after replica GC threshold %s", e.Timestamp, e.Threshold)
}

// IsBelowGCThreshold reports whether err is a read below the GC threshold.
func IsBelowGCThreshold(err error) bool {
	var b *BelowGCThresholdError
	return errors.As(err, &b)
}

var (
	// ErrClosed is returned by operations on a closed engine.
	ErrClosed = errors.New("kv: engine closed")
	// ErrTxnDone is returned by operations on a committed or rolled back
	// transaction.
	ErrTxnDone = errors.New("kv: transaction already finished")
	// ErrReadOnly is returned by writes in a read-only transaction.
	ErrReadOnly = errors.New("kv: write in read-only transaction")
	// ErrSubscriberTooSlow ends a rangefeed whose subscriber fell behind its
	// buffer. The subscriber can resubscribe from its last checkpoint.
	ErrSubscriberTooSlow = errors.New("kv: rangefeed subscriber too slow")
)
