package replication

import (
	"context"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/errors"
	"github.com/vcdb/vcdb/tenant"
)

// Versions in replication (CONTRACT §6, CRDB-PCR-FACTS §6).
//
// Two versions meet in a stream: the source VC's cluster version (its
// `version` setting, which lives in the VC's own span and so replicates)
// and the standby's system VC's cluster version. The standby must be at the
// source's version or one release ahead (CheckVersions). Both sides learn
// the other's version at every step where it can have changed: the start
// request and the stream spec (CREATE, failback), the partition spec of
// every streaming session (RESUME, a reconnect, a restart), and every
// heartbeat in both directions (either side finalized mid-stream). A
// mismatch found while streaming pauses the consumer job with the message
// as its last error (SHOW ... WITH REPLICATION STATUS); it is never
// retried silently and nothing is ingested past it.
//
// Framing: a producer sends framing v2 (CRC-32C per frame) only when the
// source VC is at FramingV2ClusterVersion or later AND the consumer
// announced it decodes v2 (MaxFraming, from its binary's release);
// otherwise v1. A source VC finalized to 25.2 mid-stream switches to v2 at
// the frame after the one that carries the new version setting (the
// producer watches ProducerConfig.VersionKey in the stream), or, without a
// VersionKey, after the producer re-reads the version, which it does at
// most every ProducerConfig.VersionCheckInterval, after a checkpoint
// frame. The same watch stops a stream before it would send a source VC
// version the consumer cannot run.

// FramingV2ClusterVersion is the source VC cluster version from which
// framing v2 may be used.
var FramingV2ClusterVersion = tenant.Version{Year: 25, Release: 2}

// SupportedFraming is the newest framing this binary's consumer announces:
// v2 from release 25.2 on, so that a binary running as 25.1 (tests build
// one with the link-time override) behaves like the previous release.
func SupportedFraming() byte {
	if tenant.Binary().Less(FramingV2ClusterVersion) {
		return FramingV1
	}
	return FramingV2
}

// chooseFraming is the framing a producer sends for a source VC at source
// to a consumer that decodes up to consumerMax.
func chooseFraming(source tenant.Version, consumerMax byte) byte {
	if consumerMax >= FramingV2 && !source.IsZero() && !source.Less(FramingV2ClusterVersion) {
		return FramingV2
	}
	return FramingV1
}

// errVersionMismatch marks the refusals of CheckVersions. A consumer job
// that meets one pauses at once instead of retrying: only an operator's
// upgrade can make the stream valid again.
var errVersionMismatch = errors.New("replication: version mismatch")

// IsVersionMismatch reports whether err is a version refusal.
func IsVersionMismatch(err error) bool { return errors.Is(err, errVersionMismatch) }

// VersionConstraintName names the PCR version rule in the refusals of
// CheckVersions. A mark made with errors.Mark does not cross pgwire, so the
// refusal also carries this name in its constraint-name field (the
// ErrorResponse's 'n' field, which the wire server fills from
// pgerror.WithConstraintName): the consumer's PGSource recognises a 55000
// with this name as the source's version refusal and marks it again
// (source_pg.go), so the job pauses at once instead of retrying. The name
// is part of the stream protocol: changing it breaks that recognition
// between releases.
const VersionConstraintName = "pcr_version_compatibility"

// CheckVersions applies the PCR version rule to a source VC at source and
// a standby whose system VC is at standby: the standby must be at the
// source's version or one release ahead. A zero version (unknown: a peer
// that does not say) is accepted. The error is 55000 and names both
// versions and what to do.
func CheckVersions(source, standby tenant.Version) error {
	if source.IsZero() || standby.IsZero() || source == standby || source == standby.Previous() {
		return nil
	}
	var err error
	if standby.Less(source) {
		err = pgerror.Newf(pgcode.ObjectNotInPrerequisiteState,
			"the source virtual cluster is at version %s but the standby's system virtual cluster is at version %s: a standby must be at the source's version or one release ahead; upgrade the standby's binary and finalize its system virtual cluster (SET CLUSTER SETTING version = '%s') first",
			source, standby, source)
	} else {
		err = pgerror.Newf(pgcode.ObjectNotInPrerequisiteState,
			"the source virtual cluster is at version %s but the standby's system virtual cluster is at version %s: a standby may be at most one release ahead of the source (%s or %s); upgrade the source first",
			source, standby, standby.Previous(), standby)
	}
	return errors.Mark(pgerror.WithConstraintName(err, VersionConstraintName), errVersionMismatch)
}

// parseVersion parses a version that came from the other cluster or from
// a record; "" is the zero Version.
func parseVersion(s string) (tenant.Version, error) {
	if s == "" {
		return tenant.Version{}, nil
	}
	v, err := tenant.ParseVersion(s)
	if err != nil {
		return tenant.Version{}, pgerror.WithCandidateCode(err, pgcode.InvalidParameterValue)
	}
	return v, nil
}

// checkVersionStrings is CheckVersions on the wire forms.
func checkVersionStrings(source, standby string) error {
	sv, err := parseVersion(source)
	if err != nil {
		return err
	}
	cv, err := parseVersion(standby)
	if err != nil {
		return err
	}
	return CheckVersions(sv, cv)
}

// tenantVersion returns VC id's cluster version through the producer's
// hook (zero without one).
func (p *Producer) tenantVersion(ctx context.Context, id tenant.ID) (tenant.Version, error) {
	if p.cfg.TenantVersion == nil {
		return tenant.Version{}, nil
	}
	return p.cfg.TenantVersion(ctx, id)
}

// version returns the standby's system VC's cluster version now (it
// changes when an operator finalizes it).
func (c *Consumer) version(ctx context.Context) (tenant.Version, error) {
	return c.tenantVersion(ctx, tenant.SystemID)
}

// tenantVersion returns VC id's cluster version through the consumer's
// hook (zero without one).
func (c *Consumer) tenantVersion(ctx context.Context, id tenant.ID) (tenant.Version, error) {
	if c.cfg.TenantVersion == nil {
		return tenant.Version{}, nil
	}
	return c.cfg.TenantVersion(ctx, id)
}

// maxFraming is the newest framing this consumer announces.
func (c *Consumer) maxFraming() byte {
	if c.cfg.MaxFraming != 0 {
		return c.cfg.MaxFraming
	}
	return SupportedFraming()
}
