package server

import (
	"testing"

	"github.com/cockroachdb/errors"
	"github.com/vcdb/vcdb/replication"
	"github.com/vcdb/vcdb/tenant"
)

// TestVersionRefusalOnTheWire: the producer's version refusal reaches the
// standby as a 55000 whose constraint name is
// replication.VersionConstraintName, even wrapped as the SQL layer wraps
// it; the standby's PGSource relies on that field to pause the job at
// once (marks do not cross the wire).
func TestVersionRefusalOnTheWire(t *testing.T) {
	refusal := replication.CheckVersions(tenant.Version{Year: 25, Release: 2}, tenant.Version{Year: 25, Release: 1})
	if refusal == nil {
		t.Fatal("no refusal")
	}
	r := toErrorResponse(errors.Wrap(refusal, "crdb_internal.stream_partition"), "")
	if r.Code != "55000" || r.ConstraintName != replication.VersionConstraintName {
		t.Fatalf("code %s constraint %q", r.Code, r.ConstraintName)
	}
}
