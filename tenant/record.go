package tenant

import (
	"regexp"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/errors"
)

// SystemName is the reserved name of the system virtual cluster.
const SystemName = "system"

// ReadOnlySuffix is appended to a replicating VC's name to name its read-only
// view (CRDB-PCR-FACTS §1.2: the name is fixed, not configurable).
const ReadOnlySuffix = "-readonly"

// DataState is the state of a VC's data.
type DataState string

// Data states shown by SHOW VIRTUAL CLUSTERS. A VC with a replication
// consumer shows its replication status instead of DataStateAdd.
const (
	// DataStateAdd: the keyspace is being filled (by replication, or a
	// read-only view not yet activated). The VC cannot serve.
	DataStateAdd DataState = "add"
	// DataStateReady: the keyspace is complete; the VC can serve.
	DataStateReady DataState = "ready"
	// DataStateDropping: DROP was issued; the data is being cleared.
	DataStateDropping DataState = "dropping"
	// DataStateDropped: the data is cleared. The record stays so that its id
	// is never reused, but it is hidden.
	DataStateDropped DataState = "dropped"
)

// ServiceMode says whether a VC's SQL service runs.
type ServiceMode string

// Service modes (CONTRACT §3).
const (
	ServiceModeNone     ServiceMode = "none"
	ServiceModeShared   ServiceMode = "shared"
	ServiceModeStopping ServiceMode = "stopping"
)

// Record is the durable description of one virtual cluster, stored in the
// system VC's span. Everything else the VC owns lives in its own span.
type Record struct {
	ID          ID          `json:"id"`
	Name        string      `json:"name"`
	DroppedName string      `json:"dropped_name,omitempty"`
	DataState   DataState   `json:"data_state"`
	ServiceMode ServiceMode `json:"service_mode"`

	// Capabilities granted with ALTER VIRTUAL CLUSTER ... GRANT CAPABILITY,
	// by name.
	Capabilities map[string]string `json:"capabilities,omitempty"`
	// SettingOverrides are cluster settings set for this VC from the system
	// VC (ALTER VIRTUAL CLUSTER x SET CLUSTER SETTING).
	SettingOverrides map[string]string `json:"setting_overrides,omitempty"`

	// ConsumerJobID is the replication consumer job filling this VC, or 0.
	ConsumerJobID int64 `json:"consumer_job_id,omitempty"`
	// ReadFrom is, for a read-only view, the VC whose replicated data it
	// serves; 0 otherwise.
	ReadFrom ID `json:"read_from,omitempty"`
	// Prior describes the replication stream this VC was last promoted from
	// (WITH PRIOR REPLICATION DETAILS); nil if it never was.
	Prior *PriorReplication `json:"prior,omitempty"`
}

// PriorReplication records where a promoted VC's data came from and when it
// was activated; failback uses it to find the divergence point.
type PriorReplication struct {
	// SourceClusterID and SourceTenantID identify the VC it replicated from.
	SourceClusterID string `json:"source_cluster_id"`
	SourceTenantID  ID     `json:"source_tenant_id"`
	// ActivationTime is the failover time, a decimal HLC timestamp.
	ActivationTime string `json:"activation_time"`
}

// SourceID is the `source_id` column of SHOW ... WITH PRIOR REPLICATION
// DETAILS: "<source cluster id>:<source tenant id>".
func (p *PriorReplication) SourceID() string {
	return p.SourceClusterID + ":" + itoa(uint64(p.SourceTenantID))
}

// Visible reports whether SHOW VIRTUAL CLUSTERS lists the VC.
func (r *Record) Visible() bool { return r.DataState != DataStateDropped }

// IsSystem reports whether r is the system VC.
func (r *Record) IsSystem() bool { return r.ID == SystemID }

var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,98}[a-z0-9])?$`)

// CheckName validates a VC name: DNS-label-like, 1 to 100 characters
// (CRDB-PCR-FACTS §1.1).
func CheckName(name string) error {
	if nameRE.MatchString(name) {
		return nil
	}
	return errors.WithHint(
		pgerror.Newf(pgcode.Syntax, "invalid tenant name: %q", name),
		"Tenant names must start and end with a lowercase letter or digit, contain only lowercase letters, digits or hyphens, with a maximum of 100 characters.")
}

func itoa(v uint64) string {
	if v == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return string(b[i:])
}
