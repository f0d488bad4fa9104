package server

import (
	"testing"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/errors"
	"github.com/vcdb/vcdb/sql"
)

// TestRetryErrorHint: a 40001 reaches the client with vcdb's retry hint
// only, not with the parser module's link to CockroachDB v1.2's docs;
// other errors keep their hints.
func TestRetryErrorHint(t *testing.T) {
	retry := errors.WithHint(pgerror.New(pgcode.SerializationFailure, "restart transaction: write conflict"), sql.RetryHint)
	if r := toErrorResponse(retry, ""); r.Code != "40001" || r.Hint != sql.RetryHint {
		t.Fatalf("retry error: code %s hint %q", r.Code, r.Hint)
	}
	other := errors.WithHint(pgerror.New(pgcode.UndefinedTable, `relation "t" does not exist`), "create it first")
	if r := toErrorResponse(other, ""); r.Code != "42P01" || r.Hint != "create it first" {
		t.Fatalf("other error: code %s hint %q", r.Code, r.Hint)
	}
}
