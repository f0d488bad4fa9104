package sql

import (
	"context"

	"github.com/vcdb/vcdb/tenant"
)

// checkFinalizeWithStreams refuses to finalize VC id to cluster version
// target while a replication stream out of it runs to a standby whose
// system VC is older than target (CONTRACT §6: the primary's application
// VC never goes past its standby's system version).
//
// TODO(issue 8, PCR versions): check the producer jobs' consumer
// versions; SET CLUSTER SETTING version already calls this.
func (h *Host) checkFinalizeWithStreams(ctx context.Context, id tenant.ID, target tenant.Version) error {
	return nil
}
