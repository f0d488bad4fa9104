package sql

import (
	"context"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/errors"
	"github.com/vcdb/vcdb/replication"
	"github.com/vcdb/vcdb/tenant"
)

// checkFinalizeWithStreams refuses to finalize VC id to cluster version
// target while a replication stream out of it runs to a standby whose
// system VC is older than target (CONTRACT §6: the primary's application
// VC never goes past its standby's system version; the version setting
// replicates, so the standby would receive a VC it cannot run). The
// producer knows each standby's version from the stream's start request,
// partition specs and heartbeats (replication/versions.go), so a standby
// finalized a moment ago is seen within a heartbeat interval. Streams that
// no longer run (failed over, cancelled, expired) do not count; a standby
// that never said its version is not checked. The error is 55000 and
// names both versions and the stream.
func (h *Host) checkFinalizeWithStreams(ctx context.Context, id tenant.ID, target tenant.Version) error {
	if h.producer == nil {
		return nil
	}
	jobs, err := h.producer.Jobs(ctx)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if j.TenantID != id || j.Kind != replication.ProducerKindStream || j.Status != replication.ProducerRunning || j.ConsumerVersion == "" {
			continue
		}
		standby, err := tenant.ParseVersion(j.ConsumerVersion)
		if err != nil {
			return errors.Wrapf(err, "replication stream %d records a bad standby version", j.ID)
		}
		if standby.Less(target) {
			return errors.WithHintf(pgerror.Newf(pgcode.ObjectNotInPrerequisiteState,
				"cannot finalize virtual cluster %q to version %s: it replicates (replication stream %d) to a standby whose system virtual cluster is at version %s",
				j.TenantName, target, j.ID, standby),
				"upgrade the standby's binary and finalize its system virtual cluster first (SET CLUSTER SETTING version = '%s' there), then retry; see docs/upgrades.md", target)
		}
	}
	return nil
}
