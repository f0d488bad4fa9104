package replication

import (
	"context"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/errors"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/tenant"
)

// FailbackRequest is ALTER VIRTUAL CLUSTER <TenantName> START REPLICATION
// OF <SourceTenantName> ON <SourceURI> [WITH READ VIRTUAL CLUSTER |
// RETENTION], run on the original primary against the promoted standby.
type FailbackRequest struct {
	TenantName       string
	SourceTenantName string
	SourceURI        string
	Retention        time.Duration
	ReadOnly         bool
	// Description and User: as in CreateRequest.
	Description string
	User        string
}

// checkFailbackTarget checks the local VC's state (CRDB-PCR-FACTS §3.2, in
// the order CockroachDB checks).
func checkFailbackTarget(vc *tenant.Record) error {
	if vc.ServiceMode != tenant.ServiceModeNone {
		return pgerror.Newf(pgcode.ObjectNotInPrerequisiteState,
			"cannot start replication for tenant %q (%d) in service mode %s; service mode must be none",
			vc.Name, vc.ID, vc.ServiceMode)
	}
	if vc.DataState != tenant.DataStateReady {
		return pgerror.Newf(pgcode.ObjectNotInPrerequisiteState,
			"cannot start replication for tenant %q (%d) in state %s (is replication or a restore already running?)",
			vc.Name, vc.ID, vc.DataState)
	}
	return nil
}

// StartFailback reconfigures an existing VC to replicate from the VC it
// shares history with, resuming at the divergence time instead of copying
// everything: the later of this VC's own activation time (it was
// replicated from the source) and the source's activation time (the source
// was replicated from it). It checks, in order: the VC's service mode and
// data state, the shared history, and that this cluster still protects
// history back to the divergence time. The job first reverts the VC's span
// to the divergence time, then streams only what changed since; it records
// the bytes it ingests (Status.LogicalBytes) so that this can be checked.
func (c *Consumer) StartFailback(ctx context.Context, req FailbackRequest) (int64, error) {
	if err := checkRetention(req.Retention); err != nil {
		return 0, err
	}
	if req.Retention == 0 {
		req.Retention = DefaultRetention
	}
	vc, err := c.cfg.Records.GetByName(ctx, nil, req.TenantName)
	if err != nil {
		return 0, err
	}
	if vc.IsSystem() {
		return 0, pgerror.Newf(pgcode.InvalidParameterValue,
			"the destination tenant %q (%d) cannot be the system tenant", vc.Name, vc.ID)
	}
	if err := checkFailbackTarget(vc); err != nil {
		return 0, err
	}
	if req.ReadOnly {
		if err := c.checkNameFree(ctx, req.TenantName+tenant.ReadOnlySuffix); err != nil {
			return 0, err
		}
	}
	src, err := c.cfg.Dial(ctx, req.SourceURI)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	details, err := src.PriorDetails(ctx, req.SourceTenantName)
	if err != nil {
		return 0, err
	}
	resume, theirs, err := c.divergenceTime(vc, details)
	if err != nil {
		return 0, err
	}
	if err := c.checkHistoryRetained(ctx, vc, resume); err != nil {
		return 0, err
	}
	own, err := c.version(ctx)
	if err != nil {
		return 0, err
	}
	spec, err := src.StartStream(ctx, req.SourceTenantName, StartRequest{
		ConsumerClusterID: c.cfg.ClusterID, ConsumerTenantID: vc.ID, ConsumerVersion: own.String(),
		MaxFraming: c.maxFraming(), ResumeTime: resume, ExpectPriorSource: theirs,
	})
	if err != nil {
		return 0, err
	}
	if err := c.checkFailbackVersions(ctx, vc, spec, own); err != nil {
		c.abandonStream(src, spec.StreamID)
		return 0, err
	}
	cr := CreateRequest{TenantName: vc.Name, SourceTenantName: req.SourceTenantName,
		SourceURI: req.SourceURI, Retention: req.Retention, ReadOnly: req.ReadOnly,
		Description: req.Description, User: req.User}
	id, err := c.createJob(ctx, src, spec, cr, &failbackTarget{rec: vc, resumeTime: resume})
	if err != nil {
		c.abandonStream(src, spec.StreamID)
		return 0, err
	}
	return id, nil
}

// checkFailbackVersions refuses a failback into an original primary that
// is a version behind the promoted standby's VC (its system VC older than
// the source VC: the seed page's "you will not be able to perform a
// failback ... when it is a version ahead"), and one whose own VC was
// finalized past the source VC (the revert to the divergence time would
// move its version back: a downgrade). Both are 55000 naming the versions.
func (c *Consumer) checkFailbackVersions(ctx context.Context, vc *tenant.Record, spec StreamSpec, own tenant.Version) error {
	source, err := parseVersion(spec.SourceVersion)
	if err != nil {
		return err
	}
	if err := CheckVersions(source, own); err != nil {
		return errors.Wrapf(err, "cannot fail back into virtual cluster %q from the promoted %q", vc.Name, spec.SourceTenantName)
	}
	target, err := c.tenantVersion(ctx, vc.ID)
	if err != nil {
		return err
	}
	if !source.IsZero() && source.Less(target) {
		return errors.Mark(pgerror.Newf(pgcode.ObjectNotInPrerequisiteState,
			"cannot fail back into virtual cluster %q at version %s from the promoted %q at version %s: reverting to the divergence time would downgrade it; finalize the promoted virtual cluster to %s first",
			vc.Name, target, spec.SourceTenantName, source, target), errVersionMismatch)
	}
	return nil
}

// divergenceTime finds the last time both VCs share. theirs reports that
// the source's own history names this VC (the ordinary failback).
func (c *Consumer) divergenceTime(vc *tenant.Record, src PriorDetails) (kv.Timestamp, bool, error) {
	var ours, theirs kv.Timestamp
	if p := vc.Prior; p != nil && p.SourceClusterID == src.ClusterID && p.SourceTenantID == src.TenantID {
		ts, err := kv.ParseTimestamp(p.ActivationTime)
		if err != nil {
			return kv.Timestamp{}, false, err
		}
		ours = ts
	}
	if p := src.Prior; p != nil && p.SourceClusterID == c.cfg.ClusterID && p.SourceTenantID == vc.ID {
		ts, err := kv.ParseTimestamp(p.ActivationTime)
		if err != nil {
			return kv.Timestamp{}, false, err
		}
		theirs = ts
	}
	if ours.IsEmpty() && theirs.IsEmpty() {
		var ourSrc, theirSrc string
		if vc.Prior != nil {
			ourSrc = vc.Prior.SourceID()
		}
		if src.Prior != nil {
			theirSrc = src.Prior.SourceID()
		}
		return kv.Timestamp{}, false, pgerror.Newf(pgcode.ObjectNotInPrerequisiteState,
			"cannot reconfigure existing tenant to replicate from specified source: it was neither previously replicating from this source (prior replication source was %q), nor was the source previously replicating from it (%q)",
			ourSrc, theirSrc)
	}
	if ours.Less(theirs) {
		return theirs, true, nil
	}
	return ours, false, nil
}

// checkHistoryRetained fails fast when this cluster no longer protects the
// VC's history back to the divergence time (CRDB-PCR-FACTS §3.2).
func (c *Consumer) checkHistoryRetained(ctx context.Context, vc *tenant.Record, resume kv.Timestamp) error {
	if c.cfg.Producer == nil {
		return nil
	}
	oldest, without, err := c.cfg.Producer.RetainedHistory(ctx, vc.ID)
	if err != nil {
		return err
	}
	if oldest.IsEmpty() {
		return pgerror.Newf(pgcode.ObjectNotInPrerequisiteState,
			"cannot resume replication into tenant %q by reverting to %s (no history is retained by %d producer jobs)",
			vc.Name, resume, without)
	}
	if resume.Less(oldest) {
		return pgerror.Newf(pgcode.ObjectNotInPrerequisiteState,
			"cannot resume replication into tenant %q by reverting to %s (history retained since %s)",
			vc.Name, resume, oldest)
	}
	return nil
}
