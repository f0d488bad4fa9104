package sql

import (
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/errors"
)

// RetryHint is the hint of the 40001 errors that ask the client to retry a
// transaction. It points at vcdb's own documentation of transactions and
// retries (the anchor is the section "Transactions and retries" of
// docs/sql.md), not at CockroachDB's.
const RetryHint = "Retry the transaction from its beginning. See: docs/sql.md#transactions-and-retries"

// FlattenError is pgerror.Flatten for the errors vcdb sends to clients.
// pgerror.Flatten adds to every 40001 a link to the documentation of the
// CockroachDB release the parser module was built as (v1.2), which
// describes neither this release nor vcdb; FlattenError keeps only the
// hints the error itself carries (RetryHint for vcdb's retry errors).
// Everything else is pgerror.Flatten's.
func FlattenError(err error) *pgerror.Error {
	pe := pgerror.Flatten(err)
	if pe != nil && pe.Code == pgcode.SerializationFailure.String() {
		pe.Hint = errors.FlattenHints(err)
	}
	return pe
}
