package sql

import (
	"testing"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/errors"
	"github.com/vcdb/vcdb/kv"
)

// TestFlattenErrorRetryHint checks that a transaction conflict reaches the
// client as 40001 whose only hint is vcdb's (pgerror.Flatten alone adds a
// link to CockroachDB v1.2's documentation), and that other errors keep
// their hints.
func TestFlattenErrorRetryHint(t *testing.T) {
	conflict := toSQLError(errors.Wrap(&kv.RetryError{Key: []byte("k"), Reason: "newer committed value"}, "commit"))
	pe := FlattenError(conflict)
	if pe.Code != pgcode.SerializationFailure.String() {
		t.Fatalf("code %s, want 40001", pe.Code)
	}
	if pe.Hint != RetryHint {
		t.Fatalf("hint %q, want %q", pe.Hint, RetryHint)
	}
	if pgerror.Flatten(conflict).Hint == RetryHint {
		t.Fatalf("pgerror.Flatten no longer adds its link: FlattenError may be unnecessary")
	}

	// A 40001 without a hint of its own gets none.
	if h := FlattenError(pgerror.New(pgcode.SerializationFailure, "x")).Hint; h != "" {
		t.Fatalf("hint %q, want none", h)
	}

	// Other codes are pgerror.Flatten's, hints included.
	other := errors.WithHint(pgerror.New(pgcode.UndefinedTable, "x"), "h")
	if got, want := *FlattenError(other), *pgerror.Flatten(other); got.Hint != want.Hint || got.Code != want.Code || got.Message != want.Message {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if FlattenError(nil) != nil {
		t.Fatal("FlattenError(nil) is not nil")
	}
}
